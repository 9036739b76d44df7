"""Tests of infogan-sample (``serving.sample``, ``cli.sample.main``): grids and code images, local or served."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tf_serving_json import StandInServer

from infogan_tf import visualize
from infogan_tf.cli import sample as sample_cli
from infogan_tf.serving import sample as sample_lib
from infogan_tf.serving import signatures

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


@pytest.fixture(scope="module")
def source(exported_model):
    return sample_lib.SavedModelSource(exported_model.path)


@pytest.fixture(scope="module")
def generate(exported_model):
    fn = tf.saved_model.load(exported_model.path).signatures["generate"]

    def call(inputs):
        return fn(
            z=tf.constant(inputs.z),
            categorical=tf.constant(inputs.categorical),
            continuous=tf.constant(inputs.continuous),
        )["images_uint8"].numpy()

    return call


def read_png(path):
    return tf.io.decode_png(tf.io.read_file(str(path))).numpy()


def test_traversal_grid_png(exported_model, source, generate, tmp_path):
    out = tmp_path / "grid.png"
    result = sample_lib.sample(sample_lib.SampleConfig(out=str(out), saved_model=exported_model.path), source)
    png = read_png(out)
    # 10 categories x 10 sweep values of 28x28 tiles with 1-pixel borders.
    assert png.shape == (10 * 29 + 1, 10 * 29 + 1, 1)
    assert (result.rows, result.cols, result.height, result.width) == (10, 10, 291, 291)
    inputs = visualize.traversal_inputs(source.info.latent, seed=0)
    assert np.allclose(inputs.continuous[:10, 0], np.linspace(-2, 2, 10))  # columns sweep -2..2
    np.testing.assert_array_equal(png, visualize.tile_grid(generate(inputs), 10, 10))


def test_images_for_given_codes(exported_model, source, generate, tmp_path):
    out = tmp_path / "sevens.png"
    config = sample_lib.SampleConfig(
        out=str(out), saved_model=exported_model.path, category=(7,), continuous=(1.5, -0.5), num=4, seed=3
    )
    result = sample_lib.sample(config, source)
    png = read_png(out)
    assert png.shape == (29 + 1, 4 * 29 + 1, 1) and (result.rows, result.cols) == (1, 4)
    inputs = sample_lib.code_inputs(source.info.latent, (7,), (1.5, -0.5), 4, 3)
    assert (inputs.categorical == 7).all() and np.allclose(inputs.continuous, [[1.5, -0.5]] * 4)
    assert len({row.tobytes() for row in inputs.z}) == 4  # each image its own noise
    np.testing.assert_array_equal(png, visualize.tile_grid(generate(inputs), 1, 4))
    # Without --category, each image gets a random (seeded) category.
    free = sample_lib.code_inputs(source.info.latent, None, (0.0, 0.0), 20, 3)
    assert len(set(free.categorical[:, 0])) > 1
    again = sample_lib.code_inputs(source.info.latent, None, None, 20, 3)
    np.testing.assert_array_equal(free.categorical, again.categorical)


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"category": (10,)}, r"--category: code 0 has 10 categories \(0\.\.9\), got 10"),
        ({"category": (1, 2)}, r"--category needs one index per categorical code: the model has 1"),
        ({"continuous": (0.5,)}, r"--continuous needs one value per continuous code: the model has 2"),
        ({"continuous": (0.5, float("nan"))}, r"--continuous values must be finite"),
        ({"categorical_code": 1}, r"categorical code 1 out of range"),
    ],
)
def test_bad_codes_are_rejected_and_nothing_is_overwritten(exported_model, source, tmp_path, overrides, message):
    out = tmp_path / "keep.png"
    out.write_bytes(b"the user's file")
    config = sample_lib.SampleConfig(out=str(out), saved_model=exported_model.path, **overrides)
    with pytest.raises(ValueError, match=message):
        sample_lib.sample(config, source)
    assert out.read_bytes() == b"the user's file"


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({}, "give exactly one of --saved_model and --server"),
        ({"saved_model": "a", "server": "http://x"}, "give exactly one of --saved_model and --server"),
        ({"server": "http://localhost:8501"}, "--server needs --model_name"),
        ({"saved_model": "a", "num": 0}, "--num must be positive"),
        ({"saved_model": "a", "lo": 2.0, "hi": -2.0}, "lo < hi"),
    ],
)
def test_bad_configs_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_lib.SampleConfig(out="x.png", **kwargs).validate()
    with pytest.raises(ValueError, match=r"--out must be a \.png path"):
        sample_lib.SampleConfig(out="x.jpg", saved_model="a").validate()


def test_missing_saved_model_is_a_clear_error(tmp_path):
    with pytest.raises(sample_lib.SampleError, match=r"has no saved_model.pb"):
        sample_lib.SavedModelSource(str(tmp_path))


def test_server_source_gives_the_same_grid(exported_model, tmp_path):
    """Over HTTP to tests/tf_serving_json.StandInServer (a local stand-in, NOT TF Serving)."""
    local = tmp_path / "local.png"
    sample_lib.sample(sample_lib.SampleConfig(out=str(local), saved_model=exported_model.path, cols=4))
    with StandInServer(exported_model.path, "infogan_test", exported_model.version) as server:
        for form in ("inputs", "instances"):
            remote = tmp_path / f"remote_{form}.png"
            config = sample_lib.SampleConfig(
                out=str(remote), server=server.url, model_name="infogan_test", request_form=form, cols=4
            )
            sample_lib.sample(config)
            np.testing.assert_array_equal(read_png(remote), read_png(local))
        # The layout can also come from the export's JSON asset.
        spec_json = os.path.join(exported_model.path, "assets", signatures.METADATA_ASSET)
        with_spec = tmp_path / "spec.png"
        sample_lib.sample(
            sample_lib.SampleConfig(
                out=str(with_spec), server=server.url, model_name="infogan_test", spec_json=spec_json, cols=4
            )
        )
        np.testing.assert_array_equal(read_png(with_spec), read_png(local))


def test_server_metadata_with_several_categorical_codes_needs_spec_json():
    from infogan_tf.serving.client import SignatureMetadata, TensorMetadata

    sigs = {
        "generate": SignatureMetadata(
            {
                "z": TensorMetadata("float32", (-1, 8)),
                "categorical": TensorMetadata("int32", (-1, 2)),
                "continuous": TensorMetadata("float32", (-1, 1)),
            },
            {"images": TensorMetadata("float32", (-1, 28, 28, 1))},
        ),
        "serving_default": SignatureMetadata({"c": TensorMetadata("float32", (-1, 15))}, {}),
    }
    with pytest.raises(sample_lib.SampleError, match=r"2 categorical codes .* pass --spec_json"):
        sample_lib.info_from_server_metadata(sigs)


def test_cli_writes_png_and_rejects_bad_flags(exported_model, tmp_path, capsys):
    out = tmp_path / "cli.png"
    argv = [
        "infogan-sample",
        f"--saved_model={exported_model.path}",
        f"--out={out}",
        "--category=3",
        "--continuous=0.5,0",
        "--num=3",
    ]
    assert sample_cli.main(argv) == 0, capsys.readouterr().err[-3000:]
    assert "wrote a 1x3 grid of images (88x30 px)" in capsys.readouterr().out
    assert read_png(out).shape == (30, 88, 1)
    assert sample_cli.main(["infogan-sample", f"--saved_model={exported_model.path}", "--out=grid.jpg"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "infogan-sample: error: --out must be a .png path, got 'grid.jpg'"
    ]


@pytest.mark.parametrize(
    "flags, message, code",
    [
        (["--category=10"], r"--category: code 0 has 10 categories (0..9), got 10", 2),
        (["--category=seven"], "--category must be comma-separated ints, got 'seven'", 2),
        (["--categorical_code=1"], "categorical code 1 out of range", 2),
        (["--num=many"], "flag --num=many: invalid literal for int()", 2),
        (["--request_form=rows"], "flag --request_form=rows: value should be one of <inputs|instances>", 2),
        (["--saved_model=/nonexistent/3"], "--saved_model /nonexistent/3 has no saved_model.pb", 1),
    ],
)
def test_cli_refuses_with_one_line_and_keeps_the_old_png(source, tmp_path, capsys, flags, message, code):
    out = tmp_path / "keep.png"
    out.write_bytes(b"the user's file")
    argv = ["infogan-sample", f"--out={out}", *flags]
    injected = None
    if not any(f.startswith("--saved_model") for f in flags):
        argv.append("--saved_model=unused")  # the injected source is used instead
        injected = source
    assert sample_cli.main(argv, source=injected) == code
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("infogan-sample: error: ") and message in lines[0], lines
    assert out.read_bytes() == b"the user's file"


def test_cli_draws_from_an_injected_source(source, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert sample_cli.main(["infogan-sample", "--saved_model=unused", f"--out={out}", "--cols=4"], source=source) == 0
    assert capsys.readouterr().out.strip() == f"infogan-sample: wrote a 10x4 traversal grid (117x291 px) to {out}"
    assert read_png(out).shape == (291, 117, 1)


def test_metadata_file_errors_are_clear(tmp_path):
    path = tmp_path / "meta.json"
    path.write_text(json.dumps({"latent": {}}))
    with pytest.raises(sample_lib.SampleError, match="not an infogan_tf export metadata file"):
        sample_lib.read_metadata_file(str(path))

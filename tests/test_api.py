"""The Python API at the package face (``import infogan_tf as ig``): configs, train, export, load, errors.

Argument checks are unit tests (no TensorFlow work); one tiny run is trained
and exported through ``ig.train`` / ``ig.export`` and loaded back with
``ig.load`` for the model object's shapes, dtypes, determinism and refusals,
and for the Keras 3 interop (``keras.layers.TFSMLayer`` on the export).
"""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import cli_config, random_images

import infogan_tf as ig
from examples import train_and_export
from infogan_tf import visualize
from infogan_tf.cli import evaluate as evaluate_cli
from infogan_tf.cli import export as export_cli
from infogan_tf.cli import train as train_cli

# The tiny networks of conftest.TINY_MODEL (examples/train_and_export.py's SMALL) and a run of two steps, as flags.
TINY = dict(**train_and_export.SMALL, batch_size=8, train_steps=2, log_every=1, summary_every=2, checkpoint_every=2)


def _cli_error(main, prog, args, capsys) -> str:
    """The one line a CLI prints for ``args`` (it must exit 2)."""
    assert main([prog, *args]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    prefix = f"{prog}: error: "
    assert lines[0].startswith(prefix)
    return lines[0][len(prefix) :]


# ------------------------------------------------------------------ configs


@pytest.mark.unit
@pytest.mark.parametrize(
    "name, settings, argv",
    [
        ("fashion_mnist", {"train_steps": 500}, ["--preset=fashion_mnist", "--train_steps=500"]),
        (None, {}, []),
        (None, {"categorical_codes": "10,4", "g_filters": [16, 8]}, ["--categorical_codes=10,4", "--g_filters=16,8"]),
        (None, {"categorical_codes": (10, 4), "lambda_cont": 0.1}, ["--categorical_codes=10,4", "--lambda_cont=0.1"]),
        (None, {"dataset": "fashion_mnist"}, ["--dataset=fashion_mnist"]),
        ("svhn", {"real_info_view": "same", "seed": 3}, ["--preset=svhn", "--real_info_view=same", "--seed=3"]),
    ],
)
def test_preset_is_the_config_infogan_train_builds_from_the_same_flags(name, settings, argv):
    assert ig.preset(name, **settings) == cli_config(*argv)


@pytest.mark.unit
def test_preset_overrides_only_what_is_given():
    config = ig.preset("fashion_mnist", train_steps=500)
    preset = ig.PRESETS["fashion_mnist"](ig.TrainConfig())
    assert config.optim.train_steps == 500 and config.data.dataset == "fashion_mnist"
    assert config.real_info == preset.real_info  # the preset's own settings stay
    assert isinstance(config, ig.TrainConfig) and config.model.image_shape == (28, 28, 1)
    # Without a preset, data other than MNIST's digits keeps the views' slant (as infogan-train).
    assert ig.preset(dataset="fashion_mnist").real_info.real_info_view == "affine"
    assert ig.preset().real_info.real_info_view == "deskewed"


@pytest.mark.unit
@pytest.mark.parametrize(
    "settings, argv",
    [
        ({"train_steps": -5}, ["--train_steps=-5"]),
        ({"noise_dim": -3}, ["--noise_dim=-3"]),
        ({"categorical_codes": "10,1"}, ["--categorical_codes=10,1"]),
        ({"lambda_cat": -1.0}, ["--lambda_cat=-1"]),
        ({"image_size": 30, "channels": 1}, ["--image_size=30", "--channels=1"]),
        ({"real_info_flip": True, "real_info_view": "same"}, ["--real_info_flip", "--real_info_view=same"]),
        ({"eval_fraction": 0.1}, ["--eval_fraction=0.1"]),
    ],
)
def test_bad_settings_raise_the_message_the_cli_prints(settings, argv, capsys):
    with pytest.raises(ig.ConfigError) as raised:
        ig.preset(**settings)
    assert str(raised.value) == _cli_error(train_cli.main, "infogan-train", argv, capsys)
    assert "\n" not in str(raised.value)


@pytest.mark.unit
@pytest.mark.parametrize(
    "name, settings, message",
    [
        ("mnsit", {}, "--preset must be one of celeba, chairs, faces, fashion_mnist, mnist, svhn, got 'mnsit'"),
        ("mnist", {"trian_steps": 5}, "unknown setting 'trian_steps'; did you mean train_steps?"),
        ("mnist", {"train_steps": "500"}, "--train_steps takes int, got '500'"),
        ("mnist", {"image_size": "64"}, "--image_size takes int, got '64'"),
        ("mnist", {"g_filters": (16, "8")}, "--g_filters takes integers, got (16, '8')"),
        ("mnist", {"image_shape": (32, 32, 1)}, "image_shape is not a setting: give image_size and channels"),
    ],
)
def test_unknown_names_and_wrong_types_are_refused_with_one_line(name, settings, message):
    with pytest.raises(ig.ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        ig.preset(name, **settings)


@pytest.mark.unit
def test_run_arguments_are_checked_with_the_cli_messages(tmp_path, capsys):
    with pytest.raises(ig.UsageError) as raised:
        ig.export("", str(tmp_path / "models"))
    assert str(raised.value) == _cli_error(export_cli.main, "infogan-export", [f"--export_dir={tmp_path}/m"], capsys)
    missing = str(tmp_path / "nothing")
    with pytest.raises(ig.UsageError) as raised:
        ig.evaluate(missing)
    assert str(raised.value) == _cli_error(evaluate_cli.main, "infogan-evaluate", [f"--model_dir={missing}"], capsys)
    with pytest.raises(ig.UsageError) as raised:
        ig.evaluate(None)  # type: ignore[arg-type]
    assert str(raised.value) == _cli_error(evaluate_cli.main, "infogan-evaluate", [], capsys)
    with pytest.raises(ig.UsageError, match="unknown evaluation setting 'num_sample'; did you mean num_samples"):
        ig.evaluate(missing, num_sample=10)
    with pytest.raises(ig.UsageError, match=r"--out must be a \.png path"):
        ig.sample(str(tmp_path / "grid.jpg"), saved_model=str(tmp_path))
    with pytest.raises(ig.UsageError, match="config must be a TrainConfig"):
        ig.train({"train_steps": 2}, str(tmp_path / "run"))
    assert os.listdir(tmp_path) == []  # nothing written


@pytest.mark.slow  # a fresh interpreter is the point: this one has TensorFlow loaded already
def test_importing_the_package_and_building_a_config_import_no_tensorflow():
    code = (
        "import sys, infogan_tf as ig\n"
        "config = ig.preset('fashion_mnist', train_steps=500)\n"
        "assert config.optim.train_steps == 500 and ig.TrainConfig and ig.load and ig.train\n"
        "assert 'preset' in dir(ig)\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'tensorflow_datasets') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


@pytest.mark.unit
def test_every_public_name_resolves_and_others_do_not():
    for name in ig.__all__:
        assert getattr(ig, name) is not None, name
    with pytest.raises(AttributeError, match="has no attribute 'trainer'"):
        ig.trainer  # noqa: B018


# --------------------------------------------------- train, export and load


class SpreadPenalty(ig.Term):
    """A term of the user's own, through the package face alone: Q's continuous means kept small, in D/Q's update."""

    name = "spread_penalty"
    updates = frozenset({ig.objective.D})
    metrics = (ig.Metric("q_mean_sq"),)

    def contribute(self, batch):
        squared = tf.reduce_sum(tf.square(batch.fake.continuous_mean), axis=-1)
        return ig.Contribution(d=0.1 * squared, metrics={"q_mean_sq": squared})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny run (with an extra term) trained and exported through the API: (model_dir, export base, ExportResult)."""
    root = tmp_path_factory.mktemp("api")
    images = random_images()
    config = ig.preset("mnist", **TINY)
    result = ig.train(config, root / "run", images=images, terms=[SpreadPenalty()])  # paths: str or os.PathLike
    assert result.step == 2 and result.checkpoint and not result.preempted
    exported = ig.export(root / "run", root / "models" / "tiny")
    assert exported.version == 2
    return str(root / "run"), str(root / "models" / "tiny"), exported


@pytest.fixture(scope="module")
def model(run):
    return ig.load(pathlib.Path(run[1]))  # the base directory: its latest version


def test_an_extra_term_passed_to_train_reports_its_metric(run):
    with open(os.path.join(run[0], "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f]
    assert [r["step"] for r in records if "q_mean_sq" in r] == [1, 2]
    assert all(np.isfinite(r["q_mean_sq"]) and r["q_mean_sq"] >= 0 for r in records if "q_mean_sq" in r)


def test_load_takes_the_base_or_the_version_directory(run, model):
    assert model.path == os.path.abspath(run[2].path)
    assert ig.load(run[2].path).path == model.path
    assert model.latent == ig.LatentSpec() and model.image_shape == (28, 28, 1)
    assert model.metadata["latent"]["categorical"] == [10]
    assert "categorical [10], 2 continuous" in repr(model)


def test_generate_shapes_dtypes_and_ranges(model):
    images = model.generate()
    assert images.shape == (1, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    digits = model.generate(categorical=np.arange(10), seed=1)
    assert digits.shape == (10, 28, 28, 1)
    as_uint8 = model.generate(categorical=np.arange(10), seed=1, uint8=True)
    assert as_uint8.dtype == np.uint8
    np.testing.assert_array_equal(as_uint8, np.round(digits * 255).astype(np.uint8))
    assert model.generate(num=4, continuous=[1.5, 0.0]).shape == (4, 28, 28, 1)
    z = np.zeros([3, 62], np.float32)
    assert model.generate(z=z, categorical=7).shape == (3, 28, 28, 1)


def test_generate_is_the_exports_generate_signature(run, model):
    rng = np.random.default_rng(5)
    z = rng.uniform(-1, 1, (6, 62)).astype(np.float32)
    cat = rng.integers(0, 10, (6, 1)).astype(np.int32)
    cont = rng.uniform(-1, 1, (6, 2)).astype(np.float32)
    expected = tf.saved_model.load(run[2].path).signatures["generate"](z=z, categorical=cat, continuous=cont)
    np.testing.assert_array_equal(model.generate(categorical=cat, continuous=cont, z=z), expected["images"].numpy())


def test_generate_is_deterministic_given_a_seed(model):
    a = model.generate(num=5, seed=3)
    np.testing.assert_array_equal(a, model.generate(num=5, seed=3))
    assert not np.array_equal(a, model.generate(num=5, seed=4))
    # A code given does not change what the seed draws for the others: the same noise, another category.
    fixed = model.generate(categorical=[1, 2, 3, 4, 5], seed=3)
    np.testing.assert_array_equal(fixed, model.generate(categorical=[1, 2, 3, 4, 5], seed=3))
    assert not np.array_equal(model.generate(num=2, seed=None), model.generate(num=2, seed=None))


def test_encode_reads_the_codes(model):
    images = model.generate(categorical=np.arange(10), seed=0)
    codes = model.encode(images)
    assert codes.categorical.shape == (10, 1) and codes.categorical.dtype == np.int32
    assert len(codes.categorical_probs) == 1 and codes.categorical_probs[0].shape == (10, 10)
    np.testing.assert_allclose(codes.categorical_probs[0].sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(codes.categorical[:, 0], codes.categorical_probs[0].argmax(axis=1))
    assert codes.continuous_mean.shape == codes.continuous_std.shape == (10, 2)
    as_uint8 = model.encode(np.round(images * 255).astype(np.uint8))
    np.testing.assert_allclose(as_uint8.continuous_mean, model.encode(np.round(images * 255) / 255).continuous_mean)


def test_traverse_is_figure_2s_grid(model):
    grid = model.traverse(continuous_code=1, cols=5, seed=2)
    assert grid.shape == (10, 5, 28, 28, 1) and grid.dtype == np.float32
    inputs = visualize.traversal_inputs(model.latent, 0, 1, cols=5, seed=2)
    expected = model.generate(inputs.categorical, inputs.continuous, inputs.z)
    np.testing.assert_array_equal(grid.reshape(50, 28, 28, 1), expected)
    assert model.traverse(cols=3, uint8=True).dtype == np.uint8


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: m.generate(categorical=10), r"categorical: code 0 has 10 categories \(0..9\), got 10"),
        (lambda m: m.generate(categorical=2.5), "categorical must be integer category indices"),
        (lambda m: m.generate(continuous=[1.0, 2.0, 3.0]), r"continuous must be one value per continuous code \(2\)"),
        (lambda m: m.generate(continuous=[np.nan, 0.0]), "continuous values must be finite"),
        (lambda m: m.generate(z=np.zeros([2, 5])), r"z must be \[N, 62\] or \[62\], got shape \(2, 5\)"),
        (
            lambda m: m.generate(categorical=[1, 2], num=3),
            r"categorical, continuous, z and num disagree on the number of images: \[2, 3\]",
        ),
        (lambda m: m.generate(num=0), "num must be positive, got 0"),
        (lambda m: m.encode(np.zeros([2, 32, 32, 1])), r"images must be \[N, 28, 28, 1\], got shape \(2, 32, 32, 1\)"),
        (lambda m: m.encode(np.full([1, 28, 28, 1], 2.0)), r"images must be in \[0, 1\]"),
        (lambda m: m.traverse(categorical_code=1), "categorical code 1 out of range: the model has 1"),
        (lambda m: m.traverse(lo=1.0, hi=0.0), "lo and hi must be finite with lo < hi"),
    ],
)
def test_bad_arguments_raise_one_line_usage_errors(model, call, message):
    with pytest.raises(ig.UsageError, match="^" + message):
        call(model)


def test_load_refuses_what_is_not_an_export(run, tmp_path):
    with pytest.raises(ig.InfoGANError, match="is not a directory; pass an export written by infogan-export"):
        ig.load(str(tmp_path / "missing"))
    with pytest.raises(ig.InfoGANError, match=r"has no saved_model\.pb; pass a version directory"):
        ig.load(run[0])  # a training run, not an export


def test_sample_writes_the_png_the_cli_would(run, tmp_path):
    out = str(tmp_path / "sevens.png")
    result = ig.sample(out, saved_model=run[2].path, category=(7,), num=4)
    assert os.path.isfile(out) and (result.rows, result.cols) == (1, 4)


def test_the_export_is_a_keras_layer(run, model):
    """Keras 3 interop: the export's one-dict ``generate`` function inside a functional Keras model."""
    layer = keras.layers.TFSMLayer(run[2].path, call_endpoint="generate")
    inputs = {
        "z": keras.Input([62], name="z"),
        "categorical": keras.Input([1], dtype="int32", name="categorical"),
        "continuous": keras.Input([2], name="continuous"),
    }
    generator = keras.Model(inputs, layer(inputs)["images"])
    rng = np.random.default_rng(1)
    z = rng.uniform(-1, 1, (4, 62)).astype(np.float32)
    cat, cont = np.array([[0], [3], [7], [9]], np.int32), np.zeros([4, 2], np.float32)
    images = generator.predict({"z": z, "categorical": cat, "continuous": cont}, verbose=0)
    np.testing.assert_allclose(images, model.generate(cat, cont, z), rtol=1e-5, atol=1e-6)

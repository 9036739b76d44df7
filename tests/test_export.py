"""Tests of serving.export and infogan-export (``cli.export.main``): the SavedModel, its loaders, checks, versions.

A tiny model trained 4 steps (conftest ``trained_model_dir``) is exported once
per session (``exported_model``); every signature is compared with the
in-memory Keras networks restored independently from the same checkpoint.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from infogan_tf import errors
from infogan_tf.cli import export as export_cli
from infogan_tf.config import TrainConfig
from infogan_tf.model.networks import build_networks
from infogan_tf.serving import export, signatures

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


# ------------------------------------------------------------------ fixtures


def restore_networks(model_dir, prefix=None):
    """The run's networks restored with a plain tf.train.Checkpoint (no export code)."""
    with open(os.path.join(model_dir, "config.json")) as f:
        config = TrainConfig.from_dict(json.load(f))
    generator, discriminator = build_networks(config.latent, config.model)
    prefix = prefix or tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    tf.train.Checkpoint(generator=generator, discriminator=discriminator).restore(prefix).expect_partial()
    return config, generator, discriminator


@pytest.fixture(scope="module")
def reference(trained_model_dir):
    return restore_networks(trained_model_dir)


@pytest.fixture(scope="module")
def inputs(reference):
    config = reference[0]
    spec = config.latent
    rng = np.random.default_rng(1)
    n = 5
    categorical = rng.integers(0, spec.categorical[0], size=(n, 1)).astype(np.int32)
    continuous = rng.uniform(-2, 2, size=(n, spec.continuous)).astype(np.float32)
    return {
        "z": rng.uniform(-1, 1, size=(n, spec.noise_dim)).astype(np.float32),
        "categorical": categorical,
        "continuous": continuous,
        "c": spec.flatten(categorical, continuous).numpy(),
        "images": rng.uniform(0, 1, size=(n, *config.model.image_shape)).astype(np.float32),
    }


@pytest.fixture(scope="module")
def expected(reference, inputs):
    """Every signature's outputs computed with the Keras networks in inference mode."""
    _, generator, discriminator = reference
    images = ((generator(inputs["z"], inputs["c"], training=False).numpy() + 1.0) / 2.0).clip(0, 1)
    out = discriminator(inputs["images"] * 2.0 - 1.0, training=False)
    probs = np.concatenate([tf.nn.softmax(logits).numpy() for logits in out.categorical_logits], axis=1)
    return {
        "serving_default": {"images": images},
        "generate": {"images": images, "images_uint8": np.round(images * 255).astype(np.uint8)},
        "encode": {
            "categorical_probs": probs,
            "continuous_mean": out.continuous_mean.numpy(),
            "continuous_std": np.exp(out.continuous_log_std.numpy()),
        },
    }


def signature_inputs(name, inputs):
    return {t.name: inputs[t.name] for t in signatures.SIGNATURES[name].inputs}


def assert_outputs_match(actual, expected_outputs, rtol=1e-5, atol=1e-6):
    assert set(actual) == set(expected_outputs)
    for key, value in expected_outputs.items():
        if value.dtype == np.uint8:
            # Rounding of values within float error of a .5 boundary may differ by one level.
            assert np.abs(actual[key].astype(int) - value.astype(int)).max() <= 1, key
        else:
            np.testing.assert_allclose(actual[key], value, rtol=rtol, atol=atol, err_msg=key)


@pytest.fixture(scope="module")
def loaded(exported_model):
    return tf.saved_model.load(exported_model.path)


def run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300, **kwargs)


# --------------------------------------------------------------- the export


def test_export_layout_and_version_is_the_training_step(exported_model):
    assert exported_model.version == 4 and exported_model.step == 4
    assert os.path.basename(exported_model.path) == "4"
    assert exported_model.checkpoint.endswith("ckpt-4")
    for part in (
        "saved_model.pb",
        "variables",
        "assets/" + signatures.METADATA_ASSET,
        "assets.extra/" + signatures.WARMUP_FILE,
    ):
        assert os.path.exists(os.path.join(exported_model.path, part)), part
    # Nothing but the version directory is left in the base path.
    assert os.listdir(os.path.dirname(exported_model.path)) == ["4"]


def test_metadata_asset_describes_codes_images_and_training(exported_model, reference):
    config = reference[0]
    with open(os.path.join(exported_model.path, "assets", signatures.METADATA_ASSET)) as f:
        meta = json.load(f)
    assert meta["latent"] == config.latent.to_dict()
    assert meta["latent"]["layout"][0] == {
        "name": "categorical_0",
        "kind": "one_hot",
        "columns": [0, 10],
        "cardinality": 10,
    }
    assert meta["image"]["shape"] == [28, 28, 1] and meta["image"]["range"] == [0.0, 1.0]
    assert meta["training_config"] == json.loads(config.to_json())
    assert meta["version"] == 4 and meta["step"] == 4
    assert meta["signatures"]["generate"]["inputs"]["categorical"] == {"dtype": "int32", "shape": [-1, 1]}
    assert meta["signatures"]["encode"]["outputs"]["categorical_probs"]["shape"] == [-1, 10]


def test_holds_each_weight_once(exported_model, reference):
    _, generator, discriminator = reference
    stored = [
        (name, shape)
        for name, shape in tf.train.list_variables(os.path.join(exported_model.path, "variables", "variables"))
        if name.endswith("VARIABLE_VALUE")
    ]
    exported = list(generator.variables) + [
        v for v in discriminator.variables if not v.path.startswith("discriminator/d_head/")
    ]
    assert len(stored) == len(exported)
    assert sorted(int(np.prod(s)) for _, s in stored) == sorted(int(np.prod(v.shape)) for v in exported)
    param_bytes = sum(int(np.prod(v.shape)) * 4 for v in exported)
    assert exported_model.exported_parameter_bytes == param_bytes
    assert exported_model.generator_parameter_bytes + exported_model.encoder_parameter_bytes == param_bytes
    data = os.path.getsize(os.path.join(exported_model.path, "variables", "variables.data-00000-of-00001"))
    # One copy of every weight plus the small object graph; a second copy would double it.
    assert param_bytes <= data < param_bytes + param_bytes // 2


# --------------------------------------------------------------- the loaders


@pytest.mark.slow
def test_fresh_process_without_infogan_tf_matches_keras(exported_model, inputs, expected, tmp_path):
    np.savez(tmp_path / "inputs.npz", **inputs)
    script = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        import tensorflow as tf

        path, inputs_file, out_file = sys.argv[1:]
        x = dict(np.load(inputs_file))
        m = tf.saved_model.load(path)
        named = {
            "serving_default": ["z", "c"],
            "generate": ["z", "categorical", "continuous"],
            "encode": ["images"],
        }
        out = {}
        for name, keys in named.items():
            args = {k: tf.constant(x[k]) for k in keys}
            for key, value in m.signatures[name](**args).items():
                out[f"signature/{name}/{key}"] = value.numpy()
            # The one-dict functions (what keras.layers.TFSMLayer calls).
            for key, value in getattr(m, name)(args).items():
                out[f"function/{name}/{key}"] = value.numpy()
        np.savez(out_file, **out)
        meta = json.load(open(m.export_metadata.asset_path.numpy().decode()))
        print(json.dumps({
            "infogan_tf_imported": any(k.split(".")[0] == "infogan_tf" for k in sys.modules),
            "keras_imported": "keras" in sys.modules,
            "signatures": sorted(m.signatures),
            "noise_dim": meta["latent"]["noise_dim"],
        }))
        """
    )
    result = run(
        [sys.executable, "-c", script, exported_model.path, str(tmp_path / "inputs.npz"), str(tmp_path / "out.npz")],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["infogan_tf_imported"] is False
    assert report["signatures"] == ["encode", "generate", "serving_default"]
    assert report["noise_dim"] == 62
    out = dict(np.load(tmp_path / "out.npz"))
    for kind in ("signature", "function"):
        for name, outputs in expected.items():
            actual = {k.split("/")[2]: v for k, v in out.items() if k.startswith(f"{kind}/{name}/")}
            assert_outputs_match(actual, outputs)


@pytest.mark.slow
def test_saved_model_cli_show_lists_documented_signatures(exported_model):
    result = run(["saved_model_cli", "show", "--dir", exported_model.path, "--all"])
    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout
    blocks = {}
    for chunk in text.split("signature_def[")[1:]:
        name = chunk.split("]")[0].strip("'")
        blocks[name] = chunk
    assert {"serving_default", "generate", "encode"} <= set(blocks)
    want = {
        "serving_default": [
            ("z", "DT_FLOAT", "(-1, 62)"),
            ("c", "DT_FLOAT", "(-1, 12)"),
            ("images", "DT_FLOAT", "(-1, 28, 28, 1)"),
        ],
        "generate": [
            ("z", "DT_FLOAT", "(-1, 62)"),
            ("categorical", "DT_INT32", "(-1, 1)"),
            ("continuous", "DT_FLOAT", "(-1, 2)"),
            ("images", "DT_FLOAT", "(-1, 28, 28, 1)"),
            ("images_uint8", "DT_UINT8", "(-1, 28, 28, 1)"),
        ],
        "encode": [
            ("images", "DT_FLOAT", "(-1, 28, 28, 1)"),
            ("categorical_probs", "DT_FLOAT", "(-1, 10)"),
            ("continuous_mean", "DT_FLOAT", "(-1, 2)"),
            ("continuous_std", "DT_FLOAT", "(-1, 2)"),
        ],
    }
    for name, tensors in want.items():
        block = blocks[name]
        assert "Method name is: tensorflow/serving/predict" in block
        for tensor, dtype, shape in tensors:
            section = block.split(f"['{tensor}'] tensor_info:")[1].split("name:")[0]
            assert f"dtype: {dtype}" in section and f"shape: {shape}" in section, (name, tensor, section)


@pytest.mark.slow
def test_saved_model_cli_run_matches_keras(exported_model, inputs, expected, tmp_path):
    """saved_model_cli run: the TF1 session loader (TF Serving's path) restores every variable."""
    feeds = []
    for key, value in signature_inputs("serving_default", inputs).items():
        np.save(tmp_path / f"{key}.npy", value)
        feeds.append(f"{key}={tmp_path / key}.npy")
    result = run(
        [
            "saved_model_cli",
            "run",
            "--dir",
            exported_model.path,
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
            "--inputs",
            ";".join(feeds),
            "--outdir",
            str(tmp_path / "out"),
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert_outputs_match({"images": np.load(tmp_path / "out" / "images.npy")}, expected["serving_default"])


def test_session_loader_runs_every_signature(exported_model, inputs, expected):
    """The same TF1 loader in this process, for all three signatures."""
    with tf.compat.v1.Session(graph=tf.Graph()) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], exported_model.path)
        for name, outputs in expected.items():
            sig = meta.signature_def[name]
            feed = {sig.inputs[k].name: v for k, v in signature_inputs(name, inputs).items()}
            fetched = sess.run({k: sig.outputs[k].name for k in outputs}, feed_dict=feed)
            assert_outputs_match(fetched, outputs)


def test_a_declared_signature_the_module_does_not_compute_is_refused(reference, monkeypatch, tmp_path):
    """A signature declared in serving/signatures.py needs its math in the export module: named, not half-exported."""
    from infogan_tf.serving.module import InfoGANExportModule

    _, generator, discriminator = reference
    monkeypatch.setitem(signatures.SIGNATURES, "decode", signatures.SIGNATURES["encode"])
    (tmp_path / "meta.json").write_text("{}")
    with pytest.raises(ValueError, match=r"declares \['decode', 'encode', 'generate', 'serving_default'\]; the export"):
        InfoGANExportModule(generator, discriminator, str(tmp_path / "meta.json"))


def test_tfsmlayer_loads_and_calls_serving_default(exported_model, inputs, expected):
    layer = keras.layers.TFSMLayer(exported_model.path, call_endpoint="serving_default")
    out = layer({"z": inputs["z"], "c": inputs["c"]})
    np.testing.assert_allclose(out["images"].numpy(), expected["serving_default"]["images"], rtol=1e-5, atol=1e-6)
    # The layer sees the generator's weights, each once.
    assert len(layer.weights) == len(
        [k for k in tf.saved_model.load(exported_model.path).weights if k.startswith("generator/")]
    )


# ----------------------------------------------------------- bad input checks

C_OK = np.eye(12, dtype=np.float32)[[0, 3]]


def _c_not_one_hot():
    c = C_OK.copy()
    c[1, 3] = 0.5
    return c


def _c_two_ones():
    c = C_OK.copy()
    c[0, 5] = 1.0
    return c


Z = np.zeros([2, 62], np.float32)
CONT = np.zeros([2, 2], np.float32)
BAD_INPUTS = [
    ("serving_default", {"z": np.zeros([2, 63], np.float32), "c": C_OK}, r"z must have 62 columns"),
    (
        "serving_default",
        {"z": np.zeros([2, 62, 1], np.float32), "c": C_OK},
        r"z must be a matrix \[batch, 62\]; got rank\] \[3\]",
    ),
    ("serving_default", {"z": Z, "c": np.zeros([2, 11], np.float32)}, r"c must have 12 columns"),
    ("serving_default", {"z": Z, "c": np.zeros([12], np.float32)}, r"c must be a matrix"),
    (
        "serving_default",
        {"z": Z, "c": _c_not_one_hot()},
        r"c columns 0\.\.9 \(categorical code 0, 10 categories\) must be one-hot",
    ),
    ("serving_default", {"z": Z, "c": _c_two_ones()}, r"must be one-hot"),
    ("serving_default", {"z": Z + np.nan, "c": C_OK}, r"z contains NaN or Inf"),
    ("serving_default", {"z": Z, "c": C_OK + np.array([0] * 11 + [np.inf], np.float32)}, r"c contains NaN or Inf"),
    ("serving_default", {"z": np.zeros([3, 62], np.float32), "c": C_OK}, r"z and c must have the same number of rows"),
    (
        "generate",
        {"z": Z, "categorical": np.array([[1], [10]], np.int32), "continuous": CONT},
        r"categorical\[:, 0\] must be a category index in \[0, 9\]",
    ),
    (
        "generate",
        {"z": Z, "categorical": np.array([[-1], [0]], np.int32), "continuous": CONT},
        r"must be a category index in \[0, 9\]",
    ),
    (
        "generate",
        {"z": Z, "categorical": np.zeros([2, 2], np.int32), "continuous": CONT},
        r"categorical must have 1 columns",
    ),
    (
        "generate",
        {"z": Z, "categorical": np.zeros([2, 1], np.int32), "continuous": CONT + np.nan},
        r"continuous contains NaN or Inf",
    ),
    ("encode", {"images": np.full([2, 28, 28, 1], 255.0, np.float32)}, r"images must be in \[0, 1\]"),
    ("encode", {"images": np.zeros([2, 32, 32, 1], np.float32)}, r"images must be \[batch, 28, 28, 1\]"),
    ("encode", {"images": np.full([2, 28, 28, 1], np.nan, np.float32)}, r"images contains NaN or Inf"),
]


@pytest.mark.parametrize("name,feeds,message", BAD_INPUTS, ids=[f"{n}-{m[:30]}" for n, _, m in BAD_INPUTS])
def test_bad_inputs_raise_invalid_argument_naming_the_problem(loaded, name, feeds, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        loaded.signatures[name](**{k: tf.constant(v) for k, v in feeds.items()})


@pytest.mark.parametrize("dtype", [tf.float64, tf.int32])
def test_wrong_dtype_is_refused_by_the_signature(loaded, dtype):
    got = dtype.name.replace("float64", "double")
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"expected to be a float tensor but is a {got} tensor"):
        loaded.signatures["serving_default"](z=tf.zeros([2, 62], dtype), c=tf.constant(C_OK))


def test_session_loader_checks_raw_feeds(exported_model):
    """TF Serving's C++ session feeds tensors without Python's shape checks: the graph checks them."""
    from tensorflow.core.protobuf import config_pb2

    with tf.compat.v1.Session(graph=tf.Graph()) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], exported_model.path)
        sig = meta.signature_def["serving_default"]
        # _make_callable_from_options feeds like the C++ API (no Python-side shape check).
        call = sess._make_callable_from_options(
            config_pb2.CallableOptions(
                feed=[sig.inputs["z"].name, sig.inputs["c"].name], fetch=[sig.outputs["images"].name]
            )
        )
        assert call(Z, C_OK)[0].shape == (2, 28, 28, 1)
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"z must be a matrix \[batch, 62\]; got rank\] \[3\]"):
            call(np.zeros([2, 62, 1], np.float32), C_OK)
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"z must have 62 columns \(noise_dim\); got\] \[61\]"):
            call(np.zeros([2, 61], np.float32), C_OK)
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"must be one-hot"):
            call(Z, _c_not_one_hot())


def test_batches_on_both_sides_of_the_upsampling_switch_match_keras(loaded, reference):
    """The default export computes G's upconvolutions in sub-pixel form from SUBPIXEL_MIN_BATCH images on."""
    from infogan_tf.serving.upsampling import SUBPIXEL_MIN_BATCH

    config, generator, _ = reference
    rng = np.random.default_rng(2)
    for batch in (SUBPIXEL_MIN_BATCH - 1, SUBPIXEL_MIN_BATCH, 3 * SUBPIXEL_MIN_BATCH):
        z = rng.uniform(-1, 1, size=(batch, config.latent.noise_dim)).astype(np.float32)
        c = config.latent.flatten(
            rng.integers(0, 10, size=(batch, 1)).astype(np.int32), rng.uniform(-1, 1, (batch, 2)).astype(np.float32)
        ).numpy()
        expected_images = ((generator(z, c, training=False).numpy() + 1.0) / 2.0).clip(0, 1)
        actual = loaded.signatures["serving_default"](z=tf.constant(z), c=tf.constant(c))["images"].numpy()
        np.testing.assert_allclose(actual, expected_images, rtol=1e-5, atol=2e-6, err_msg=f"batch {batch}")


def _xla_compiled_functions(path):
    """Names of the SavedModel's library functions that XLA must compile."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    library = proto.meta_graphs[0].graph_def.library
    return [f.signature.name for f in library.function if f.attr["_XlaMustCompile"].b]


def test_jit_compiled_export_matches_keras_and_still_checks_inputs(
    trained_model_dir, exported_model, inputs, expected, tmp_path
):
    result = export.export(
        export.ExportConfig(model_dir=trained_model_dir, export_dir=str(tmp_path / "xla"), jit_compile=True)
    )
    assert _xla_compiled_functions(result.path), "no XLA-compiled function in the jit_compile export"
    assert not _xla_compiled_functions(exported_model.path), "the default export must not need XLA"
    for path, jit in ((result.path, True), (exported_model.path, False)):
        with open(os.path.join(path, "assets", signatures.METADATA_ASSET)) as f:
            assert json.load(f)["jit_compile"] is jit

    loaded = tf.saved_model.load(result.path)
    for name in signatures.SIGNATURES:
        out = loaded.signatures[name](**{k: tf.constant(v) for k, v in signature_inputs(name, inputs).items()})
        # XLA may fuse and reorder float arithmetic: a looser tolerance.
        assert_outputs_match({k: v.numpy() for k, v in out.items()}, expected[name], rtol=1e-4, atol=1e-5)
    # The input checks stay outside the compiled math, so they still run.
    for name, feeds, message in (BAD_INPUTS[4], BAD_INPUTS[6], BAD_INPUTS[9], BAD_INPUTS[13]):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            loaded.signatures[name](**{k: tf.constant(v) for k, v in feeds.items()})


# ------------------------------------------------------------ warmup records


def test_warmup_records_parse_and_run(exported_model, loaded, reference):
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(exported_model.path, "assets.extra", "tf_serving_warmup_requests")
    logs = []
    for record in tf.data.TFRecordDataset(path):
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(record.numpy())
        logs.append(log)
    assert [log.WhichOneof("log_type") for log in logs] == ["predict_log"] * 3
    requests = {log.predict_log.request.model_spec.signature_name: log.predict_log.request for log in logs}
    assert set(requests) == set(signatures.SIGNATURES)
    config = reference[0]
    shapes = signatures.signature_shapes(config.latent, config.model.image_shape)
    for name, request in requests.items():
        assert request.model_spec.name == "infogan_test"
        assert set(request.inputs) == {t.name for t in signatures.SIGNATURES[name].inputs}
        arrays = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        for key, value in arrays.items():
            assert [export.WARMUP_BATCH, *shapes[name]["inputs"][key][1:]] == list(value.shape), (name, key)
        # Each request is valid: the signature runs on it.
        out = loaded.signatures[name](**{k: tf.constant(v) for k, v in arrays.items()})
        assert set(out) == {t.name for t in signatures.SIGNATURES[name].outputs}


# ----------------------------------------------- versioning and atomic writes


def test_existing_version_is_refused_and_untouched(trained_model_dir, tmp_path):
    base = tmp_path / "models"
    (base / "4").mkdir(parents=True)
    (base / "4" / "mine.txt").write_text("keep me")
    with pytest.raises(export.ExportError, match=r"version 4 already exists"):
        export.export(export.ExportConfig(model_dir=trained_model_dir, export_dir=str(base)))
    # A zero-padded name is the same version for TF Serving.
    padded = tmp_path / "padded"
    (padded / "0004").mkdir(parents=True)
    with pytest.raises(export.ExportError, match=r"version 4 already exists at .*0004"):
        export.publish_version(str(padded), 4, lambda tmp_dir: None)
    assert os.listdir(padded) == ["0004"]
    assert sorted(os.listdir(base)) == ["4"]
    assert os.listdir(base / "4") == ["mine.txt"] and (base / "4" / "mine.txt").read_text() == "keep me"


def test_failure_mid_export_leaves_no_visible_version(trained_model_dir, tmp_path, monkeypatch):
    base = tmp_path / "models"
    seen = {}

    def failing_warmup(version_dir, logs):
        # The SavedModel is already in the temporary directory when this fails.
        seen["dir"] = version_dir
        seen["had_saved_model"] = os.path.exists(os.path.join(version_dir, "saved_model.pb"))
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(export, "write_warmup", failing_warmup)
    with pytest.raises(OSError, match="simulated"):
        export.export(export.ExportConfig(model_dir=trained_model_dir, export_dir=str(base)))
    assert seen["had_saved_model"]
    assert os.path.basename(seen["dir"]).startswith(".")  # never a numeric name TF Serving would load
    assert os.listdir(base) == []  # no version and no leftover temporary directory


def test_checkpoint_flag_exports_that_checkpoint(trained_model_dir, reference, tmp_path):
    prefix = os.path.join(trained_model_dir, "checkpoints", "ckpt-2")
    result = export.export(
        export.ExportConfig(model_dir=trained_model_dir, export_dir=str(tmp_path), checkpoint=prefix, version=17)
    )
    # An explicit --version wins over the step (the default, tested above).
    assert (result.version, result.step, result.checkpoint) == (17, 2, prefix)
    assert os.listdir(tmp_path) == ["17"]
    # Its weights are step 2's, not the latest (step 4) ones.
    _, step2_generator, _ = restore_networks(trained_model_dir, prefix)
    weights = tf.saved_model.load(result.path).weights
    for v in step2_generator.variables:
        np.testing.assert_array_equal(weights[v.path].numpy(), v.numpy(), err_msg=v.path)
    assert not np.array_equal(weights["generator/fc1/kernel"].numpy(), reference[1].fc1.kernel.numpy())


def test_a_model_dir_without_a_run_or_checkpoint_is_refused_and_nothing_is_written(trained_model_dir, tmp_path):
    """(A damaged checkpoint is refused the same way by every reader: test_bad_inputs.py.)"""

    def export_of(model_dir, checkpoint=None):
        base = tmp_path / "models"
        export.export(export.ExportConfig(model_dir=str(model_dir), export_dir=str(base), checkpoint=checkpoint))

    with pytest.raises(errors.RunDirError, match=r"is not a directory"):
        export_of(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(errors.RunDirError, match=r"has no config.json"):
        export_of(empty)
    no_ckpt = tmp_path / "no_ckpt"
    no_ckpt.mkdir()
    shutil.copy(os.path.join(trained_model_dir, "config.json"), no_ckpt)
    with pytest.raises(errors.RunDirError, match=r"no checkpoint in .*no_ckpt/checkpoints yet; train first"):
        export_of(no_ckpt)
    with pytest.raises(errors.RunDirError, match=r"--checkpoint .*ckpt-99: no such checkpoint"):
        export_of(trained_model_dir, os.path.join(trained_model_dir, "checkpoints", "ckpt-99"))
    assert not (tmp_path / "models").exists()


# ----------------------------------------------------------------- the CLI


def test_export_cli_writes_a_version_and_rejects_bad_flags(trained_model_dir, tmp_path, capsys):
    base = tmp_path / "served" / "infogan_mnist"
    argv = ["infogan-export", f"--model_dir={trained_model_dir}", f"--export_dir={base}"]
    assert export_cli.main(argv) == 0, capsys.readouterr().err[-3000:]
    assert "wrote version 4" in capsys.readouterr().out and os.listdir(base) == ["4"]
    assert export_cli.main([*argv, "--jit_compile", "--version=5"]) == 0, capsys.readouterr().err[-3000:]
    assert sorted(os.listdir(base)) == ["4", "5"]
    for version, jit in (("4", False), ("5", True)):
        with open(base / version / "assets" / signatures.METADATA_ASSET) as f:
            assert json.load(f)["jit_compile"] is jit
        assert bool(_xla_compiled_functions(str(base / version))) is jit
    capsys.readouterr()
    assert export_cli.main(["infogan-export", f"--export_dir={base}"]) == 2
    assert "--model_dir is required" in capsys.readouterr().err
    assert sorted(os.listdir(base)) == ["4", "5"]


@pytest.mark.parametrize(
    "flags, message, code",
    [
        (["--version=-1"], "--version must be a non-negative integer, got -1", 2),
        (["--version=four"], "flag --version=four: invalid literal for int()", 2),
        (["--model_name= "], "--model_name must not be empty", 2),
        (["stray"], "unexpected arguments: stray", 2),
        (["--version=4"], "version 4 already exists", 1),
    ],
)
def test_export_cli_refuses_with_one_line(trained_model_dir, tmp_path, capsys, flags, message, code):
    base = tmp_path / "models"
    (base / "4").mkdir(parents=True)
    argv = ["infogan-export", f"--model_dir={trained_model_dir}", f"--export_dir={base}", *flags]
    assert export_cli.main(argv) == code
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("infogan-export: error: ") and message in lines[0], out.err
    assert out.out == "" and os.listdir(base) == ["4"] and os.listdir(base / "4") == []

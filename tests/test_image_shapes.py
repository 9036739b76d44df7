"""Any image shape end to end: the paper's SVHN (32x32x3) and 3D-chairs (64x64x1) tables, with tiny filter counts.

Each is built by the one rule (``architecture.network_plan``), trained 2 steps
on random images, exported and served (every signature compared with the
Keras networks restored from the checkpoint), sampled with infogan-sample,
summarised in colour or grey for TensorBoard, and evaluated without labels
(Fréchet distance in the random-CNN feature space).
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import built_once, tiny_config

from infogan_tf import presets, visualize
from infogan_tf.config import TrainConfig
from infogan_tf.evaluation import evaluate as evaluate_lib
from infogan_tf.model.networks import build_networks
from infogan_tf.serving import export, upsampling
from infogan_tf.serving import sample as sample_lib
from infogan_tf.training import loop
from infogan_tf.training.rundir import RunDir

# The presets' layer tables with every width shrunk (same depths, strides and grids).
TINY = {
    "svhn": {"g_filters": (16, 8, 8, 4), "d_filters": (4, 8, 8), "q_fc_units": 8},
    "chairs": {
        "g_fc_units": 16,
        "g_filters": (8, 8, 8, 4, 4),
        "d_filters": (4, 4, 8, 8, 8),
        "d_fc_units": 16,
        "q_fc_units": 8,
    },
}
SHAPES = {"svhn": (32, 32, 3), "chairs": (64, 64, 1)}


def shaped_config(model_dir: str, preset: str, **optim) -> TrainConfig:
    """The preset's codes and layer table at tiny widths, with conftest's tiny run settings."""
    paper = presets.PRESETS[preset](TrainConfig())
    return dataclasses.replace(
        tiny_config(model_dir, **optim),
        data=paper.data,
        latent=paper.latent,
        model=dataclasses.replace(paper.model, **TINY[preset]),
    ).validate()


def random_images(n: int, shape, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


@pytest.fixture(scope="module")
def no_remapper():
    """Grappler's remapper off while these runs trace (restored after).

    On TF 2.21 it fails on the chairs trunk ("Mutation::Apply error: fanout
    ... LeakyReluGrad exist for missing node ... conv1/BiasAdd") after
    spending ~150 s of the first step on it; without it the step traces in
    ~15 s. Test-only: the step computes the same either way.
    """
    before = tf.config.optimizer.get_experimental_options()
    tf.config.optimizer.set_experimental_options({"remapping": False})
    yield
    tf.config.optimizer.set_experimental_options({"remapping": before.get("remapping", True)})


@pytest.fixture(scope="module", params=sorted(TINY))
def run(request, tmp_path_factory, no_remapper):
    """(config, model_dir, ExportResult) of a 2-step run of one preset's shape (built once per test run)."""
    preset = request.param

    def build(directory) -> dict:
        model_dir = str(directory / "run")
        config = shaped_config(model_dir, preset, train_steps=2)
        loop.train(config, images=random_images(32, SHAPES[preset], 0), progress=lambda _: None)
        result = export.export(export.ExportConfig(model_dir=model_dir, export_dir=str(directory / "export")))
        return {"model_dir": model_dir, "export": result._asdict()}

    built = built_once(tmp_path_factory, f"shape_{preset}", build)
    model_dir = built["model_dir"]
    return shaped_config(model_dir, preset, train_steps=2), model_dir, export.ExportResult(**built["export"])


def restored(config: TrainConfig, model_dir: str):
    g, d = build_networks(config.latent, config.model)
    prefix = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    tf.train.Checkpoint(generator=g, discriminator=d).restore(prefix).expect_partial()
    return g, d


def test_the_presets_keep_the_paper_tables_depths():
    # Tiny widths, the paper's depths: svhn G 4 upconvs from 2x2, D 3 convs, no FC; chairs G from 8x8.
    g, d = build_networks(*(lambda c: (c.latent, c.model))(shaped_config("unused", "svhn")))
    assert g._grid[:2] == (2, 2) and g.fc1 is None and d.fc is None
    assert [tuple(u.strides) for u in g.upconvolutions] == [(2, 2)] * 4
    g, d = build_networks(*(lambda c: (c.latent, c.model))(shaped_config("unused", "chairs")))
    assert [tuple(u.strides) for u in g.upconvolutions] == [(1, 1), (1, 1), (2, 2), (2, 2), (2, 2)]
    assert [tuple(getattr(d, f"conv{i}").strides) for i in range(1, 6)] == [(2, 2)] * 3 + [(1, 1)] * 2


@pytest.mark.slow
def test_export_serves_the_run_at_its_image_shape(run):
    config, model_dir, result = run
    shape = config.model.image_shape
    loaded = tf.saved_model.load(result.path)
    with open(loaded.export_metadata.asset_path.numpy().decode()) as f:
        metadata = json.load(f)
    assert metadata["image"]["shape"] == list(shape)
    assert metadata["signatures"]["encode"]["inputs"]["images"]["shape"] == [-1, *shape]
    g, d = restored(config, model_dir)
    spec, rng = config.latent, np.random.default_rng(1)
    for n in (2, upsampling.SUBPIXEL_MIN_BATCH + 1):  # both forms of the served upconvolutions
        categorical = np.stack([rng.integers(0, k, size=n) for k in spec.categorical], 1).astype(np.int32)
        continuous = rng.uniform(-1, 1, size=(n, spec.continuous)).astype(np.float32)
        z = rng.uniform(-1, 1, size=(n, spec.noise_dim)).astype(np.float32)
        out = loaded.signatures["generate"](
            z=tf.constant(z), categorical=tf.constant(categorical), continuous=tf.constant(continuous)
        )
        want = (g(z, spec.flatten(categorical, continuous), training=False).numpy() + 1) / 2
        assert out["images"].shape == (n, *shape)
        np.testing.assert_allclose(out["images"].numpy(), want, atol=1e-5)
        images = rng.uniform(0, 1, size=(n, *shape)).astype(np.float32)
        encoded = loaded.signatures["encode"](images=tf.constant(images))
        q = d(images * 2 - 1, training=False)
        probs = np.concatenate([tf.nn.softmax(t).numpy() for t in q.categorical_logits], 1)
        np.testing.assert_allclose(encoded["categorical_probs"].numpy(), probs, atol=1e-5)
        np.testing.assert_allclose(encoded["continuous_mean"].numpy(), q.continuous_mean.numpy(), atol=1e-5)
    with pytest.raises(TypeError, match=f"shape=\\(None, {shape[0]}, {shape[1]}, {shape[2]}\\)"):
        loaded.encode({"images": tf.zeros([1, 28, 28, 1])})


@pytest.mark.slow
def test_infogan_sample_draws_tiles_of_the_image_shape(run, tmp_path):
    config, _, result = run
    h, w, ch = config.model.image_shape
    out = tmp_path / "grid.png"
    grid = sample_lib.sample(sample_lib.SampleConfig(out=str(out), saved_model=result.path))
    png = tf.io.decode_png(tf.io.read_file(str(out))).numpy()
    assert png.shape == (grid.rows * (h + 1) + 1, grid.cols * (w + 1) + 1, ch)
    assert grid.rows == config.latent.categorical[0]


@pytest.mark.slow
def test_tensorboard_traversal_has_the_image_channels(run):
    config, model_dir, _ = run
    h, w, ch = config.model.image_shape
    summaries = RunDir(model_dir).summaries
    events = [os.path.join(d, f) for d, _, fs in os.walk(summaries) for f in fs if "tfevents" in f]
    pngs = [
        v.tensor.string_val[2]
        for e in events
        for record in tf.data.TFRecordDataset(e)
        for v in tf.compat.v1.Event.FromString(record.numpy()).summary.value
        if v.tag == "traversal"
    ]
    assert pngs
    image = tf.io.decode_png(pngs[-1]).numpy()
    inputs = visualize.traversal_inputs(config.latent)
    assert image.shape == (inputs.rows * (h + 1) + 1, inputs.cols * (w + 1) + 1, ch)


@pytest.mark.slow
def test_label_free_evaluation_in_the_random_feature_space(run, tmp_path):
    config, model_dir, _ = run
    shape = config.model.image_shape
    data = evaluate_lib.EvalData(random_images(40, shape, 1), None, random_images(40, shape, 2))
    settings = dict(
        num_samples=40, num_reference=40, sweep_samples=2, sweep_values=3, batch_size=20, feature_space="random"
    )
    result = evaluate_lib.evaluate_model_dir(
        evaluate_lib.EvalConfig(model_dir=model_dir, out_dir=str(tmp_path / "eval"), **settings), data
    )
    summary = result.report["summary"]
    assert summary["accuracy"] is None and result.report["unsupervised_accuracy"] == []
    assert "random-init CNN" in summary["feature_space"]
    # Real held-out images are closer to the real reference than an untrained generator's samples.
    assert 0 <= summary["frechet_distance_real_test"] < summary["frechet_distance"]
    assert summary["classifier_score"] is None
    assert len(summary["continuous_controls"]) == config.latent.continuous
    assert os.path.isfile(os.path.join(result.out_dir, "report.json"))


@pytest.mark.parametrize(
    "preset, asked, classifier_dir, used",
    [
        ("mnist", "auto", None, "classifier"),  # labelled, the classifier's own size
        ("svhn", "auto", None, "classifier"),
        ("chairs", "auto", None, "random"),  # no labelled dataset of 64x64x1
        ("chairs", "auto", "/my/classifier", "classifier"),  # a classifier named explicitly is used
        ("mnist", "random", None, "random"),
    ],
)
def test_auto_feature_space_needs_a_labelled_dataset_of_the_image_shape(preset, asked, classifier_dir, used):
    run_config = presets.PRESETS[preset](TrainConfig())
    config = evaluate_lib.EvalConfig(model_dir="run", feature_space=asked, classifier_dir=classifier_dir)
    assert evaluate_lib._feature_space(config, run_config) == used


def test_random_features_are_fixed_and_tell_images_apart():
    from infogan_tf.evaluation.random_features import random_feature_extractor

    images = random_images(6, (32, 32, 3), 0)
    a = random_feature_extractor((32, 32, 3)).predict(images)
    b = random_feature_extractor((32, 32, 3)).predict(images)
    assert a.features.shape == (6, 448) and a.probabilities is None
    np.testing.assert_array_equal(a.features, b.features)  # the same network every time
    grey = random_feature_extractor((32, 32, 3)).predict(np.full_like(images, 128)).features
    assert np.abs(grey - a.features).max() > 1e-3

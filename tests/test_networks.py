"""Networks: one rule for every image shape, the MNIST variables kept, Q outputs per code, one-line shape errors."""

import dataclasses
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from infogan_tf import config as config_lib
from infogan_tf import presets
from infogan_tf.architecture import network_plan
from infogan_tf.config import ConfigError, ModelConfig
from infogan_tf.latent import LatentSpec
from infogan_tf.model.networks import build_networks

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "config",
    [preset(config_lib.TrainConfig()) for preset in presets.PRESETS.values()],
    ids=list(presets.PRESETS),
)
def test_shapes_follow_the_image_shape(config):
    spec, model = config.latent, config.model
    g, d = build_networks(spec, model)
    codes = spec.sample(3, tf.constant([0, 0], tf.int64))
    images = g(codes.z, codes.c)
    assert images.shape == (3, *model.image_shape)
    assert float(tf.reduce_min(images)) >= -1 and float(tf.reduce_max(images)) <= 1
    out = d(images)
    assert out.d_logit.shape == (3,)
    assert [t.shape for t in out.categorical_logits] == [(3, k) for k in spec.categorical]
    assert out.continuous_mean.shape == (3, spec.continuous)
    assert out.continuous_log_std.shape == (3, spec.continuous)


def test_paper_architecture_sizes():
    # The paper's Q has a learned std; the default fixes it (no q_log_std layer, checked below).
    g, d = build_networks(LatentSpec(), ModelConfig(continuous_std="learned"))
    kernel_shapes = {v.path.split("/", 1)[1]: tuple(v.shape) for v in g.weights if v.path.endswith("kernel")}
    assert kernel_shapes == {
        "fc1/kernel": (74, 1024),
        "fc2/kernel": (1024, 7 * 7 * 128),
        "upconv1/kernel": (4, 4, 64, 128),
        "upconv2/kernel": (4, 4, 1, 64),
    }
    kernel_shapes = {v.path.split("/", 1)[1]: tuple(v.shape) for v in d.weights if v.path.endswith("kernel")}
    assert kernel_shapes == {
        "conv1/kernel": (4, 4, 1, 64),
        "conv2/kernel": (4, 4, 64, 128),
        "fc/kernel": (7 * 7 * 128, 1024),
        "d_head/kernel": (1024, 1),
        "q_fc/kernel": (1024, 128),
        "q_categorical/kernel": (128, 10),
        "q_mean/kernel": (128, 2),
        "q_log_std/kernel": (128, 2),
    }
    # Every BatchNormalization keeps one set of statistics across replicas.
    bns = [layer for m in (g, d) for layer in m._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns and all(layer.synchronized for layer in bns)


def test_several_categorical_codes_get_their_own_logits():
    spec = LatentSpec(noise_dim=4, categorical=(3, 5, 2), continuous=1)
    g, d = build_networks(
        spec, ModelConfig(g_fc_units=8, g_filters=(8, 4), d_filters=(4, 4), d_fc_units=8, q_fc_units=8)
    )
    codes = spec.sample(2, tf.constant([1, 1], tf.int64))
    out = d(g(codes.z, codes.c))
    assert [t.shape[1] for t in out.categorical_logits] == [3, 5, 2]


def test_the_overclustering_head_reads_q_and_is_absent_by_default():
    spec = LatentSpec(noise_dim=4, categorical=(3,), continuous=1)
    small = ModelConfig(g_fc_units=8, g_filters=(8, 4), d_filters=(4, 4), d_fc_units=8, q_fc_units=8)
    _, plain = build_networks(spec, small)
    _, over = build_networks(spec, small, overcluster=7)
    assert plain(tf.zeros([2, 28, 28, 1])).overcluster_logits.shape == (2, 0)
    assert not any("q_overcluster" in v.path for v in plain.weights)
    out = over(tf.random.uniform([2, 28, 28, 1], -1, 1))
    assert out.overcluster_logits.shape == (2, 7)
    assert [t.shape for t in out.categorical_logits] == [(2, 3)]
    # It belongs to Q, on Q's hidden layer: its kernel is q_fc_units x K.
    head = [v for v in over.q_head_variables() if "q_overcluster" in v.path]
    assert sorted(tuple(v.shape) for v in head) == [(7,), (8, 7)]


def test_fixed_std_has_no_log_std_head():
    spec = LatentSpec(noise_dim=4, categorical=(3,), continuous=2)
    _g, d = build_networks(
        spec,
        ModelConfig(
            g_fc_units=8, g_filters=(8, 4), d_filters=(4, 4), d_fc_units=8, q_fc_units=8, continuous_std="fixed"
        ),
    )
    out = d(tf.zeros([2, 28, 28, 1]))
    np.testing.assert_array_equal(out.continuous_log_std.numpy(), np.zeros([2, 2]))
    assert not any("q_log_std" in v.path for v in d.weights)


def test_fixed_std_default_has_no_log_std_layer():
    assert ModelConfig().continuous_std == "fixed"
    _, d = build_networks(LatentSpec(), ModelConfig())
    assert not any("q_log_std" in v.path for v in d.weights)
    out = d(tf.zeros([2, 28, 28, 1]))
    np.testing.assert_array_equal(out.continuous_log_std.numpy(), np.zeros([2, 2]))


def test_mnist_networks_keep_their_variables_in_order():
    # Checkpoints of existing runs restore by these names, and the optimisers' slots by this order.
    g, d = build_networks(LatentSpec(), ModelConfig())
    assert [v.path for v in g.variables] == [
        f"generator/{layer}/{name}"
        for layer, names in [
            ("fc1", ["kernel"]),
            ("bn1", ["gamma", "beta", "moving_mean", "moving_variance"]),
            ("fc2", ["kernel"]),
            ("bn2", ["gamma", "beta", "moving_mean", "moving_variance"]),
            ("upconv1", ["kernel"]),
            ("bn3", ["gamma", "beta", "moving_mean", "moving_variance"]),
            ("upconv2", ["kernel", "bias"]),
        ]
        for name in names
    ]
    assert [v.path.split("/")[1] for v in d.trainable_variables] == [
        "conv1", "conv1", "conv2", "bn2", "bn2", "fc", "bn3", "bn3", "d_head", "d_head",
        "q_fc", "q_bn", "q_bn", "q_categorical", "q_categorical", "q_mean", "q_mean",
    ]  # fmt: skip
    checkpoint_keys = {k for k, _ in tf.train.list_variables(_saved(g, d))}
    assert "generator/up1/kernel/.ATTRIBUTES/VARIABLE_VALUE" in checkpoint_keys
    assert "discriminator/bn3/moving_mean/.ATTRIBUTES/VARIABLE_VALUE" in checkpoint_keys


def _saved(g, d):
    import tempfile

    return tf.train.Checkpoint(generator=g, discriminator=d).save(tempfile.mkdtemp() + "/ckpt")


TINY = dict(g_fc_units=8, d_fc_units=8, q_fc_units=8)


@pytest.mark.parametrize(
    "model, image, g_strides, d_strides",
    [
        (ModelConfig(g_filters=(8, 4), d_filters=(4, 8), **TINY), (28, 28, 1), (2, 2), (2, 2)),
        (ModelConfig(g_filters=(8, 4), d_filters=(4, 8), **TINY), (28, 36, 3), (2, 2), (2, 2)),  # H != W
        (ModelConfig(g_filters=(8, 8, 4, 4), d_filters=(4, 8, 8), **TINY), (48, 48, 3), (2, 2, 2, 2), (2, 2, 2)),
        (
            ModelConfig(g_filters=(8, 8, 8, 4, 4), g_grid=8, d_filters=(4, 4, 8, 8, 8), **TINY),
            (64, 64, 1),
            (1, 1, 2, 2, 2),
            (2, 2, 2, 1, 1),
        ),
        (
            ModelConfig(g_filters=(8, 4, 4), g_grid=8, d_filters=(4, 4, 8, 8), **TINY),
            (32, 32, 1),
            (1, 2, 2),
            (2, 2, 1, 1),
        ),
    ],
)
def test_one_rule_builds_every_image_shape(model, image, g_strides, d_strides):
    model = dataclasses.replace(model, image_shape=image)
    spec = LatentSpec(noise_dim=4, categorical=(3,), continuous=1)
    g, d = build_networks(spec, model)
    assert [tuple(u.strides) for u in g.upconvolutions] == [(s, s) for s in g_strides]
    assert [tuple(getattr(d, f"conv{i + 1}").strides) for i in range(len(d_strides))] == [(s, s) for s in d_strides]
    codes = spec.sample(2, tf.constant([0, 1], tf.int64))
    images = g(codes.z, codes.c, training=True)
    assert images.shape == (2, *image)
    out = d(images, training=True)
    assert out.d_logit.shape == (2,) and out.categorical_logits[0].shape == (2, 3)


def test_zero_widths_drop_the_fully_connected_layers():
    model = ModelConfig(g_fc_units=0, g_filters=(8, 4), d_filters=(4, 8), d_fc_units=0, q_fc_units=0)
    g, d = build_networks(LatentSpec(), model)
    assert not {v.path.split("/")[1] for v in g.variables} & {"fc1", "bn1"}
    assert not {v.path.split("/")[1] for v in d.variables} & {"fc", "bn3", "q_fc", "q_bn"}
    assert dict((v.path, tuple(v.shape)) for v in d.variables)["discriminator/q_categorical/kernel"] == (7 * 7 * 8, 10)


@pytest.mark.parametrize(
    "model, message",
    [
        (ModelConfig(image_shape=(30, 30, 1)), "image shape (30, 30, 1) must have H and W divisible by 4"),
        (
            ModelConfig(image_shape=(48, 48, 1), g_filters=(8, 8, 8, 4, 4), g_grid=8),
            "image shape (48, 48, 1) cannot be built from --g_grid=8: H / g_grid must be a power of 2",
        ),
        (ModelConfig(image_shape=(64, 64, 1), g_grid=8), "H / g_grid must be a power of 2 up to 2^2"),
        (ModelConfig(g_filters=()), "--g_filters must be one or more positive integers"),
        (ModelConfig(d_filters=(8, 0)), "--d_filters must be one or more positive integers, got (8, 0)"),
        (ModelConfig(g_upconv_batchnorm=2), "--g_upconv_batchnorm must be -1 (all) or 0..1"),
        (ModelConfig(q_fc_units=-1), "--q_fc_units must be >= 0, got -1"),
    ],
)
def test_a_shape_the_rule_cannot_build_is_a_one_line_config_error(model, message):
    with pytest.raises(ConfigError) as e:
        network_plan(model)
    assert message in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="^" + re.escape(str(e.value)) + "$"):
        dataclasses.replace(config_lib.TrainConfig(), model=model).validate()

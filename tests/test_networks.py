"""Networks: output shapes for MNIST- and SVHN-sized images, Q outputs per code, the sub-pixel upconvolution."""

import numpy as np
import pytest
import tensorflow as tf

from infogan_tf import config as config_lib
from infogan_tf import presets
from infogan_tf.config import ModelConfig
from infogan_tf.latent import LatentSpec
from infogan_tf.model.networks import build_networks


@pytest.mark.parametrize(
    "config",
    [config_lib.TrainConfig(), presets.svhn_preset(config_lib.TrainConfig())],
    ids=["mnist_28x28x1", "svhn_32x32x3"],
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
    bns = [layer for m in (g, d) for layer in m._flatten_layers() if "batch_normalization" in type(layer).__module__]
    assert bns and all(layer.synchronized for layer in bns)


def test_several_categorical_codes_get_their_own_logits():
    spec = LatentSpec(noise_dim=4, categorical=(3, 5, 2), continuous=1)
    g, d = build_networks(
        spec, ModelConfig(g_fc_units=8, g_filters=(8, 4), d_filters=(4, 4), d_fc_units=8, q_fc_units=8)
    )
    codes = spec.sample(2, tf.constant([1, 1], tf.int64))
    out = d(g(codes.z, codes.c))
    assert [t.shape[1] for t in out.categorical_logits] == [3, 5, 2]


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

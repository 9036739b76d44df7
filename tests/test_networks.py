"""Networks: output shapes for MNIST- and SVHN-sized images, Q outputs per code, the sub-pixel upconvolution."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from infogan_tf import config as config_lib
from infogan_tf.config import ModelConfig
from infogan_tf.latent import LatentSpec
from infogan_tf.networks import SUBPIXEL_MIN_BATCH, build_networks, subpixel_conv_transpose


@pytest.mark.parametrize(
    "config",
    [config_lib.TrainConfig(), config_lib.svhn_preset(config_lib.TrainConfig())],
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
    bns = [l for m in (g, d) for l in m._flatten_layers() if "batch_normalization" in type(l).__module__]
    assert bns and all(l.synchronized for l in bns)


def test_several_categorical_codes_get_their_own_logits():
    spec = LatentSpec(noise_dim=4, categorical=(3, 5, 2), continuous=1)
    g, d = build_networks(spec, ModelConfig(g_fc_units=8, g_base_filters=8, d_filters=(4, 4), d_fc_units=8, q_fc_units=8))
    codes = spec.sample(2, tf.constant([1, 1], tf.int64))
    out = d(g(codes.z, codes.c))
    assert [t.shape[1] for t in out.categorical_logits] == [3, 5, 2]


def test_fixed_std_has_no_log_std_head():
    spec = LatentSpec(noise_dim=4, categorical=(3,), continuous=2)
    g, d = build_networks(spec, ModelConfig(g_fc_units=8, g_base_filters=8, d_filters=(4, 4), d_fc_units=8, q_fc_units=8, continuous_std="fixed"))
    out = d(tf.zeros([2, 28, 28, 1]))
    np.testing.assert_array_equal(out.continuous_log_std.numpy(), np.zeros([2, 2]))
    assert not any("q_log_std" in v.path for v in d.weights)


def test_fixed_std_default_has_no_log_std_layer():
    assert ModelConfig().continuous_std == "fixed"
    _, d = build_networks(LatentSpec(), ModelConfig())
    assert not any("q_log_std" in v.path for v in d.weights)
    out = d(tf.zeros([2, 28, 28, 1]))
    np.testing.assert_array_equal(out.continuous_log_std.numpy(), np.zeros([2, 2]))


@pytest.mark.parametrize("height, width, c_in, c_out", [(7, 7, 16, 8), (4, 6, 3, 1), (1, 1, 2, 5)])
def test_subpixel_form_equals_the_transposed_convolution(height, width, c_in, c_out):
    layer = keras.layers.Conv2DTranspose(c_out, 4, strides=2, padding="same", use_bias=False)
    x = tf.random.stateless_normal([3, height, width, c_in], seed=[1, 2])
    layer.build(x.shape)
    # A kernel with distinct taps everywhere, so a tap in the wrong place cannot go unnoticed.
    layer.kernel.assign(tf.random.stateless_normal(layer.kernel.shape, seed=[3, 4]))
    expected = layer(x).numpy()
    actual = subpixel_conv_transpose(x, layer.kernel).numpy()
    assert actual.shape == (3, 2 * height, 2 * width, c_out)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


def test_generator_subpixel_upsampling_gives_the_same_images():
    cfg = config_lib.TrainConfig()
    generator, _ = build_networks(cfg.latent, cfg.model)
    z = tf.random.stateless_uniform([4, cfg.latent.noise_dim], seed=[0, 1], minval=-1, maxval=1)
    c = cfg.latent.flatten(np.array([[0], [3], [5], [9]], np.int32), np.zeros([4, 2], np.float32))
    for layer in (generator.up1, generator.up2):
        layer.kernel.assign(tf.random.stateless_normal(layer.kernel.shape, seed=[5, 6]) * 0.05)
    generator.up2.bias.assign(tf.fill(generator.up2.bias.shape, 0.25))
    default = generator(z, c, training=False).numpy()
    np.testing.assert_allclose(generator(z, c, training=False, upsampling="subpixel").numpy(), default, atol=2e-5)
    # "auto" picks the form by the batch size at run time: check both sides of the switch, batch unknown when traced.
    auto = tf.function(
        lambda z, c: generator(z, c, training=False, upsampling="auto"),
        input_signature=[tf.TensorSpec([None, z.shape[1]]), tf.TensorSpec([None, c.shape[1]])],
    )
    assert 4 < SUBPIXEL_MIN_BATCH <= 16
    for repeats in (1, 4):  # 4 and 16 images: below and above SUBPIXEL_MIN_BATCH
        zz, cc = tf.tile(z, [repeats, 1]), tf.tile(c, [repeats, 1])
        np.testing.assert_allclose(auto(zz, cc).numpy(), generator(zz, cc, training=False).numpy(), atol=2e-5)
    with pytest.raises(ValueError, match="upsampling must be one of"):
        generator(z, c, upsampling="nearest")

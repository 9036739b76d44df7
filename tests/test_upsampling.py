"""The serving-only sub-pixel form of G's upconvolutions computes the same map as TF's transposed convolution."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from infogan_tf import config as config_lib
from infogan_tf.latent import LatentSpec
from infogan_tf.model.networks import build_networks
from infogan_tf.serving import upsampling

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("height, width, c_in, c_out", [(7, 7, 16, 8), (4, 6, 3, 1), (1, 1, 2, 5)])
def test_subpixel_form_equals_the_transposed_convolution(height, width, c_in, c_out):
    layer = keras.layers.Conv2DTranspose(c_out, 4, strides=2, padding="same", use_bias=False)
    x = tf.random.stateless_normal([3, height, width, c_in], seed=[1, 2])
    layer.build(x.shape)
    # A kernel with distinct taps everywhere, so a tap in the wrong place cannot go unnoticed.
    layer.kernel.assign(tf.random.stateless_normal(layer.kernel.shape, seed=[3, 4]))
    expected = layer(x).numpy()
    actual = upsampling.subpixel_conv_transpose(x, layer.kernel).numpy()
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
    np.testing.assert_allclose(
        generator(z, c, training=False, upsample=upsampling.subpixel).numpy(), default, atol=2e-5
    )
    # auto picks the form by the batch size at run time: check both sides of the switch, batch unknown when traced.
    auto = tf.function(
        lambda z, c: generator(z, c, training=False, upsample=upsampling.auto),
        input_signature=[tf.TensorSpec([None, z.shape[1]]), tf.TensorSpec([None, c.shape[1]])],
    )
    assert 4 < upsampling.SUBPIXEL_MIN_BATCH <= 16
    for repeats in (1, 4):  # 4 and 16 images: below and above upsampling.SUBPIXEL_MIN_BATCH
        zz, cc = tf.tile(z, [repeats, 1]), tf.tile(c, [repeats, 1])
        np.testing.assert_allclose(auto(zz, cc).numpy(), generator(zz, cc, training=False).numpy(), atol=2e-5)


@pytest.mark.parametrize(
    "model",
    [
        # The svhn table's depths (four stride-2 upconvolutions from 2x2, biases on the unnormalised ones) ...
        config_lib.ModelConfig(
            image_shape=(32, 32, 3), g_fc_units=0, g_filters=(16, 8, 8, 4), g_upconv_batchnorm=1, d_filters=(4, 8)
        ),
        # ... and the chairs table's (two stride-1 upconvolutions first, then three of stride 2), tiny widths.
        config_lib.ModelConfig(image_shape=(64, 64, 1), g_fc_units=16, g_filters=(8, 8, 8, 4, 4), g_grid=8),
    ],
    ids=["32x32x3", "64x64x1"],
)
def test_every_upconvolution_of_any_shape_takes_the_serving_form(model):
    latent = LatentSpec(noise_dim=6, categorical=(4,), continuous=1)
    generator, _ = build_networks(latent, model)
    for i, layer in enumerate(generator.upconvolutions):
        layer.kernel.assign(tf.random.stateless_normal(layer.kernel.shape, seed=[7, i]) * 0.1)
        if layer.use_bias:
            layer.bias.assign(tf.random.stateless_normal(layer.bias.shape, seed=[8, i]))
    seen = []

    def checked(layer, x):
        # Each layer's serving form equals the Keras layer on the very input G gives it.
        np.testing.assert_allclose(upsampling.subpixel(layer, x).numpy(), layer(x).numpy(), atol=2e-5)
        seen.append(tuple(layer.strides))
        return upsampling.subpixel(layer, x)

    codes = latent.sample(9, tf.constant([2, 3], tf.int64))
    served = generator(codes.z, codes.c, training=False, upsample=checked).numpy()
    assert seen == [tuple(u.strides) for u in generator.upconvolutions] and len(seen) == len(model.g_filters)
    np.testing.assert_allclose(served, generator(codes.z, codes.c, training=False).numpy(), atol=2e-5)
    auto = generator(codes.z, codes.c, training=False, upsample=upsampling.auto).numpy()
    np.testing.assert_allclose(auto, served, atol=2e-5)
    assert served.shape == (9, *model.image_shape)

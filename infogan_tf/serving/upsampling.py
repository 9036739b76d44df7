"""The serving-only form of G's upconvolutions: sub-pixel convolution, switched on by batch size.

The exported generator computes the same map as training, with the same
weights, but TF's transposed convolution is most of G's time on a CPU at
batch >= 64, and the sub-pixel form of it (one 3x3 convolution and a phase
interleave) is about 1.5x faster there and slower below ~8 images
(``experiments/deconv_forms.py``). :func:`auto` picks by the batch size at run
time; the XLA export keeps TF's transposed convolution, which XLA compiles
faster at batch 1 and 64. G may have any number of upconvolutions: each
4x4 stride-2 one takes the sub-pixel form, any other runs as the Keras layer.
Training never uses this module.
"""

from __future__ import annotations

import keras
import tensorflow as tf

# "auto" uses the sub-pixel form from this batch size on: on a 2-core CPU TF's
# transposed convolution was faster at 1 image, even at 4, slower from 8 on
# (experiments/deconv_forms.py).
SUBPIXEL_MIN_BATCH = 8

# Kernel row (or column) of a 4x4, stride-2, "same" transposed convolution that
# output phase a (output row 2m + a) takes from input row m + e, for
# e = -1, 0, 1; 4 = no tap (a zero row is appended to the kernel). TF pads
# such a transposed convolution by 1 before, so output row 2i + t - 1 takes
# kernel row t from input row i: t = a + 1 - 2e where that lies in [0, 4).
_SUBPIXEL_TAPS = ((3, 4), (1, 2), (4, 0))


def subpixel_conv_transpose(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """A 4x4, stride-2, "same" transposed convolution as one 3x3 convolution and a phase interleave.

    Computes what ``keras.layers.Conv2DTranspose(filters, 4, strides=2,
    padding="same")`` computes without its bias: each of the four output
    phases (row parity, column parity) is a 3x3 convolution of the input with
    the kernel taps that reach it, so one 3x3 convolution to 4 x filters
    channels gives all four, interleaved into the doubled grid. It multiplies
    9 weights per output and input channel where 4 are needed (the other 5
    are zeros).

    Args:
      x: [B, H, W, C_in].
      kernel: the layer's kernel, [4, 4, C_out, C_in].
    """
    kernel = tf.cast(kernel, x.dtype)
    out_ch = tf.shape(kernel)[2]
    padded = tf.pad(kernel, [[0, 1], [0, 1], [0, 0], [0, 0]])  # row and column 4 are zeros
    taps = tf.constant(_SUBPIXEL_TAPS)
    # [3 (row offset), 2 (row phase), 3 (col offset), 2 (col phase), C_out, C_in]
    phases = tf.gather(tf.gather(padded, taps, axis=0), taps, axis=2)
    conv_kernel = tf.reshape(tf.transpose(phases, [0, 2, 5, 1, 3, 4]), [3, 3, tf.shape(kernel)[3], 4 * out_ch])
    y = tf.nn.conv2d(x, conv_kernel, strides=1, padding="SAME")
    batch, height, width = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]
    y = tf.reshape(y, [batch, height, width, 2, 2, out_ch])
    return tf.reshape(tf.transpose(y, [0, 1, 3, 2, 4, 5]), [batch, 2 * height, 2 * width, out_ch])


def _doubles(layer: keras.layers.Conv2DTranspose) -> bool:
    """A 4x4, stride-2, "same" upconvolution: the form the sub-pixel path computes."""
    return tuple(layer.strides) == (2, 2) and tuple(layer.kernel_size) == (4, 4) and layer.padding == "same"


def subpixel(layer: keras.layers.Conv2DTranspose, x: tf.Tensor) -> tf.Tensor:
    """``layer(x)`` computed in sub-pixel form (a ``Generator.call`` ``upsample``); other layers run as they are.

    A stride-1 upconvolution (the 3D-chairs generator has two) gains nothing
    from the phase split and is computed by the layer itself.
    """
    if not _doubles(layer):
        return layer(x)
    y = subpixel_conv_transpose(x, layer.kernel)
    return y + tf.cast(layer.bias, y.dtype) if layer.use_bias else y


def auto(layer: keras.layers.Conv2DTranspose, x: tf.Tensor) -> tf.Tensor:
    """Sub-pixel form from SUBPIXEL_MIN_BATCH images on, TF's transposed convolution below (a runtime switch)."""
    if not _doubles(layer):
        return layer(x)
    return tf.cond(tf.shape(x)[0] >= SUBPIXEL_MIN_BATCH, lambda: subpixel(layer, x), lambda: layer(x))

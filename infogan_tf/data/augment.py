"""Small random affine copies of real images, for Q's real-image information term.

``random_affine`` rotates, scales and shifts each image by its own random
amount, drawn statelessly from a seed (so a resumed run draws what it would
have). Used as the second view of a real image when Q's categories are asked
to carry the same information about an image and about its slightly moved
copy (``losses.paired_categorical_information``): digit identity survives a
small rotation, shift or rescaling, style details tied to them do not.

ImageProjectiveTransformV3 has no XLA kernel, so this runs outside the
XLA-compiled train step.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import tensorflow as tf


class AffineRange(NamedTuple):
    """Largest rotation (degrees), relative scale change and shift (pixels)."""

    degrees: float = 15.0
    scale: float = 0.1
    shift: float = 2.0


def random_affine(images: tf.Tensor, seed: tf.Tensor, limits: AffineRange = AffineRange(), fill: float = -1.0):
    """Each image rotated, scaled (about its centre) and shifted by uniform random amounts.

    Args:
      images: float [B, H, W, C].
      seed: int [2] stateless seed.
      limits: the largest rotation, scale change and shift.
      fill: value of pixels that come from outside the image (-1: background
        of images in [-1, 1]).
    """
    images = tf.convert_to_tensor(images, tf.float32)
    batch = tf.shape(images)[0]
    height = tf.cast(tf.shape(images)[1], tf.float32)
    width = tf.cast(tf.shape(images)[2], tf.float32)
    u = tf.random.stateless_uniform([batch, 4], seed, -1.0, 1.0)
    angle = u[:, 0] * limits.degrees * (math.pi / 180.0)
    scale = 1.0 + u[:, 1] * limits.scale
    shift_x, shift_y = u[:, 2] * limits.shift, u[:, 3] * limits.shift
    # The op maps each OUTPUT pixel (x, y) to the input point
    # (a0 x + a1 y + a2, b0 x + b1 y + b2): the inverse transform.
    cx, cy = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    a0, a1 = tf.cos(angle) / scale, -tf.sin(angle) / scale
    b0, b1 = tf.sin(angle) / scale, tf.cos(angle) / scale
    a2 = cx - a0 * cx - a1 * cy - shift_x
    b2 = cy - b0 * cx - b1 * cy - shift_y
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        fill_value=fill,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )

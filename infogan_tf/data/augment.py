"""Small random affine copies of real images, for Q's real-image information term.

``random_affine`` rotates, scales and shifts each image by its own random
amount, drawn statelessly from a seed (so a resumed run draws what it would
have). Used as the second view of a real image when Q's categories are asked
to carry the same information about an image and about its slightly moved
copy (``losses.paired_categorical_information``): digit identity survives a
small rotation, shift or rescaling, style details tied to them do not.

The warp is bilinear sampling written with gathers (``affine_warp``), the
same arithmetic as ``tf.raw_ops.ImageProjectiveTransformV3`` with constant
fill (tests compare the two), because that op has no XLA kernel: written this
way, the views are made inside the XLA-compiled train step.

``ink_slant`` measures each image's slant from the second moments of its ink
(the deskewing of LeCun et al. 1998's MNIST experiments); given to
``random_affine`` as ``base_shear``, the copy is first made upright, so a
left-leaning and a right-leaning image of one class give near-identical views.
``level_ink`` does the same for shade: it rescales each image's ink to one
brightness, so a dark and a light garment of one shape give near-identical
views. ``random_erase`` sets a random rectangle of some copies to the
background (random erasing, Zhong et al. 2020): a detail that only some
images of a class have, such as the bar through a crossed seven, is then
sometimes missing from a copy. ``shear_stretch_maps`` and ``thicken`` make
copies moved by KNOWN amounts, for the opt-in factor-views term
(``model.objective.factor_views``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import tensorflow as tf


class AffineRange(NamedTuple):
    """Largest rotation (degrees), relative scale change, shift (pixels) and horizontal shear; mirror or not."""

    degrees: float = 15.0
    scale: float = 0.1
    shift: float = 2.0
    shear: float = 0.0
    flip: bool = False  # mirror left-right with probability 1/2, before the other moves


def ink_slant(images: tf.Tensor, background: float = -1.0, limit: float = 1.0) -> tf.Tensor:
    """Each image's slant dx/dy: the least-squares line x = x0 + s y through its ink, s in [-limit, limit].

    The ink is each pixel's height above ``background`` (channels averaged;
    images in [background, 1]); s = mu_xy / mu_yy of its second central
    moments, with x the column and y the row (down). A blank image has slant 0.
    The train step's twin of the evaluation's numpy ``image_statistics`` slant
    (y up there, in degrees: that slant is atan(-s); a test holds them together).

    Returns:
      float [B].
    """
    images = tf.convert_to_tensor(images, tf.float32)
    ink = tf.maximum(tf.reduce_mean(images, axis=-1) - background, 0.0)  # [B, H, W]
    height, width = tf.shape(ink)[1], tf.shape(ink)[2]
    ys, xs = tf.meshgrid(tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij")
    mass = tf.reduce_sum(ink, axis=[1, 2]) + 1e-6

    def mean(values: tf.Tensor) -> tf.Tensor:
        return tf.reduce_sum(ink * values, axis=[1, 2]) / mass

    x_bar, y_bar = mean(xs), mean(ys)
    dx, dy = xs - x_bar[:, None, None], ys - y_bar[:, None, None]
    slant = mean(dx * dy) / (mean(dy * dy) + 1e-6)
    return tf.clip_by_value(slant, -limit, limit)


def level_ink(images: tf.Tensor, level: float = 0.7, background: float = -1.0, top: float = 1.0) -> tf.Tensor:
    """Each image's ink rescaled to one brightness: its ink-weighted mean height to ``level`` of the range.

    The ink is each pixel's height above ``background`` (channels averaged;
    images in [background, top]); its brightness b = sum(ink^2) / sum(ink),
    the mean height of the ink weighted by the ink itself (the background
    does not count, however much of the image it is). Every channel's height
    is multiplied by level * (top - background) / b and clipped at ``top``,
    so a garment printed darker or lighter gives (up to clipping) the same
    image. A blank image stays blank.

    Returns:
      float [B, H, W, C].
    """
    images = tf.convert_to_tensor(images, tf.float32)
    height = images - background
    ink = tf.maximum(tf.reduce_mean(height, axis=-1), 0.0)  # [B, H, W]
    brightness = tf.reduce_sum(ink * ink, axis=[1, 2]) / (tf.reduce_sum(ink, axis=[1, 2]) + 1e-6)
    gain = level * (top - background) / tf.maximum(brightness, 1e-3)
    return tf.minimum(background + height * gain[:, None, None, None], top)


def random_affine(
    images: tf.Tensor,
    seed: tf.Tensor,
    limits: AffineRange = AffineRange(),
    fill: float = -1.0,
    base_shear: tf.Tensor | None = None,
):
    """Each image rotated, scaled (about its centre) and shifted by uniform random amounts.

    Args:
      images: float [B, H, W, C].
      seed: int [2] stateless seed.
      limits: the largest rotation, scale change, shift and shear, and whether to mirror.
      fill: value of pixels that come from outside the image (-1: background
        of images in [-1, 1]).
      base_shear: optional float [B]: a slant to remove from each image before
        the random moves (``ink_slant`` makes the copies upright), added to the
        random shear; the random draws do not depend on it.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    batch = tf.shape(images)[0]
    height = tf.cast(tf.shape(images)[1], tf.float32)
    width = tf.cast(tf.shape(images)[2], tf.float32)
    u = tf.random.stateless_uniform([batch, 4], seed, -1.0, 1.0)
    angle = u[:, 0] * limits.degrees * (math.pi / 180.0)
    scale = 1.0 + u[:, 1] * limits.scale
    shift_x, shift_y = u[:, 2] * limits.shift, u[:, 3] * limits.shift
    # The shear is drawn from a stream of its own, so the other draws do not depend on it.
    shear_seed = tf.random.experimental.stateless_fold_in(seed, 1)
    shear = tf.random.stateless_uniform([batch], shear_seed, -1.0, 1.0) * limits.shear
    # The mirror too (-1: mirrored, +1: not), from a third stream.
    if limits.flip:
        coin = tf.random.stateless_uniform([batch], tf.random.experimental.stateless_fold_in(seed, 2))
        mirror = tf.where(coin < 0.5, -1.0, 1.0)
    else:
        mirror = tf.ones([batch])
    if base_shear is not None:
        shear += mirror * tf.cast(base_shear, tf.float32)  # a mirrored image leans the other way
    # Each OUTPUT pixel (x, y) reads the input at (a0 x + a1 y + a2,
    # b0 x + b1 y + b2): the inverse transform, as ImageProjectiveTransformV3 takes it:
    # rotation and scale after a shear x -> x + k y (both about the centre),
    # after the mirror x -> 2 cx - x (reading the mirrored input at x is reading the input at 2 cx - x).
    cx, cy = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    a0, a1 = cos, shear * cos - sin
    b0, b1 = sin, shear * sin + cos
    a2 = cx - a0 * cx - a1 * cy - shift_x
    b2 = cy - b0 * cx - b1 * cy - shift_y
    a0, a1, a2 = mirror * a0, mirror * a1, mirror * a2 + (1.0 - mirror) * cx
    return affine_warp(images, tf.stack([a0, a1, a2, b0, b1, b2], axis=1), fill)


def affine_warp(images: tf.Tensor, transforms: tf.Tensor, fill: float = -1.0) -> tf.Tensor:
    """Bilinear resampling of each image at (a0 x + a1 y + a2, b0 x + b1 y + b2) for output pixel (x, y).

    Args:
      images: float [B, H, W, C].
      transforms: float [B, 6], one inverse affine map (a0, a1, a2, b0, b1, b2) per image.
      fill: value of the neighbours that fall outside the image (each of the
        four is read on its own, as ImageProjectiveTransformV3's constant mode does).

    Only gathers and elementwise ops: it compiles with XLA.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    transforms = tf.cast(transforms, tf.float32)
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    ys, xs = tf.meshgrid(tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij")
    a0, a1, a2, b0, b1, b2 = tf.unstack(tf.reshape(transforms, [-1, 6, 1, 1]), num=6, axis=1)
    x = a0 * xs + a1 * ys + a2  # [B, H, W]: where each output pixel reads the input
    y = b0 * xs + b1 * ys + b2
    x0, y0 = tf.floor(x), tf.floor(y)
    flat = tf.reshape(images, [-1, shape[3]])
    first_row = tf.range(batch)[:, None, None] * height * width

    def read(yy: tf.Tensor, xx: tf.Tensor) -> tf.Tensor:
        inside = (
            (xx >= 0) & (xx <= tf.cast(width - 1, tf.float32)) & (yy >= 0) & (yy <= tf.cast(height - 1, tf.float32))
        )
        xi = tf.clip_by_value(tf.cast(xx, tf.int32), 0, width - 1)
        yi = tf.clip_by_value(tf.cast(yy, tf.int32), 0, height - 1)
        values = tf.gather(flat, first_row + yi * width + xi)  # [B, H, W, C]
        return tf.where(inside[..., None], values, tf.cast(fill, tf.float32))

    wx, wy = (x - x0)[..., None], (y - y0)[..., None]
    top = (1.0 - wx) * read(y0, x0) + wx * read(y0, x0 + 1.0)
    bottom = (1.0 - wx) * read(y0 + 1.0, x0) + wx * read(y0 + 1.0, x0 + 1.0)
    return (1.0 - wy) * top + wy * bottom


def shear_stretch_maps(shape, shear: tf.Tensor, log_stretch: tf.Tensor) -> tf.Tensor:
    """``affine_warp``'s inverse maps of known moves about the image centre: shears, then horizontal stretches.

    Args:
      shape: the images' shape [B, H, W, C] (H and W known).
      shear: float [N_s]: each sheared copy's ink slant dx/dy (y down) grows by it.
      log_stretch: float [N_t]: each stretched copy's width is times exp(it).

    Returns:
      float [N_s + N_t, 6], the sheared copies' maps first.
    """
    height, width = float(shape[1]), float(shape[2])
    cx, cy = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    # Sheared: output (x, y) reads the input at x - k (y - cy).
    zeros = tf.zeros_like(shear)
    sheared = tf.stack([zeros + 1.0, -shear, shear * cy, zeros, zeros + 1.0, zeros], axis=1)
    # Stretched: output (x, y) reads the input at cx + (x - cx) / s.
    inverse = tf.exp(-log_stretch)
    zeros = tf.zeros_like(inverse)
    stretched = tf.stack([inverse, zeros, cx - inverse * cx, zeros, zeros + 1.0, zeros], axis=1)
    return tf.concat([sheared, stretched], axis=0)


def thicken(images: tf.Tensor, amount: tf.Tensor) -> tf.Tensor:
    """Each image blended by |t| towards the 3x3 dilation of its ink (t > 0) or its erosion (t < 0).

    Ink is the bright side (images in [-1, 1] on a -1 background): dilation is a
    3x3 max, erosion a 3x3 min. ``amount``: float [B], t per image.
    """
    dilated = tf.nn.max_pool2d(images, 3, 1, "SAME")
    eroded = -tf.nn.max_pool2d(-images, 3, 1, "SAME")
    t = amount[:, None, None, None]
    return images + tf.maximum(t, 0.0) * (dilated - images) + tf.maximum(-t, 0.0) * (eroded - images)


def random_erase(images: tf.Tensor, seed: tf.Tensor, max_area: float, fill: float = -1.0) -> tf.Tensor:
    """Each image, with probability 1/2, with one random rectangle set to ``fill`` (Zhong et al. 2020).

    The rectangle's area is a uniform fraction in [0.02, ``max_area``] of the
    image, its aspect ratio (height / width) log-uniform in [1/3, 3], its
    centre uniform over the image; what falls outside the image is dropped.

    Args:
      images: float [B, H, W, C].
      seed: int [2] stateless seed (its own streams: a copy's other moves do not depend on this one).
      max_area: the largest area, as a fraction of the image, in [0.02, 1].
      fill: the background value (-1 for images in [-1, 1]).
    """
    images = tf.convert_to_tensor(images, tf.float32)
    batch = tf.shape(images)[0]
    height = tf.cast(tf.shape(images)[1], tf.float32)
    width = tf.cast(tf.shape(images)[2], tf.float32)
    u = tf.random.stateless_uniform([batch, 5], tf.random.experimental.stateless_fold_in(seed, 3))
    area = (0.02 + u[:, 0] * (max_area - 0.02)) * height * width
    aspect = tf.exp((2.0 * u[:, 1] - 1.0) * math.log(3.0))
    half_h = tf.sqrt(area * aspect) / 2.0
    half_w = tf.sqrt(area / aspect) / 2.0
    centre_y, centre_x = u[:, 2] * height, u[:, 3] * width
    rows = tf.range(height)[None, :, None] + 0.5
    cols = tf.range(width)[None, None, :] + 0.5
    inside = (tf.abs(rows - centre_y[:, None, None]) < half_h[:, None, None]) & (
        tf.abs(cols - centre_x[:, None, None]) < half_w[:, None, None]
    )
    erased = inside & (u[:, 4] < 0.5)[:, None, None]
    return tf.where(erased[..., None], tf.constant(fill, images.dtype), images)

"""Image files and TFDS images at the network's input shape: decode, convert channels, resize, centre-crop.

One rule for every source (a folder, cached or streamed, and any TFDS
dataset), so the same file gives the same pixels whichever path reads it:

* channels: grey -> colour repeats the grey value; colour -> grey is the
  ITU-R 601 luma (``tf.image.rgb_to_grayscale``); an alpha channel is dropped;
* size: an image already of the training size (H, W) is left untouched
  (bit-exact); any other is scaled (bilinear, antialiased) so that it just
  covers H x W -- the shorter side becomes the training side -- and the
  centre H x W is kept;
* the result is uint8, so a cache holds one byte per pixel
  (``data.pixels.to_model_range`` makes it [-1, 1] per batch).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from infogan_tf.errors import describe

_DECODE_BATCH = 256


def as_shape(image_shape) -> tuple[int, int, int]:
    """Any (H, W, C) sequence as a tuple of three ints."""
    height, width, channels = (int(d) for d in image_shape)
    return height, width, channels


def fit(image: tf.Tensor, shape: tuple[int, int, int]) -> tf.Tensor:
    """A uint8 [h, w, c] image (c in 1..4) -> uint8 ``shape`` = (H, W, C), C in {1, 3}."""
    height, width, channels = shape
    image = tf.convert_to_tensor(image)
    c = tf.shape(image)[-1]
    # Drop alpha: [grey, alpha] -> grey, [r, g, b, alpha] -> rgb.
    image = tf.cond(tf.equal(c % 2, 0), lambda: image[..., : c - 1], lambda: image)
    if channels == 1:
        image = tf.cond(
            tf.equal(tf.shape(image)[-1], 3), lambda: tf.image.rgb_to_grayscale(image), lambda: image[..., :1]
        )
    else:
        image = tf.cond(
            tf.equal(tf.shape(image)[-1], 1), lambda: tf.image.grayscale_to_rgb(image), lambda: image[..., :3]
        )
    image = tf.ensure_shape(image, [None, None, channels])

    def resized():
        h = tf.cast(tf.shape(image)[0], tf.float32)
        w = tf.cast(tf.shape(image)[1], tf.float32)
        scale = tf.maximum(height / h, width / w)
        size = tf.cast(tf.math.ceil(tf.stack([h, w]) * scale - 1e-4), tf.int32)
        size = tf.maximum(size, [height, width])
        big = tf.image.resize(image, size, method="bilinear", antialias=True)
        top, left = (size[0] - height) // 2, (size[1] - width) // 2
        crop = big[top : top + height, left : left + width]
        return tf.cast(tf.clip_by_value(tf.round(crop), 0, 255), tf.uint8)

    same = tf.reduce_all(tf.equal(tf.shape(image)[:2], [height, width]))
    return tf.ensure_shape(tf.cond(same, lambda: image, resized), shape)


def decode_file(path: tf.Tensor, shape: tuple[int, int, int]) -> tf.Tensor:
    """Reads and decodes one PNG/JPEG/GIF(first frame)/BMP file -> uint8 ``shape``."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=0, dtype=tf.uint8, expand_animations=False)
    return fit(image, shape)


class Decoded(NamedTuple):
    """The result of decoding a list of files."""

    images: np.ndarray | None  # uint8 [N_ok, H, W, C] in the files' order (None: not kept)
    failed: list[tuple[int, str]]  # (index into the files, why it failed to decode)


def decode_files(paths: list[str], shape: tuple[int, int, int], keep: bool) -> Decoded:
    """Decodes every file once (in parallel, order kept); the failures are returned, not raised.

    ``keep``: return the images (the in-memory cache); else only check them.
    """
    n = len(paths)
    indices = tf.data.Dataset.from_tensor_slices((tf.range(n, dtype=tf.int64), tf.constant(paths, tf.string)))
    ds = indices.map(lambda i, p: (i, decode_file(p, shape)), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.ignore_errors().batch(_DECODE_BATCH).prefetch(2)
    out = np.empty([n, *shape], np.uint8) if keep else None
    ok = np.zeros(n, bool)
    for index, images in ds.as_numpy_iterator():
        ok[index] = True
        if out is not None:
            out[index] = images
    failed = [(int(i), _why(paths[i], shape)) for i in np.flatnonzero(~ok)]
    if out is not None and failed:
        out = out[ok]
    return Decoded(out, failed)


def _why(path: str, shape: tuple[int, int, int]) -> str:
    """The decoder's own one-line reason for a file that failed in the pipeline."""
    try:
        decode_file(tf.constant(path), shape)
    except Exception as e:  # TF raises InvalidArgumentError and friends; any is "cannot decode".
        # Keep the decoder's words, not the op's plumbing ("{{function_node ...}} ... [Op:DecodeImage]").
        text = re.sub(r"\{\{[^}]*\}\}\s*|\s*\[Op:.*$", "", describe(e))
        return f"cannot decode: {text}"
    return "cannot decode"

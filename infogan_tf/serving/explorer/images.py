"""Image files in and out of the explorer: uploads (PNG/JPEG, any size) to the model's input, and PNG answers.

An upload is recognised by its first bytes (PNG's signature, JPEG's SOI
marker), its pixel size read from its header before anything is decoded (so
a huge image is refused without being unpacked), then decoded by TensorFlow,
flattened onto black where it has an alpha channel (MNIST's digits are light
on black), converted to the model's channels (grey <-> RGB) and resized, with
antialiasing, to the model's height and width (the aspect ratio is not kept).
The result is in [0, 1], the range of the ``encode`` signature.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from infogan_tf import errors
from infogan_tf.serving.explorer.api import RequestError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8\xff"
MAX_PIXELS = 40_000_000  # an upload larger than this (width x height) is refused before decoding


def sniff(data: bytes) -> str:
    """'PNG' or 'JPEG' from the file's first bytes; RequestError for anything else."""
    if data.startswith(PNG_SIGNATURE):
        return "PNG"
    if data.startswith(JPEG_SOI):
        return "JPEG"
    head = data[:8].hex(" ") or "nothing"
    raise RequestError(f"the upload is not a PNG or JPEG image (it starts with bytes {head})")


def pixel_size(data: bytes, kind: str) -> tuple[int, int]:
    """(height, width) from the file header."""
    if kind == "PNG":
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise RequestError("cannot decode the uploaded PNG: its header is incomplete")
        width, height = struct.unpack(">II", data[16:24])
        return height, width
    try:
        height, width, _ = (int(d) for d in tf.io.extract_jpeg_shape(data).numpy())
    except tf.errors.OpError as e:
        raise RequestError(f"cannot decode the uploaded JPEG: {errors.first_line(e.message)}") from None
    return height, width


def _to_channels(image: tf.Tensor, channels: int) -> tf.Tensor:
    """[H, W, 1..4] floats in [0, 1] -> [H, W, channels] (alpha composited onto black)."""
    have = image.shape[-1]
    if have in (2, 4):
        image = image[..., :-1] * image[..., -1:]
        have -= 1
    if have == channels:
        return image
    if channels == 1:
        return tf.image.rgb_to_grayscale(image)
    return tf.image.grayscale_to_rgb(image)


def decode_upload(data: bytes, image_shape: Sequence[int]) -> np.ndarray:
    """A PNG or JPEG file as float32 [H, W, C] in [0, 1] of the model's ``image_shape``.

    Raises:
      RequestError: not a PNG/JPEG, a damaged file, or one larger than MAX_PIXELS.
    """
    kind = sniff(data)
    height, width = pixel_size(data, kind)
    if height * width > MAX_PIXELS or height == 0 or width == 0:
        raise RequestError(f"the uploaded {kind} is {width}x{height} pixels; at most {MAX_PIXELS:,} pixels are taken")
    try:
        image = tf.io.decode_image(data, expand_animations=False)
    except tf.errors.OpError as e:
        raise RequestError(f"cannot decode the uploaded {kind}: {errors.first_line(e.message)}") from None
    h, w, c = (int(d) for d in image_shape)
    unit = tf.image.convert_image_dtype(image, tf.float32)
    resized = tf.image.resize(_to_channels(unit, c), (h, w), antialias=True)
    return tf.clip_by_value(resized, 0.0, 1.0).numpy()


def encode_png(image: np.ndarray) -> bytes:
    """[H, W, C] uint8 pixels as a PNG file."""
    return tf.io.encode_png(np.asarray(image, np.uint8)).numpy()

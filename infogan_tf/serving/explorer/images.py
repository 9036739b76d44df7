"""Image files in and out of the explorer: uploads (PNG/JPEG, any size) to the model's input, and PNG answers.

An upload's format and pixel size are read from its header by Pillow
before anything is decoded (so a huge image is refused without being
unpacked, as ``infogan_tf.data.folder`` checks a folder), then decoded by TensorFlow,
flattened onto black where it has an alpha channel (MNIST's digits are light
on black), converted to the model's channels (grey <-> RGB) and resized, with
antialiasing, to the model's height and width (the aspect ratio is not kept).
The result is in [0, 1], the range of the ``encode`` signature.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
from PIL import Image, UnidentifiedImageError

from infogan_tf import errors
from infogan_tf.serving.explorer.api import RequestError

# Pillow's format names of the uploads taken (MPO: a JPEG with extra frames, as some cameras write).
KINDS = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG"}
MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}  # first bytes: which error to give
MAX_PIXELS = 40_000_000  # an upload larger than this (width x height) is refused before decoding


def header(data: bytes) -> tuple[str, int, int]:
    """('PNG' or 'JPEG', height, width) from the file's header, read by Pillow (the pixels are not decoded).

    Raises:
      RequestError: not an image, an image of another format, or a header Pillow cannot read.
    """
    magic = next((k for first, k in MAGIC.items() if data.startswith(first)), None)
    try:
        with warnings.catch_warnings():  # Pillow warns of images over 89 M pixels; MAX_PIXELS refuses them
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                fmt, (width, height) = im.format, im.size
    except UnidentifiedImageError:
        if magic is not None:  # the right first bytes, a header Pillow cannot read
            raise RequestError(f"cannot decode the uploaded {magic}: its header is damaged or incomplete") from None
        head = data[:8].hex(" ") or "nothing"
        raise RequestError(f"the upload is not a PNG or JPEG image (it starts with bytes {head})") from None
    except Image.DecompressionBombError as e:
        raise RequestError(
            f"the upload is over {MAX_PIXELS:,} pixels, the most taken ({errors.first_line(e)})"
        ) from None
    except (OSError, ValueError, SyntaxError) as e:
        raise RequestError(f"cannot decode the uploaded {magic or 'image'}: {errors.first_line(e)}") from None
    if fmt not in KINDS:
        raise RequestError(f"the upload is not a PNG or JPEG image (it is a {fmt} file)")
    return KINDS[fmt], height, width


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
    kind, height, width = header(data)
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

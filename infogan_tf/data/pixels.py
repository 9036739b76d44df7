"""Pixel ranges: uint8 files, the networks' [-1, 1] (tanh), and the exported / metric range [0, 1].

The one place that converts between them; training, export, evaluation and
the classifier all call these.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def to_model_range(images: tf.Tensor) -> tf.Tensor:
    """uint8 pixels [0, 255] -> float32 in the generator's range [-1, 1]."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def to_unit_range(images: tf.Tensor) -> tf.Tensor:
    """Generator range [-1, 1] -> [0, 1] (the exported image range)."""
    return tf.clip_by_value((tf.cast(images, tf.float32) + 1.0) * 0.5, 0.0, 1.0)


def unit_to_model_range(images: tf.Tensor) -> tf.Tensor:
    """[0, 1] (the exported image range) -> the networks' [-1, 1]."""
    return images * 2.0 - 1.0


def uint8_to_unit(images: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [0, 1] (numpy); float input is taken to be in [0, 1] already."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    return images.astype(np.float32)

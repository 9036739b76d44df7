"""Latent traversal grids (the paper's Figure 2 layout) as arrays and PNGs.

A traversal grid has one row per category of a categorical code and one
column per value of a continuous code swept over [lo, hi] (default -2..2,
beyond the training prior's (-1, 1), as in the paper), with the noise and all
other codes fixed. The same grid is used by TensorBoard summaries, the export
sampling CLI and the evaluation figures.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from infogan_tf.latent import LatentSpec


class TraversalInputs(NamedTuple):
    """Generator inputs of a rows x cols grid, row-major.

    Attributes:
      z: float32 [rows * cols, noise_dim].
      categorical: int32 [rows * cols, n_categorical].
      continuous: float32 [rows * cols, n_continuous].
      rows, cols: the grid shape.
    """

    z: np.ndarray
    categorical: np.ndarray
    continuous: np.ndarray
    rows: int
    cols: int


def traversal_inputs(
    spec: LatentSpec,
    categorical_code: int = 0,
    continuous_code: int = 0,
    cols: int = 10,
    lo: float = -2.0,
    hi: float = 2.0,
    seed: int = 0,
    fixed_continuous: float = 0.0,
) -> TraversalInputs:
    """Inputs for a grid: rows = categories of one code, cols = sweep of another.

    Without categorical codes there is one row; without continuous codes the
    columns show ``cols`` different noise draws instead of a sweep.
    """
    if spec.categorical and not 0 <= categorical_code < spec.n_categorical:
        raise ValueError(f"categorical code {categorical_code} out of range: the model has {spec.n_categorical}")
    if spec.continuous and not 0 <= continuous_code < spec.continuous:
        raise ValueError(f"continuous code {continuous_code} out of range: the model has {spec.continuous}")
    rows = spec.categorical[categorical_code] if spec.categorical else 1
    rng = np.random.default_rng(seed)
    n = rows * cols
    if spec.continuous:
        # One noise vector for the whole grid: only the codes change.
        z = np.repeat(rng.uniform(-1, 1, size=(1, spec.noise_dim)), n, axis=0)
    else:
        z = np.tile(rng.uniform(-1, 1, size=(cols, spec.noise_dim)), (rows, 1))
    categorical = np.zeros([n, spec.n_categorical], np.int32)
    if spec.categorical:
        categorical[:, categorical_code] = np.repeat(np.arange(rows), cols)
    continuous = np.full([n, spec.continuous], fixed_continuous, np.float32)
    if spec.continuous:
        continuous[:, continuous_code] = np.tile(np.linspace(lo, hi, cols), rows)
    return TraversalInputs(z.astype(np.float32), categorical, continuous, rows, cols)


def tile_grid(images: np.ndarray, rows: int, cols: int, pad: int = 1) -> np.ndarray:
    """Tiles [rows * cols, H, W, C] images row-major into one [H', W', C] image."""
    images = np.asarray(images)
    if images.shape[0] != rows * cols:
        raise ValueError(f"expected {rows * cols} images for a {rows}x{cols} grid, got {images.shape[0]}")
    _, h, w, c = images.shape
    grid = np.ones([rows * (h + pad) + pad, cols * (w + pad) + pad, c], images.dtype)
    if images.dtype == np.uint8:
        grid *= 255
    for i in range(rows):
        for j in range(cols):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            grid[y : y + h, x : x + w] = images[i * cols + j]
    return grid


def to_uint8(images_unit: np.ndarray) -> np.ndarray:
    """[0, 1] floats -> uint8 pixels."""
    return np.clip(np.round(np.asarray(images_unit) * 255.0), 0, 255).astype(np.uint8)


def write_png(path: str, image: np.ndarray) -> None:
    """Writes an [H, W, C] uint8 image as PNG (TensorFlow's encoder and file system), creating its folder."""
    import tensorflow as tf

    folder = os.path.dirname(path)
    if folder:
        tf.io.gfile.makedirs(folder)
    tf.io.write_file(path, tf.io.encode_png(np.asarray(image, np.uint8)))

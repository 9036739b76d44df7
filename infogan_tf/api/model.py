"""An exported InfoGAN as a numpy-in / numpy-out object: ``ig.load(path)`` -> :class:`Model`.

A :class:`Model` runs the export's signatures (``serving.signatures``: G as
``generate``, Q as ``encode``; Chen et al. 2016, Sec. 5) in this process,
from the export directory alone: the latent layout and image shape come from
the export's metadata asset, the calls go through the explorer's
``SavedModelBackend`` (one model call at a time). Codes not given are drawn
from the model's priors (Sec. 5: z ~ Unif(-1, 1), categories uniform,
continuous codes Unif(-r, r)) with a numpy generator seeded by ``seed``, so
the same call with the same seed gives the same images.

Codes are checked before the model is called; a bad one raises
:class:`~infogan_tf.errors.UsageError` with one line naming the argument.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np

from infogan_tf import visualize
from infogan_tf.errors import SampleError, UsageError
from infogan_tf.latent import LatentSpec


class Encoding(NamedTuple):
    """What Q reads from a batch of N images.

    Attributes:
      categorical: int32 [N, n_categorical], the most probable category of each code
        (the layout ``Model.generate`` takes).
      categorical_probs: one float32 [N, K_i] array of probabilities per categorical code.
      continuous_mean: float32 [N, n_continuous], the mean of Q(c_cont | x).
      continuous_std: float32 [N, n_continuous], its standard deviation.
    """

    categorical: np.ndarray
    categorical_probs: tuple[np.ndarray, ...]
    continuous_mean: np.ndarray
    continuous_std: np.ndarray


def version_dir(path: str | os.PathLike[str]) -> str:
    """``path`` if it is an export version directory, else the highest version below it (TF Serving's choice)."""
    path = os.path.expanduser(os.fspath(path))
    if not os.path.isfile(os.path.join(path, "saved_model.pb")) and os.path.isdir(path):
        versions = [
            d for d in os.listdir(path) if d.isdigit() and os.path.isfile(os.path.join(path, d, "saved_model.pb"))
        ]
        if versions:
            return os.path.join(path, max(versions, key=int))
    if not os.path.isdir(path):
        raise SampleError(f"{path} is not a directory; pass an export written by infogan-export")
    return path


def load(path: str | os.PathLike[str]) -> Model:
    """The exported model at ``path``: a version directory, or the base directory (its latest version).

    Raises:
      SampleError: not an export (no saved_model.pb, no metadata), or it cannot be loaded.
    """
    from infogan_tf.serving.explorer.backend import SavedModelBackend

    path = version_dir(path)
    return Model(SavedModelBackend(path), os.path.abspath(path))


def _codes(value: Any, n_codes: int, name: str, what: str, kind: type) -> np.ndarray | None:
    """``value`` as a [N, n_codes] (per image) or [1, n_codes] (every image) array; None stays None.

    A scalar or 1-D value is per image when the model has one such code, and
    one value per code (for every image) when it has several.
    """
    if value is None:
        return None
    array = np.asarray(value)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise UsageError(f"{name} must be numbers, got {value!r}")
    if kind is int and not np.issubdtype(array.dtype, np.integer):
        raise UsageError(f"{name} must be integer category indices, got dtype {array.dtype}")
    if n_codes == 0:
        raise UsageError(f"{name}: the model has no {what} codes")
    if array.ndim == 0 or (array.ndim == 1 and n_codes == 1):
        array = array.reshape(-1, 1)
    elif array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[1] != n_codes:
        raise UsageError(
            f"{name} must be one value per {what} code ({n_codes}), for every image or as an [N, {n_codes}] "
            f"array; got shape {np.shape(value)}"
        )
    return array.astype(kind)


class Model:
    """An exported InfoGAN: :meth:`generate` (G), :meth:`encode` (Q) and :meth:`traverse` on numpy arrays.

    Attributes:
      latent: the model's codes (``LatentSpec``).
      image_shape: (H, W, C) of its images.
      metadata: the export's metadata asset (latent layout, image range, training config).
      path: the version directory.
    """

    def __init__(self, backend, path: str):
        self._backend = backend
        self.latent: LatentSpec = backend.info.latent
        self.image_shape: tuple[int, int, int] = tuple(backend.info.image_shape)
        self.metadata: dict = backend.metadata
        self.path = path

    def __repr__(self) -> str:
        lat = self.latent
        return (
            f"Model({self.path!r}: {self.image_shape} images, categorical {list(lat.categorical)}, "
            f"{lat.continuous} continuous, noise {lat.noise_dim})"
        )

    def generate(
        self,
        categorical: Any = None,
        continuous: Any = None,
        z: Any = None,
        seed: int | None = 0,
        num: int | None = None,
        uint8: bool = False,
    ) -> np.ndarray:
        """Images G(z, c): float32 [N, H, W, C] in [0, 1] (``uint8=True``: uint8 in [0, 255]).

        Args:
          categorical: category indices. With one categorical code: an int (every
            image) or N ints; with several: one index per code (every image) or
            an [N, n_categorical] array. None: drawn uniformly.
          continuous: continuous code values, the same shapes as ``categorical``.
            None: drawn from Unif(-r, r), the model's prior.
          z: the noise, [N, noise_dim] or [noise_dim] (every image). None: drawn from Unif(-1, 1).
          seed: seeds what is drawn (None: fresh randomness each call).
          num: N when no argument gives it (default 1).
          uint8: return round(255 * images) as uint8, the export's ``images_uint8``.

        Raises:
          UsageError: codes that do not fit the model, or arguments disagreeing on N.
        """
        lat = self.latent
        cat = _codes(categorical, lat.n_categorical, "categorical", "categorical", int)
        cont = _codes(continuous, lat.continuous, "continuous", "continuous", float)
        noise = None
        if z is not None:
            noise = np.asarray(z, np.float32)
            noise = noise.reshape(1, -1) if noise.ndim == 1 else noise
            if noise.ndim != 2 or noise.shape[1] != lat.noise_dim:
                raise UsageError(f"z must be [N, {lat.noise_dim}] or [{lat.noise_dim}], got shape {np.shape(z)}")
        rows = {len(a) for a in (cat, cont, noise) if a is not None and len(a) != 1}
        if num is not None:
            if num <= 0:
                raise UsageError(f"num must be positive, got {num}")
            rows.add(num)
        if len(rows) > 1:
            raise UsageError(f"categorical, continuous, z and num disagree on the number of images: {sorted(rows)}")
        n = rows.pop() if rows else 1
        rng = np.random.default_rng(seed)
        # Draw every prior in a fixed order, so a given argument does not change the others' draws.
        drawn_z = rng.uniform(-1.0, 1.0, size=(n, lat.noise_dim)).astype(np.float32)
        drawn_cat = np.stack([rng.integers(0, k, size=n) for k in lat.categorical], axis=1) if lat.categorical else None
        r = lat.continuous_range
        drawn_cont = rng.uniform(-r, r, size=(n, lat.continuous)).astype(np.float32)
        if cat is not None:
            for i, k in enumerate(lat.categorical):
                bad = cat[:, i][(cat[:, i] < 0) | (cat[:, i] >= k)]
                if bad.size:
                    raise UsageError(f"categorical: code {i} has {k} categories (0..{k - 1}), got {int(bad[0])}")
        else:
            cat = drawn_cat if drawn_cat is not None else np.zeros([n, 0], np.int32)
        if cont is not None and not np.all(np.isfinite(cont)):
            raise UsageError(f"continuous values must be finite, got {cont.tolist()}")
        out = self._backend.run(
            "generate",
            {
                "z": np.broadcast_to(drawn_z if noise is None else noise, (n, lat.noise_dim)),
                "categorical": np.broadcast_to(cat, (n, lat.n_categorical)).astype(np.int32),
                "continuous": np.broadcast_to(drawn_cont if cont is None else cont, (n, lat.continuous)),
            },
        )
        return out["images_uint8"] if uint8 else out["images"]

    def encode(self, images: Any) -> Encoding:
        """What Q reads from images: uint8 [N, H, W, C], or floats in [0, 1] (what :meth:`generate` returns).

        Raises:
          UsageError: images of another shape, or floats outside [0, 1].
        """
        array = np.asarray(images)
        h, w, c = self.image_shape
        if array.ndim != 4 or array.shape[1:] != (h, w, c):
            raise UsageError(f"images must be [N, {h}, {w}, {c}], got shape {array.shape}")
        if array.dtype == np.uint8:
            array = array.astype(np.float32) / 255.0
        elif not np.issubdtype(array.dtype, np.floating):
            raise UsageError(f"images must be uint8 or floats in [0, 1], got dtype {array.dtype}")
        elif array.size and not (np.all(np.isfinite(array)) and array.min() >= 0.0 and array.max() <= 1.0):
            raise UsageError(f"images must be in [0, 1] (divide uint8 pixels by 255); got {array.min()}..{array.max()}")
        out = self._backend.run("encode", {"images": array.astype(np.float32)})
        probs = tuple(out["categorical_probs"][:, s] for s in self.latent.categorical_slices())
        categorical = np.stack([p.argmax(axis=1) for p in probs], axis=1) if probs else np.zeros([len(array), 0])
        return Encoding(categorical.astype(np.int32), probs, out["continuous_mean"], out["continuous_std"])

    def traverse(
        self,
        categorical_code: int = 0,
        continuous_code: int = 0,
        cols: int = 10,
        lo: float = -2.0,
        hi: float = 2.0,
        seed: int = 0,
        uint8: bool = False,
    ) -> np.ndarray:
        """The paper's Figure 2 (Chen et al. 2016): images [rows, cols, H, W, C] with the noise fixed.

        Rows are the categories of ``categorical_code``, columns sweep
        ``continuous_code`` over ``lo..hi`` (the other codes at 0); the
        layout of ``infogan-sample``'s grid (``visualize.traversal_inputs``).

        Raises:
          UsageError: a code the model does not have, or a bad sweep.
        """
        if cols <= 0:
            raise UsageError(f"cols must be positive, got {cols}")
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise UsageError(f"lo and hi must be finite with lo < hi, got {lo} and {hi}")
        try:
            inputs = visualize.traversal_inputs(self.latent, categorical_code, continuous_code, cols, lo, hi, seed)
        except ValueError as e:
            raise UsageError(str(e)) from None
        lat = self.latent
        images = self.generate(
            inputs.categorical if lat.categorical else None,
            inputs.continuous if lat.continuous else None,
            inputs.z,
            uint8=uint8,
        )
        return images.reshape(inputs.rows, inputs.cols, *self.image_shape)

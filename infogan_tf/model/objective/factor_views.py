"""Q's continuous outputs follow known moves of real images (not in the paper; an opt-in term, off by default).

Chen et al. 2016 (Fig. 2) find one MNIST continuous code that slants the
digit and one that widens it, without asking for either. This term asks Q's
continuous outputs for that reading on REAL images, without labels: each D/Q
update's real batch is copied with known moves -- its first half sheared
(the ink slant dx/dy changes by k, ``k`` evenly spaced in [-shear, shear]),
its second half stretched horizontally about the centre (the width times s,
``log s`` evenly spaced in [-log(1+scale), log(1+scale)]) -- and Q's mean of
continuous code 0 must move by k / shear on the sheared copies and that of
code 1 by log s / log(1+scale) on the stretched ones, each code staying put
under the other's move (``losses.factor_view_error``). The gain maps the move
range onto the codes' prior range [-1, 1]. G then meets the same Q: a code
that G expresses as slant (width) is the one Q reads back best.

Use it from Python (``ig.train(config, model_dir, terms=[FactorViewsTerm()])``)
or through ``experiments.reproduce --factor_views=WEIGHT``. Its settings are
recorded in config.json under ``"terms"``; a resumed run may not change them.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import tensorflow as tf

from infogan_tf.data.augment import affine_warp
from infogan_tf.errors import ConfigError
from infogan_tf.model import losses
from infogan_tf.model.objective.term import REPLICA_MEAN, Contribution, D, Metric, Term, UpdateBatch


class FactorViewsTerm(Term):
    """weight * (Q's continuous codes 0 and 1 miss the known slant and width moves of real images)."""

    name = "factor_views"
    updates = frozenset({D})
    metrics = (Metric("factor_views_error", reduce=REPLICA_MEAN, shown="moves={value:.3f}"),)
    fixed_on_resume: ClassVar[dict[str, str]] = {
        "factor_views_weight": "the run was trained with it",
        "factor_views_shear": "the run was trained with it",
        "factor_views_scale": "the run was trained with it",
    }

    def __init__(self, weight: float = 1.0, shear: float = 0.3, scale: float = 0.25):
        if not (math.isfinite(weight) and weight >= 0):
            raise ConfigError(f"the factor-views weight must be a finite number >= 0, got {weight}")
        if not 0 < shear <= 1:
            raise ConfigError(f"the factor-views shear must be in (0, 1], got {shear}")
        if not 0 < scale <= 0.5:
            raise ConfigError(f"the factor-views scale must be in (0, 0.5], got {scale}")
        self.weight, self.shear, self.log_scale = weight, shear, math.log1p(scale)
        self._settings = {"factor_views_weight": weight, "factor_views_shear": shear, "factor_views_scale": scale}

    def settings(self) -> dict[str, Any]:
        return dict(self._settings)

    def moves(self, count) -> tuple[tf.Tensor, tf.Tensor]:
        """The shears (the first ``count // 2`` copies) and log-stretches (the rest); ``count`` may be a tensor."""
        sheared = count // 2
        return (
            tf.linspace(-self.shear, self.shear, sheared),
            tf.linspace(-self.log_scale, self.log_scale, count - sheared),
        )

    def extra_batch(self, real_images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:  # noqa: ARG002
        """The real batch, moved: its first half sheared, its second half stretched.

        The moves are evenly spaced, not drawn: the batch is shuffled, so which
        image gets which move is random already.
        """
        shear, log_stretch = self.moves(tf.shape(real_images)[0])
        return affine_warp(real_images, _transforms(real_images.shape, shear, log_stretch))

    def contribute(self, batch: UpdateBatch) -> Contribution:
        moved = batch.extra[self.name].continuous_mean
        shear, log_stretch = self.moves(tf.shape(moved)[0])
        error = losses.factor_view_error(
            batch.real.continuous_mean, moved, shear / self.shear, log_stretch / self.log_scale
        )
        return Contribution(d=self.weight * error, metrics={"factor_views_error": error})


def _transforms(shape, shear: tf.Tensor, log_stretch: tf.Tensor) -> tf.Tensor:
    """Inverse maps (``affine_warp``'s) of the shears, then the horizontal stretches, about the image centre."""
    height, width = float(shape[1]), float(shape[2])
    cx, cy = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    # Sheared: output (x, y) reads the input at x - k (y - cy): ink slant dx/dy (y down) grows by k.
    zeros = tf.zeros_like(shear)
    sheared = tf.stack([zeros + 1.0, -shear, shear * cy, zeros, zeros + 1.0, zeros], axis=1)
    # Stretched: output (x, y) reads the input at cx + (x - cx) / s: the width times s.
    inverse = tf.exp(-log_stretch)
    zeros = tf.zeros_like(inverse)
    stretched = tf.stack([inverse, zeros, cx - inverse * cx, zeros, zeros + 1.0, zeros], axis=1)
    return tf.concat([sheared, stretched], axis=0)

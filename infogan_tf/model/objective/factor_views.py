"""Q's continuous outputs follow known moves of real images (not in the paper; an opt-in term, off by default).

Chen et al. 2016 (Fig. 2) find one MNIST continuous code that slants the
digit and one that widens it, without asking for either. This term asks Q's
continuous outputs for such a reading on REAL images, without labels: each
D/Q update's real batch is copied with known moves, and Q's means of
continuous codes 0 and 1 must follow them (``losses.factor_view_error``):

* the first half is sheared: the ink slant dx/dy changes by k, ``k`` evenly
  spaced in [-shear, shear]; code 0 must move by k / shear;
* the second half gets the second factor's move, evenly spaced, and code 1
  must move by its amount mapped onto [-1, 1]: ``width``, a horizontal
  stretch about the centre by s (log s in [-log(1+scale), log(1+scale)]);
  or ``thickness``, each stroke thickened (t > 0: blended towards the 3x3
  dilation of its ink by t) or thinned (t < 0: towards the erosion), t in
  [-0.5, 0.5] (on MNIST's 2-3 pixel strokes a full erosion erases them);
* each code stays put under the other's move.

The gain maps each move's range onto the codes' prior range [-1, 1]. G then
meets the same Q: a code G expresses as that factor is the one Q reads back best.

Use it from Python (``ig.train(config, model_dir, terms=[FactorViewsTerm()])``)
or through ``experiments.reproduce --factor_views=WEIGHT``. Its settings are
recorded in config.json under ``"terms"``; a resumed run may not change them.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import tensorflow as tf

from infogan_tf.data.augment import affine_warp, shear_stretch_maps, thicken
from infogan_tf.errors import ConfigError
from infogan_tf.model import losses
from infogan_tf.model.objective.term import REPLICA_MEAN, Contribution, D, Metric, Term, UpdateBatch

SECOND_FACTORS = ("width", "thickness")
THICKENING = 0.5  # the largest blend towards the dilation (or the erosion) of the strokes


class FactorViewsTerm(Term):
    """weight * (Q's continuous codes 0 and 1 miss the known slant and second-factor moves of real images)."""

    name = "factor_views"
    updates = frozenset({D})
    metrics = (Metric("factor_views_error", reduce=REPLICA_MEAN, shown="moves={value:.3f}"),)
    fixed_on_resume: ClassVar[dict[str, str]] = {
        "factor_views_weight": "the run was trained with it",
        "factor_views_shear": "the run was trained with it",
        "factor_views_scale": "the run was trained with it",
        "factor_views_second": "the run was trained with it",
    }

    def __init__(self, weight: float = 1.0, shear: float = 0.3, scale: float = 0.25, second: str = "width"):
        if not (math.isfinite(weight) and weight >= 0):
            raise ConfigError(f"the factor-views weight must be a finite number >= 0, got {weight}")
        if not 0 < shear <= 1:
            raise ConfigError(f"the factor-views shear must be in (0, 1], got {shear}")
        if not 0 < scale <= 0.5:
            raise ConfigError(f"the factor-views scale must be in (0, 0.5], got {scale}")
        if second not in SECOND_FACTORS:
            raise ConfigError(
                f"the factor-views second factor must be one of {', '.join(SECOND_FACTORS)}, got {second!r}"
            )
        self.weight, self.shear, self.scale, self.second = weight, shear, scale, second
        # The second move's largest amount: log s for a stretch, t for a thickening.
        self.second_range = math.log1p(scale) if second == "width" else THICKENING

    def settings(self) -> dict[str, Any]:
        return {
            "factor_views_weight": self.weight,
            "factor_views_shear": self.shear,
            "factor_views_scale": self.scale,
            "factor_views_second": self.second,
        }

    def moves(self, count) -> tuple[tf.Tensor, tf.Tensor]:
        """The shears (the first ``count // 2`` copies) and the second moves (the rest); ``count`` may be a tensor."""
        sheared = count // 2
        return (
            tf.linspace(-self.shear, self.shear, sheared),
            tf.linspace(-self.second_range, self.second_range, count - sheared),
        )

    def extra_batch(self, real_images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:  # noqa: ARG002
        """The real batch, moved: its first half sheared, its second half by the second factor's move.

        The moves are evenly spaced, not drawn: the batch is shuffled, so which
        image gets which move is random already.
        """
        real_images = tf.convert_to_tensor(real_images, tf.float32)
        shear, second = self.moves(tf.shape(real_images)[0])
        sheared = tf.shape(shear)[0]
        if self.second == "width":
            return affine_warp(real_images, shear_stretch_maps(real_images.shape, shear, second))
        first = affine_warp(real_images[:sheared], shear_stretch_maps(real_images.shape, shear, second[:0]))
        return tf.concat([first, thicken(real_images[sheared:], second)], axis=0)

    def contribute(self, batch: UpdateBatch) -> Contribution:
        if batch.real is None:
            raise ValueError("the factor-views term needs D/Q's outputs for the real images")
        moved = batch.extra[self.name].continuous_mean
        shear, second = self.moves(tf.shape(moved)[0])
        error = losses.factor_view_error(
            batch.real.continuous_mean, moved, shear / self.shear, second / self.second_range
        )
        return Contribution(d=self.weight * error, metrics={"factor_views_error": error})

"""Q's continuous outputs follow known moves of real images (not in the paper; off unless ``--factor_views`` > 0).

Chen et al. 2016 (Fig. 2) find one MNIST continuous code that slants the
digit and one that widens it, without asking for either. This term asks Q's
continuous outputs for such a reading on REAL images, without labels: each
D/Q update's real batch is copied with known moves, and Q's means of
continuous codes 0 and 1 must follow them (``losses.factor_view_error``):

* the first half is sheared: the ink slant dx/dy changes by k, ``k`` evenly
  spaced in [-shear, shear]; code 0 must move by r k / shear;
* the second half gets the second factor's move, at evenly spaced fractions
  u in [-1, 1] of its largest, and code 1 must move by r u: ``thickness``,
  each stroke thickened (u > 0: blended towards the 3x3 dilation of its ink
  by u * thicken) or thinned (u < 0: towards the erosion by |u| * thin; on
  MNIST's 2-3 pixel strokes a full erosion erases them); or ``width``, a
  horizontal stretch about the centre by s (log s = u log(1 + scale));
* each code stays put under the other's move.

r is the continuous codes' prior half-width (``--continuous_range``): each
move's range maps onto the codes' range. G then meets the same Q: a code G
expresses as that factor is the one Q reads back best.

Its settings are ``config.FactorViewsConfig`` (``--factor_views``, the weight;
``--factor_views_second``, ``--factor_views_shear``, ``--factor_views_scale``,
``--factor_views_thicken``, ``--factor_views_thin``);
``objective.default_terms`` adds the term when the weight is above 0. A
resumed run may not change them. The moves themselves are
``data.augment.shear_stretch_maps`` and ``data.augment.thicken``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import ClassVar

import tensorflow as tf

from infogan_tf.config import FactorViewsConfig, TrainConfig
from infogan_tf.data.augment import affine_warp, shear_stretch_maps, thicken
from infogan_tf.model import losses
from infogan_tf.model.objective.term import REPLICA_MEAN, Contribution, D, Metric, Term, UpdateBatch


class FactorViewsTerm(Term):
    """weight * (Q's continuous codes 0 and 1 miss the known slant and second-factor moves of real images)."""

    name = "factor_views"
    updates = frozenset({D})
    metrics = (Metric("factor_views_error", reduce=REPLICA_MEAN, shown="moves={value:.3f}"),)
    config_part = "factor_views"
    # Every setting: the run's copies and their weight follow them.
    fixed_on_resume: ClassVar[Mapping[str, str]] = {
        field.name: "the run was trained with it" for field in dataclasses.fields(FactorViewsConfig)
    }

    def __init__(self, config: TrainConfig):
        settings = config.factor_views
        self.weight, self.shear, self.second = (
            settings.factor_views,
            settings.factor_views_shear,
            settings.factor_views_second,
        )
        # The second move's largest amounts each way: blends towards the erosion and the dilation, or log s.
        if self.second == "thickness":
            self.second_range = (settings.factor_views_thin, settings.factor_views_thicken)
        else:
            self.second_range = (math.log1p(settings.factor_views_scale),) * 2
        # Each move's range maps onto the codes' prior range [-r, r].
        self.gain = config.latent.continuous_range

    def moves(self, count) -> tuple[tf.Tensor, tf.Tensor]:
        """The shears (the first ``count // 2`` copies) and the second moves' fractions u of their largest (the
        rest, in [-1, 1]); ``count`` may be a tensor."""
        sheared = count // 2
        return tf.linspace(-self.shear, self.shear, sheared), tf.linspace(-1.0, 1.0, count - sheared)

    def second_amounts(self, fractions: tf.Tensor) -> tf.Tensor:
        """The second move of each fraction u: the blend t (thickness) or log s (width)."""
        below, above = self.second_range
        return tf.where(fractions > 0, fractions * above, fractions * below)

    def extra_batch(self, real_images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:  # noqa: ARG002
        """The real batch, moved: its first half sheared, its second half by the second factor's move.

        The moves are evenly spaced, not drawn: the batch is shuffled, so which
        image gets which move is random already.
        """
        real_images = tf.convert_to_tensor(real_images, tf.float32)
        shear, fractions = self.moves(tf.shape(real_images)[0])
        second = self.second_amounts(fractions)
        sheared = tf.shape(shear)[0]
        if self.second == "width":
            return affine_warp(real_images, shear_stretch_maps(real_images.shape, shear, second))
        first = affine_warp(real_images[:sheared], shear_stretch_maps(real_images.shape, shear, second[:0]))
        return tf.concat([first, thicken(real_images[sheared:], second)], axis=0)

    def contribute(self, batch: UpdateBatch) -> Contribution:
        if batch.real is None:
            raise ValueError("the factor-views term needs D/Q's outputs for the real images")
        moved = batch.extra[self.name].continuous_mean
        shear, fractions = self.moves(tf.shape(moved)[0])
        error = losses.factor_view_error(
            batch.real.continuous_mean, moved, self.gain * shear / self.shear, self.gain * fractions
        )
        return Contribution(d=self.weight * error, metrics={"factor_views_error": error})

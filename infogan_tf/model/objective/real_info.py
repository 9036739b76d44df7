"""Q's real-image information term (not in the paper): what D/Q also maximises, and the second views it needs.

On top of Chen et al.'s objective (Eq. 6), the D/Q update maximises, with
weight ``--lambda_real_info``, Q's information about the categories of a
batch of REAL images (``model.losses``; no labels):

* with second views (``--real_info_view=affine`` or ``deskewed``), the
  mutual information between Q's categories of each image and of a moved
  copy of it (IIC, Ji et al. 2019), made by :func:`second_views` (inside the
  compiled replica step);
* without them (``same``), H(E_x Q(c|x)) - E_x H(Q(c|x)) (Krause et al. 2010);
* plus the same for Q's auxiliary over-clustering head, when it has one
  (``--q_overcluster``, as IIC's);
* plus ``(--real_info_balance - 1)`` times the categories' marginal entropy
  (``losses.category_balance``): IIC's lambda-weighted form of the term.

Its settings are ``config.RealInfoConfig``; ``--lambda_real_info=0`` leaves
the paper's objective (the term is still measured). Its metrics are the
information (``real_info``, which stays I whatever the balance) and the
over-clustering head's (``overcluster_info``, 0 without one). A resumed run
may not change the views (the run's random copies follow them) nor the head
(the checkpoint's variables do); any other setting's change is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, NamedTuple

import tensorflow as tf

from infogan_tf.config import RealInfoConfig, TrainConfig
from infogan_tf.data.augment import AffineRange, ink_slant, level_ink, random_affine, random_erase
from infogan_tf.model import losses
from infogan_tf.model.objective.term import REPLICA_MEAN, Contribution, D, Metric, Term, UpdateBatch


class RealImageTerms(NamedTuple):
    """What the real-image term computed on one replica (scalars, nats).

    Attributes:
      information: Q's information about the categories of the real images.
      overcluster: the same for the over-clustering head (0 without one).
      objective: what D/Q maximises, information + overcluster + (balance - 1) * marginal entropy.
    """

    information: tf.Tensor
    overcluster: tf.Tensor
    objective: tf.Tensor


class RealImageTerm(Term):
    """-lambda_real_info * I_real in the D/Q objective."""

    name = "real_info"
    updates = frozenset({D})
    metrics = (
        Metric("real_info", reduce=REPLICA_MEAN, shown="I_real={value:.3f}"),
        Metric("overcluster_info", reduce=REPLICA_MEAN),
    )
    config_part = "real_info"
    fixed_on_resume: ClassVar[Mapping[str, str]] = {
        "real_info_view": "its second views follow it",
        "q_overcluster": "the checkpoint's variables follow it",
    }

    def __init__(self, config: TrainConfig):
        self.config = config.real_info

    def extra_batch(self, real_images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor | None:
        if self.config.real_info_view == "same":
            return None
        return second_views(self.config, real_images, seed)

    def contribute(self, batch: UpdateBatch) -> Contribution:
        if batch.real is None:
            raise ValueError("the real-image term needs D/Q's outputs for the real images")
        views = batch.extra.get(self.name)
        over = self.config.q_overcluster > 0
        terms = real_image_terms(
            self.config,
            list(batch.real.categorical_logits),
            None if views is None else list(views.categorical_logits),
            batch.real.overcluster_logits if over else None,
            views.overcluster_logits if over and views is not None else None,
        )
        metrics = {"real_info": terms.information, "overcluster_info": terms.overcluster}
        return Contribution(d=-self.config.lambda_real_info * terms.objective, metrics=metrics)


def second_views(config: RealInfoConfig, real_images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Random small affine copies of ``real_images`` (rotated, rescaled, shifted, sheared, mirrored).

    With ``--real_info_view=deskewed`` each copy is made upright first, with
    ``--real_info_level_ink`` levelled to one brightness; with
    ``--real_info_erase`` half of the copies then lose a random rectangle.
    ``seed`` is a stateless seed (a resumed run draws the same copies).
    """
    real_images = level_ink(real_images) if config.real_info_level_ink else real_images
    upright = ink_slant(real_images) if config.real_info_view == "deskewed" else None
    limits = AffineRange(scale=config.real_info_scale, shear=config.real_info_shear, flip=config.real_info_flip)
    views = random_affine(real_images, seed, limits, base_shear=upright)
    return random_erase(views, seed, config.real_info_erase) if config.real_info_erase else views


def _information(logits: Sequence[tf.Tensor], view_logits: Sequence[tf.Tensor] | None) -> tf.Tensor:
    """Without second views: H(E Q(c|x)) - E H(Q(c|x)); with them: I(c(x); c(x'))."""
    if view_logits is None:
        return losses.categorical_information(logits)
    return losses.paired_categorical_information(logits, view_logits)


def real_image_terms(
    config: RealInfoConfig,
    categorical: Sequence[tf.Tensor],
    view_categorical: Sequence[tf.Tensor] | None,
    overcluster: tf.Tensor | None = None,
    view_overcluster: tf.Tensor | None = None,
) -> RealImageTerms:
    """The real-image term from Q's logits of the real images and of their second views.

    Args:
      config: the term's settings (``real_info_balance``).
      categorical, view_categorical: one [B, K_i] logits tensor per categorical
        code, of the real images and of their second views (None: no views).
      overcluster, view_overcluster: the over-clustering head's [B, K] logits
        of the same (None: no such head).
    """
    information = _information(categorical, view_categorical)
    over = tf.constant(0.0, tf.float32)
    if overcluster is not None:
        over = _information([overcluster], None if view_overcluster is None else [view_overcluster])
    objective = information + over
    if config.real_info_balance != 1.0:
        objective += (config.real_info_balance - 1.0) * losses.category_balance(categorical, view_categorical)
    return RealImageTerms(information, over, objective)

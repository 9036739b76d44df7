"""Q's real-image information term (not in the paper): the second views and what D/Q maximises.

On top of Chen et al.'s objective (Eq. 6), the D/Q update maximises,
with weight ``--lambda_real_info``, Q's information about the categories of
a batch of REAL images (``model.losses``; no labels):

* with second views (``--real_info_view=affine`` or ``deskewed``), the
  mutual information between Q's categories of each image and of a moved
  copy of it (IIC, Ji et al. 2019), made here by :func:`second_views`;
* without them (``same``), H(E_x Q(c|x)) - E_x H(Q(c|x)) (Krause et al. 2010);
* plus the same for Q's auxiliary over-clustering head, when it has one;
* plus ``(--real_info_balance - 1)`` times the categories' marginal entropy
  (``losses.category_balance``): IIC's lambda-weighted form of the term.

:func:`real_image_terms` returns the information (the step's ``real_info``
metric, which stays I whatever the balance) beside the objective.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import tensorflow as tf

from infogan_tf.config import RealInfoConfig
from infogan_tf.data.augment import AffineRange, ink_slant, level_ink, random_affine
from infogan_tf.model import losses


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


def second_views(optim: RealInfoConfig, real_images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Random small affine copies of ``real_images`` (rotated, rescaled, shifted, sheared, mirrored).

    With ``--real_info_view=deskewed`` each copy is made upright first, with
    ``--real_info_level_ink`` levelled to one brightness; ``seed`` is a
    stateless seed (a resumed run draws the same copies).
    """
    real_images = level_ink(real_images) if optim.real_info_level_ink else real_images
    upright = ink_slant(real_images) if optim.real_info_view == "deskewed" else None
    limits = AffineRange(scale=optim.real_info_scale, shear=optim.real_info_shear, flip=optim.real_info_flip)
    return random_affine(real_images, seed, limits, base_shear=upright)


def _information(logits: Sequence[tf.Tensor], view_logits: Sequence[tf.Tensor] | None) -> tf.Tensor:
    """Without second views: H(E Q(c|x)) - E H(Q(c|x)); with them: I(c(x); c(x'))."""
    if view_logits is None:
        return losses.categorical_information(logits)
    return losses.paired_categorical_information(logits, view_logits)


def real_image_terms(
    optim: RealInfoConfig,
    categorical: Sequence[tf.Tensor],
    view_categorical: Sequence[tf.Tensor] | None,
    overcluster: tf.Tensor | None = None,
    view_overcluster: tf.Tensor | None = None,
) -> RealImageTerms:
    """The real-image term from Q's logits of the real images and of their second views.

    Args:
      optim: the objective's settings (``real_info_balance``).
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
    if optim.real_info_balance != 1.0:
        objective += (optim.real_info_balance - 1.0) * losses.category_balance(categorical, view_categorical)
    return RealImageTerms(information, over, objective)

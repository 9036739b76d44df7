"""Pure losses of InfoGAN (the terms of ``model.objective`` compute their losses with these).

The InfoGAN objective (Chen et al. 2016, Eq. 6) is

    min_{G,Q} max_D  V(D, G) - lambda * L_I(G, Q),
    L_I(G, Q) = E_{c~P(c), x~G(z,c)}[log Q(c|x)] + H(c)          (Eq. 4-5)

The paper's losses return one value per example (shape [B]); the train step
averages them over the GLOBAL batch with tf.nn.compute_average_loss, so
losses are correct under any number of replicas. The real-image estimators
below return one scalar per batch.

* The adversarial part uses the non-saturating generator loss (Goodfellow et
  al. 2014, Sec. 3) with logits: D minimises softplus(-D(x)) + softplus(D(G(z))),
  G minimises softplus(-D(G(z))) = -log sigmoid(D(G(z))).
* The categorical part of -E[log Q(c|x)] is a cross-entropy computed from
  logits (sparse_softmax_cross_entropy_with_logits applies the one and only
  softmax).
* The continuous part is the Gaussian negative log-likelihood of the true
  code under Q's factored Gaussian (mean, log-std); with a fixed std the
  log-std is 0.

Beyond the paper (the real-image term, ``model.objective.real_info``; weight
``--lambda_real_info``, 1 by default, 0 for the paper's objective; see
BUILD_NOTES "Design decisions"): ``categorical_information`` estimates, on a batch of
REAL images, the mutual information between an image and Q's categories,
H(E_x Q(c|x)) - E_x H(Q(c|x)) -- the regularised information maximisation
criterion of Krause et al. 2010 (also IMSAT, Hu et al. 2017). Maximising it
asks Q to split the real data into confident, equally frequent categories,
which ties the categories G learns to the data's own clusters.
``paired_categorical_information`` is the same idea over two views of each
real image (the image and a slightly moved copy): the mutual information
between Q's category of one view and of the other (as in Invariant Information
Clustering, Ji et al. 2019), which is high only when the categories are
confident, balanced AND unchanged by small rotations, shifts and rescalings.
Neither uses labels. ``category_balance`` is the entropy of the categories'
marginal in either estimator; IIC's loss weights it by lambda (their
``lamb``, 1 = the mutual information): I + (lambda - 1) * balance, so that
above 1 a category that merges two classes (and leaves another nearly empty)
costs more (``--real_info_balance``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import tensorflow as tf

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def discriminator_loss(real_logit: tf.Tensor, fake_logit: tf.Tensor) -> tf.Tensor:
    """-log D(x) - log(1 - D(G(z))) per example, from logits."""
    return tf.nn.softplus(-real_logit) + tf.nn.softplus(fake_logit)


def generator_loss(fake_logit: tf.Tensor) -> tf.Tensor:
    """Non-saturating -log D(G(z)) per example, from logits."""
    return tf.nn.softplus(-fake_logit)


def categorical_cross_entropy(indices: tf.Tensor, logits: Sequence[tf.Tensor]) -> tf.Tensor:
    """-sum_i log Q(c_i | x) over the categorical codes, per example.

    Args:
      indices: int [B, n_categorical], the true category of each code.
      logits: one [B, K_i] logits tensor per code (not probabilities).
    """
    batch = tf.shape(indices)[0]
    total = tf.zeros([batch], tf.float32)
    for i, code_logits in enumerate(logits):
        total += tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.cast(indices[:, i], tf.int32), logits=code_logits
        )
    return total


def gaussian_nll(values: tf.Tensor, mean: tf.Tensor, log_std: tf.Tensor) -> tf.Tensor:
    """-log N(values; mean, exp(log_std)^2), summed over codes, per example."""
    z = (values - mean) * tf.exp(-log_std)
    return tf.reduce_sum(_HALF_LOG_2PI + log_std + 0.5 * tf.square(z), axis=-1)


class MutualInformationTerms(NamedTuple):
    """Per-example parts of the MI term (all shape [B]).

    Attributes:
      categorical_ce: -log Q(c_cat | x), summed over categorical codes.
      continuous_nll: -log Q(c_cont | x), summed over continuous codes.
      loss: lambda_cat * categorical_ce + lambda_cont * continuous_nll, the
        term added to both the D/Q and the G objectives.
    """

    categorical_ce: tf.Tensor
    continuous_nll: tf.Tensor
    loss: tf.Tensor


def mutual_information_loss(
    categorical: tf.Tensor,
    continuous: tf.Tensor,
    categorical_logits: Sequence[tf.Tensor],
    continuous_mean: tf.Tensor,
    continuous_log_std: tf.Tensor,
    lambda_cat: float,
    lambda_cont: float,
) -> MutualInformationTerms:
    """-lambda * (L_I - H(c)) per example: the trainable part of Eq. 6."""
    ce = categorical_cross_entropy(categorical, categorical_logits)
    nll = gaussian_nll(continuous, continuous_mean, continuous_log_std)
    return MutualInformationTerms(ce, nll, lambda_cat * ce + lambda_cont * nll)


def _marginal_entropy(probs: tf.Tensor) -> tf.Tensor:
    marginal = tf.reduce_mean(probs, axis=0)
    return -tf.reduce_sum(marginal * tf.math.log(marginal + 1e-12))


def categorical_information(logits: Sequence[tf.Tensor]) -> tf.Tensor:
    """H(E_x Q(c|x)) - E_x H(Q(c|x)) over a batch, summed over categorical codes (scalar, nats).

    Args:
      logits: one [B, K_i] logits tensor per categorical code, for B images.

    Returns 0 for no codes; at most sum_i ln K_i (confident, balanced categories).
    """
    total = tf.constant(0.0, tf.float32)
    for code_logits in logits:
        log_p = tf.nn.log_softmax(tf.cast(code_logits, tf.float32))
        p = tf.exp(log_p)
        conditional_entropy = -tf.reduce_mean(tf.reduce_sum(p * log_p, axis=-1))
        total += _marginal_entropy(p) - conditional_entropy
    return total


def paired_categorical_information(logits: Sequence[tf.Tensor], other_logits: Sequence[tf.Tensor]) -> tf.Tensor:
    """I(c; c') between Q's categories of two views of the same images, summed over codes (scalar, nats).

    For each code, P = mean_x Q(c|x) Q(c'|x')^T (symmetrised) is the joint
    distribution of the two categories; I = sum P log(P / (P_row P_col)).
    At most sum_i ln K_i: both views in the same confident category, and
    categories equally frequent.

    Args:
      logits, other_logits: one [B, K_i] logits tensor per categorical code,
        for the images and for their second views (same order).
    """
    total = tf.constant(0.0, tf.float32)
    for a, b in zip(logits, other_logits):
        p = tf.nn.softmax(tf.cast(a, tf.float32))
        q = tf.nn.softmax(tf.cast(b, tf.float32))
        joint = tf.matmul(p, q, transpose_a=True) / tf.cast(tf.shape(p)[0], tf.float32)
        joint = tf.maximum((joint + tf.transpose(joint)) / 2.0, 1e-12)
        row = tf.reduce_sum(joint, axis=1, keepdims=True)
        col = tf.reduce_sum(joint, axis=0, keepdims=True)
        total += tf.reduce_sum(joint * (tf.math.log(joint) - tf.math.log(row) - tf.math.log(col)))
    return total


def category_balance(logits: Sequence[tf.Tensor], other_logits: Sequence[tf.Tensor] | None = None) -> tf.Tensor:
    """The marginal entropy part of the real-image information, summed over codes (scalar, nats).

    Without second views: H(E_x Q(c|x)), the part of ``categorical_information``
    that rewards using the categories equally. With them: H(P_row) + H(P_col)
    of ``paired_categorical_information``'s symmetrised joint, whose rows and
    columns both sum to the mean of the two views' category distributions.
    Either way, information + (lambda - 1) * this is IIC's lambda-weighted
    objective (Ji et al. 2019, their loss's ``lamb``). At most ln K (twice that
    with views) per code.
    """
    total = tf.constant(0.0, tf.float32)
    for i, a in enumerate(logits):
        p = tf.nn.softmax(tf.cast(a, tf.float32))
        if other_logits is None:
            total += _marginal_entropy(p)
        else:
            q = tf.nn.softmax(tf.cast(other_logits[i], tf.float32))
            total += 2.0 * _marginal_entropy(tf.concat([p, q], axis=0))
    return total


def factor_view_error(
    mean: tf.Tensor, moved_mean: tf.Tensor, shear_target: tf.Tensor, second_target: tf.Tensor
) -> tf.Tensor:
    """How far Q's continuous codes 0 and 1 miss known moves of real images (scalar; ``objective.factor_views``).

    Args:
      mean: [N, n_continuous] Q's continuous means of N real images (n_continuous >= 2).
      moved_mean: the same of their moved copies: the first ``len(shear_target)``
        sheared, the rest moved by the second factor (stretched or thickened).
      shear_target: [N_s] the change code 0 should show on each sheared copy.
      second_target: [N - N_s] the change code 1 should show on each of the rest.

    Returns:
      the mean squared miss of the moved code plus that of the other code, which
      should stay put, over both kinds of copies.
    """
    change = tf.cast(moved_mean, tf.float32) - tf.cast(mean, tf.float32)
    sheared = tf.shape(shear_target)[0]
    on_shear, on_second = change[:sheared], change[sheared:]
    moved = tf.reduce_mean(tf.square(on_shear[:, 0] - shear_target)) + tf.reduce_mean(
        tf.square(on_second[:, 1] - second_target)
    )
    still = tf.reduce_mean(tf.square(on_shear[:, 1])) + tf.reduce_mean(tf.square(on_second[:, 0]))
    return moved + still

"""The variational lower bound L_I on the mutual information I(c; G(z, c)).

InfoGAN (Chen et al. 2016, Eq. 4-5) bounds the information the images keep
about the codes by

    L_I(G, Q) = E_{c ~ P(c), x ~ G(z, c)}[log Q(c | x)] + H(c)  <=  I(c; G(z, c)).

Here it is estimated on fresh samples (not the training batches) for

* the categorical codes: H(c) = sum_i ln K_i, and L_I <= H(c); on MNIST a
  model that uses its 10-way code fully reaches ln 10 ~= 2.30 nats;
* the continuous codes: h(c) = n ln(2r) for Uniform(-r, r) (differential
  entropy), with log Q the Gaussian log-density of Q's (mean, std). This
  bound is not capped by h(c) and may be negative (a differential entropy
  bound), but it still only grows as Q recovers the codes more precisely.
"""

from __future__ import annotations

import math

import numpy as np

from infogan_tf.evaluation.handle import CodeSamples
from infogan_tf.latent import LatentSpec

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_TINY = 1e-12


def categorical_log_likelihood(probs: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """log Q(c = index | x) per example from [N, K] probabilities."""
    probs = np.asarray(probs, np.float64)
    picked = probs[np.arange(len(indices)), np.asarray(indices, np.int64)]
    return np.log(np.maximum(picked, _TINY))


def gaussian_log_likelihood(values: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """log N(values; mean, std^2) elementwise (same shapes)."""
    std = np.maximum(np.asarray(std, np.float64), _TINY)
    z = (np.asarray(values, np.float64) - mean) / std
    return -_HALF_LOG_2PI - np.log(std) - 0.5 * z * z


def compute_mutual_information(samples: CodeSamples, latent: LatentSpec) -> dict:
    """L_I per code and in total, next to the prior entropies (nats).

    Args:
      samples: fresh codes, G's images of them and Q's reading
        (:func:`infogan_tf.evaluation.handle.draw_samples`).
      latent: the model's code structure (gives the entropies).

    Returns:
      dict with ``categorical`` and ``continuous`` parts, each holding
      ``lower_bound`` (sum over codes), ``entropy`` (sum over codes),
      ``per_code`` (a list of {lower_bound, entropy}), plus ``num_samples``.
    """
    categorical = []
    for i, k in enumerate(latent.categorical):
        ll = categorical_log_likelihood(samples.q.categorical_probs[i], samples.categorical[:, i])
        entropy = math.log(k)
        categorical.append({"lower_bound": entropy + float(ll.mean()), "entropy": entropy})
    continuous = []
    if latent.continuous:
        ll = gaussian_log_likelihood(samples.continuous, samples.q.continuous_mean, samples.q.continuous_std)
        entropy = math.log(2.0 * latent.continuous_range)
        for j in range(latent.continuous):
            continuous.append({"lower_bound": entropy + float(ll[:, j].mean()), "entropy": entropy})

    def total(parts):
        return {
            "lower_bound": float(sum(p["lower_bound"] for p in parts)),
            "entropy": float(sum(p["entropy"] for p in parts)),
            "per_code": parts,
        }

    return {
        "categorical": total(categorical),
        "continuous": total(continuous),
        "num_samples": len(samples.categorical),
    }

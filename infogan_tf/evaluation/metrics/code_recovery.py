"""Code recovery: how well Q reads back the codes G was given.

For fresh (z, c) and x = G(z, c) (Chen et al. 2016, Sec. 5: Q approximates
the posterior P(c | x)):

* each categorical code: accuracy of argmax_k Q(c_i = k | x) against c_i
  (chance = 1 / K_i);
* each continuous code: the coefficient of determination of Q's mean,
  R^2 = 1 - sum (c - mu)^2 / sum (c - mean(c))^2 (1 = exact, 0 = no better
  than predicting the prior mean, negative = worse).
"""

from __future__ import annotations

import numpy as np

from infogan_tf.evaluation.handle import CodeSamples


def r_squared(targets: np.ndarray, predictions: np.ndarray) -> float:
    """Coefficient of determination of 1-D predictions; nan for constant targets."""
    targets = np.asarray(targets, np.float64)
    residual = float(np.sum((targets - np.asarray(predictions, np.float64)) ** 2))
    spread = float(np.sum((targets - targets.mean()) ** 2))
    return 1.0 - residual / spread if spread > 0 else float("nan")


def compute_code_recovery(samples: CodeSamples) -> dict:
    """Per-code recovery of the categorical and continuous codes.

    Returns:
      dict with ``categorical_accuracy`` (list, one per categorical code),
      ``continuous_r2`` (list, one per continuous code), ``num_samples``.
    """
    categorical_accuracy = [
        float(np.mean(np.asarray(probs).argmax(axis=1) == samples.categorical[:, i]))
        for i, probs in enumerate(samples.q.categorical_probs)
    ]
    continuous_r2 = [
        r_squared(samples.continuous[:, j], samples.q.continuous_mean[:, j]) for j in range(samples.continuous.shape[1])
    ]
    return {
        "categorical_accuracy": categorical_accuracy,
        "continuous_r2": continuous_r2,
        "num_samples": len(samples.categorical),
    }

"""Classifier score: the Inception Score computed with our own MNIST classifier.

Salimans et al. 2016 ("Improved techniques for training GANs") score a set
of images by exp(E_x KL(p(y | x) || p(y))): high when every image is
classified confidently (sharp p(y | x)) and the classes are used evenly
(flat marginal p(y)). With 10 classes it lies in [1, 10]; real MNIST test
images score close to 10 under a 99 %-accurate classifier, a generator that
draws one digit only scores ~1. It says nothing about whether the images
look like the training set (the Fréchet distance does).
"""

from __future__ import annotations

import numpy as np

_TINY = 1e-12


def classifier_score(probabilities: np.ndarray) -> float:
    """exp(mean_x KL(p(y|x) || p(y))) of [N, C] class probabilities."""
    p = np.clip(np.asarray(probabilities, np.float64), _TINY, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    marginal = p.mean(axis=0, keepdims=True)
    kl = np.sum(p * (np.log(p) - np.log(marginal)), axis=1)
    return float(np.exp(kl.mean()))


def compute_classifier_score(probabilities: np.ndarray, splits: int = 10) -> dict:
    """Classifier score of the whole set and its spread over ``splits`` disjoint parts.

    Returns:
      dict with ``classifier_score`` (whole set), ``split_mean`` and
      ``split_std`` (over the parts, as usually reported for the IS),
      ``num_images``.
    """
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2 or len(probabilities) < splits or splits < 1:
        raise ValueError(
            f"probabilities must be [N, C] with N >= splits >= 1, got shape {probabilities.shape} and splits={splits}"
        )
    parts = [classifier_score(part) for part in np.array_split(probabilities, splits)]
    return {
        "classifier_score": classifier_score(probabilities),
        "split_mean": float(np.mean(parts)),
        "split_std": float(np.std(parts)),
        "num_images": len(probabilities),
    }

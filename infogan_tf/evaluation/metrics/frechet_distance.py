"""Fréchet distance between two sets of classifier features.

The distance between Gaussians fitted to the features of two image sets
(Heusel et al. 2017, "GANs trained by a two time-scale update rule", the
FID; here in the feature space of this project's own MNIST classifier,
:mod:`infogan_tf.evaluation.classifier`, not Inception, so the numbers are comparable
only with each other):

    d^2 = |mu_1 - mu_2|^2 + tr(S_1 + S_2 - 2 (S_1^{1/2} S_2 S_1^{1/2})^{1/2}).

The trace term is computed from symmetric eigendecompositions (no complex
matrix square root), which stays stable when a covariance is singular (dead
ReLU features). The estimate is biased upward for small sets, so compare
distances computed from the same number of images.
"""

from __future__ import annotations

import numpy as np


def _sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix."""
    eigenvalues, vectors = np.linalg.eigh((matrix + matrix.T) * 0.5)
    return (vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ vectors.T


def frechet_distance(mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray, cov_b: np.ndarray) -> float:
    """Squared Fréchet (2-Wasserstein) distance between two Gaussians."""
    mean_a, mean_b = np.asarray(mean_a, np.float64), np.asarray(mean_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    if mean_a.shape != mean_b.shape or cov_a.shape != cov_b.shape or cov_a.shape != mean_a.shape * 2:
        raise ValueError(
            f"mismatched Gaussians: means {mean_a.shape} / {mean_b.shape}, covariances {cov_a.shape} / {cov_b.shape}"
        )
    root_a = _sqrtm_psd(cov_a)
    middle = root_a @ cov_b @ root_a
    cross = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) * 0.5), 0.0, None)))
    distance = float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * cross)
    return max(distance, 0.0)


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of [N, D] features (N >= 2)."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"features must be [N >= 2, D], got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def compute_frechet_distance(features: np.ndarray, reference_features: np.ndarray) -> dict:
    """Fréchet distance between [N, D] features and [M, D] reference features.

    Returns:
      dict with ``frechet_distance``, ``num_images`` (N) and
      ``num_reference`` (M).
    """
    features = np.asarray(features)
    reference_features = np.asarray(reference_features)
    if features.ndim != 2 or reference_features.ndim != 2 or features.shape[1] != reference_features.shape[1]:
        raise ValueError(
            f"features {features.shape} and reference features {reference_features.shape} "
            "must be [N, D] with the same D"
        )
    mean_a, cov_a = feature_statistics(features)
    mean_b, cov_b = feature_statistics(reference_features)
    return {
        "frechet_distance": frechet_distance(mean_a, cov_a, mean_b, cov_b),
        "num_images": int(features.shape[0]),
        "num_reference": int(reference_features.shape[0]),
    }

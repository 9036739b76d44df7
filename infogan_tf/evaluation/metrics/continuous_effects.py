"""What each continuous code controls, measured on image statistics.

The paper shows (Chen et al. 2016, Figure 2 c-d) that on MNIST one
continuous code captures rotation/slant and another width, by sweeping a
code over -2..2 (beyond the Uniform(-1, 1) prior) with everything else
fixed. This module does the sweep and measures it: for each continuous code
and each of ``num_samples`` base inputs (noise, categories; the other
continuous codes at 0), G draws the images at every sweep value, the moment
statistics of :mod:`infogan_tf.evaluation.metrics.image_statistics` are computed, and
the Spearman rank correlation (``scipy.stats.spearmanr``) between code value
and statistic is taken per base input and averaged. |rho| ~ 1 means the code
moves that statistic monotonically for every digit; the statistic with the
largest |rho| is reported as what the code controls.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats as scipy_stats

from infogan_tf.evaluation.handle import ModelHandle, generate_in_batches
from infogan_tf.evaluation.metrics.image_statistics import STATISTICS, image_statistics


def sweep_values(lo: float = -2.0, hi: float = 2.0, num_values: int = 9) -> np.ndarray:
    """The code values of a sweep, evenly spaced from lo to hi."""
    if num_values < 3 or not lo < hi:
        raise ValueError(f"a sweep needs lo < hi and >= 3 values, got lo={lo}, hi={hi}, num_values={num_values}")
    return np.linspace(lo, hi, num_values)


def _mean_spearman(values: np.ndarray, statistic: np.ndarray) -> float:
    """Mean over rows of Spearman rho(values, row); rows with NaN or no variation are skipped."""
    rhos = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant rows: rho is undefined, skipped below.
        for row in statistic:
            if not np.all(np.isfinite(row)) or np.ptp(row) == 0:
                continue
            rho = scipy_stats.spearmanr(values, row).statistic
            if np.isfinite(rho):
                rhos.append(rho)
    return float(np.mean(rhos)) if rhos else float("nan")


def sweep_effects(values: np.ndarray, statistics: dict[str, np.ndarray]) -> dict:
    """Summarises statistics measured along a sweep (pure numpy core).

    Args:
      values: [V] code values.
      statistics: name -> [S, V] statistic of base input s at value v.

    Returns:
      dict with ``statistics``: name -> {``spearman_rho`` (mean per-input
      rho), ``slope`` (mean change per unit of code, least squares),
      ``mean_curve`` ([V] mean over inputs)}; and ``strongest`` /
      ``strongest_rho``: the statistic with the largest |rho|.
    """
    values = np.asarray(values, np.float64)
    centred = values - values.mean()
    out: dict[str, dict] = {}
    rhos: dict[str, float] = {}
    for name, table in statistics.items():
        table = np.asarray(table, np.float64)
        if table.ndim != 2 or table.shape[1] != len(values):
            raise ValueError(f"statistic {name!r} must be [S, {len(values)}], got shape {table.shape}")
        finite = np.all(np.isfinite(table), axis=1)
        slopes = (table[finite] - table[finite].mean(axis=1, keepdims=True)) @ centred / np.sum(centred**2)
        rhos[name] = _mean_spearman(values, table)
        out[name] = {
            "spearman_rho": rhos[name],
            "slope": float(slopes.mean()) if slopes.size else float("nan"),
            "mean_curve": [float(v) for v in np.nanmean(table, axis=0)] if finite.any() else [],
        }
    ranked = [(abs(rho), name) for name, rho in rhos.items() if np.isfinite(rho)]
    strongest = max(ranked)[1] if ranked else None
    return {
        "statistics": out,
        "strongest": strongest,
        "strongest_rho": out[strongest]["spearman_rho"] if strongest else float("nan"),
    }


def compute_continuous_effects(
    handle: ModelHandle,
    num_samples: int = 64,
    values: np.ndarray | None = None,
    seed: int = 0,
    batch_size: int = 500,
) -> list[dict]:
    """Sweeps every continuous code of ``handle`` and measures the image statistics.

    Returns:
      one dict per continuous code: ``code`` (index), ``values`` (the sweep)
      and the fields of :func:`sweep_effects`.
    """
    latent = handle.latent
    values = sweep_values() if values is None else np.asarray(values, np.float64)
    if num_samples < 1:
        raise ValueError(f"num_samples must be positive, got {num_samples}")
    rng = np.random.default_rng(seed)
    z_base = rng.uniform(-1.0, 1.0, size=(num_samples, latent.noise_dim)).astype(np.float32)
    categorical_base = (
        np.stack([rng.integers(0, k, size=num_samples) for k in latent.categorical], axis=1)
        if latent.categorical
        else np.zeros([num_samples, 0], np.int64)
    )
    n_values = len(values)
    results = []
    for code in range(latent.continuous):
        # Row-major [sample, value]: each base input repeated over the sweep.
        z = np.repeat(z_base, n_values, axis=0)
        categorical = np.repeat(categorical_base, n_values, axis=0)
        continuous = np.zeros([num_samples * n_values, latent.continuous], np.float32)
        continuous[:, code] = np.tile(values, num_samples)
        images = generate_in_batches(handle, z, latent.flatten_numpy(categorical, continuous), batch_size)
        measured = image_statistics(images)
        table = {name: measured[name].reshape(num_samples, n_values) for name in STATISTICS}
        results.append({"code": code, "values": [float(v) for v in values], **sweep_effects(values, table)})
    return results

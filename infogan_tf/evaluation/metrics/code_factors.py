"""Whether each continuous code means one thing, and whether Q reads it on real images.

Chen et al. 2016 (Figure 2 c-d) show that on MNIST one continuous code
slants the digit and another changes its width. That claim has two halves,
both measured here without labels:

1. **The generator's half** -- each code moves one image factor
   monotonically, and no two codes move the same one. The protocol is the
   sweep of :mod:`~infogan_tf.evaluation.metrics.continuous_effects`: each
   code swept over -2..2 (beyond the Uniform(-1, 1) prior) at 9 evenly
   spaced values, with the noise z and the categorical codes held at each of
   64 seeded draws and the other continuous codes at 0 (``infogan-evaluate``'s
   defaults: --sweep_lo, --sweep_hi, --sweep_values, --sweep_samples, --seed);
   per draw, Spearman rho of code against factor, then the mean over draws.
   The factor a code *moves most* is the one it changes most over the
   sweep: the mean least-squares slope over the draws times the sweep's
   span, in standard deviations of that factor over the real images; below
   0.1 of one for every factor, the code moves none. Not the largest |rho|,
   because rho only ranks: a thickness code also widens the digit by a
   fraction of a pixel, which is monotone too (rho 1) but no change of
   width anyone would see. (Nor the range along the sweep, which the jitter
   of a statistic such as thickness inflates.) The code moves its factor
   *monotonically* when |rho| >= 0.9 there. Two codes that move the same
   factor most share it.
2. **Q's half** -- Q's continuous output j (``encode`` -> ``continuous_mean``)
   on *real* images (``infogan-evaluate``: the test split) tracks the factor
   code j moves in generated ones: |Pearson r| >= 0.8 between output j and
   that factor of the real images.

The factors are statistics of :mod:`~infogan_tf.evaluation.metrics.image_statistics`:
``slant`` (shear angle of the ink), ``width`` (horizontal spread after
removing the shear) and ``thickness`` (stroke thickness, 2 ink area /
outline). Plain ``ink`` is left out as a factor: it grows with the strokes'
length as well as their thickness, so a width code and a thickness code
would both move it. The run-level verdict holds when every code moves one
factor monotonically, no two codes share a factor, and Q tracks each code's
factor; ``problems`` says which part failed, one line each.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from infogan_tf.evaluation.handle import ModelHandle, encode_in_batches
from infogan_tf.evaluation.metrics.continuous_effects import compute_continuous_effects
from infogan_tf.evaluation.metrics.image_statistics import STATISTICS, image_statistics

FACTORS = ("slant", "width", "thickness")
MONOTONE_RHO = 0.9  # |Spearman rho| of a code against its factor over the sweep
TRACKS_R = 0.8  # |Pearson r| of Q's output against that factor on real images
MIN_CHANGE_SD = 0.1  # a code moves a factor when it changes it by this many real SDs over the sweep


def pearson_r(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r over the rows where both are finite; NaN below 3 such rows or without variation."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(np.corrcoef(x, y)[0, 1])


def _code_factors(
    sweep_rho: np.ndarray,
    sweep_change: np.ndarray,
    q_continuous: np.ndarray,
    real_factors: np.ndarray,
    factors: Sequence[str],
    monotone_rho: float,
    tracks_r: float,
    min_change_sd: float,
) -> dict:
    """The per-code table and the verdict (pure numpy core).

    Args:
      sweep_rho: [n_codes, n_factors] mean Spearman rho of each code against
        each factor over its sweep (NaN: the factor never varied).
      sweep_change: [n_codes, n_factors] mean change of each factor over the
        whole sweep (slope x span), in the factor's units.
      q_continuous: [N, n_codes] Q's continuous output on N real images.
      real_factors: [N, n_factors] the factors of those images.
      factors: the factor names, in column order.
      monotone_rho, tracks_r, min_change_sd: the thresholds.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a factor with no finite value: NaN spread, skipped below.
        spread = np.nanstd(real_factors, axis=0)
    spread = np.where(np.isfinite(spread) & (spread > 0), spread, np.nan)
    codes: list[dict[str, Any]] = []
    for j, (rhos, change) in enumerate(zip(sweep_rho, sweep_change)):
        in_sd = change / spread
        size = np.where(np.isfinite(in_sd) & np.isfinite(rhos), np.abs(in_sd), 0.0)
        best = int(np.argmax(size)) if size.max() >= min_change_sd else None
        q_r = [pearson_r(q_continuous[:, j], real_factors[:, k]) for k in range(len(factors))]
        abs_rho = float(abs(rhos[best])) if best is not None else None
        abs_r = float(abs(q_r[best])) if best is not None and np.isfinite(q_r[best]) else None
        codes.append(
            {
                "code": j,
                "factor": factors[best] if best is not None else None,
                "abs_rho": abs_rho,
                "monotone": abs_rho is not None and abs_rho >= monotone_rho,
                "spearman_rho": {name: float(rhos[k]) for k, name in enumerate(factors)},
                "sweep_change_sd": {name: float(in_sd[k]) for k, name in enumerate(factors)},
                "q_abs_r": abs_r,
                "q_tracks": abs_r is not None and abs_r >= tracks_r,
                "q_pearson_r": {name: q_r[k] for k, name in enumerate(factors)},
            }
        )

    problems = []
    for c in codes:
        if c["factor"] is None:
            largest = max((abs(v) for v in c["sweep_change_sd"].values() if np.isfinite(v)), default=0.0)
            problems.append(
                f"code {c['code']} moves none of {', '.join(factors)} one way: at most {largest:.2f} "
                f"real-image SD over the sweep (< {min_change_sd})"
            )
        elif not c["monotone"]:
            problems.append(
                f"code {c['code']} moves {c['factor']} most, at |rho| {c['abs_rho']:.2f} < {monotone_rho}: not monotone"
            )
    by_factor: dict[str, list[int]] = {}
    for c in codes:
        if c["factor"] is not None:
            by_factor.setdefault(c["factor"], []).append(c["code"])
    shared = {name: js for name, js in by_factor.items() if len(js) > 1}
    for name, js in shared.items():
        problems.append(f"codes {', '.join(map(str, js))} move {name} most: two codes share a factor")
    for c in codes:
        if c["factor"] is not None and not c["q_tracks"]:
            r = "undefined" if c["q_abs_r"] is None else f"{c['q_abs_r']:.2f}"
            problems.append(
                f"Q's continuous output {c['code']} reads real images' {c['factor']} at |r| {r} < {tracks_r}"
            )
    each_monotone = all(c["monotone"] for c in codes)
    q_tracks_each = all(c["q_tracks"] for c in codes)
    return {
        "factors": list(factors),
        "thresholds": {"monotone_rho": monotone_rho, "tracks_r": tracks_r, "min_change_sd": min_change_sd},
        "codes": codes,
        "shared_factors": shared,
        "verdict": {
            "each_moves_one_factor": each_monotone,
            "no_shared_factor": not shared,
            "q_tracks_each": q_tracks_each,
            # None: nothing to judge (no continuous code).
            "holds": (each_monotone and not shared and q_tracks_each) if codes else None,
            "problems": problems if codes else ["the model has no continuous code"],
        },
    }


def compute_code_factors(
    handle: ModelHandle,
    real_images: np.ndarray,
    effects: list[dict] | None = None,
    q_continuous: np.ndarray | None = None,
    num_samples: int = 64,
    values: np.ndarray | None = None,
    seed: int = 0,
    batch_size: int = 500,
    factors: Sequence[str] = FACTORS,
) -> dict:
    """What each continuous code of ``handle`` means, and whether Q reads it on ``real_images``.

    Args:
      handle: the model.
      real_images: float [N, H, W, C] real images in [0, 1] (the evaluation
        split; no labels).
      effects: the model's :func:`compute_continuous_effects` result, when it
        was already computed (else the sweep runs here with ``num_samples``,
        ``values`` and ``seed``).
      q_continuous: [N, n_continuous] Q's ``continuous_mean`` on
        ``real_images``, when already computed (else encoded here).
      factors: the image statistics that count as factors.

    Returns:
      dict with ``factors``, ``thresholds``, ``codes`` (per code: ``factor``
      (moved most), ``abs_rho`` (its |Spearman rho|), ``monotone``,
      ``spearman_rho`` and ``sweep_change_sd`` (its mean change over the
      sweep, in real standard deviations) per factor, ``q_abs_r`` (|Pearson r| of Q's output
      against the factor on the real images), ``q_tracks``, ``q_pearson_r``
      per factor),
      ``shared_factors`` and ``verdict`` (``each_moves_one_factor``,
      ``no_shared_factor``, ``q_tracks_each``, ``holds``, ``problems``),
      plus ``real_images`` (how many were read).
    """
    unknown = [name for name in factors if name not in STATISTICS]
    if unknown or not factors:
        raise ValueError(f"factors must be among {', '.join(STATISTICS)}, got {list(factors)}")
    real_images = np.asarray(real_images)
    if real_images.ndim != 4 or len(real_images) == 0:
        raise ValueError(f"real_images must be [N > 0, H, W, C] in [0, 1], got shape {real_images.shape}")
    n_codes = handle.latent.continuous
    if effects is None:
        effects = compute_continuous_effects(handle, num_samples, values, seed, batch_size)
    if len(effects) != n_codes:
        raise ValueError(f"effects has {len(effects)} codes, the model {n_codes}")
    if q_continuous is None:
        q_continuous = encode_in_batches(handle, real_images, batch_size).continuous_mean
    q_continuous = np.asarray(q_continuous, np.float64)
    if q_continuous.shape != (len(real_images), n_codes):
        raise ValueError(f"q_continuous must be [{len(real_images)}, {n_codes}], got shape {q_continuous.shape}")

    span = np.array([np.ptp(e["values"]) for e in effects], np.float64).reshape(n_codes, 1)

    def table(field: str) -> np.ndarray:
        rows = [[e["statistics"][name][field] for name in factors] for e in effects]
        return np.array(rows, np.float64).reshape(n_codes, len(factors))

    measured = image_statistics(real_images)
    real_factors = np.stack([measured[name] for name in factors], axis=1)
    return {
        **_code_factors(
            table("spearman_rho"),
            table("slope") * span,
            q_continuous,
            real_factors,
            factors,
            MONOTONE_RHO,
            TRACKS_R,
            MIN_CHANGE_SD,
        ),
        "real_images": len(real_images),
    }

"""The evaluation figures, in the style of the paper's Figures 1 and 2.

* :func:`traversal_figure` (Chen et al. 2016, Figure 2): rows are the
  categories of the first categorical code, ordered by the digit each was
  matched to (row d = the category standing for digit d), columns sweep one
  continuous code over -2..2 with the noise fixed; :func:`category_figure`
  shows the categories against different noise draws.
* :func:`info_curve_figure` (Figure 1): the lower bound L_I logged during
  training (``metrics.jsonl``, written by the trainer) against H(c).
"""

from __future__ import annotations

import json

import numpy as np

from infogan_tf import visualize
from infogan_tf.evaluation.handle import ModelHandle, generate_in_batches


def _render(handle: ModelHandle, z, categorical, continuous, rows: int, cols: int) -> np.ndarray:
    images = generate_in_batches(handle, z, handle.latent.flatten_numpy(categorical, continuous), 500)
    return visualize.tile_grid(visualize.to_uint8(images), rows, cols)


def traversal_figure(
    handle: ModelHandle,
    continuous_code: int,
    row_order: list[int] | None = None,
    cols: int = 10,
    lo: float = -2.0,
    hi: float = 2.0,
    seed: int = 0,
) -> np.ndarray:
    """[H', W', C] uint8 grid: rows = categories (in ``row_order``), cols = a sweep of one code."""
    latent = handle.latent
    inputs = visualize.traversal_inputs(latent, continuous_code=continuous_code, cols=cols, lo=lo, hi=hi, seed=seed)
    rows = inputs.rows
    categorical = inputs.categorical
    if latent.categorical:
        order = list(range(rows)) if row_order is None else list(row_order)
        if sorted(order) != list(range(rows)):
            raise ValueError(f"row_order must be a permutation of range({rows}), got {order}")
        categorical = categorical.copy()
        categorical[:, 0] = np.repeat(order, cols)
    return _render(handle, inputs.z, categorical, inputs.continuous, rows, cols)


def category_figure(
    handle: ModelHandle, row_order: list[int] | None = None, cols: int = 10, seed: int = 0
) -> np.ndarray:
    """[H', W', C] uint8 grid: rows = categories of code 0, cols = noise draws (continuous codes 0)."""
    latent = handle.latent
    if not latent.categorical:
        raise ValueError("category_figure needs a categorical code")
    rows = latent.categorical[0]
    order = list(range(rows)) if row_order is None else list(row_order)
    rng = np.random.default_rng(seed)
    z = np.tile(rng.uniform(-1.0, 1.0, size=(cols, latent.noise_dim)), (rows, 1)).astype(np.float32)
    categorical = np.zeros([rows * cols, latent.n_categorical], np.int64)
    categorical[:, 0] = np.repeat(order, cols)
    continuous = np.zeros([rows * cols, latent.continuous], np.float32)
    return _render(handle, z, categorical, continuous, rows, cols)


def read_info_curve(metrics_path: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, L_I) from a trainer's metrics.jsonl; the last value wins for a repeated step.

    Lines that are not JSON objects with ``step`` and ``info_lower_bound``
    (e.g. a line cut short by a crash) are skipped.
    """
    points: dict[int, float] = {}
    with open(metrics_path) as f:
        for line in f:
            try:
                record = json.loads(line)
                points[int(record["step"])] = float(record["info_lower_bound"])
            except (ValueError, KeyError, TypeError):
                continue
    steps = np.array(sorted(points), np.int64)
    return steps, np.array([points[s] for s in steps], np.float64)


def info_curve_figure(
    steps: np.ndarray, info: np.ndarray, entropy: float, path: str, title: str = "", mark_step: int | None = None
) -> None:
    """Writes the L_I-over-training plot (with the H(c) ceiling) as a PNG.

    ``mark_step`` draws a vertical line at that step (the evaluated checkpoint).
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 3.6), dpi=120)
    try:
        ax.plot(steps, info, color="tab:blue", linewidth=1.5, label="InfoGAN  $L_I$ (training batches)")
        ax.axhline(entropy, color="black", linestyle="--", linewidth=1.0, label=f"$H(c)$ = {entropy:.3f} nats")
        if mark_step is not None:
            ax.axvline(mark_step, color="tab:gray", linestyle=":", linewidth=1.0, label=f"evaluated step {mark_step}")
        ax.set_xlabel("training step")
        ax.set_ylabel("$L_I$ (nats)")
        low = min(0.0, float(np.min(info))) if len(info) else 0.0
        ax.set_ylim(low, entropy * 1.12)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right")
        if title:
            ax.set_title(title)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)

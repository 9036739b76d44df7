"""The label-free check on held-out images: do Q's categories survive stronger moves than training made?

The check itself (what it measures and why a style-split run fails it) is
``training.label_free``, which the trainer also logs every summary step;
this module runs it on a :class:`~infogan_tf.evaluation.handle.ModelHandle`.
"""

from __future__ import annotations

import numpy as np

from infogan_tf.evaluation.handle import QOutput
from infogan_tf.training.label_free import view_consistency


def compute_view_consistency(
    handle, images: np.ndarray, batch_size: int, seed: int = 0, views: int = 4, base: QOutput | None = None
) -> dict:
    """The check's scores for every categorical code of ``handle`` on real ``images`` ([N, H, W, C] in [0, 1]).

    ``base``: Q's output on ``images`` when the caller already has it (not computed again).
    """
    encode = lambda x: handle.encode(x).categorical_probs
    return view_consistency(encode, images, batch_size, seed, views, None if base is None else base.categorical_probs)

"""How much of each image factor's spread over MNIST's test digits lies within a class, and how much between.

Issue 31 asks Q's continuous output on real test digits to track the factor
its code moves (|Pearson r| >= 0.8 over all test digits). A code that changes
a factor *within* a digit (the slant of a 7, the width of a 3) is read back by
Q on real digits only as far as that factor varies within classes: with a
fraction w of the factor's variance within classes, a Q that reads only the
within-class part reaches |r| <= sqrt(w). This prints w for the factors of
``evaluation.metrics.code_factors`` (slant in degrees; width and thickness in
logs, as they scale). Labels are used here, to describe the data only.

It also prints how far the factor-views term's thickness moves
(``data.augment.thicken``, a blend towards the strokes' 3x3 dilation, t > 0,
or erosion, t < 0) change the same thickness statistic, against its natural
spread: the moves' largest blends each way (``--factor_views_thicken`` and
``--factor_views_thin``) are chosen so the two ends move it about equally.

    python -m experiments.factor_spread --manual_dir=../shared/data/mnist
"""

from __future__ import annotations

import gzip
import json
import os

import numpy as np
import tensorflow as tf
from absl import app, flags

from infogan_tf.data.augment import thicken
from infogan_tf.evaluation.metrics.code_factors import FACTORS
from infogan_tf.evaluation.metrics.image_statistics import image_statistics

flags.DEFINE_string("manual_dir", "../shared/data/mnist", "The official MNIST IDX .gz files.")
FLAGS = flags.FLAGS


def _idx(path: str, offset: int) -> np.ndarray:
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def spread(values: np.ndarray, labels: np.ndarray) -> dict:
    """The fraction of ``values``' variance within classes, and each class's mean."""
    classes = np.unique(labels)
    within = sum(float(np.sum((values[labels == c] - values[labels == c].mean()) ** 2)) for c in classes)
    total = float(np.sum((values - values.mean()) ** 2))
    return {
        "within_class_share": within / total,
        "largest_r_from_within_class": float(np.sqrt(within / total)),
        "class_means": [round(float(values[labels == c].mean()), 3) for c in classes],
    }


BLENDS = (-1.0, -0.8, -0.7, -0.5, -0.25, 0.1, 0.2, 0.25, 0.5, 1.0)


def thickness_moves(images: np.ndarray, thickness: np.ndarray, blends=BLENDS) -> dict:
    """The thickness statistic's change (pixels) under ``thicken`` by each blend, and the share of digits erased.

    ``images``: [N, H, W, 1] in [0, 1]; ``thickness``: their ``image_statistics`` thickness.
    """
    signed = tf.constant(images * 2.0 - 1.0, tf.float32)  # the training range, ink bright on -1
    out = {"natural_px": {"mean": round(float(thickness.mean()), 3), "sd": round(float(thickness.std()), 3)}}
    for blend in blends:
        moved = (thicken(signed, tf.fill([len(images)], blend)).numpy() + 1.0) / 2.0
        change = image_statistics(moved)["thickness"] - thickness
        out[f"{blend:+.2f}"] = {
            "change_px": round(float(np.nanmean(change)), 3),
            "change_in_natural_sd": round(float(np.nanmean(change) / thickness.std()), 2),
            "erased_share": round(float(np.mean(moved.max(axis=(1, 2, 3)) < 0.3)), 4),
        }
    return out


def main(argv) -> None:
    del argv
    images = _idx(os.path.join(FLAGS.manual_dir, "t10k-images-idx3-ubyte.gz"), 16).reshape(-1, 28, 28, 1)
    labels = _idx(os.path.join(FLAGS.manual_dir, "t10k-labels-idx1-ubyte.gz"), 8)
    images = images.astype(np.float32) / 255.0  # image_statistics reads [0, 1]
    stats = image_statistics(images)
    out = {}
    for factor in FACTORS:
        values = np.asarray(stats[factor], np.float64)
        out[factor] = spread(values if factor == "slant" else np.log(values), labels)
    out["thickness_moves"] = thickness_moves(images, stats["thickness"])
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    app.run(main)

"""How much of each image factor's spread over MNIST's test digits lies within a class, and how much between.

Issue 31 asks Q's continuous output on real test digits to track the factor
its code moves (|Pearson r| >= 0.8 over all test digits). A code that changes
a factor *within* a digit (the slant of a 7, the width of a 3) is read back by
Q on real digits only as far as that factor varies within classes: with a
fraction w of the factor's variance within classes, a Q that reads only the
within-class part reaches |r| <= sqrt(w). This prints w for the factors of
``evaluation.metrics.code_factors`` (slant in degrees; width and thickness in
logs, as they scale). Labels are used here, to describe the data only.

    python -m experiments.factor_spread --manual_dir=../shared/data/mnist
"""

from __future__ import annotations

import gzip
import json
import os

import numpy as np
from absl import app, flags

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


def main(argv) -> None:
    del argv
    images = _idx(os.path.join(FLAGS.manual_dir, "t10k-images-idx3-ubyte.gz"), 16).reshape(-1, 28, 28, 1)
    labels = _idx(os.path.join(FLAGS.manual_dir, "t10k-labels-idx1-ubyte.gz"), 8)
    stats = image_statistics(images.astype(np.float32) / 127.5 - 1.0)
    out = {}
    for factor in FACTORS:
        values = np.asarray(stats[factor], np.float64)
        out[factor] = spread(values if factor == "slant" else np.log(values), labels)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    app.run(main)

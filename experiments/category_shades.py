"""Which classes a run's categories split, and whether the parts differ in shade: a labelled diagnosis.

The failure this looks for: Q's categorical code splitting a class into a
dark and a light part (Fashion-MNIST: T-shirts, pullovers, shirts, dresses), the way
MNIST runs split a digit by slant. For each class that two or more of the
first code's categories each hold more than ``--share`` of, it prints those
categories with the count of the class's test images in each, their mean
shade (the ink-weighted mean brightness of ``data.augment.level_ink``, in
[0, 1]) and their mean coverage (the fraction of pixels above 0.05: the
garment's area, whatever its shade). A split by shade shows as parts with
the same coverage and shades far apart; a split by size as parts whose
coverage is far apart (footwear and bags that Q sorts into small and large
ones rather than by kind).

Labels are read for this evaluation only, as ``infogan-evaluate`` does:

    python -m experiments.category_shades --model_dir=runs/fashion/seed_1 \
        --manual_dir=../shared/data/fashion_mnist
"""

from __future__ import annotations

import dataclasses

import numpy as np
from absl import app, flags

from infogan_tf.data import datasets as data_lib
from infogan_tf.data.pixels import uint8_to_unit
from infogan_tf.evaluation.handle import encode_in_batches, handle_from_model_dir
from infogan_tf.evaluation.metrics.unsupervised_accuracy import compute_unsupervised_accuracy
from infogan_tf.training.rundir import RunDir

FLAGS = flags.FLAGS


def shade(images: np.ndarray) -> np.ndarray:
    """Each image's ink-weighted mean brightness, sum(x^2) / sum(x), for images in [0, 1] ([N]; 0 when blank)."""
    grey = np.asarray(images, np.float64).mean(axis=-1)
    return (grey**2).sum(axis=(1, 2)) / np.maximum(grey.sum(axis=(1, 2)), 1e-9)


def coverage(images: np.ndarray, threshold: float = 0.05) -> np.ndarray:
    """Each image's fraction of pixels brighter than ``threshold`` (images in [0, 1]; [N])."""
    return (np.asarray(images).mean(axis=-1) > threshold).mean(axis=(1, 2))


def split_classes(categories: np.ndarray, labels: np.ndarray, images: np.ndarray, share: float) -> list[dict]:
    """The classes held by two or more categories (each > ``share`` of the class), with each part's statistics."""
    shades, area = shade(images), coverage(images)
    out = []
    for label in np.unique(labels):
        of_class = labels == label
        held = [of_class & (categories == k) for k in np.unique(categories[of_class])]
        parts = [
            {
                "category": int(categories[part][0]),
                "count": int(part.sum()),
                "shade": float(shades[part].mean()),
                "coverage": float(area[part].mean()),
            }
            for part in held
            if part.sum() > share * of_class.sum()
        ]
        if len(parts) > 1:
            out.append({"label": int(label), "parts": parts})
    return out


def split_kinds(splits: list[dict], shade_gap: float, size_gap: float) -> tuple[list[int], list[int]]:
    """The split classes whose parts' mean shades, and those whose mean coverages, are more than the gap apart."""

    def apart(entry: dict, key: str, gap: float) -> bool:
        return float(np.ptp([p[key] for p in entry["parts"]])) > gap

    by_shade = [e["label"] for e in splits if apart(e, "shade", shade_gap)]
    by_size = [e["label"] for e in splits if apart(e, "coverage", size_gap)]
    return by_shade, by_size


def main(argv):
    del argv
    run_config = RunDir(FLAGS.model_dir).load_config()
    data = dataclasses.replace(run_config.data, manual_dir=FLAGS.manual_dir or run_config.data.manual_dir)
    test = data_lib.load_labeled_split(data, image_shape=run_config.model.image_shape)
    images = uint8_to_unit(test.images)
    handle = handle_from_model_dir(FLAGS.model_dir, FLAGS.checkpoint)
    probs = encode_in_batches(handle, images, 500).categorical_probs[0]
    scores = compute_unsupervised_accuracy(probs, test.labels, int(test.labels.max()) + 1)
    print(f"{FLAGS.model_dir}: test accuracy {scores['accuracy']:.4f}, NMI {scores['nmi']:.3f}")
    splits = split_classes(probs.argmax(axis=1), test.labels, images, FLAGS.share)
    for entry in splits:
        parts = ", ".join(
            f"category {p['category']}: {p['count']} images, shade {p['shade']:.2f}, coverage {p['coverage']:.2f}"
            for p in entry["parts"]
        )
        print(f"  class {entry['label']}: {parts}")
    by_shade, by_size = split_kinds(splits, FLAGS.shade_gap, FLAGS.size_gap)
    print(
        f"  {len(splits)} classes split, {len(by_shade)} of them by shade (parts > {FLAGS.shade_gap} apart): "
        f"{by_shade}, {len(by_size)} by size (coverage > {FLAGS.size_gap} apart): {by_size}"
    )


if __name__ == "__main__":
    flags.DEFINE_string("model_dir", None, "The training run to diagnose.", required=True)
    flags.DEFINE_string("checkpoint", None, "A checkpoint of it (default: the latest).")
    flags.DEFINE_string("manual_dir", None, "The dataset's official files (default: the run's).")
    flags.DEFINE_float("shade_gap", 0.2, "A split is by shade when its parts' mean shades are further apart.")
    flags.DEFINE_float("size_gap", 0.05, "A split is by size when its parts' mean coverages are further apart.")
    flags.DEFINE_float("share", 0.15, "A category holds part of a class when it has more than this share of it.")
    app.run(main)

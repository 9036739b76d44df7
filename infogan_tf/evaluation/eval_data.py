"""The real images an evaluation uses: a TFDS test split with labels, or a folder's held-out part without.

The folder's held-out images (``--eval_fraction`` / ``--eval_image_dir`` at
training time, read from the run's ``images.json`` so they are exactly the
files training left out) serve both as the images Q is measured on and as the
Fréchet reference; with no labels, no accuracy is reported. Labels are read
here for evaluation only.
"""

from __future__ import annotations

import dataclasses
import os
from typing import NamedTuple

import numpy as np

from infogan_tf.training.rundir import RunDir


class EvalData(NamedTuple):
    """The real images an evaluation uses.

    Attributes:
      test_images: uint8 [N, H, W, C], held-out real images (the test split).
      test_labels: int [N], their labels (used for the accuracy only), or
        None for data without labels (no accuracy is reported).
      reference_images: uint8 [M, H, W, C] training images, the Fréchet
        reference set (None when sample quality is not computed).
    """

    test_images: np.ndarray
    test_labels: np.ndarray | None
    reference_images: np.ndarray | None


def load_eval_data(config, run_data, seed: int, image_shape=None) -> EvalData:
    """Held-out real images at ``image_shape`` (the networks' input): labelled TFDS test split, or a folder's.

    ``config``: the EvalConfig (its --manual_dir/--data_dir override the run's);
    ``run_data``: the run's DataConfig.
    """
    from infogan_tf.data import datasets as data_lib
    from infogan_tf.data import source

    if run_data.image_dir is not None:
        manifest = RunDir(config.model_dir).read_images_manifest() if config.model_dir else None
        held_out = source.load_eval_images(run_data, image_shape, manifest, limit=config.num_reference)
        return EvalData(held_out, None, held_out if config.sample_quality else None)
    data = dataclasses.replace(
        run_data,
        manual_dir=config.manual_dir
        if config.manual_dir is not None
        else (run_data.manual_dir if run_data.manual_dir and os.path.isdir(run_data.manual_dir) else None),
        data_dir=config.data_dir if config.data_dir is not None else run_data.data_dir,
    )
    test = data_lib.load_labeled_split(data, image_shape=image_shape)
    reference = None
    if config.sample_quality:
        train = data_lib.load_train_images(data, image_shape=image_shape)
        pick = np.random.default_rng(seed).choice(len(train), size=min(config.num_reference, len(train)), replace=False)
        reference = train[np.sort(pick)]
    return EvalData(test.images, test.labels, reference)

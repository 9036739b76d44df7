"""The one entry point to a run's images: a TFDS dataset or a folder, cached or streamed, at the input shape.

:func:`load_training_data` is what the training loop calls: it returns the
training images -- a uint8 array in memory, or ``pipeline.StreamedImages``
for a folder too large to cache -- and, for a folder, the manifest to
record in the run directory (``data.folder``). :func:`load_eval_images`
returns the held-out images that evaluation compares samples with (a
folder's ``--eval_fraction`` or ``--eval_image_dir``, a TFDS dataset's test
split).

Cached or streamed (``--cache``): ``auto`` keeps a folder in memory when
its uint8 pixels at training size fit in ``--cache_limit_mb`` (2 GB by
default: 170k 64x64x3 images, 2.7M 28x28x1), and streams it otherwise.
Both read the same pixels in the same order, so the choice changes speed
and memory, never the run.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from absl import logging

from infogan_tf.config import DataConfig
from infogan_tf.data import datasets, folder
from infogan_tf.data.decode import as_shape, decode_files
from infogan_tf.data.pipeline import StreamedImages
from infogan_tf.errors import DataError


class TrainingData(NamedTuple):
    """A run's training images and, for a folder, the manifest of its files (None for TFDS)."""

    images: np.ndarray | StreamedImages
    manifest: dict[str, Any] | None


def cache_in_memory(data: DataConfig, n: int, image_shape) -> bool:
    """Whether ``n`` images of ``image_shape`` are cached (``--cache``, ``--cache_limit_mb``)."""
    if data.cache != "auto":
        return data.cache == "memory"
    return n * math.prod(image_shape) <= data.cache_limit_mb * 2**20


def _folder_plan(data: DataConfig, image_shape, saved_manifest, manifest_path: str) -> tuple[folder.Plan, bool]:
    """The folder's plan: rebuilt from the saved manifest (resume), or scanned and checked; whether it is new."""
    if saved_manifest is not None:
        return folder.plan_from_manifest(saved_manifest, data, manifest_path), False
    return folder.plan(data, image_shape), True


def load_training_data(
    data: DataConfig, image_shape, saved_manifest: dict[str, Any] | None = None, manifest_path: str = "images.json"
) -> TrainingData:
    """The training images at ``image_shape`` (H, W, C), checked before a step is run.

    A folder's first start checks every file (headers, then one decode);
    a resumed run (``saved_manifest``) re-lists the folder, refuses it if it
    changed, and decodes only what it caches.
    """
    shape = as_shape(image_shape)
    if data.image_dir is None:
        return TrainingData(datasets.load_train_images(data, shape), None)
    plan, new = _folder_plan(data, shape, saved_manifest, manifest_path)
    paths = plan.train_paths()
    cached = cache_in_memory(data, len(paths), shape)
    images: np.ndarray | StreamedImages = StreamedImages(tuple(paths), shape)
    if cached or new:
        decoded = decode_files(paths, shape, keep=cached)
        if decoded.failed and not new:  # a file the first start decoded no longer does
            path, why = paths[decoded.failed[0][0]], decoded.failed[0][1]
            raise DataError(f"--image_dir: {path} no longer decodes ({why}); restore it or use a new --model_dir")
        failed = [(plan.train[i].path, why) for i, why in decoded.failed]
        if new and plan.held_out and data.eval_image_dir is None:  # the held-out files are checked too
            held = decode_files(plan.held_out_paths(), shape, keep=False)
            failed += [(plan.held_out[i].path, why) for i, why in held.failed]
        if failed:
            total = len(plan.train) + len(plan.held_out) + len(plan.skipped)
            folder.check_bad(plan.root, failed + list(plan.skipped), total, data)
            plan = folder.without(plan, failed)
            paths = plan.train_paths()
            images = StreamedImages(tuple(paths), shape)
        if cached:
            assert decoded.images is not None
            images = decoded.images
    logging.info(
        "--image_dir %s: %d training images at %s, %s; %d held out, %d skipped",
        plan.root,
        len(paths),
        "x".join(map(str, shape)),
        "cached in memory" if cached else "streamed from disk",
        len(plan.held_out),
        len(plan.skipped),
    )
    return TrainingData(images, folder.manifest(plan, shape))


def load_eval_images(
    data: DataConfig, image_shape, saved_manifest: dict[str, Any] | None = None, limit: int | None = None
) -> np.ndarray:
    """Held-out real images at ``image_shape``: the folder's held-out part, or the TFDS test split.

    ``saved_manifest``: the run's (``training.rundir``), so evaluation uses
    exactly the files training held out. ``limit``: at most that many, an
    evenly spaced subset. A folder without a held-out part is refused.
    """
    shape = as_shape(image_shape)
    if data.image_dir is None:
        images = datasets.load_eval_images(data, shape)
        return images[_spread(len(images), limit)]
    if saved_manifest is not None:
        plan = folder.plan_from_manifest(saved_manifest, data, "the run's images.json")
    else:
        plan = folder.plan(data, shape)
    if not plan.held_out:
        raise DataError(
            f"--image_dir {plan.root!r} has no held-out images; train with --eval_fraction or --eval_image_dir"
        )
    paths = plan.held_out_paths()
    paths = [paths[i] for i in _spread(len(paths), limit)]
    decoded = decode_files(paths, shape, keep=True)
    if decoded.failed:
        i, why = decoded.failed[0]
        raise DataError(f"held-out image {paths[i]} cannot be read ({why})")
    assert decoded.images is not None
    return decoded.images


def _spread(n: int, limit: int | None) -> np.ndarray:
    if limit is None or limit >= n:
        return np.arange(n)
    return np.linspace(0, n - 1, limit).round().astype(int)

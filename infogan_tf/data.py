"""Training and evaluation data: TFDS preparation, loading, and the input pipeline.

Datasets are prepared with TensorFlow Datasets (TFDS), online or offline from
the dataset's original files in ``--manual_dir`` (TFDS looks there for each
file it would download and verifies its checksum, so a truncated or foreign
file is rejected). They are small (MNIST: 47 MB of uint8 pixels), so the
training split is loaded into memory once and the pipeline gathers batches
from it:

* the order is a deterministic function of (seed, epoch) -- a stateless
  shuffle per epoch -- so a resumed run continues with exactly the batches
  the uninterrupted run would have seen, without replaying the iterator;
* every replica of every worker reads a disjoint slice of each global batch
  (``tf.distribute.InputContext``), so data is sharded across workers;
* batches have static shapes (no ragged last batch), so the train step is
  traced once.

Only images enter the training pipeline. Labels are read by
:func:`load_labeled_split`, which exists for evaluation alone.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from infogan_tf.config import DataConfig, manual_dir_problems

class DataError(RuntimeError):
    """The data source is missing, corrupt or unusable; the message says what was expected where."""


class LabeledSplit(NamedTuple):
    """Images (uint8 [N, H, W, C]) and labels (int64 [N]) of one split, for evaluation."""

    images: np.ndarray
    labels: np.ndarray


def check_manual_dir(data: DataConfig) -> None:
    """Fails fast, before any TF work, if --manual_dir lacks the dataset's files."""
    if data.manual_dir is None:
        return
    problems = manual_dir_problems(data)
    if problems:
        raise DataError(problems[0])


def _builder(data: DataConfig):
    import tensorflow_datasets as tfds

    return tfds.builder(data.dataset, data_dir=data.data_dir)


def _prepare(data: DataConfig):
    """Prepares the dataset if needed and returns its TFDS builder."""
    import tensorflow_datasets as tfds

    check_manual_dir(data)
    builder = _builder(data)
    download_config = tfds.download.DownloadConfig(manual_dir=data.manual_dir)
    try:
        builder.download_and_prepare(download_config=download_config)
    except Exception as e:  # TFDS raises many types; all mean "no usable data".
        where = (
            f"the original files in --manual_dir {data.manual_dir!r}"
            if data.manual_dir
            else "a download (no --manual_dir given)"
        )
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(
            f"could not prepare {data.dataset} from {where} into {builder.data_dir}: "
            f"{type(e).__name__}: {first_line}"
        ) from e
    return builder


def _load_split(data: DataConfig, split: str, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Reads the given features of a whole split into numpy arrays."""
    import tensorflow_datasets as tfds

    builder = _prepare(data)
    try:
        ds = builder.as_dataset(split=split, shuffle_files=False)
        ds = ds.map(lambda ex: {k: ex[k] for k in keys}).batch(8192)
        chunks = list(tfds.as_numpy(ds))
    except Exception as e:
        raise DataError(
            f"could not read split {split!r} of {data.dataset} from {builder.data_dir}: "
            f"{type(e).__name__}: {e}"
        ) from e
    if not chunks:
        raise DataError(f"split {split!r} of {data.dataset} in {builder.data_dir} is empty")
    arrays = {k: np.concatenate([c[k] for c in chunks]) for k in keys}
    images = arrays["image"]
    if images.dtype != np.uint8 or images.shape[1:] != data.image_shape:
        raise DataError(
            f"{data.dataset} images are {images.dtype}{list(images.shape[1:])}, expected "
            f"uint8{list(data.image_shape)}"
        )
    return arrays


def load_train_images(data: DataConfig) -> np.ndarray:
    """The training split's images, uint8 [N, H, W, C]; labels are dropped here."""
    return _load_split(data, data.info.train_split, ("image",))["image"]


def load_labeled_split(data: DataConfig, split: str | None = None) -> LabeledSplit:
    """Images and labels of a split (default: test). For evaluation only."""
    arrays = _load_split(data, split or data.info.test_split, ("image", "label"))
    return LabeledSplit(arrays["image"], arrays["label"])


def to_model_range(images: tf.Tensor) -> tf.Tensor:
    """uint8 pixels [0, 255] -> float32 in the generator's range [-1, 1]."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def to_unit_range(images: tf.Tensor) -> tf.Tensor:
    """Generator range [-1, 1] -> [0, 1] (the exported image range)."""
    return tf.clip_by_value((tf.cast(images, tf.float32) + 1.0) * 0.5, 0.0, 1.0)


def make_input_fn(images: np.ndarray, global_batch_size: int, seed: int, start_step: int = 0):
    """Returns an ``input_fn(InputContext) -> tf.data.Dataset`` of training batches.

    For ``strategy.distribute_datasets_from_function``. The global example
    stream is the concatenation of per-epoch stateless shuffles of the split;
    step ``s`` consumes stream positions ``[s * B, (s + 1) * B)`` and each
    replica takes its own contiguous slice of them. The dataset starts at
    ``start_step`` so a resumed run continues the same stream.
    """
    n = int(images.shape[0])
    if n == 0:
        raise DataError("the training split has no images")

    def input_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        per_replica = ctx.get_per_replica_batch_size(global_batch_size)
        if per_replica > n:
            raise DataError(
                f"the training split has {n} images, fewer than the per-replica batch of {per_replica}"
            )
        replicas = ctx.num_replicas_in_sync
        local_replicas = replicas // ctx.num_input_pipelines
        first_local = ctx.input_pipeline_id * local_replicas
        table = tf.constant(images)

        def permutation(epoch):
            return tf.random.experimental.stateless_shuffle(
                tf.range(n, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch])
            )

        def batch_for(k):
            # k counts this pipeline's per-replica batches; map it to the
            # global stream position of this replica's slice.
            step, local = k // local_replicas, k % local_replicas
            chunk = step * replicas + first_local + local
            positions = chunk * per_replica + tf.range(per_replica, dtype=tf.int64)
            epochs, offsets = positions // n, positions % n
            first_epoch = epochs[0]
            # A slice spans at most two epochs since per_replica <= n.
            perms = tf.stack([permutation(first_epoch), permutation(first_epoch + 1)])
            indices = tf.gather_nd(perms, tf.stack([epochs - first_epoch, offsets], axis=1))
            return to_model_range(tf.gather(table, indices))

        ds = tf.data.Dataset.counter(start=start_step * local_replicas, dtype=tf.int64)
        ds = ds.map(batch_for, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        return ds.with_options(options).prefetch(tf.data.AUTOTUNE)

    return input_fn

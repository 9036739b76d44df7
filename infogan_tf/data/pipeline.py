"""The training input stream: deterministic, resumable, sharded batches of images in memory or on disk.

* the order is a deterministic function of (seed, epoch) -- a stateless
  shuffle per epoch -- so a resumed run continues with exactly the batches
  the uninterrupted run would have seen, without replaying the iterator;
* every replica of every worker reads a disjoint slice of each global batch
  (``tf.distribute.InputContext``), so data is sharded across workers;
* batches have static shapes (no ragged last batch), so the train step is
  traced once;
* the images are a uint8 array in memory, or :class:`StreamedImages`: files
  decoded from disk each epoch (``data.decode``, in parallel, order kept,
  prefetched) -- the same indices, hence the same batches, either way.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from infogan_tf.data.decode import decode_file
from infogan_tf.data.pixels import to_model_range
from infogan_tf.errors import DataError


class StreamedImages(NamedTuple):
    """Training images read from files every epoch, at ``shape`` (a folder too large to cache)."""

    paths: tuple[str, ...]
    shape: tuple[int, int, int]

    def __len__(self) -> int:
        return len(self.paths)


def make_input_fn(images: np.ndarray | StreamedImages, global_batch_size: int, seed: int, start_step: int = 0):
    """Returns an ``input_fn(InputContext) -> tf.data.Dataset`` of training batches.

    For ``strategy.distribute_datasets_from_function``. The global example
    stream is the concatenation of per-epoch stateless shuffles of the split;
    step ``s`` consumes stream positions ``[s * B, (s + 1) * B)`` and each
    replica takes its own contiguous slice of them. The dataset starts at
    ``start_step`` so a resumed run continues the same stream.
    """
    n = len(images)
    if n == 0:
        raise DataError("the training split has no images")

    def input_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        per_replica = ctx.get_per_replica_batch_size(global_batch_size)
        if per_replica > n:
            raise DataError(f"the training split has {n} images, fewer than the per-replica batch of {per_replica}")
        replicas = ctx.num_replicas_in_sync
        local_replicas = replicas // ctx.num_input_pipelines
        first_local = ctx.input_pipeline_id * local_replicas
        table = tf.constant(list(images.paths)) if isinstance(images, StreamedImages) else tf.constant(images)

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
            return indices

        ds = tf.data.Dataset.counter(start=start_step * local_replicas, dtype=tf.int64)
        ds = ds.map(batch_for, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if isinstance(images, StreamedImages):
            shape = images.shape
            ds = ds.unbatch().map(
                lambda i: decode_file(tf.gather(table, i), shape),
                num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True,
            )
            ds = ds.batch(per_replica, drop_remainder=True).map(to_model_range)
        else:
            ds = ds.map(
                lambda indices: to_model_range(tf.gather(table, indices)),
                num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True,
            )
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        return ds.with_options(options).prefetch(tf.data.AUTOTUNE)

    return input_fn

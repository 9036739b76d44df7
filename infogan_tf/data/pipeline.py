"""The training input stream: deterministic, resumable, sharded batches of an in-memory split.

* the order is a deterministic function of (seed, epoch) -- a stateless
  shuffle per epoch -- so a resumed run continues with exactly the batches
  the uninterrupted run would have seen, without replaying the iterator;
* every replica of every worker reads a disjoint slice of each global batch
  (``tf.distribute.InputContext``), so data is sharded across workers;
* batches have static shapes (no ragged last batch), so the train step is
  traced once.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from infogan_tf.data.pixels import to_model_range
from infogan_tf.errors import DataError


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
            raise DataError(f"the training split has {n} images, fewer than the per-replica batch of {per_replica}")
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

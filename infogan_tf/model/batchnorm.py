"""Batch normalisation that can normalise one call's equal parts each with its own statistics.

The authors' reference update shows D the real and the fake batch in
separate calls, so each is normalised with its own batch statistics
(BUILD_NOTES, "Design decisions"); our D/Q update adds the real images' second
views as a third batch. Three calls of one network cost three casts of
every weight in bfloat16, three sets of small matrix products and the sum
of three weight gradients.

``BatchNormalization(...)(x, training=True, segments=n)`` takes the n calls'
batches concatenated (n equal parts along the batch axis) and computes what
n separate calls compute: part i is normalised with its own mean and
variance (all-reduced across replicas when ``synchronized``), and the moving
statistics are updated n times in order, exactly as n calls in a row would
update them. With ``segments=1``, in inference, with a mask or renorm it is
Keras' layer unchanged; its variables and checkpoints are Keras' own.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


class BatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` with ``segments``: see the module docstring."""

    def call(self, inputs, training=None, mask=None, segments: int = 1):
        if segments == 1 or not (training and self.trainable) or mask is not None or self.renorm:
            return super().call(inputs, training=training, mask=mask)
        if self.axis not in (-1, len(inputs.shape) - 1):
            raise ValueError(f"BatchNormalization: segments need the channel axis last, got axis {self.axis}")
        x = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
        batch = tf.shape(x)[0]
        tf.debugging.assert_equal(
            batch % segments, 0, message=f"BatchNormalization: the batch is not {segments} equal parts"
        )
        parts = tf.reshape(x, tf.concat([[segments, batch // segments], tf.shape(x)[1:]], axis=0))
        axes = [axis + 1 for axis in self._reduction_axes]  # each part's own batch (and spatial) axes
        mean, variance = ops.moments(parts, axes=axes, keepdims=True, synchronized=self.synchronized)
        moving_mean, moving_variance = self.moving_mean.value, self.moving_variance.value
        for i in range(segments):  # the n updates of n calls in a row
            moving_mean = moving_mean * self.momentum + tf.reshape(mean[i], [-1]) * (1.0 - self.momentum)
            moving_variance = moving_variance * self.momentum + tf.reshape(variance[i], [-1]) * (1.0 - self.momentum)
        self.moving_mean.assign(moving_mean)
        self.moving_variance.assign(moving_variance)
        gamma = ops.cast(self.gamma, x.dtype) if self.scale else None
        beta = ops.cast(self.beta, x.dtype) if self.center else None
        outputs = tf.nn.batch_normalization(parts, mean, variance, beta, gamma, self.epsilon)
        return ops.cast(tf.reshape(outputs, tf.shape(x)), self.compute_dtype)

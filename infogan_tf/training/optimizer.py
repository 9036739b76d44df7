"""Adam whose per-variable update is one fused kernel (TF's ``ResourceApplyAdam``).

Keras 3's Adam (``keras.optimizers.Adam``) writes the update as separate
elementwise ops -- subtract, multiply, square, add, sqrt, divide and three
assignments per variable -- and each one reads and writes the whole
variable. XLA fuses them, so a float32 step compiled with XLA does not
notice; without XLA (the bfloat16 step, which runs oneDNN's kernels) they
are about a quarter of the CPU time of the default MNIST step, most of it
memory traffic over G's and D's 6.4 M-weight dense layers (BUILD_NOTES,
"Design decisions", FusedAdam).

:class:`FusedAdam` computes the same update (Kingma & Ba 2015, Algorithm 1
with the "epsilon hat" form that both Keras and TF use):

    alpha_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m <- m + (g - m)(1 - beta_1);  v <- v + (g^2 - v)(1 - beta_2)
    var <- var - alpha_t * m / (sqrt(v) + epsilon)

in one pass over each variable. Its slots are Keras Adam's own
(``iterations``, ``adam_momentum_*``, ``adam_velocity_*``), so a checkpoint
written by either optimiser restores into the other. Sparse gradients and
AMSGrad fall back to Keras' update.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def _resource(variable) -> tf.Tensor:
    """The resource handle of a Keras or tf variable (inside ``extended.update``: this device's copy)."""
    return variable.value.handle if isinstance(variable, keras.Variable) else variable.handle


class FusedAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` with each dense update done by ``tf.raw_ops.ResourceApplyAdam``."""

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        return tf.raw_ops.ResourceApplyAdam(
            var=_resource(variable),
            m=_resource(self._momentums[index]),
            v=_resource(self._velocities[index]),
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
            use_locking=False,
        )

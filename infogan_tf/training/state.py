"""What a training run holds: the networks, their optimisers and the step counters (what a checkpoint saves).

``build_state`` creates them under a tf.distribute strategy's scope, in the
compute precision the run resolved (``training.precision``); the update
itself is ``training.step``.
"""

from __future__ import annotations

from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from infogan_tf.config import TrainConfig
from infogan_tf.model.networks import Discriminator, Generator, build_networks
from infogan_tf.training.optimizer import FusedAdam


class TrainState(NamedTuple):
    """Everything a step reads and updates; what a checkpoint holds (but the guard counters).

    Attributes:
      generator, discriminator: the networks (D with its Q head).
      g_optimizer, d_optimizer: Adam for G, and for D and Q (``training.optimizer.FusedAdam``).
      step: int64 global step (steps completed).
      nonfinite_step: first step whose guarded quantities were not finite (-1: none).
      nonfinite_mask: which of GUARDED_QUANTITIES were not (bit mask).
    """

    generator: Generator
    discriminator: Discriminator
    g_optimizer: keras.optimizers.Optimizer
    d_optimizer: keras.optimizers.Optimizer
    step: tf.Variable
    nonfinite_step: tf.Variable
    nonfinite_mask: tf.Variable


def build_state(config: TrainConfig, strategy: tf.distribute.Strategy) -> TrainState:
    """Creates networks, optimisers and counters under ``strategy``'s scope.

    Initial weights follow ``--seed`` (Keras initialisers draw from the global
    seed). With ``mixed_precision="bfloat16"`` the layers compute in bfloat16
    with float32 variables; the networks return float32 outputs.
    """
    keras.utils.set_random_seed(config.runtime.seed)
    if config.runtime.mixed_precision not in ("float32", "bfloat16"):
        raise ValueError(
            f"resolve --mixed_precision first (training.precision.resolve), got {config.runtime.mixed_precision!r}"
        )
    policy = "mixed_bfloat16" if config.runtime.mixed_precision == "bfloat16" else "float32"
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        o = config.optim
        with strategy.scope():
            generator, discriminator = build_networks(config.latent, config.model, config.real_info.q_overcluster)
            g_optimizer = FusedAdam(o.g_learning_rate, beta_1=o.beta1, beta_2=o.beta2)
            d_optimizer = FusedAdam(o.d_learning_rate, beta_1=o.beta1, beta_2=o.beta2)
            # Keras 3 optimisers build lazily on first apply, which fails inside
            # a distributed tf.function: build them here, under the scope.
            g_optimizer.build(generator.trainable_variables)
            d_optimizer.build(discriminator.trainable_variables)

            def counter(value: int, dtype, name: str) -> tf.Variable:
                return tf.Variable(
                    value,
                    dtype=dtype,
                    trainable=False,
                    name=name,
                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
                )

            return TrainState(
                generator,
                discriminator,
                g_optimizer,
                d_optimizer,
                step=counter(0, tf.int64, "global_step"),
                nonfinite_step=counter(-1, tf.int64, "nonfinite_step"),
                nonfinite_mask=counter(0, tf.int32, "nonfinite_mask"),
            )
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


def state_bytes(state: TrainState) -> int:
    """What a checkpoint of ``state`` stores: every variable of the networks and optimisers, in bytes."""
    owners = (state.generator, state.discriminator, state.g_optimizer, state.d_optimizer)
    return sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for o in owners for v in o.variables)

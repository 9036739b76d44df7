"""FusedAdam (training/optimizer.py): Keras Adam's update, one kernel per variable, and Keras Adam's checkpoints."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from infogan_tf.training.distribute import mirrored_strategy
from infogan_tf.training.optimizer import FusedAdam

pytestmark = pytest.mark.unit


def _variables(strategy):
    with strategy.scope():
        rng = np.random.RandomState(0)
        return [keras.Variable(rng.randn(40, 7).astype("float32")), keras.Variable(rng.randn(3).astype("float32"))]


def _train(optimizer_class, strategy, steps=6, compiled=True):
    """``steps`` updates on gradients that vary with the step; the weights and slots after."""
    variables = _variables(strategy)
    start = [tf.constant(v.numpy()) for v in variables]
    with strategy.scope():
        optimizer = optimizer_class(2e-3, beta_1=0.5, beta_2=0.999)
        optimizer.build(variables)

    def step(i):
        def replica():
            grads = [tf.sin(s * tf.cast(i + 1, tf.float32)) + 0.1 for s in start]
            optimizer.apply_gradients(zip(grads, variables))

        strategy.run(replica)

    run = tf.function(step) if compiled else step
    for i in range(steps):
        run(tf.constant(i))
    return [v.numpy() for v in variables], [v.numpy() for v in optimizer.variables]


@pytest.mark.parametrize("strategy_name", ["default", "mirrored"])
@pytest.mark.parametrize("compiled", [True, False])
def test_fused_adam_makes_the_keras_adam_update(strategy_name, compiled):
    def strategy():
        if strategy_name == "default":
            return tf.distribute.get_strategy()
        return mirrored_strategy(["/cpu:0", "/cpu:1"])

    keras_weights, keras_slots = _train(keras.optimizers.Adam, strategy(), compiled=compiled)
    fused_weights, fused_slots = _train(FusedAdam, strategy(), compiled=compiled)
    start = [v.numpy() for v in _variables(tf.distribute.get_strategy())]
    for k, f, s in zip(keras_weights, fused_weights, start):
        assert np.abs(k - s).max() > 1e-3  # the weights moved
        np.testing.assert_allclose(f, k, rtol=0, atol=1e-6)
    assert len(fused_slots) == len(keras_slots)
    for k, f in zip(keras_slots, fused_slots):
        np.testing.assert_allclose(f, k, rtol=1e-4, atol=1e-6)


def test_fused_adam_restores_a_keras_adam_checkpoint_and_continues_alike(tmp_path):
    strategy = tf.distribute.get_strategy()
    variables = _variables(strategy)
    keras_adam = keras.optimizers.Adam(2e-3, beta_1=0.5)
    keras_adam.build(variables)
    keras_adam.apply_gradients(zip([tf.ones_like(v.value) for v in variables], variables))
    path = tf.train.Checkpoint(variables=variables, optimizer=keras_adam).save(str(tmp_path / "ckpt"))

    restored = _variables(strategy)
    fused = FusedAdam(2e-3, beta_1=0.5)
    fused.build(restored)
    tf.train.Checkpoint(variables=restored, optimizer=fused).restore(path).assert_consumed()
    assert int(fused.iterations.numpy()) == 1
    for optimizer, weights in ((keras_adam, variables), (fused, restored)):
        optimizer.apply_gradients(zip([tf.fill(v.shape, 0.5) for v in weights], weights))
    for k, f in zip(variables, restored):
        np.testing.assert_allclose(f.numpy(), k.numpy(), rtol=0, atol=1e-6)


def test_fused_adam_falls_back_to_keras_for_amsgrad():
    strategy = tf.distribute.get_strategy()
    weights_keras, _ = _train(lambda *a, **k: keras.optimizers.Adam(*a, amsgrad=True, **k), strategy)
    weights_fused, _ = _train(lambda *a, **k: FusedAdam(*a, amsgrad=True, **k), strategy)
    for k, f in zip(weights_keras, weights_fused):
        np.testing.assert_array_equal(f, k)

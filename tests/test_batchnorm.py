"""One call with ``segments=n`` is n separate calls (model/batchnorm.py): outputs, moving statistics, gradients."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY_MODEL

from infogan_tf.latent import LatentSpec
from infogan_tf.model.batchnorm import BatchNormalization
from infogan_tf.model.networks import Discriminator
from infogan_tf.training.distribute import mirrored_strategy

pytestmark = pytest.mark.unit


def _layer():
    layer = BatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=True)
    layer.build([None, 3, 3, 4])
    layer.gamma.assign(np.linspace(0.5, 2.0, 4).astype("float32"))
    layer.beta.assign(np.linspace(-1.0, 1.0, 4).astype("float32"))
    return layer


def _batches(n=3, size=5):
    rng = np.random.RandomState(1)
    # Each batch its own location and scale, so shared statistics would be visibly wrong.
    return [tf.constant(rng.randn(size, 3, 3, 4).astype("float32") * (i + 1) + 2 * i) for i in range(n)]


def test_segments_normalise_each_part_with_its_own_statistics_and_update_the_moving_ones_in_turn():
    separate, merged = _layer(), _layer()
    batches = _batches()
    expected = [separate(b, training=True) for b in batches]
    got = merged(tf.concat(batches, 0), training=True, segments=3)
    np.testing.assert_allclose(got.numpy(), tf.concat(expected, 0).numpy(), atol=2e-5)
    np.testing.assert_allclose(merged.moving_mean.numpy(), separate.moving_mean.numpy(), atol=1e-6)
    np.testing.assert_allclose(merged.moving_variance.numpy(), separate.moving_variance.numpy(), rtol=1e-5)
    # Shared statistics (one ordinary call on the concatenation) are not the same thing.
    shared = _layer()(tf.concat(batches, 0), training=True)
    assert np.abs(shared.numpy() - got.numpy()).max() > 0.1


def test_segments_are_ignored_in_inference_and_refuse_unequal_parts():
    layer = _layer()
    x = tf.concat(_batches(), 0)
    np.testing.assert_array_equal(layer(x, training=False, segments=3).numpy(), layer(x, training=False).numpy())
    with pytest.raises(tf.errors.InvalidArgumentError, match="not 2 equal parts"):
        layer(x, training=True, segments=2)


def test_segments_under_two_replicas_use_the_global_batch_of_each_part():
    strategy = mirrored_strategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        separate, merged = _layer(), _layer()
    batches = _batches(size=4)  # each replica gets 2 rows of every part

    @tf.function
    def run():
        def replica():
            r = tf.distribute.get_replica_context().replica_id_in_sync_group
            mine = [b[2 * r : 2 * r + 2] for b in batches]
            a = tf.concat([separate(b, training=True) for b in mine], 0)
            return a, merged(tf.concat(mine, 0), training=True, segments=3)

        return strategy.run(replica)

    a, b = run()
    for x, y in zip(strategy.experimental_local_results(a), strategy.experimental_local_results(b)):
        np.testing.assert_allclose(y.numpy(), x.numpy(), atol=2e-5)
    np.testing.assert_allclose(merged.moving_mean.numpy(), separate.moving_mean.numpy(), atol=1e-6)
    np.testing.assert_allclose(merged.moving_variance.numpy(), separate.moving_variance.numpy(), rtol=1e-5)


def test_one_discriminator_pass_with_segments_gives_the_outputs_and_gradients_of_separate_calls():
    latent = LatentSpec()
    separate = Discriminator(latent, TINY_MODEL).build_variables()
    merged = Discriminator(latent, TINY_MODEL).build_variables()
    merged.set_weights(separate.get_weights())
    rng = np.random.RandomState(2)
    batches = [tf.constant(rng.uniform(-1, 1, (6, 28, 28, 1)).astype("float32") * s) for s in (1.0, 0.3, 0.7)]

    def loss(outputs):
        terms = [
            tf.reduce_sum(o.d_logit * (i + 1)) + tf.reduce_sum(o.categorical_logits[0] ** 2)
            for i, o in enumerate(outputs)
        ]
        return tf.add_n(terms)

    with tf.GradientTape() as tape:
        expected = [separate(b, training=True) for b in batches]
        expected_loss = loss(expected)
    expected_grads = tape.gradient(expected_loss, separate.trainable_variables)
    with tf.GradientTape() as tape:
        got = merged(tf.concat(batches, 0), training=True, segments=3).split(3)
        got_loss = loss(got)
    got_grads = tape.gradient(got_loss, merged.trainable_variables)

    for e, g in zip(expected, got):
        np.testing.assert_allclose(g.d_logit.numpy(), e.d_logit.numpy(), atol=1e-4)
        np.testing.assert_allclose(g.categorical_logits[0].numpy(), e.categorical_logits[0].numpy(), atol=1e-4)
        np.testing.assert_allclose(g.continuous_mean.numpy(), e.continuous_mean.numpy(), atol=1e-4)
    assert [g is None for g in got_grads] == [e is None for e in expected_grads]
    for e, g in zip(expected_grads, got_grads):
        if e is not None:
            np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-3, atol=1e-4)
    for e, g in zip(separate.non_trainable_variables, merged.non_trainable_variables):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-5, atol=1e-6)

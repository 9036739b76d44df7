"""Losses: values against hand-computed numbers, and where the MI gradient flows."""

import math

import numpy as np
import pytest
import tensorflow as tf

from infogan_tf.config import ModelConfig
from infogan_tf.latent import LatentSpec
from infogan_tf.model import losses
from infogan_tf.model.networks import build_networks

pytestmark = pytest.mark.unit


def test_discriminator_and_generator_losses_by_hand():
    real, fake = tf.constant([0.0, 2.0]), tf.constant([0.0, -1.0])
    # -log sigmoid(r) - log(1 - sigmoid(f)) = log(1 + e^-r) + log(1 + e^f)
    expected_d = [2 * math.log(2), math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-1))]
    np.testing.assert_allclose(losses.discriminator_loss(real, fake).numpy(), expected_d, rtol=1e-6)
    # Non-saturating: -log sigmoid(f) = log(1 + e^-f)
    np.testing.assert_allclose(losses.generator_loss(fake).numpy(), [math.log(2), math.log(1 + math.e)], rtol=1e-6)


def test_losses_are_stable_for_extreme_logits():
    big = tf.constant([1000.0, -1000.0])
    assert np.all(np.isfinite(losses.discriminator_loss(big, -big).numpy()))
    np.testing.assert_allclose(losses.generator_loss(big).numpy(), [0.0, 1000.0], atol=1e-5)


def test_categorical_cross_entropy_applies_softmax_once():
    logits = tf.constant([[1.0, 2.0, 3.0]])
    # -log softmax(logits)[2] = log(e^1 + e^2 + e^3) - 3
    expected = math.log(math.e + math.e**2 + math.e**3) - 3
    ce = losses.categorical_cross_entropy(tf.constant([[2]]), [logits])
    np.testing.assert_allclose(ce.numpy(), [expected], rtol=1e-6)
    # Two codes add up.
    ce2 = losses.categorical_cross_entropy(tf.constant([[2, 0]]), [logits, tf.constant([[0.0, 0.0]])])
    np.testing.assert_allclose(ce2.numpy(), [expected + math.log(2)], rtol=1e-6)


def test_uniform_q_gives_entropy_sized_ce():
    # If Q knows nothing (uniform logits), CE = ln K and L_I = H(c) - CE = 0.
    ce = losses.categorical_cross_entropy(tf.constant([[7]]), [tf.zeros([1, 10])])
    assert ce.numpy()[0] == pytest.approx(math.log(10))


def test_gaussian_nll_by_hand():
    values, mean, log_std = tf.constant([[1.0, 0.0]]), tf.constant([[0.0, 0.0]]), tf.constant([[0.0, math.log(2.0)]])
    # 0.5 log 2pi + 0 + 0.5 * 1  +  0.5 log 2pi + log 2 + 0
    expected = math.log(2 * math.pi) + 0.5 + math.log(2.0)
    np.testing.assert_allclose(losses.gaussian_nll(values, mean, log_std).numpy(), [expected], rtol=1e-6)


def test_mutual_information_loss_weights_the_parts():
    terms = losses.mutual_information_loss(
        tf.constant([[0]]),
        tf.constant([[0.5]]),
        [tf.zeros([1, 4])],
        tf.constant([[0.5]]),
        tf.zeros([1, 1]),
        lambda_cat=2.0,
        lambda_cont=0.5,
    )
    ce, nll = math.log(4), 0.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(terms.categorical_ce.numpy(), [ce], rtol=1e-6)
    np.testing.assert_allclose(terms.continuous_nll.numpy(), [nll], rtol=1e-6)
    np.testing.assert_allclose(terms.loss.numpy(), [2 * ce + 0.5 * nll], rtol=1e-6)


def test_mi_gradient_reaches_generator_q_head_and_trunk():
    spec = LatentSpec(noise_dim=4, categorical=(3,), continuous=1)
    model = ModelConfig(g_fc_units=8, g_filters=(8, 4), d_filters=(4, 4), d_fc_units=8, q_fc_units=8)
    g, d = build_networks(spec, model)
    codes = spec.sample(6, tf.constant([0, 1], tf.int64))
    with tf.GradientTape() as tape:
        out = d(g(codes.z, codes.c, training=True), training=True)
        mi = losses.mutual_information_loss(
            codes.categorical,
            codes.continuous,
            out.categorical_logits,
            out.continuous_mean,
            out.continuous_log_std,
            1.0,
            1.0,
        ).loss
        loss = tf.reduce_mean(mi)
    parts = {
        "generator": g.trainable_variables,
        "q_head": d.q_head_variables(),
        "trunk": d.trunk_variables(),
    }
    d_head = d.d_head.trainable_variables
    grads = tape.gradient(loss, [v for vs in parts.values() for v in vs] + d_head)
    i = 0
    for name, variables in parts.items():
        norms = [float(tf.norm(gr)) for gr in grads[i : i + len(variables)]]
        i += len(variables)
        assert sum(norms) > 0, f"no MI gradient reaches the {name}"
    # The D head plays no part in the MI term.
    assert all(gr is None for gr in grads[i:])


def test_categorical_information_bounds():
    k = 10
    confident_balanced = [tf.constant(np.eye(k) * 50.0, tf.float32)]
    uniform = [tf.zeros([k, k])]
    one_category = [tf.constant(np.tile(np.eye(k)[3] * 50.0, (k, 1)), tf.float32)]
    # Confident and balanced: H(marginal) = ln K, E H(Q(c|x)) = 0.
    assert losses.categorical_information(confident_balanced).numpy() == pytest.approx(math.log(k), abs=1e-4)
    # Q says nothing: marginal and conditional entropies are both ln K.
    assert losses.categorical_information(uniform).numpy() == pytest.approx(0.0, abs=1e-5)
    # Every image in one category: nothing is learnt about x either.
    assert losses.categorical_information(one_category).numpy() == pytest.approx(0.0, abs=1e-4)
    # Several codes add up; no codes give 0.
    two_way = np.where(np.arange(k)[:, None] < 2, [50.0, 0.0], [0.0, 50.0])  # 2 of 10 images in category 0
    both = losses.categorical_information([*confident_balanced, tf.constant(two_way, tf.float32)])
    assert both.numpy() == pytest.approx(math.log(k) + (-0.2 * math.log(0.2) - 0.8 * math.log(0.8)), abs=1e-4)
    assert losses.categorical_information([]).numpy() == 0.0


def test_paired_categorical_information_bounds():
    k = 4
    confident = [tf.constant(np.eye(k)[np.arange(k * k) % k] * 50.0, tf.float32)]
    # Both views in the same confident, balanced category: ln K.
    same = losses.paired_categorical_information(confident, confident)
    assert same.numpy() == pytest.approx(math.log(k), abs=1e-4)
    # Categories of the two views independent of each other: 0.
    independent = [tf.constant(np.eye(k)[np.arange(k * k) // k] * 50.0, tf.float32)]
    assert losses.paired_categorical_information(confident, independent).numpy() == pytest.approx(0.0, abs=1e-4)
    # Uncertain Q: 0 as well.
    uniform = [tf.zeros([k * k, k])]
    assert losses.paired_categorical_information(uniform, uniform).numpy() == pytest.approx(0.0, abs=1e-5)


def _iic_lambda_objective(p, q, lamb):
    """IIC's lambda-weighted objective written out in numpy: sum P (log P - lamb log P_i - lamb log P_j)."""
    joint = p.T @ q / len(p)
    joint = np.maximum((joint + joint.T) / 2, 1e-12)
    row, col = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    return float((joint * (np.log(joint) - lamb * np.log(row) - lamb * np.log(col))).sum())


def test_category_balance_makes_the_information_iics_lambda_weighted_objective():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(32, 5)) * 2, rng.normal(size=(32, 5)) * 2
    p, q = (np.exp(x) / np.exp(x).sum(1, keepdims=True) for x in (a, b))
    info = float(losses.paired_categorical_information([tf.constant(a, tf.float32)], [tf.constant(b, tf.float32)]))
    balance = float(losses.category_balance([tf.constant(a, tf.float32)], [tf.constant(b, tf.float32)]))
    for lamb in (1.0, 1.5, 2.0):
        assert info + (lamb - 1) * balance == pytest.approx(_iic_lambda_objective(p, q, lamb), rel=1e-4), lamb
    # Without views it is the marginal entropy H(E Q(c|x)) of categorical_information.
    marginal = p.mean(0)
    alone = float(losses.category_balance([tf.constant(a, tf.float32)]))
    assert alone == pytest.approx(float(-(marginal * np.log(marginal)).sum()), rel=1e-5)
    # Balanced categories score ln K (twice with views); all in one category 0; codes add up.
    k = 4
    confident = tf.constant(np.eye(k)[np.arange(k * k) % k] * 50.0, tf.float32)
    one = tf.constant(np.tile(np.eye(k)[1] * 50.0, (k * k, 1)), tf.float32)
    assert float(losses.category_balance([confident], [confident])) == pytest.approx(2 * math.log(k), abs=1e-4)
    assert float(losses.category_balance([one], [one])) == pytest.approx(0.0, abs=1e-4)
    assert float(losses.category_balance([confident, one])) == pytest.approx(math.log(k), abs=1e-4)
    assert float(losses.category_balance([])) == 0.0

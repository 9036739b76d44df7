"""The factor-views term: known shears, stretches and thickenings of real images, what Q must do, its settings."""

import numpy as np
import pytest
import tensorflow as tf

from infogan_tf.config import TrainConfig
from infogan_tf.data.augment import ink_slant, thicken
from infogan_tf.errors import ConfigError
from infogan_tf.evaluation.metrics.image_statistics import image_statistics
from infogan_tf.model import losses
from infogan_tf.model.networks import DiscriminatorOutput
from infogan_tf.model.objective import D, FactorViewsTerm, Objective, UpdateBatch, default_terms
from infogan_tf.training import resume

pytestmark = pytest.mark.unit


def term_of(**settings) -> FactorViewsTerm:
    """The term of a default config with these flag settings (weight 1 unless given)."""
    return FactorViewsTerm(TrainConfig().override(**{"factor_views": 1.0, **settings}))


def bars(count: int) -> np.ndarray:
    """``count`` upright vertical bars (slant 0), ink across them a Gaussian of 3 px standard deviation."""
    profile = np.exp(-0.5 * ((np.arange(28) - 13.5) / 3.0) ** 2)
    images = -np.ones((count, 28, 28, 1), np.float32)
    images[:, 4:24, :, 0] += 2.0 * profile
    return images


def output(mean) -> DiscriminatorOutput:
    """D/Q's outputs with these continuous means (everything else zero)."""
    batch = mean.shape[0]
    zeros = tf.zeros([batch, 2])
    return DiscriminatorOutput(tf.zeros([batch]), (tf.zeros([batch, 10]),), mean, zeros, tf.zeros([batch, 0]))


def ink_width(images) -> np.ndarray:
    """Each image's horizontal spread of ink: the standard deviation of its columns, weighted by ink."""
    ink = np.asarray(images)[..., 0].sum(axis=1) + 1.0 * np.asarray(images).shape[1]  # [B, W], background 0
    columns = np.arange(ink.shape[1])
    mean = (ink * columns).sum(axis=1) / ink.sum(axis=1)
    return np.sqrt((ink * (columns - mean[:, None]) ** 2).sum(axis=1) / ink.sum(axis=1))


def test_the_copies_are_sheared_then_stretched_by_the_moves_the_term_expects():
    term = term_of(factor_views_second="width", factor_views_shear=0.3, factor_views_scale=0.25)
    moved = term.extra_batch(tf.constant(bars(8)), tf.constant([0, 0], tf.int64)).numpy()
    shear, fractions = term.moves(8)
    shear, log_stretch = shear.numpy(), term.second_amounts(fractions).numpy()
    np.testing.assert_allclose(shear, [-0.3, -0.1, 0.1, 0.3], atol=1e-6)
    np.testing.assert_allclose(np.exp(log_stretch), [0.8, 1.25 ** -(1 / 3), 1.25 ** (1 / 3), 1.25], rtol=1e-5)
    # The first half's ink slant changed by exactly the shear; the second half is upright and wider in order.
    np.testing.assert_allclose(ink_slant(moved[:4]).numpy(), shear, atol=1e-3)
    np.testing.assert_allclose(ink_slant(moved[4:]).numpy(), 0.0, atol=1e-3)
    np.testing.assert_allclose(ink_width(moved[4:]) / ink_width(bars(1)), np.exp(log_stretch), rtol=0.03)


def test_the_thickness_moves_thin_and_thicken_the_strokes_in_order_and_keep_the_slant():
    term = term_of(factor_views_second="thickness")
    digits = bars(10)
    moved = term.extra_batch(tf.constant(digits), tf.constant([0, 0], tf.int64)).numpy()
    amount = term.second_amounts(term.moves(10)[1]).numpy()
    np.testing.assert_allclose(amount, [-0.5, -0.25, 0.0, 0.25, 0.5], atol=1e-6)
    np.testing.assert_allclose(ink_slant(moved[:5]).numpy(), term.moves(10)[0].numpy(), atol=1e-3)
    thickness = image_statistics(moved[5:])["thickness"]
    assert np.all(np.diff(thickness) > 0), thickness
    np.testing.assert_allclose(moved[7], digits[0], atol=1e-6)  # t = 0: unchanged


def test_the_thickening_and_the_thinning_have_their_own_largest_blends_and_the_same_targets():
    term = term_of(factor_views_second="thickness", factor_views_thicken=0.2, factor_views_thin=0.7)
    digits = tf.constant(bars(10))
    moved = term.extra_batch(digits, tf.constant([0, 0], tf.int64)).numpy()
    shear, fractions = term.moves(10)
    np.testing.assert_allclose(fractions.numpy(), [-1.0, -0.5, 0.0, 0.5, 1.0], atol=1e-6)
    np.testing.assert_allclose(term.second_amounts(fractions).numpy(), [-0.7, -0.35, 0.0, 0.1, 0.2], atol=1e-6)
    np.testing.assert_allclose(moved[5], thicken(digits[:1], tf.constant([-0.7])).numpy()[0], atol=1e-6)
    np.testing.assert_allclose(moved[9], thicken(digits[:1], tf.constant([0.2])).numpy()[0], atol=1e-6)
    assert np.all(np.diff(image_statistics(moved[5:])["thickness"]) > 0)
    # Code 1's targets are the fractions, not the blends: -r and +r at the two ends whatever the blends.
    real, copies = tf.zeros([10, 2]), tf.concat([tf.zeros([5, 2]), tf.stack([tf.zeros(5), fractions], 1)], 0)
    copies = copies + tf.concat([tf.stack([shear / 0.3, tf.zeros(5)], 1), tf.zeros([5, 2])], 0)
    part = term.contribute(UpdateBatch(frozenset({D}), None, None, output(real), {term.name: output(copies)}))
    assert float(part.metrics["factor_views_error"]) == pytest.approx(0.0, abs=1e-6)


def test_the_error_is_zero_only_when_each_code_follows_its_own_move_and_the_other_stays():
    mean = tf.random.stateless_normal([6, 3], [1, 2])
    shear_target, second_target = tf.constant([-1.0, 0.0, 1.0]), tf.constant([-1.0, 0.5, 1.0])
    follows = mean + tf.stack(
        [tf.concat([shear_target, tf.zeros(3)], 0), tf.concat([tf.zeros(3), second_target], 0), tf.ones(6)], axis=1
    )  # a third code may do anything
    assert float(losses.factor_view_error(mean, follows, shear_target, second_target)) == pytest.approx(0.0, abs=1e-6)
    swapped = mean + tf.stack(
        [tf.concat([tf.zeros(3), second_target], 0), tf.concat([shear_target, tf.zeros(3)], 0), tf.zeros(6)], axis=1
    )
    # Each code misses its move (2/3 + 2.25/3) and moves under the other's (the same): twice 4.25/3.
    assert float(losses.factor_view_error(mean, swapped, shear_target, second_target)) == pytest.approx(
        2 * 4.25 / 3, rel=1e-5
    )


def test_the_term_enters_the_d_q_update_with_its_weight_and_reports_the_error():
    term = term_of(factor_views=2.5, factor_views_second="width")
    assert Objective([term]).entering(frozenset({D})) == [term]

    real = tf.zeros([8, 2])
    moved = tf.ones([8, 2])
    part = term.contribute(UpdateBatch(frozenset({D}), None, None, output(real), {term.name: output(moved)}))
    error = float(part.metrics["factor_views_error"])
    shear, fractions = term.moves(8)
    np.testing.assert_allclose(fractions.numpy(), [-1.0, -1 / 3, 1 / 3, 1.0], atol=1e-6)
    expected = losses.factor_view_error(real, moved, shear / 0.3, fractions)
    assert error == pytest.approx(float(expected)) and float(part.d) == pytest.approx(2.5 * error)
    # The targets span the codes' prior range: twice as far when it is [-2, 2].
    wide = term_of(factor_views=2.5, factor_views_second="width", continuous_range=2.0)
    part = wide.contribute(UpdateBatch(frozenset({D}), None, None, output(real), {term.name: output(moved)}))
    expected = losses.factor_view_error(real, moved, 2 * shear / 0.3, 2 * fractions)
    assert float(part.metrics["factor_views_error"]) == pytest.approx(float(expected))


def test_the_config_adds_the_term_after_the_others_only_with_a_positive_weight():
    assert "factor_views" not in [t.name for t in default_terms(TrainConfig())]
    terms = default_terms(TrainConfig().override(factor_views=1.0))
    assert [t.name for t in terms][-1] == "factor_views" and terms[-1].second == "thickness"
    # Its settings live in config.json's own part, and a resume may not change them.
    fixed = resume.fixed_settings()
    assert ("factor_views", "factor_views_second") in fixed and ("factor_views", "factor_views") in fixed


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"factor_views": -1.0}, "--factor_views must be a finite number >= 0, got -1.0"),
        ({"factor_views_shear": 0.0}, "--factor_views_shear must be a number in (0, 1], got 0.0"),
        ({"factor_views_scale": 0.7}, "--factor_views_scale must be a number in (0, 0.5], got 0.7"),
        ({"factor_views_thicken": 0.0}, "--factor_views_thicken must be a number in (0, 1], got 0.0"),
        ({"factor_views_thin": 1.5}, "--factor_views_thin must be a number in (0, 1], got 1.5"),
        ({"factor_views_second": "ink"}, "--factor_views_second must be one of width, thickness, got 'ink'"),
        (
            {"factor_views": 1.0, "continuous_codes": 1},
            "--factor_views moves continuous codes 0 and 1: it needs --continuous_codes >= 2, got 1",
        ),
    ],
)
def test_bad_settings_are_refused_in_one_line(settings, message):
    with pytest.raises(ConfigError) as e:
        TrainConfig().override(**settings)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)

"""The latent-code structure: layout, sampling, entropy, validation."""

import math

import numpy as np
import pytest
import tensorflow as tf

from infogan_tf.latent import LatentSpec, parse_categorical_codes

pytestmark = pytest.mark.unit


def test_default_is_the_papers_mnist_codes():
    spec = LatentSpec()
    assert (spec.noise_dim, spec.categorical, spec.continuous) == (62, (10,), 2)
    assert spec.code_dim == 12
    assert spec.categorical_entropy() == pytest.approx(math.log(10))


def test_layout_puts_one_hots_first_then_continuous():
    spec = LatentSpec(noise_dim=3, categorical=(3, 4), continuous=2)
    c = spec.flatten(tf.constant([[2, 1], [0, 3]]), tf.constant([[0.5, -0.25], [0.1, 0.2]]))
    np.testing.assert_array_equal(
        c.numpy(),
        np.array([[0, 0, 1, 0, 1, 0, 0, 0.5, -0.25], [1, 0, 0, 0, 0, 0, 1, 0.1, 0.2]], np.float32),
    )
    onehots, cont = spec.split(c)
    assert [o.shape[1] for o in onehots] == [3, 4]
    np.testing.assert_array_equal(cont.numpy(), np.array([[0.5, -0.25], [0.1, 0.2]], np.float32))
    assert [d["columns"] for d in spec.layout_description()] == [[0, 3], [3, 7], [7, 8], [8, 9]]


def test_entropy_sums_log_cardinalities():
    spec = LatentSpec(categorical=(10, 4), continuous=3, continuous_range=2.0)
    assert spec.categorical_entropy() == pytest.approx(math.log(10) + math.log(4))
    assert spec.continuous_entropy() == pytest.approx(3 * math.log(4.0))


def test_sample_shapes_ranges_and_consistency():
    spec = LatentSpec(noise_dim=5, categorical=(10, 3), continuous=2, continuous_range=1.0)
    b = spec.sample(4000, tf.constant([1, 2], tf.int64))
    assert b.z.shape == (4000, 5) and b.c.shape == (4000, 15)
    assert b.categorical.dtype == tf.int32 and b.categorical.shape == (4000, 2)
    z, cat, cont, c = (t.numpy() for t in b)
    assert z.min() >= -1 and z.max() <= 1
    assert cont.min() >= -1 and cont.max() <= 1 and cont.std() > 0.5
    assert set(np.unique(cat[:, 0])) == set(range(10))
    assert set(np.unique(cat[:, 1])) == set(range(3))
    # Categories are roughly uniform.
    counts = np.bincount(cat[:, 0], minlength=10)
    assert counts.min() > 300 and counts.max() < 500
    # c is exactly the flat layout of the sampled parts.
    np.testing.assert_array_equal(c, spec.flatten(cat, cont).numpy())


def test_sampling_is_deterministic_in_the_seed():
    spec = LatentSpec()
    a = spec.sample(8, tf.constant([3, 4], tf.int64))
    b = spec.sample(8, tf.constant([3, 4], tf.int64))
    c = spec.sample(8, tf.constant([3, 5], tf.int64))
    np.testing.assert_array_equal(a.c.numpy(), b.c.numpy())
    assert not np.array_equal(a.z.numpy(), c.z.numpy())


def test_code_free_specs_sample_empty_parts():
    spec = LatentSpec(noise_dim=4, categorical=(), continuous=0)
    b = spec.sample(3, tf.constant([0, 0], tf.int64))
    assert b.c.shape == (3, 0) and b.categorical.shape == (3, 0)
    assert spec.categorical_entropy() == 0.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"categorical": (10, 1)}, "--categorical_codes: every cardinality must be >= 2, got 1"),
        ({"continuous": -1}, "--continuous_codes must be >= 0"),
        ({"noise_dim": -2}, "--noise_dim must be >= 0"),
        ({"continuous_range": 0.0}, "--continuous_range must be a finite number > 0"),
        ({"noise_dim": 0, "categorical": (), "continuous": 0}, "at least one input"),
    ],
)
def test_bad_specs_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        LatentSpec(**kwargs)


def test_parse_categorical_codes():
    assert parse_categorical_codes("10") == (10,)
    assert parse_categorical_codes(" 10, 4 ") == (10, 4)
    assert parse_categorical_codes("") == ()
    with pytest.raises(ValueError, match="comma-separated integers"):
        parse_categorical_codes("10,a")
    with pytest.raises(ValueError, match=">= 2"):
        parse_categorical_codes("10,0")


def test_dict_round_trip():
    spec = LatentSpec(noise_dim=7, categorical=(3, 5), continuous=1, continuous_range=0.5)
    assert LatentSpec.from_dict(spec.to_dict()) == spec


def test_numpy_flatten_equals_the_tensorflow_layout():
    spec = LatentSpec(noise_dim=3, categorical=(10, 4), continuous=2)
    categorical = np.array([[0, 3], [9, 0], [4, 2]], np.int32)
    continuous = np.array([[0.5, -1.0], [0.0, 0.25], [-0.75, 1.0]], np.float32)
    expected = spec.flatten(categorical, continuous).numpy()
    actual = spec.flatten_numpy(categorical, continuous)
    assert actual.dtype == np.float32 and actual.shape == (3, 16)
    np.testing.assert_array_equal(actual, expected)

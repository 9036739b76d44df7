"""Random affine second views of real images (augment.py)."""

import numpy as np
import tensorflow as tf

from infogan_tf.data.augment import AffineRange, affine_warp, random_affine


def _images():
    images = -np.ones([4, 28, 28, 1], np.float32)
    images[:, 10:18, 12:16, 0] = 1.0  # an upright bar
    return tf.constant(images)


def _centre_of_mass(image):
    weight = (np.asarray(image)[..., 0] + 1.0) / 2.0
    ys, xs = np.mgrid[: weight.shape[0], : weight.shape[1]]
    return (weight * ys).sum() / weight.sum(), (weight * xs).sum() / weight.sum()


def test_no_range_is_the_identity():
    out = random_affine(_images(), tf.constant([1, 2], tf.int64), AffineRange(degrees=0.0, scale=0.0, shift=0.0))
    np.testing.assert_allclose(out.numpy(), _images().numpy(), atol=1e-5)


def test_shifts_stay_within_the_range_and_follow_the_seed():
    limits = AffineRange(degrees=0.0, scale=0.0, shift=2.0)
    a = random_affine(_images(), tf.constant([1, 2], tf.int64), limits).numpy()
    b = random_affine(_images(), tf.constant([1, 2], tf.int64), limits).numpy()
    c = random_affine(_images(), tf.constant([3, 4], tf.int64), limits).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    before = _centre_of_mass(_images()[0])
    for image in a:
        dy, dx = np.subtract(_centre_of_mass(image), before)
        assert abs(dy) <= 2.0 + 1e-3 and abs(dx) <= 2.0 + 1e-3
    # Every image gets its own draw; the background stays at the fill value.
    assert not np.allclose(a[0], a[1])
    assert a.shape == (4, 28, 28, 1) and a.min() >= -1.0 - 1e-6 and a[:, 0, 0, 0].max() == -1.0


def test_rotation_turns_an_upright_bar():
    limits = AffineRange(degrees=30.0, scale=0.0, shift=0.0)
    out = random_affine(_images(), tf.constant([5, 6], tf.int64), limits).numpy()
    for image in out:
        # Rotating about the centre keeps the bar's mass but changes its pixels.
        assert abs((image + 1).sum() - (_images()[0].numpy() + 1).sum()) / (_images()[0].numpy() + 1).sum() < 0.1
    assert any(not np.allclose(image, _images()[0].numpy(), atol=0.2) for image in out)


def test_the_warp_is_tf_projective_transform_with_constant_fill_and_compiles_with_xla():
    images = tf.random.stateless_uniform([6, 28, 20, 3], [7, 8], -1.0, 1.0)
    u = np.random.default_rng(0).uniform(-1.0, 1.0, size=(6, 6)).astype(np.float32)
    # Near-identity maps with shifts that move pixels across the border (and a fractional part).
    transforms = np.array([1, 0, 0, 0, 1, 0], np.float32) + u * np.float32([0.3, 0.3, 3.5, 0.3, 0.3, 3.5])
    reference = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=np.concatenate([transforms, np.zeros([6, 2], np.float32)], axis=1),
        output_shape=[28, 20],
        fill_value=-1.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
    np.testing.assert_allclose(affine_warp(images, transforms).numpy(), reference.numpy(), atol=1e-5)
    compiled = tf.function(affine_warp, jit_compile=True)(images, tf.constant(transforms))
    np.testing.assert_allclose(compiled.numpy(), reference.numpy(), atol=1e-5)

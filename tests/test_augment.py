"""Random affine second views of real images (augment.py)."""

import numpy as np
import pytest
import tensorflow as tf

from infogan_tf.data.augment import AffineRange, affine_warp, ink_slant, level_ink, random_affine, random_erase
from infogan_tf.evaluation.metrics.image_statistics import image_statistics

pytestmark = pytest.mark.unit


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


def test_rescaling_stays_within_its_range_and_a_wider_range_rescales_more():
    def areas(scale):
        images = tf.tile(_images()[:1], [64, 1, 1, 1])
        out = random_affine(images, tf.constant([9, 10], tf.int64), AffineRange(degrees=0.0, scale=scale, shift=0.0))
        return ((out.numpy() + 1.0) / 2.0).sum(axis=(1, 2, 3)) / ((images[0].numpy() + 1.0) / 2.0).sum()

    # A rescaling by s multiplies the bar's ink by s^2, s in [1 - scale, 1 + scale].
    narrow, wide = areas(0.1), areas(0.25)
    assert narrow.min() >= 0.9**2 - 0.02 and narrow.max() <= 1.1**2 + 0.02
    assert wide.min() >= 0.75**2 - 0.02 and wide.max() <= 1.25**2 + 0.02
    assert wide.max() > 1.1**2 + 0.05 and wide.min() < 0.9**2 - 0.05


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


def test_shear_slants_an_upright_bar_in_proportion_to_the_row_and_leaves_other_draws_alone():
    seed = tf.constant([9, 10], tf.int64)
    sheared = random_affine(_images(), seed, AffineRange(degrees=0.0, scale=0.0, shift=0.0, shear=0.4)).numpy()
    ys = np.arange(10, 18)
    slopes = []
    for image in sheared:
        weight = (image[..., 0] + 1.0) / 2.0
        centres = [(weight[y] * np.arange(28)).sum() / weight[y].sum() for y in ys]
        slope, _ = np.polyfit(ys, centres, 1)  # columns moved per row: the shear
        slopes.append(slope)
        assert abs(slope) <= 0.4 + 1e-3
    assert max(abs(s) for s in slopes) > 0.05 and len({round(s, 3) for s in slopes}) == len(slopes)
    # The shear has its own stream: the shifts drawn with it are those drawn without (rows exactly; columns
    # move by at most shear x the vertical shift, since the shear acts about the image centre).
    limits = AffineRange(degrees=0.0, scale=0.0, shift=2.0)
    plain = random_affine(_images(), seed, limits).numpy()
    with_shear = random_affine(_images(), seed, limits._replace(shear=0.3)).numpy()
    assert not np.allclose(plain, with_shear)
    for a, b in zip(plain, with_shear):
        (ya, xa), (yb, xb) = _centre_of_mass(a), _centre_of_mass(b)
        assert abs(ya - yb) < 1e-3 and abs(xa - xb) <= 0.3 * abs(ya - 13.5) + 0.05


def _slanted_bars(slants):
    images = -np.ones([len(slants), 28, 28, 1], np.float32)
    for i, slant in enumerate(slants):
        for y in range(5, 23):
            x = round(13.5 + slant * (y - 13.5))
            images[i, y, x - 1 : x + 2, 0] = 1.0
    return tf.constant(images)


def test_ink_slant_measures_each_bar_and_its_upright_copy_stands_straight():
    slants = [-0.5, -0.2, 0.0, 0.3, 0.6]
    images = _slanted_bars(slants)
    measured = ink_slant(images).numpy()
    np.testing.assert_allclose(measured, slants, atol=0.03)
    upright = random_affine(images, tf.constant([1, 2], tf.int64), AffineRange(0.0, 0.0, 0.0), base_shear=measured)
    np.testing.assert_allclose(ink_slant(upright).numpy(), 0.0, atol=0.02)
    # A blank image has slant 0; a slant beyond the limit is clipped to it.
    assert ink_slant(-tf.ones([1, 28, 28, 1])).numpy()[0] == 0.0
    assert ink_slant(images, limit=0.25).numpy().tolist() == pytest.approx([-0.25, -0.2, 0.0, 0.25, 0.25], abs=0.03)


def test_a_zero_base_shear_leaves_the_random_copies_as_they_were():
    seed, images = tf.constant([5, 6], tf.int64), _slanted_bars([0.3, -0.3])
    plain = random_affine(images, seed).numpy()
    np.testing.assert_array_equal(random_affine(images, seed, base_shear=tf.zeros([2])).numpy(), plain)
    assert not np.allclose(random_affine(images, seed, base_shear=tf.constant([0.3, -0.3])).numpy(), plain)


def test_ink_slant_agrees_with_the_evaluation_slant_of_the_same_images():
    images = _slanted_bars([-0.5, -0.1, 0.2, 0.6]).numpy()
    evaluation_degrees = image_statistics((images + 1.0) / 2.0)["slant"]  # y up, images in [0, 1]
    np.testing.assert_allclose(np.degrees(np.arctan(-ink_slant(images).numpy())), evaluation_degrees, atol=1e-3)


def _asymmetric_images(count=16):
    rng = np.random.RandomState(3)
    images = -np.ones([count, 28, 28, 1], np.float32)
    images[:, 6:22, 4:12, 0] = rng.uniform(-1, 1, [count, 16, 8])  # ink on the left only
    return tf.constant(images)


def test_flip_mirrors_about_half_the_copies_and_leaves_the_other_draws_alone():
    images, seed = _asymmetric_images(), tf.constant([7, 8], tf.int64)
    still = AffineRange(degrees=0.0, scale=0.0, shift=0.0)
    out = random_affine(images, seed, still._replace(flip=True)).numpy()
    mirrored = images.numpy()[:, :, ::-1]
    is_mirror = [np.allclose(o, m, atol=1e-5) for o, m in zip(out, mirrored)]
    is_same = [np.allclose(o, i, atol=1e-5) for o, i in zip(out, images.numpy())]
    assert all(a != b for a, b in zip(is_mirror, is_same))  # each copy is one or the other
    assert 3 <= sum(is_mirror) <= 13
    # With every move on, the unmirrored copies are exactly the copies made without --real_info_flip.
    moved, moved_flip = random_affine(images, seed).numpy(), random_affine(images, seed, AffineRange(flip=True)).numpy()
    for keep, a, b in zip(is_same, moved, moved_flip):
        assert np.array_equal(a, b) == keep


def test_a_mirrored_upright_copy_stands_straight_too():
    slants = [-0.5, 0.3, 0.6, -0.2] * 4
    images = _slanted_bars(slants)
    limits = AffineRange(0.0, 0.0, 0.0, flip=True)
    upright = random_affine(images, tf.constant([1, 2], tf.int64), limits, base_shear=ink_slant(images))
    np.testing.assert_allclose(ink_slant(upright).numpy(), 0.0, atol=0.02)


def _brightness(images):
    ink = np.asarray(images) + 1.0  # height above the -1 background, in [0, 2]
    return (ink**2).sum(axis=(1, 2, 3)) / ink.sum(axis=(1, 2, 3))


def test_level_ink_gives_a_dark_and_a_light_copy_of_one_shape_the_same_image():
    rng = np.random.RandomState(4)
    ink = np.zeros([28, 28, 1], np.float32)
    ink[4:24, 8:20] = rng.uniform(0.2, 0.5, [20, 12, 1])  # heights above the background, in [0, 2]
    light, dark = ink * 1.6 - 1.0, ink * 0.5 - 1.0
    levelled = level_ink(tf.constant(np.stack([light, dark]))).numpy()
    np.testing.assert_allclose(levelled[0], levelled[1], atol=1e-4)
    np.testing.assert_allclose(_brightness(levelled), 0.7 * 2.0, rtol=1e-4)  # nothing clipped: exactly the level
    assert (levelled[:, :4] == -1.0).all()  # the background stays the background


def test_level_ink_clips_at_white_and_keeps_a_blank_image_blank():
    bright = np.full([1, 28, 28, 1], -1.0, np.float32)
    bright[0, 10:18, 10:18] = np.linspace(-0.9, 1.0, 8)[None, :, None]
    images = tf.constant(np.concatenate([bright, -np.ones_like(bright)]))
    levelled = level_ink(images, level=0.95).numpy()
    assert np.isfinite(levelled).all() and levelled.max() == 1.0 and levelled.min() == -1.0
    np.testing.assert_array_equal(levelled[1], -1.0)
    assert _brightness(levelled[:1])[0] < 0.95 * 2.0  # clipping takes some of the level away


def test_random_erase_blanks_one_rectangle_in_about_half_the_copies():
    images = tf.constant(np.ones([64, 28, 28, 1], np.float32))  # all ink: every erased pixel shows
    out = random_erase(images, tf.constant([3, 4], tf.int64), max_area=0.2).numpy()
    assert set(np.unique(out)) <= {-1.0, 1.0}
    erased = (out[..., 0] == -1.0).reshape(64, -1).sum(axis=1) / (28 * 28)
    touched = erased > 0
    assert 20 <= touched.sum() <= 44  # each copy with probability 1/2
    assert erased.max() <= 0.2 + 0.02  # at most the largest area (pixel rounding aside); less where clipped
    for copy in out[touched, ..., 0]:  # one axis-aligned rectangle: the blank rows all blank the same columns
        rows, cols = np.nonzero(copy == -1.0)
        height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert height * width == len(rows)
        inside = rows.min() > 0 and cols.min() > 0 and rows.max() < 27 and cols.max() < 27
        assert not inside or 1 / 3.5 <= height / width <= 3.5  # the aspect ratio, where the border did not clip it
    np.testing.assert_array_equal(
        out, random_erase(images, tf.constant([3, 4], tf.int64), 0.2).numpy()
    )  # one seed, one draw
    # It compiles in XLA (the float32 step), whose stateless random stream is its own: the same kind of rectangles.
    compiled = tf.function(lambda x, s: random_erase(x, s, 0.2), jit_compile=True)(
        images, tf.constant([3, 4], tf.int64)
    )
    compiled_erased = (compiled.numpy()[..., 0] == -1.0).reshape(64, -1).mean(axis=1)
    assert 20 <= (compiled_erased > 0).sum() <= 44 and compiled_erased.max() <= 0.2 + 0.02


def test_random_erase_only_sets_pixels_to_the_background():
    images, seed = _images(), tf.constant([5, 6], tf.int64)
    moved = random_affine(images, seed).numpy()
    erased = random_erase(random_affine(images, seed), seed, 0.5).numpy()
    changed = erased != moved
    assert changed.any() and (erased[changed] == -1.0).all()  # blanked, never moved
    blank = -np.ones([2, 28, 28, 1], np.float32)
    np.testing.assert_array_equal(random_erase(tf.constant(blank), seed, 0.5).numpy(), blank)

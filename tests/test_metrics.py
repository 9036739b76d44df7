"""Bounded-behaviour tests of the evaluation metrics on cases with known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from infogan_tf.evaluation import figures
from infogan_tf.evaluation.handle import (
    CodeSamples,
    ModelHandle,
    QOutput,
    draw_samples,
    encode_in_batches,
)
from infogan_tf.evaluation.metrics.classifier_score import classifier_score, compute_classifier_score
from infogan_tf.evaluation.metrics.code_recovery import compute_code_recovery, r_squared
from infogan_tf.evaluation.metrics.continuous_effects import compute_continuous_effects, sweep_effects
from infogan_tf.evaluation.metrics.frechet_distance import compute_frechet_distance, frechet_distance
from infogan_tf.evaluation.metrics.image_statistics import image_statistics
from infogan_tf.evaluation.metrics.mutual_information import compute_mutual_information
from infogan_tf.evaluation.metrics.unsupervised_accuracy import (
    categories_by_label,
    clustering_scores,
    compute_unsupervised_accuracy,
    confusion_matrix,
)
from infogan_tf.latent import LatentSpec
from infogan_tf.training.label_free import moved_copies, view_consistency

pytestmark = pytest.mark.unit

SPEC = LatentSpec(noise_dim=2, categorical=(10,), continuous=2)


def one_hot(indices, k=10):
    return np.eye(k)[np.asarray(indices)]


# ------------------------------------------------------------ unsupervised accuracy
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_perfect_classifier_scores_one_under_any_permutation(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=2000)
    permutation = rng.permutation(10)  # category permutation[y] stands for digit y
    out = compute_unsupervised_accuracy(one_hot(permutation[labels]), labels)
    assert out["accuracy"] == 1.0
    assert out["purity"] == 1.0
    assert out["assignment"] == {int(permutation[y]): y for y in range(10)}
    assert categories_by_label(out["assignment"], 10) == [int(permutation[y]) for y in range(10)]


def test_random_assignments_score_about_chance():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, size=20000)
    out = compute_unsupervised_accuracy(rng.random((20000, 10)), labels)
    assert 0.09 < out["accuracy"] < 0.12
    assert 0.09 < out["purity"] < 0.13
    assert sum(out["category_counts"]) == 20000


def test_merged_categories_hand_computed():
    # Category 0 takes all 4s and all 9s; category 1 is never used; the other
    # digits are perfect. One-to-one: one of 4/9 is lost; many-to-one: too,
    # since one category can only vote for one digit.
    labels = np.array([4] * 30 + [9] * 20 + [0] * 10 + [1] * 10)
    predictions = np.array([0] * 50 + [2] * 10 + [3] * 10)
    out = compute_unsupervised_accuracy(one_hot(predictions), labels)
    assert out["accuracy"] == pytest.approx(50 / 70)
    assert out["purity"] == pytest.approx(50 / 70)
    assert out["assignment"][0] == 4 and out["assignment"][2] == 0 and out["assignment"][3] == 1
    assert out["confusion_matrix"][0][4] == 30 and out["confusion_matrix"][0][9] == 20


def test_split_category_purity_exceeds_one_to_one():
    # Digit 1 is drawn by two categories: many-to-one forgives it, one-to-one does not.
    labels = np.array([1] * 20 + [2] * 10)
    predictions = np.array([5] * 10 + [6] * 10 + [7] * 10)
    out = compute_unsupervised_accuracy(one_hot(predictions), labels)
    assert out["purity"] == 1.0
    assert out["accuracy"] == pytest.approx(20 / 30)


def test_confusion_matrix_rejects_out_of_range():
    with pytest.raises(ValueError, match="labels must be in"):
        confusion_matrix(np.array([0, 1]), np.array([0, 10]), 10, 10)
    with pytest.raises(ValueError, match="matching 1-D"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 10, 10)


# ------------------------------------------------------ mutual information / recovery
def _samples(n, q_probs, q_mean, q_std, seed=0):
    rng = np.random.default_rng(seed)
    categorical = rng.integers(0, 10, size=(n, 1))
    continuous = rng.uniform(-1, 1, size=(n, 2))
    probs = q_probs(categorical[:, 0])
    return CodeSamples(
        categorical=categorical,
        continuous=continuous,
        images=np.zeros([n, 4, 4, 1], np.float32),
        q=QOutput((probs,), q_mean(continuous), q_std(continuous)),
    )


def test_information_bound_reaches_entropy_for_perfect_q_and_zero_for_uniform():
    perfect = _samples(500, one_hot, lambda c: c, lambda c: np.full_like(c, 0.01))
    out = compute_mutual_information(perfect, SPEC)
    assert out["categorical"]["entropy"] == pytest.approx(math.log(10))
    assert out["categorical"]["lower_bound"] == pytest.approx(math.log(10), abs=1e-6)
    # Exact means with std 0.01: log-density ~ 3.69 per code, plus ln 2.
    expected = math.log(2) - 0.5 * math.log(2 * math.pi) - math.log(0.01)
    assert out["continuous"]["per_code"][0]["lower_bound"] == pytest.approx(expected, abs=1e-6)

    uniform = _samples(500, lambda y: np.full((len(y), 10), 0.1), np.zeros_like, np.ones_like)
    out = compute_mutual_information(uniform, SPEC)
    assert out["categorical"]["lower_bound"] == pytest.approx(0.0, abs=1e-9)
    # Q = N(0, 1) on Uniform(-1, 1): ln 2 - (0.5 ln 2pi + E[c^2] / 2) with E[c^2] ~ 1/3.
    expected = math.log(2) - 0.5 * math.log(2 * math.pi) - 1 / 6
    assert out["continuous"]["per_code"][1]["lower_bound"] == pytest.approx(expected, abs=0.03)
    assert out["continuous"]["entropy"] == pytest.approx(2 * math.log(2))


def test_code_recovery_perfect_and_uninformative():
    perfect = compute_code_recovery(_samples(400, one_hot, lambda c: c, np.ones_like))
    assert perfect["categorical_accuracy"] == [1.0]
    assert perfect["continuous_r2"] == [pytest.approx(1.0), pytest.approx(1.0)]

    rng = np.random.default_rng(1)
    blind = _samples(
        5000,
        lambda y: rng.random((len(y), 10)),
        lambda c: np.broadcast_to(c.mean(axis=0), c.shape).copy(),
        np.ones_like,
    )
    out = compute_code_recovery(blind)
    assert 0.08 < out["categorical_accuracy"][0] < 0.12
    assert out["continuous_r2"][0] == pytest.approx(0.0, abs=1e-6)
    assert r_squared(np.array([0.0, 1.0]), np.array([1.0, 0.0])) < 0  # worse than the mean
    assert math.isnan(r_squared(np.ones(3), np.zeros(3)))


# ------------------------------------------------------------ sample quality
def test_frechet_distance_zero_for_identical_and_grows_with_shift():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(2000, 16))
    same = compute_frechet_distance(real, real)["frechet_distance"]
    assert same == pytest.approx(0.0, abs=1e-6)
    shift = np.zeros(16)
    shift[:4] = 1.0
    shifted = compute_frechet_distance(real + shift, real)["frechet_distance"]
    assert shifted == pytest.approx(4.0, rel=1e-6)  # |shift|^2, covariances equal
    further = compute_frechet_distance(real + 2 * shift, real)["frechet_distance"]
    assert further > shifted > same
    other_sample = compute_frechet_distance(rng.normal(size=(2000, 16)), real)["frechet_distance"]
    assert other_sample < 0.1  # same distribution: only sampling noise


def test_frechet_distance_matches_closed_form_for_diagonal_gaussians():
    var_a, var_b = np.array([1.0, 4.0, 0.0]), np.array([9.0, 1.0, 2.0])
    mean_a, mean_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum(var_a + var_b - 2 * np.sqrt(var_a * var_b))
    got = frechet_distance(mean_a, np.diag(var_a), mean_b, np.diag(var_b))
    assert got == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError, match="same D"):
        compute_frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))


def test_classifier_score_bounds():
    balanced_confident = one_hot(np.arange(1000) % 10)
    assert classifier_score(balanced_confident) == pytest.approx(10.0, rel=1e-6)
    one_class = one_hot(np.zeros(1000, np.int64))
    assert classifier_score(one_class) == pytest.approx(1.0, rel=1e-6)
    unsure = np.full((1000, 10), 0.1)
    assert classifier_score(unsure) == pytest.approx(1.0, rel=1e-6)
    out = compute_classifier_score(balanced_confident, splits=10)
    assert out["split_mean"] == pytest.approx(10.0, rel=1e-6) and out["split_std"] < 1e-6
    with pytest.raises(ValueError, match="splits"):
        compute_classifier_score(balanced_confident[:5], splits=10)


# ------------------------------------------------------------ continuous effects
def draw_ellipse(angle_deg, half_width, half_height, shift=(0.0, 0.0), size=28, supersample=4):
    """Anti-aliased filled ellipse in [0, 1], its long axis leaning right by angle_deg (y up)."""
    n = size * supersample
    coords = (np.arange(n) + 0.5) / supersample - size / 2
    x = coords[None, :] - shift[0]
    y = -coords[:, None] - shift[1]
    t = math.radians(angle_deg)
    along = x * math.sin(t) + y * math.cos(t)
    across = x * math.cos(t) - y * math.sin(t)
    inside = (across / half_width) ** 2 + (along / half_height) ** 2 <= 1.0
    return inside.reshape(size, supersample, size, supersample).mean(axis=(1, 3))


def synthetic_handle(draw):
    """A handle whose generator draws draw(code0, code1, z, category) for each row."""

    def generate(z, c):
        category = c[:, :10].argmax(axis=1)
        cont = c[:, 10:]
        return np.stack([draw(cont[i, 0], cont[i, 1], z[i], category[i]) for i in range(len(z))])[..., None]

    def encode(images):
        n = len(images)
        return QOutput((np.full((n, 10), 0.1),), np.zeros((n, 2)), np.ones((n, 2)))

    return ModelHandle(SPEC, generate, encode, step=0, source="synthetic")


def test_statistics_signs_on_single_shapes():
    right = image_statistics(draw_ellipse(25, 3, 10)[None])
    left = image_statistics(draw_ellipse(-25, 3, 10)[None])
    upright = image_statistics(draw_ellipse(0, 3, 10)[None])
    assert right["slant"][0] > 15 and left["slant"][0] < -15 and abs(upright["slant"][0]) < 1e-6
    wide = image_statistics(draw_ellipse(0, 6, 10)[None])
    assert wide["width"][0] > upright["width"][0]
    # A 4-px-thick long bar: thickness ~ 4 px (2 area / outline, outline ~ 2 L).
    bar = np.zeros((1, 28, 28))
    bar[0, 2:26, 12:16] = 1.0
    assert image_statistics(bar)["thickness"][0] == pytest.approx(2 * 96 / (2 * 24 + 2 * 4), rel=0.05)
    assert math.isnan(image_statistics(np.zeros((1, 28, 28)))["slant"][0])


def test_rotation_and_width_controlled_codes_are_identified():
    def draw(code0, code1, z, category):
        # code 0 rotates by 20 deg per unit; code 1 sets the half width.
        return draw_ellipse(20.0 * code0, 4.0 + code1, 9.0 + 0.2 * category, shift=(2 * z[0], 2 * z[1]))

    effects = compute_continuous_effects(synthetic_handle(draw), num_samples=8, seed=3)
    rotation, width = effects
    assert rotation["strongest"] == "slant"
    assert rotation["statistics"]["slant"]["spearman_rho"] == pytest.approx(1.0)
    assert rotation["statistics"]["slant"]["slope"] > 10  # degrees per unit code
    assert abs(rotation["statistics"]["width"]["spearman_rho"]) < 0.5  # symmetric in the angle
    assert width["statistics"]["width"]["spearman_rho"] == pytest.approx(1.0)
    assert abs(width["statistics"]["slant"]["spearman_rho"]) < 0.5
    assert width["values"] == pytest.approx(list(np.linspace(-2, 2, 9)))


def test_thickness_controlled_code_is_identified():
    def draw(code0, code1, z, category):
        image = np.zeros((28, 28))
        half = 1.0 + 0.4 * (code1 + 2)  # 1 .. 2.6 px half thickness
        cols = (np.arange(28) + 0.5) - 14 - z[0]
        image[3:25] = np.clip(half - np.abs(cols) + 0.5, 0, 1)[None, :]
        return image

    thickness = compute_continuous_effects(synthetic_handle(draw), num_samples=4, seed=0)[1]
    assert thickness["statistics"]["thickness"]["spearman_rho"] == pytest.approx(1.0)
    assert thickness["statistics"]["height"]["spearman_rho"] != pytest.approx(1.0)


def test_sweep_effects_skips_degenerate_rows():
    values = np.linspace(-2, 2, 5)
    table = np.array([[1, 2, 3, 4, 5], [7, 7, 7, 7, 7], [np.nan] * 5], float)
    out = sweep_effects(values, {"s": table})
    assert out["statistics"]["s"]["spearman_rho"] == pytest.approx(1.0)
    assert out["strongest"] == "s"
    with pytest.raises(ValueError, match="must be"):
        sweep_effects(values, {"s": table[:, :3]})


# ------------------------------------------------------------ handle helpers
def test_batched_encode_and_draw_samples_keep_order():
    def generate(z, c):
        # The image carries the category, so encode can read it back.
        return np.broadcast_to(c[:, :10].argmax(axis=1)[:, None, None, None] / 10.0, (len(z), 4, 4, 1)).copy()

    def encode(images):
        category = np.round(images[:, 0, 0, 0] * 10).astype(int)
        return QOutput((one_hot(category),), images[:, 0, 0, :1].repeat(2, axis=1), np.ones((len(images), 2)))

    handle = ModelHandle(SPEC, generate, encode, step=7, source="fake")
    samples = draw_samples(handle, num_samples=103, batch_size=10, seed=5)
    assert samples.images.shape == (103, 4, 4, 1)
    assert compute_code_recovery(samples)["categorical_accuracy"] == [1.0]
    assert set(np.unique(samples.categorical[:, 0])) == set(range(10))
    assert np.all(np.abs(samples.continuous) <= 1.0)
    again = draw_samples(handle, num_samples=103, batch_size=50, seed=5)
    np.testing.assert_array_equal(samples.categorical, again.categorical)
    q = encode_in_batches(handle, samples.images, batch_size=7)
    np.testing.assert_array_equal(q.categorical_probs[0].argmax(1), samples.categorical[:, 0])
    c = SPEC.flatten_numpy(samples.categorical, samples.continuous)
    assert c.shape == (103, 12)
    np.testing.assert_array_equal(c[:, :10].argmax(1), samples.categorical[:, 0])


def test_read_info_curve_skips_bad_lines_and_keeps_last(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [
        json.dumps({"step": 100, "info_lower_bound": 1.0}),
        json.dumps({"step": 200, "info_lower_bound": 1.5}),
        '{"step": 300, "info_lo',  # cut short by a crash
        json.dumps({"step": 200, "info_lower_bound": 1.7}),  # re-logged after resume
        json.dumps({"step": 50, "d_loss": 0.3}),
    ]
    path.write_text("\n".join(lines) + "\n")
    steps, info = figures.read_info_curve(str(path))
    assert steps.tolist() == [100, 200]
    assert info.tolist() == [1.0, 1.7]
    out = tmp_path / "curve.png"
    figures.info_curve_figure(steps, info, math.log(10), str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_figure_is_written_as_a_png_with_its_folder_and_reads_back_exactly(tmp_path):
    from PIL import Image

    from infogan_tf import visualize

    rng = np.random.default_rng(0)
    for channels in (1, 3):
        image = rng.integers(0, 256, size=(7, 5, channels), dtype=np.uint8)
        path = tmp_path / "eval" / "4" / f"grid{channels}.png"
        visualize.write_png(str(path), image)
        with Image.open(path) as png:
            assert png.format == "PNG"
            np.testing.assert_array_equal(np.asarray(png).reshape(image.shape), image)


def _pair_counting_ari_and_nmi(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """ARI over all pairs of examples and NMI from entropies of the label arrays (the definitions, slowly)."""
    upper = np.triu_indices(len(a), 1)
    same_a, same_b = (a[:, None] == a[None])[upper], (b[:, None] == b[None])[upper]
    expected = same_a.sum() * same_b.sum() / len(same_a)
    ari = ((same_a & same_b).sum() - expected) / ((same_a.sum() + same_b.sum()) / 2 - expected)

    def entropy(v):
        p = np.bincount(v) / len(v)
        return -np.sum(p[p > 0] * np.log(p[p > 0]))

    mutual = entropy(a) + entropy(b) - entropy(a * 100 + b)
    return float(ari), float(mutual / ((entropy(a) + entropy(b)) / 2))


def test_nmi_and_ari_match_their_definitions_and_bounds():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 300)
    noisy = np.where(rng.random(300) < 0.7, labels, rng.integers(0, 10, 300))
    nmi, ari = clustering_scores(noisy, labels)
    ref_ari, ref_nmi = _pair_counting_ari_and_nmi(noisy, labels)
    assert nmi == pytest.approx(ref_nmi) and ari == pytest.approx(ref_ari) and 0.3 < ari < nmi < 0.8
    # A relabelled perfect clustering scores 1; an independent one about 0.
    assert clustering_scores((labels + 3) % 10, labels) == pytest.approx((1.0, 1.0))
    nmi, ari = clustering_scores(rng.integers(0, 10, 300), labels)
    assert abs(ari) < 0.02 and nmi < 0.1
    out = compute_unsupervised_accuracy(np.eye(10)[labels], labels)
    assert out["nmi"] == pytest.approx(1.0) and out["ari"] == pytest.approx(1.0)


# ------------------------------------------------------------------ view consistency
def _disk_images(levels: np.ndarray, size: int = 28, radius: float = 7.0) -> np.ndarray:
    """[N, size, size, 1] images in [0, 1]: a centred disk of brightness levels[i] on black."""
    yy, xx = np.mgrid[:size, :size]
    disk = ((yy - (size - 1) / 2) ** 2 + (xx - (size - 1) / 2) ** 2 <= radius**2).astype(np.float32)
    return (np.asarray(levels, np.float32)[:, None, None, None] * disk[None, :, :, None]).astype(np.float32)


def _encoder(category_of):
    """A Q (images -> one [N, 10] probability array per code) certain of ``category_of(images)`` (int [N])."""
    return lambda images: [one_hot(category_of(np.asarray(images))).astype(np.float32)]


def test_view_consistency_is_perfect_for_categories_that_moves_keep():
    # Category = brightness of the disk: rotation, scale and shift leave the interior's value unchanged.
    levels = np.repeat(np.arange(1, 11) / 10.0, 20)
    encode = _encoder(lambda x: np.round(x.max(axis=(1, 2, 3)) * 10).astype(int) - 1)
    out = view_consistency(encode, _disk_images(levels), batch_size=64, seed=0, views=3)
    (code,) = out["codes"]
    assert code["agreement"] == 1.0
    assert code["paired_information"] == pytest.approx(math.log(10), abs=1e-3)
    assert code["normalised_information"] == pytest.approx(1.0, abs=1e-3)
    assert code["marginal_entropy"] == pytest.approx(1.0, abs=1e-6)
    assert out["views"] == 3 and out["limits"]["degrees"] == 25.0


def test_view_consistency_drops_for_categories_tied_to_position():
    # Category = which tenth of the image width holds the disk's centre of mass: shifts and
    # rotations about the centre move it, as a moved digit changes its slant.
    rng = np.random.default_rng(0)
    images = np.zeros([300, 28, 28, 1], np.float32)
    for i, (y, x) in enumerate(rng.integers(6, 22, size=(300, 2))):
        images[i, y - 2 : y + 3, x - 2 : x + 3, 0] = 1.0

    def column(x):
        weights = x[..., 0].sum(axis=1)
        centre = (weights * np.arange(28)).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-6)
        return np.clip((centre - 4) / 2.0, 0, 9).astype(int)

    (code,) = view_consistency(_encoder(column), images, batch_size=64, seed=0, views=2)["codes"]
    assert code["agreement"] < 0.7
    assert code["normalised_information"] < 0.7


def test_view_consistency_is_zero_information_for_a_q_that_ignores_the_image():
    rng = np.random.default_rng(1)
    encode = _encoder(lambda x: rng.integers(0, 10, size=len(x)))
    (code,) = view_consistency(encode, _disk_images(np.ones(2000)), batch_size=500, seed=0, views=2)["codes"]
    assert code["agreement"] == pytest.approx(0.1, abs=0.03)
    assert code["normalised_information"] < 0.02


def test_moved_copies_are_deterministic_per_seed_and_view_and_fill_black():
    images = np.ones([8, 28, 28, 1], np.float32)
    a = moved_copies(images, seed=0, view=0, batch_size=3)
    assert a.shape == images.shape
    np.testing.assert_array_equal(a, moved_copies(images, seed=0, view=0, batch_size=3))
    assert not np.array_equal(a, moved_copies(images, seed=0, view=1, batch_size=3))
    assert not np.array_equal(a, moved_copies(images, seed=1, view=0, batch_size=3))
    assert a.min() == 0.0 and a.max() == pytest.approx(1.0)  # corners come from outside: black


def test_view_consistency_rejects_no_views():
    with pytest.raises(ValueError, match="views must be >= 1"):
        view_consistency(_encoder(lambda x: np.zeros(len(x), int)), _disk_images(np.ones(4)), 4, seed=0, views=0)

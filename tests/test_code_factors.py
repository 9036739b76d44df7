"""Bounded-behaviour tests of ``code_factors`` on synthetic generators and Qs with known answers.

The "digit" is two parallel strokes (like an "11"): its shear sets the slant,
the gap between the strokes the width, their half thickness the stroke
thickness, so each factor can be moved alone.
"""

from __future__ import annotations

import numpy as np
import pytest

from infogan_tf.evaluation.handle import ModelHandle, QOutput
from infogan_tf.evaluation.metrics.code_factors import compute_code_factors, pearson_r
from infogan_tf.evaluation.metrics.continuous_effects import compute_continuous_effects
from infogan_tf.evaluation.metrics.image_statistics import image_statistics
from infogan_tf.latent import LatentSpec

pytestmark = pytest.mark.unit

SPEC = LatentSpec(noise_dim=2, categorical=(10,), continuous=2)


def strokes(shear: float, half_gap: float, half_thickness: float, shift: float = 0.0, size=28, supersample=4):
    """Two anti-aliased strokes of length 16 px, x = shear * y + (+-half_gap) (y up), in [0, 1]."""
    n = size * supersample
    coords = (np.arange(n) + 0.5) / supersample - size / 2
    x = coords[None, :] - shift
    y = -coords[:, None]
    u = x - shear * y  # deskewed x
    inside = (np.abs(np.abs(u) - half_gap) <= half_thickness) & (np.abs(y) <= 8.0)
    return inside.reshape(size, supersample, size, supersample).mean(axis=(1, 3))


def real_digits(n: int = 300, seed: int = 7) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """n "real" images with independent random shear, gap and thickness, and those parameters."""
    rng = np.random.default_rng(seed)
    params = {
        "shear": rng.uniform(-0.5, 0.5, n),
        "half_gap": rng.uniform(3.0, 5.0, n),
        "half_thickness": rng.uniform(1.0, 2.4, n),
        "shift": rng.uniform(-1.0, 1.0, n),
    }
    images = np.stack([strokes(*(params[k][i] for k in params)) for i in range(n)])[..., None]
    return images, params


def handle(draw, read=None) -> ModelHandle:
    """A generator drawing ``draw(code0, code1, z)`` per row; Q's continuous output is ``read(images)``."""

    def generate(z, c):
        cont = c[:, SPEC.continuous_slice]
        return np.stack([draw(cont[i, 0], cont[i, 1], z[i]) for i in range(len(z))])[..., None]

    def encode(images):
        n = len(images)
        mean = np.zeros((n, 2)) if read is None else read(images)
        return QOutput((np.full((n, 10), 0.1),), mean, np.ones((n, 2)))

    return ModelHandle(SPEC, generate, encode, step=0, source="synthetic")


def shear_and_thicken(code0, code1, z):
    # code 0 shears (0.25 per unit), code 1 thickens (0.3 px per unit); z sets the gap and position.
    return strokes(0.25 * code0, 4.0 + z[0], 1.7 + 0.3 * code1, shift=z[1])


def reads_the_factors(images):
    """A perfect Q for shear_and_thicken: output 0 is the slant, output 1 the stroke thickness."""
    measured = image_statistics(images)
    return np.stack([measured["slant"], measured["thickness"]], axis=1)


def test_a_shearing_and_a_thickening_code_are_named_and_read_by_a_perfect_q():
    images, _ = real_digits()
    out = compute_code_factors(handle(shear_and_thicken, reads_the_factors), images, num_samples=6, seed=1)
    slant, thickness = out["codes"]
    assert (slant["factor"], thickness["factor"]) == ("slant", "thickness")
    assert slant["abs_rho"] >= 0.99 and thickness["abs_rho"] >= 0.99
    assert slant["monotone"] and thickness["monotone"]
    # A shear keeps the deskewed width; thickening widens it monotonically but little: named by size.
    assert abs(slant["spearman_rho"]["width"]) < 0.9
    assert abs(thickness["sweep_change_sd"]["width"]) < 0.5 * abs(thickness["sweep_change_sd"]["thickness"])
    assert slant["q_abs_r"] == pytest.approx(1.0) and thickness["q_abs_r"] == pytest.approx(1.0)
    assert out["shared_factors"] == {}
    assert out["verdict"] == {
        "each_moves_one_factor": True,
        "no_shared_factor": True,
        "q_tracks_each": True,
        "holds": True,
        "problems": [],
    }
    assert out["real_images"] == len(images)


def test_two_codes_that_both_shear_share_a_factor():
    def both_shear(code0, code1, z):
        return strokes(0.15 * code0 + 0.1 * code1, 4.0 + z[0], 1.7, shift=z[1])

    images, _ = real_digits(100)
    out = compute_code_factors(handle(both_shear, reads_the_factors), images, num_samples=4, seed=1)
    assert [c["factor"] for c in out["codes"]] == ["slant", "slant"]
    assert all(c["monotone"] for c in out["codes"])
    assert out["shared_factors"] == {"slant": [0, 1]}
    assert not out["verdict"]["no_shared_factor"] and not out["verdict"]["holds"]
    assert "codes 0, 1 move slant most: two codes share a factor" in out["verdict"]["problems"]


def test_a_code_that_moves_its_factor_both_ways_is_not_monotone():
    def u_shaped(code0, code1, z):
        # code 1 thickens the strokes away from 0 in both directions.
        return strokes(0.25 * code0, 4.0 + z[0], 1.2 + 0.3 * abs(code1), shift=z[1])

    images, _ = real_digits(100)
    out = compute_code_factors(handle(u_shaped, reads_the_factors), images, num_samples=4, seed=1)
    assert out["codes"][0]["monotone"] and not out["codes"][1]["monotone"]
    # No net change one way: the code is named for no factor (so it shares none).
    assert out["codes"][1]["factor"] is None and out["codes"][1]["abs_rho"] is None
    assert abs(out["codes"][1]["spearman_rho"]["thickness"]) < 0.5
    assert not out["verdict"]["each_moves_one_factor"] and out["verdict"]["no_shared_factor"]
    assert not out["verdict"]["holds"]
    assert out["verdict"]["problems"][0].startswith("code 1 moves none of slant, width, thickness one way: at most")


def test_q_that_returns_noise_does_not_track_and_a_noisy_reading_sits_between():
    images, params = real_digits()
    rng = np.random.default_rng(3)
    effects = compute_continuous_effects(handle(shear_and_thicken), num_samples=4, seed=1)

    noise = rng.normal(size=(len(images), 2))
    out = compute_code_factors(handle(shear_and_thicken), images, effects=effects, q_continuous=noise)
    assert all(c["q_abs_r"] < 0.2 and not c["q_tracks"] for c in out["codes"])
    assert out["verdict"]["each_moves_one_factor"] and not out["verdict"]["q_tracks_each"]
    assert not out["verdict"]["holds"]
    assert "Q's continuous output 1 reads real images' thickness at |r|" in out["verdict"]["problems"][1]

    # The factor plus noise of the same spread: r = 1 / sqrt(2) ~ 0.71, below the 0.8 bar.
    truth = reads_the_factors(images)
    noisy = truth + rng.normal(size=truth.shape) * truth.std(axis=0)
    out = compute_code_factors(handle(shear_and_thicken), images, effects=effects, q_continuous=noisy)
    assert [c["q_abs_r"] for c in out["codes"]] == pytest.approx([0.71, 0.71], abs=0.08)
    assert not out["verdict"]["q_tracks_each"]

    # Q reading the generating parameter rather than the statistic itself (reversed sign): still tracks.
    shear_reading = np.stack([-params["shear"], params["half_thickness"]], axis=1)
    out = compute_code_factors(handle(shear_and_thicken), images, effects=effects, q_continuous=shear_reading)
    assert all(c["q_abs_r"] > 0.9 and c["q_tracks"] for c in out["codes"])
    assert out["codes"][0]["q_pearson_r"]["slant"] < -0.9


def test_a_constant_q_and_degenerate_inputs():
    images, _ = real_digits(20)
    effects = compute_continuous_effects(handle(shear_and_thicken), num_samples=2, seed=1)
    out = compute_code_factors(handle(shear_and_thicken), images, effects=effects)  # Q outputs zeros
    assert [c["q_abs_r"] for c in out["codes"]] == [None, None]
    assert "|r| undefined" in out["verdict"]["problems"][0]
    with pytest.raises(ValueError, match="factors must be among"):
        compute_code_factors(handle(shear_and_thicken), images, effects=effects, factors=("slant", "curl"))
    with pytest.raises(ValueError, match="real_images must be"):
        compute_code_factors(handle(shear_and_thicken), images[:, :, :, 0], effects=effects)
    with pytest.raises(ValueError, match="q_continuous must be"):
        compute_code_factors(handle(shear_and_thicken), images, effects=effects, q_continuous=np.zeros((20, 3)))
    no_codes = handle(shear_and_thicken)._replace(latent=LatentSpec(noise_dim=2, categorical=(10,), continuous=0))
    out = compute_code_factors(no_codes, images, effects=[], q_continuous=np.zeros((20, 0)))
    assert out["codes"] == [] and out["verdict"]["holds"] is None
    assert out["verdict"]["problems"] == ["the model has no continuous code"]
    assert np.isnan(pearson_r(np.ones(5), np.arange(5)))
    assert pearson_r([1, 2, np.nan, 4], [2, 4, 5, 8]) == pytest.approx(1.0)


def test_the_seed_table_shows_both_halves_per_seed_and_draws_them(tmp_path):
    from experiments import reproduce

    def verdict(holds, shared=False, problems=()):
        return {
            "each_moves_one_factor": True,
            "no_shared_factor": not shared,
            "q_tracks_each": holds,
            "holds": holds,
            "problems": list(problems),
        }

    rows = [
        {
            "seed": 0,
            "accuracy": 0.98,
            "continuous_factors": ["slant", "thickness"],
            "continuous_factor_rho": [0.999, 0.97],
            "continuous_q_r": [0.85, 0.81],
            "continuous_codes_verdict": verdict(True),
        },
        {
            "seed": 1,
            "accuracy": 0.97,
            "continuous_factors": ["slant", "slant"],
            "continuous_factor_rho": [0.999, 0.99],
            "continuous_q_r": [0.7, None],
            "continuous_codes_verdict": verdict(
                False, shared=True, problems=["codes 0, 1 move slant most: two codes share a factor"]
            ),
        },
        {"seed": 2, "accuracy": 0.96},  # scored before code_factors existed
        {"seed": 3, "error": "non-finite d_loss"},
    ]
    summary = reproduce.summarise(rows, target=0.95)
    assert summary["continuous_codes"] == {
        "seeds": 2,
        "holds": 1,
        "each_moves_one_factor": 2,
        "no_shared_factor": 1,
        "q_tracks_each": 1,
    }
    table = reproduce.markdown_table(rows, summary)
    assert (
        "| seed | code 0 moves (\\|ρ\\|) | Q reads it (\\|r\\|) | code 1 moves (\\|ρ\\|) | Q reads it (\\|r\\|) |"
        in table
    )
    assert "| 0 | slant (1.00) | 0.85 | thickness (0.97) | 0.81 | yes |  |" in table
    assert (
        "| 1 | slant (1.00) | 0.70 | slant (0.99) | – | no | codes 0, 1 move slant most: two codes share a factor |"
        in table
    )
    assert "| 2 | " not in table.split("Continuous codes")[1]
    assert (
        "1 of 2 seeds hold both halves (each code moves one factor monotonically: 2, no two codes share one: 1" in table
    )

    path = tmp_path / "code_factors.png"
    assert reproduce.code_factors_figure(rows, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not reproduce.code_factors_figure(rows[2:], str(tmp_path / "none.png"))
    assert reproduce.codes_table(rows[2:]) == "" and not (tmp_path / "none.png").exists()

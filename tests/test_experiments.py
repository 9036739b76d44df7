"""Tests of the studies' logic (experiments/): the seed table, the shade diagnosis, the pooled label-free check.

The studies train for hours and are not run here; what they compute from a
run's records is: interpolated times to a target, the table's summary and its
Markdown, the label-free seed pick, a finished seed kept across a newer
config default, a class split by shade, and the pooled rank correlation.
"""

import dataclasses
import json

import numpy as np
import pytest
from conftest import tiny_config

from experiments import bit_identity, category_shades, label_free_pool, reproduce

pytestmark = pytest.mark.unit


def test_checkpoint_times_are_interpolated_between_logged_steps(tmp_path):
    log = tmp_path / "metrics.jsonl"
    log.write_text(
        "\n".join(
            json.dumps(r)
            for r in (
                {"step": 100, "elapsed_s": 50.0},
                {"step": 200, "elapsed_s": 90.0},
                {"step": 300},
                {"step": 400, "elapsed_s": 170.0},
            )
        )
    )
    logged = reproduce.logged_elapsed(str(log))
    assert logged == {100: 50.0, 200: 90.0, 400: 170.0}
    assert reproduce.elapsed_at(200, logged) == 90.0
    assert reproduce.elapsed_at(250, logged) == 110.0
    assert reproduce.elapsed_at(50, logged) is None and reproduce.elapsed_at(500, logged) is None


def test_seed_table_counts_failures_and_spreads_over_seeds(tmp_path):
    rows = [
        {"seed": 0, "accuracy": 0.98, "nmi": 0.95, "time_to_target_s": 300.0, "steps_to_target": 1000},
        {"seed": 1, "accuracy": 0.96, "nmi": 0.91, "time_to_target_s": 500.0, "steps_to_target": 1750},
        {"seed": 2, "accuracy": 0.89, "nmi": 0.87},  # never reached the target
        {"seed": 3, "error": "non-finite loss at step 7"},
    ]
    summary = reproduce.summarise(rows, target=0.95)
    assert summary["seeds_reaching_target"] == 2 and summary["failed_runs"] == 1 and summary["seeds"] == 4
    assert summary["mean"]["accuracy"] == pytest.approx((0.98 + 0.96 + 0.89) / 3)
    assert summary["std"]["accuracy"] == pytest.approx(np.std([0.98, 0.96, 0.89], ddof=1))
    # Two of four seeds never reached the target: they count as slowest, so the median is unreached.
    assert summary["median"]["time_to_target_s"] is None
    assert reproduce.summarise(rows[:3], target=0.95)["median"]["time_to_target_s"] == 500.0
    table = reproduce.markdown_table(rows, summary)
    assert "| **mean ± std** | 0.9433 ± 0.0473 |" in table
    assert "non-finite loss at step 7" in table
    assert "2 of 4 seeds reach test accuracy >= 0.95; 1 failed to train." in table
    assert summary["label_free_rank_correlation"] == {
        "checkpoints": 0,
        "view_information": None,
        "view_agreement": None,
    }


def test_seed_table_ranks_the_label_free_check_against_accuracy():
    def point(step, accuracy, information, agreement):
        return {"step": step, "accuracy": accuracy, "view_information": information, "view_agreement": agreement}

    rows = [
        {"seed": 0, "curve": [point(250, 0.6, 0.5, 0.7), point(500, 0.8, 0.7, 0.6)]},
        {"seed": 1, "curve": [point(250, 0.7, 0.6, 0.8), point(500, 0.9, 0.8, 0.9)]},
    ]
    rho = reproduce.summarise(rows, target=0.95)["label_free_rank_correlation"]
    assert rho["checkpoints"] == 4
    assert rho["view_information"] == pytest.approx(1.0)  # the same order as the accuracy
    assert rho["view_agreement"] == pytest.approx(0.4)
    assert "over 4 checkpoints: Spearman rho 1.00 (information), 0.40 (agreement)." in reproduce.markdown_table(
        rows, reproduce.summarise(rows, target=0.95)
    )


def test_seed_table_picks_the_seed_with_the_best_label_free_check_without_labels():
    rows = [
        {"seed": 0, "accuracy": 0.84, "view_information": 0.81, "view_agreement": 0.93},
        {"seed": 1, "accuracy": 0.98, "view_information": 0.87, "view_agreement": 0.92},
        {"seed": 2, "accuracy": 0.93, "view_information": 0.84, "view_agreement": 0.94},
        {"seed": 3, "error": "non-finite loss at step 7"},
    ]
    summary = reproduce.summarise(rows, target=0.95)
    pick = summary["label_free_seed_pick"]
    assert (pick["seed"], pick["accuracy"], pick["seeds"]) == (1, 0.98, 3)
    assert pick["rho_view_information"] == pytest.approx(1.0)
    assert pick["rho_view_agreement"] == pytest.approx(-0.5)
    assert (
        "Picked without labels among 3 seeds (highest label-free information): seed 1, test accuracy 0.9800; "
        "across the seeds' last checkpoints Spearman rho 1.00 (information), -0.50 (agreement)."
    ) in reproduce.markdown_table(rows, summary)
    # One scored seed: nothing to pick from.
    assert reproduce.summarise(rows[:1], target=0.95)["label_free_seed_pick"] is None


def test_seconds_per_step_leaves_out_the_first_line_and_follows_a_resume(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    lines = [(100, 80.0), (200, 130.0), (300, 180.0), (400, 40.0), (500, 100.0)]  # resumed at 300
    (run / "metrics.jsonl").write_text("\n".join(json.dumps({"step": s, "elapsed_s": t}) for s, t in lines))
    assert reproduce.seconds_per_step(str(run)) == pytest.approx(0.6)
    (run / "metrics.jsonl").write_text(json.dumps({"step": 100, "elapsed_s": 80.0}))
    assert reproduce.seconds_per_step(str(run)) is None


def test_a_finished_seed_is_kept_when_only_a_newer_default_field_is_missing(tmp_path):
    config = tiny_config(str(tmp_path / "seed_0"))
    saved = json.loads(config.to_json())
    (part,) = [name for name, fields in saved.items() if isinstance(fields, dict) and "q_overcluster" in fields]
    del saved[part]["q_overcluster"]  # written before the field existed (its default trains the same)
    path = tmp_path / "seed_result.json"
    path.write_text(json.dumps({"config": saved, "row": {"seed": 0, "accuracy": 0.97}}))
    assert reproduce.saved_row(str(path), config) == {"seed": 0, "accuracy": 0.97}
    # A real change is still a change, and an unreadable config is no match.
    changed = dataclasses.replace(config, optim=dataclasses.replace(config.optim, lambda_cat=3.0))
    assert reproduce.saved_row(str(path), changed) is None
    path.write_text(json.dumps({"config": {"model": {}}, "row": {}}))
    assert reproduce.saved_row(str(path), config) is None


def test_category_shades_finds_a_class_split_into_dark_and_light_parts():
    import tensorflow as tf

    from infogan_tf.data.augment import level_ink

    rng = np.random.RandomState(0)
    shape = np.zeros([12, 28, 28, 1], np.float32)
    shape[:, 6:22, 8:20] = rng.uniform(0.3, 1.0, [16, 12, 1])  # one garment, printed in three shades
    images = shape * np.array([0.4] * 4 + [1.0] * 4 + [0.9] * 4, np.float32)[:, None, None, None]
    labels = np.array([0] * 8 + [1] * 4)
    categories = np.array([3] * 4 + [5] * 4 + [7] * 4)  # class 0: dark ones in 3, light ones in 5
    (split,) = category_shades.split_classes(categories, labels, images, share=0.15)
    dark, light = split["parts"]
    assert split["label"] == 0 and (dark["category"], light["category"]) == (3, 5)
    assert dark["count"] == light["count"] == 4 and dark["coverage"] == light["coverage"]
    assert light["shade"] == pytest.approx(dark["shade"] / 0.4, rel=1e-6)
    # The shade is the brightness --real_info_level_ink sets (to 0.7 of the range).
    levelled = (level_ink(tf.constant(images * 2.0 - 1.0)).numpy() + 1.0) / 2.0
    np.testing.assert_allclose(category_shades.shade(levelled), 0.7, rtol=1e-4)
    # Split by shade, not by size; a small and a large copy of the garment are split by size.
    assert category_shades.split_kinds([split], shade_gap=0.2, size_gap=0.05) == ([0], [])
    small = np.zeros_like(shape)
    small[:, 10:18, 10:16] = shape[:, 10:18, 10:16]
    sized = category_shades.split_classes(categories[:8], labels[:8], np.concatenate([shape[:4], small[:4]]), 0.15)
    assert category_shades.split_kinds(sized, shade_gap=0.2, size_gap=0.05) == ([], [0])


def test_label_free_pool_ranks_each_run_once_over_every_table(tmp_path, capsys):
    def row(run, accuracy, information, agreement):
        return {
            "seed": int(run[-1]),
            "model_dir": run,
            "steps": 3000,
            "accuracy": accuracy,
            "view_information": information,
            "view_agreement": agreement,
        }

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b").mkdir()
    # Information ranks the runs as their accuracy does; agreement the other way round.
    good, mid, bad = row("r/0", 0.9, 0.8, 0.1), row("r/1", 0.7, 0.6, 0.2), row("r/2", 0.5, 0.4, 0.3)
    (tmp_path / "a" / "results.json").write_text(json.dumps({"rows": [good, mid]}))
    # The same run listed again (a rescored table) counts once; an unscored row not at all.
    unscored = {"seed": 3, "model_dir": "r/3", "steps": 3000, "accuracy": 0.1, "view_information": None}
    (tmp_path / "a" / "b" / "results_sample_quality.json").write_text(json.dumps({"rows": [good, bad, unscored]}))
    rows = label_free_pool.pooled_rows([str(tmp_path)])
    assert sorted(r["model_dir"] for r in rows) == ["r/0", "r/1", "r/2"]
    assert label_free_pool.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 runs: Spearman rho 1.00 (information), -1.00 (agreement)")
    assert "highest information: accuracy 0.9000, lowest: 0.5000" in out
    assert label_free_pool.main([]) == 2
    assert label_free_pool.main([str(tmp_path / "a" / "b" / "nothing")]) == 1
    assert "too few to rank" in capsys.readouterr().err


def test_bit_identity_names_each_variable_and_metric_that_differs_and_ignores_timings():
    weights = {"g/kernel": np.arange(4.0), "d/bias": np.zeros(2)}
    rows = [{"step": 1, "d_loss": 1.5, "elapsed_s": 3.0, "steps_per_sec": 2.0}]
    same = bit_identity.compare(weights, dict(weights), rows, [{**rows[0], "elapsed_s": 9.0, "steps_per_sec": 1.0}])
    assert same == bit_identity.Difference([], [])
    nudged = {**weights, "g/kernel": np.nextafter(np.arange(4.0), 5.0), "q/new": np.ones(1)}
    diff = bit_identity.compare(weights, nudged, rows, [{**rows[0], "d_loss": 1.5000001}, {"step": 2}])
    assert diff.variables == ["q/new", "g/kernel"]
    assert diff.metrics == ["1 rows against 2", "step 1: d_loss"]

"""Tests of the benchmark's FLOP count, the optional PyTorch baseline's skip path and the shade diagnosis.

The benchmark itself (benchmarks/benchmark.py) measures wall time and is not
run here; what it computes from shapes is: the analytic conv/matmul FLOPs of
a train step (benchmarks/flops.py) must equal the MACs of the MatMul/Conv2D*
ops that the traced train step actually runs.
"""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, TINY_MODEL, tiny_config

from infogan_tf.latent import LatentSpec

sys.path.insert(0, os.path.join(REPO, "benchmarks"))
import benchmark
import flops

# The layer tables of the svhn (no FC layers, four upconvolutions) and chairs (stride-1 layers) presets, tiny.
SVHN_TINY = dataclasses.replace(
    TINY_MODEL, image_shape=(32, 32, 3), g_fc_units=0, g_filters=(16, 8, 8, 4), g_upconv_batchnorm=1,
    d_filters=(4, 8, 8), d_fc_units=0,
)  # fmt: skip
CHAIRS_TINY = dataclasses.replace(
    TINY_MODEL, image_shape=(64, 64, 1), g_filters=(8, 8, 8, 4, 4), g_grid=8, d_filters=(4, 4, 8, 8, 8)
)


@pytest.mark.parametrize(
    "latent, model",
    [
        (LatentSpec(), dataclasses.replace(TINY_MODEL, continuous_std="learned")),
        (LatentSpec(noise_dim=5, categorical=(10, 4), continuous=1), TINY_MODEL),
        (LatentSpec(noise_dim=5, categorical=(10, 4), continuous=1), SVHN_TINY),
        (LatentSpec(noise_dim=5, categorical=(10, 4), continuous=1), CHAIRS_TINY),
    ],
    ids=["mnist_learned_std", "mnist_fixed_std", "svhn_table", "chairs_table"],
)
def test_analytic_flops_equal_the_traced_train_step(tmp_path, latent, model):
    # The step the benchmark times and flops.py counts: the joint update of the paper's objective.
    cfg = tiny_config(str(tmp_path), update="joint", lambda_real_info=0.0, real_info_view="same")
    cfg = dataclasses.replace(cfg, latent=latent, model=model)
    traced = benchmark.traced_train_step_macs(cfg)
    work = flops.step_work(cfg.latent, cfg.model, cfg.optim.batch_size)
    assert 2 * sum(traced.values()) == work.train_step_flops
    # Forward, input-gradient and weight-gradient convolutions all appear.
    assert set(traced) == {"MatMul", "Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"}
    assert not os.listdir(tmp_path)  # tracing wrote nothing into the configured model_dir


def test_flop_formula_counts_the_paper_mnist_layers():
    from infogan_tf.config import TrainConfig

    cfg = TrainConfig()
    layers = {f"{layer.network}/{layer.name}": layer.macs for layer in flops.layer_work(cfg.latent, cfg.model)}
    # FC 1024 -> 7x7x128; upconv 7x7x128 -> 14x14x64 with 4x4 kernels; conv 14x14x64 -> 7x7x128.
    assert layers["generator/fc2"] == 1024 * 7 * 7 * 128
    assert layers["generator/upconv1"] == 7 * 7 * 16 * 128 * 64
    assert layers["discriminator/conv2"] == 7 * 7 * 16 * 64 * 128
    assert flops.step_work(cfg.latent, cfg.model, 64).generator_flops_per_image == 2 * sum(
        m for k, m in layers.items() if k.startswith("generator/")
    )


def test_torch_baseline_skips_cleanly_without_torch(tmp_path):
    # A `torch` module that fails to import, first on the path: as if torch were absent.
    (tmp_path / "torch.py").write_text("raise ImportError('No module named torch')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO, "benchmarks", "torch_baseline.py"), "--steps=1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "torch is not installed" in json.loads(proc.stdout.strip().splitlines()[-1])["skipped"]
    assert "skipped" in proc.stderr


@pytest.mark.parametrize(
    "model", [TINY_MODEL, dataclasses.replace(TINY_MODEL, image_shape=(32, 32, 3)), SVHN_TINY, CHAIRS_TINY]
)
def test_generator_weight_bytes_match_the_built_generator(model):
    import numpy as np

    from infogan_tf.model.networks import Generator

    latent = LatentSpec(noise_dim=7, categorical=(10, 4), continuous=2)
    generator = Generator(latent, model).build_variables()
    built = sum(np.asarray(v.numpy()).nbytes for v in generator.variables)
    assert flops.generator_weight_bytes(latent, model) == built


def test_checkpoint_times_are_interpolated_between_logged_steps(tmp_path):
    import reproduce

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
    import reproduce

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
    import reproduce

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
    import reproduce

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
    import reproduce

    run = tmp_path / "run"
    run.mkdir()
    lines = [(100, 80.0), (200, 130.0), (300, 180.0), (400, 40.0), (500, 100.0)]  # resumed at 300
    (run / "metrics.jsonl").write_text("\n".join(json.dumps({"step": s, "elapsed_s": t}) for s, t in lines))
    assert reproduce.seconds_per_step(str(run)) == pytest.approx(0.6)
    (run / "metrics.jsonl").write_text(json.dumps({"step": 100, "elapsed_s": 80.0}))
    assert reproduce.seconds_per_step(str(run)) is None


def _serving_part(batch1_ms: float, batch1024_gflops: float) -> dict:
    def entry(ms, gflops):
        return {"latency": {"median_ms": ms}, "images_per_sec": 1.0, "gflops": gflops, "gflops_per_cpu_second": gflops}

    return {"batches": {"1": entry(batch1_ms, 1.0), "1024": entry(900.0, batch1024_gflops)}, "peak_rss_mb": 800}


def test_summary_names_the_export_that_meets_each_serving_target():
    train = {
        "images_per_sec": 150.0,
        "gflops": 40.0,
        "gflops_per_cpu_second": 50.0,
        "images_per_cpu_second": 80.0,
        "peak_rss_mb": 1500,
        "load_average": {"before": [0.5, 0.5, 0.5]},
    }
    report = {
        "gemm_peak": {"gflops": 100.0, "gflops_per_cpu_second": 60.0, "before": {"peak_rss_mb": 900}},
        "train": {"float32": train, "bfloat16": {"error": "refused"}},
        "input_pipeline": {"images_per_sec": 30000.0, "peak_rss_mb": 700},
        "memory_bandwidth": {"batch1_floor_ms": 3.5},
        "settings": {"valid_step_count": True},
        "serving": _serving_part(batch1_ms=4.5, batch1024_gflops=45.0),
        "serving_xla": _serving_part(batch1_ms=2.5, batch1024_gflops=30.0),
    }
    summary = benchmark.summarize(report)
    targets = summary["targets"]
    assert targets["serving_batch1_latency_ms"] == {
        "value": 2.5,
        "target": "<= 3.0",
        "met": True,
        "export": "serving_xla",
    }
    assert targets["serving_batch1024_fraction_of_gemm_peak"]["export"] == "serving"
    assert targets["serving_batch1024_fraction_of_gemm_peak"]["value"] == pytest.approx(0.45)
    assert summary["serving_median_ms"] == {"1": 4.5, "1024": 900.0}
    assert summary["serving_xla_median_ms"] == {"1": 2.5, "1024": 900.0}
    assert summary["peak_rss_mb"]["serving_xla"] == 800 and summary["train_failed"] == {"bfloat16": "refused"}
    assert targets["input_pipeline_vs_fastest_train_step"]["value"] == pytest.approx(200.0)
    # Without the XLA export (--saved_model given), the default export alone is judged.
    del report["serving_xla"]
    assert benchmark.summarize(report)["targets"]["serving_batch1_latency_ms"]["export"] == "serving"


_FAKE_CHILD = """
import sys, time
sys.path.insert(0, sys.argv[1])
import blocks
name = sys.argv[2]
if name == "broken":
    raise SystemExit("the broken child gave up")
def run_steps(wanted):
    with open(sys.argv[3], "a") as log:
        log.write(name + "\\n")
    return 2  # two steps per call, like a steps-per-loop call
blocks.serve(run_steps, {"framework": name})
"""


def test_blocks_alternate_children_in_flipping_order_and_report_each_block(tmp_path):
    import blocks

    script, order = tmp_path / "child.py", tmp_path / "order.txt"
    script.write_text(_FAKE_CHILD)
    bench = os.path.join(REPO, "benchmarks")
    children = [blocks.Child(n, [sys.executable, str(script), bench, n, str(order)]) for n in ("a", "b")]
    try:
        assert [c.ready for c in children] == [{"framework": "a"}, {"framework": "b"}]
        timed = blocks.alternate(children, rounds=3, block_steps=4)
    finally:
        for c in children:
            c.close()
    # Each block of 4 steps is two calls; the order is a b, b a, a b.
    assert order.read_text().split() == list("aabbbbaaaabb")
    for name in "ab":
        assert len(timed[name]) == 3
        assert all(b["steps"] == 4 and b["wall_s"] >= 0 and b["cpu_s"] >= 0 for b in timed[name])
    assert all(c.proc.returncode == 0 for c in children)


def test_a_child_that_dies_is_one_error_with_its_last_words(tmp_path):
    import blocks

    script = tmp_path / "child.py"
    script.write_text(_FAKE_CHILD)
    with pytest.raises(RuntimeError, match="broken exited before it was ready: the broken child gave up"):
        blocks.Child("broken", [sys.executable, str(script), os.path.join(REPO, "benchmarks"), "broken", "-"])


def test_a_finished_seed_is_kept_when_only_a_newer_default_field_is_missing(tmp_path):
    import reproduce

    config = tiny_config(str(tmp_path / "seed_0"))
    saved = json.loads(config.to_json())
    del saved["model"]["q_overcluster"]  # written before the field existed (its default trains the same)
    path = tmp_path / "seed_result.json"
    path.write_text(json.dumps({"config": saved, "row": {"seed": 0, "accuracy": 0.97}}))
    assert reproduce.saved_row(str(path), config) == {"seed": 0, "accuracy": 0.97}
    # A real change is still a change, and an unreadable config is no match.
    changed = dataclasses.replace(config, optim=dataclasses.replace(config.optim, lambda_real_info=3.0))
    assert reproduce.saved_row(str(path), changed) is None
    path.write_text(json.dumps({"config": {"model": {}}, "row": {}}))
    assert reproduce.saved_row(str(path), config) is None


def test_category_shades_finds_a_class_split_into_dark_and_light_parts():
    import category_shades
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
    import label_free_pool

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

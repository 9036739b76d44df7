"""Tests of the speed benchmarks' logic: the FLOP count, the harness, the optional PyTorch baseline's skip path.

The benchmarks themselves (``python -m benchmarks.benchmark``, ...) measure
wall time and are not run here; what they compute from shapes is: the
analytic conv/matmul FLOPs of a train step (benchmarks.flops) must equal the
MACs of the MatMul/Conv2D* ops that the traced train step actually runs.
The studies of ``experiments/`` have their tests in test_experiments.py.
"""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, TINY_MODEL, tiny_config

from benchmarks import benchmark, flops, harness, step_flops
from infogan_tf.latent import LatentSpec

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
    cfg = step_flops.with_fields(
        tiny_config(str(tmp_path)), update="joint", lambda_real_info=0.0, real_info_view="same"
    )
    cfg = dataclasses.replace(cfg, latent=latent, model=model)
    traced = step_flops.traced_train_step_macs(cfg)
    work = flops.step_work(cfg.latent, cfg.model, cfg.optim.batch_size)
    assert 2 * sum(traced.values()) == work.train_step_flops
    # Forward, input-gradient and weight-gradient convolutions all appear.
    assert set(traced) == {"MatMul", "Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"}
    assert not os.listdir(tmp_path)  # tracing wrote nothing into the configured model_dir


@pytest.mark.unit
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
        harness.module_argv("torch_baseline", "--steps=1"),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert "torch is not installed" in json.loads(proc.stdout.strip().splitlines()[-1])["skipped"]
    assert "skipped" in proc.stderr


@pytest.mark.unit
@pytest.mark.parametrize(
    "model", [TINY_MODEL, dataclasses.replace(TINY_MODEL, image_shape=(32, 32, 3)), SVHN_TINY, CHAIRS_TINY]
)
def test_generator_weight_bytes_match_the_built_generator(model):

    from infogan_tf.model.networks import Generator

    latent = LatentSpec(noise_dim=7, categorical=(10, 4), continuous=2)
    generator = Generator(latent, model).build_variables()
    built = sum(np.asarray(v.numpy()).nbytes for v in generator.variables)
    assert flops.generator_weight_bytes(latent, model) == built


def _serving_part(batch1_ms: float, batch1024_gflops: float) -> dict:
    def entry(ms, gflops):
        return {"latency": {"median_ms": ms}, "images_per_sec": 1.0, "gflops": gflops, "gflops_per_cpu_second": gflops}

    return {"batches": {"1": entry(batch1_ms, 1.0), "1024": entry(900.0, batch1024_gflops)}, "peak_rss_mb": 800}


@pytest.mark.unit
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
import sys
from benchmarks import harness
name = sys.argv[2]
if name == "broken":
    raise SystemExit("the broken child gave up")
def run_steps(wanted):
    with open(sys.argv[3], "a") as log:
        log.write(name + "\\n")
    return 2  # two steps per call, like a steps-per-loop call
harness.serve(run_steps, {"framework": name})
"""


def test_blocks_alternate_children_in_flipping_order_and_report_each_block(tmp_path):
    script, order = tmp_path / "child.py", tmp_path / "order.txt"
    script.write_text(_FAKE_CHILD)
    env = harness.child_env()
    children = [harness.Child(n, [sys.executable, str(script), "-", n, str(order)], env) for n in ("a", "b")]
    try:
        assert [c.ready for c in children] == [{"framework": "a"}, {"framework": "b"}]
        timed = harness.alternate(children, rounds=3, block_steps=4)
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
    script = tmp_path / "child.py"
    script.write_text(_FAKE_CHILD)
    with pytest.raises(RuntimeError, match="broken exited before it was ready: the broken child gave up"):
        harness.Child("broken", [sys.executable, str(script), "-", "broken", "-"], harness.child_env())

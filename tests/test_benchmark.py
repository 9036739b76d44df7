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
from conftest import REPO, TINY_MODEL, random_images, tiny_config

from benchmarks import benchmark, flops, harness, peak, profile_step, step_flops, step_vs_torch, torch_baseline
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
        "mixed_precision": "float32",
        "images_per_sec": 150.0,
        "gflops": 40.0,
        "gflops_per_cpu_second": 50.0,
        "images_per_cpu_second": 80.0,
        "peak_rss_mb": 1500,
        "load_average": {"before": [0.5, 0.5, 0.5]},
    }
    report = {
        "gemm_peak": {
            "float32": {"gflops": 100.0, "gflops_per_cpu_second": 60.0, "before": {"peak_rss_mb": 900}},
            "bfloat16": {"dtype": "bfloat16", "skipped": "no native bfloat16"},
        },
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


def _steps_report() -> dict:
    """A report of four bf16-capable children: train entries with the precision each computes in."""
    train = lambda precision, ips: {
        "mixed_precision": precision,
        "images_per_sec": ips,
        "gflops": ips / 2,
        "gflops_per_cpu_second": ips,
        "images_per_cpu_second": ips,
        "peak_rss_mb": 1000,
        "load_average": {"before": [0.5]},
    }
    torch = lambda precision, ips: {"precision": precision, "images_per_sec": ips, "gflops": ips / 4}
    return {
        "gemm_peak": {
            "float32": {"gflops": 100.0, "gflops_per_cpu_second": 50.0, "before": {"peak_rss_mb": 900}},
            "bfloat16": {"gflops": 400.0, "gflops_per_cpu_second": 200.0},
        },
        "train": {"float32_xla": train("float32", 300.0), "bfloat16": train("bfloat16", 500.0)},
        "torch_baseline": {
            "torch eager float32": torch("float32", 200.0),
            "torch compile float32": torch("float32", 250.0),
            "torch eager bfloat16": torch("bfloat16", 400.0),
        },
        "input_pipeline": {"images_per_sec": 30000.0, "peak_rss_mb": 700},
        "memory_bandwidth": {"batch1_floor_ms": 3.5},
        "settings": {"valid_step_count": True},
    }


@pytest.mark.unit
def test_summary_measures_each_step_against_its_precision_and_the_fastest_torch_alike():
    report = _steps_report()
    summary = benchmark.summarize(report)
    # A bf16 step against the bf16 peak, a float32 one against the float32 peak.
    assert summary["train_fraction_of_gemm_peak"] == {"float32_xla": 1.5, "bfloat16": pytest.approx(0.625)}
    assert summary["torch_fraction_of_gemm_peak"]["torch eager bfloat16"] == pytest.approx(0.25)
    targets = summary["targets"]
    assert targets["train_vs_fastest_torch"] == {
        "value": 1.25, "target": ">= 1.5", "met": False, "ours": "bfloat16", "torch": "torch eager bfloat16"
    }  # fmt: skip
    assert targets["train_float32_vs_fastest_torch_float32"] == {
        "value": 1.2, "target": ">= 1.2", "met": True, "ours": "float32_xla", "torch": "torch compile float32"
    }  # fmt: skip
    # Without torch the comparison says why it is missing.
    report["torch_baseline"] = {"skipped": "torch is not installed"}
    assert benchmark.summarize(report)["targets"]["train_vs_fastest_torch"] == {"skipped": "torch is not installed"}


@pytest.mark.unit
def test_pytorch_is_tried_in_bfloat16_only_where_the_cpu_computes_it():
    assert step_vs_torch.torch_configurations(native_bfloat16=False) == [(False, "float32"), (True, "float32")]
    assert step_vs_torch.torch_configurations(native_bfloat16=True) == [
        (False, "float32"), (True, "float32"), (False, "bfloat16"), (True, "bfloat16")
    ]  # fmt: skip
    names = [torch_baseline.configuration_name(c, p) for c, p in step_vs_torch.torch_configurations(True)]
    assert names == ["torch eager float32", "torch compile float32", "torch eager bfloat16", "torch compile bfloat16"]


@pytest.mark.unit
def test_alternation_reverses_the_order_every_other_round():
    assert harness.alternation_order(["a", "b", "c"], rounds=3) == list("abccbaabc")
    assert harness.alternation_order(["a"], rounds=2) == ["a", "a"]


def _blocks(per_step_s: list[float], steps: int = 10) -> list[dict]:
    return [{"steps": steps, "wall_s": s * steps, "cpu_s": 2 * s * steps} for s in per_step_s]


@pytest.mark.unit
def test_our_default_is_judged_against_the_fastest_torch_and_float32_against_the_fastest_float32():
    peaks = {"float32": {"gflops": 100.0}, "bfloat16": {"gflops": 200.0}}
    timed = {
        step_vs_torch.OURS_DEFAULT: _blocks([0.10, 0.10, 0.12]),
        step_vs_torch.OURS_FLOAT32: _blocks([0.20, 0.20, 0.20]),
        "torch eager float32": _blocks([0.25, 0.25, 0.25]),
        "torch compile float32": _blocks([0.24, 0.22, 0.30]),
        "torch eager bfloat16": _blocks([0.15, 0.18, 0.15]),
        "torch compile bfloat16": _blocks([0.16, 0.16, 0.16]),
    }
    precision = lambda name: "float32" if name.endswith("float32") else "bfloat16"
    steps = {
        name: step_vs_torch.figures({"framework": name, "precision": precision(name)}, blocks, 64, 2.0, peaks)
        for name, blocks in timed.items()
    }
    steps[step_vs_torch.OURS_DEFAULT]["precision"] = "bfloat16"
    assert steps["torch eager bfloat16"]["step_ms"]["median"] == pytest.approx(150.0)
    assert steps["torch eager bfloat16"]["images_per_sec"] == pytest.approx(64 / 0.15)
    assert steps["torch eager bfloat16"]["cpu_seconds_per_step"] == pytest.approx(0.30)
    assert steps["torch eager bfloat16"]["fraction_of_peak"] == pytest.approx(2.0 / 0.15 / 200.0)
    assert steps[step_vs_torch.OURS_FLOAT32]["fraction_of_peak"] == pytest.approx(2.0 / 0.20 / 100.0)
    judged = step_vs_torch.judge(steps, timed)
    default = judged["default_vs_fastest_torch"]
    # The fastest PyTorch is bf16 eager (median 0.15 s): not the float32 one an unlike comparison would take.
    assert (default["ours"], default["torch"]) == (step_vs_torch.OURS_DEFAULT, "torch eager bfloat16")
    assert default["images_per_sec_ratio"] == pytest.approx(1.5)
    # Per round, same-round blocks: 0.15/0.10, 0.18/0.10, 0.15/0.12.
    assert default["ratio_per_round"] == {
        "min": pytest.approx(1.25),
        "median": pytest.approx(1.5),
        "max": pytest.approx(1.8),
    }
    float32 = judged["float32_vs_fastest_torch_float32"]
    assert (float32["ours"], float32["torch"]) == (step_vs_torch.OURS_FLOAT32, "torch compile float32")
    assert float32["images_per_sec_ratio"] == pytest.approx(1.2)
    assert judged["targets"]["default_step_vs_fastest_torch"]["met"] is True
    assert judged["targets"]["float32_step_vs_fastest_torch_float32"]["met"] is True
    assert len(judged["every_pair"]) == 8
    table = step_vs_torch.table({"steps": steps, **judged})
    assert "| infogan_tf default (bfloat16) | torch eager bfloat16 | 640 | 427 | **1.50×** (1.25-1.80) |" in table
    assert "| infogan_tf default (bfloat16) | torch eager float32 | 640 | 256 | 2.50×" in table
    # Without native bf16 the default computes in float32: it is also the float32 step judged.
    del steps[step_vs_torch.OURS_FLOAT32], timed[step_vs_torch.OURS_FLOAT32]
    for name in [n for n in steps if n.endswith("bfloat16")]:
        del steps[name], timed[name]
    alone = step_vs_torch.judge(steps, timed)["float32_vs_fastest_torch_float32"]
    assert (alone["ours"], alone["torch"]) == (step_vs_torch.OURS_DEFAULT, "torch compile float32")


@pytest.mark.unit
def test_peaks_keep_the_higher_measurement_and_a_missing_precision_gives_no_fraction():
    m = lambda g: {"gflops": g, "gflops_per_cpu_second": g / 2}
    skipped = {"dtype": "bfloat16", "skipped": "no native bfloat16"}
    best = peak.best({"float32": m(90.0), "bfloat16": skipped}, {"float32": m(100.0), "bfloat16": skipped})
    assert best["float32"]["gflops"] == 100.0 and best["float32"]["gflops_per_cpu_second"] == 50.0
    assert best["bfloat16"] == skipped
    assert peak.fraction_of_peak(50.0, "float32", best) == 0.5
    assert peak.fraction_of_peak(50.0, "bfloat16", best) is None


@pytest.mark.unit
@pytest.mark.parametrize(
    "name, op_type, expected",
    [
        ("while/body/_1/gradient_tape/while/discriminator_1/conv2_1/convolution/Conv2DBackpropFilter",
         "_MklNativeConv2DBackpropFilter", "conv_matmul"),
        ("while/body/_1/while/generator_3/fc2_1/MatMul", "_MklMatMul", "conv_matmul"),
        ("while/body/_1/while/generator_3/fc2_1/Cast/Cast", "Cast", "cast"),
        ("while/body/_1/gradient_tape/while/discriminator_1/bn2_1/batchnorm/mul_1/Mul_1", "Mul", "batch_norm"),
        ("while/body/_1/while/fused_adam_1/ResourceApplyAdam_5", "ResourceApplyAdam", "optimiser"),
        ("while/body/_1/while/global_norm_1/L2Loss_3", "L2Loss", "optimiser"),
        ("while/body/_1/while/GatherV2_3", "GatherV2", "views"),
        ("while/body/_1/while/stateless_random_uniform_1", "StatelessRandomUniformFullIntV2", "views"),
        ("while/body/_1/while/second_views/mul_4", "Mul", "views"),
        ("while/body/_1/while/discriminator_1/LeakyRelu", "LeakyRelu", "other"),
        ("while/body/_1/while/Softmax_1", "_MklSoftmax", "other"),
    ],
)  # fmt: skip
def test_the_profile_sorts_each_op_into_its_class(name, op_type, expected):
    assert profile_step.op_class(name, op_type) == expected


@pytest.mark.unit
def test_the_profile_reads_op_events_from_the_trace_and_shares_their_time():
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    plane = space.planes.add(name="/host:CPU")
    labels = {
        1: "while/body/_1/while/generator_1/fc2_1/MatMul:_MklMatMul",
        2: "while/body/_1/while/fused_adam/ResourceApplyAdam:ResourceApplyAdam",
        3: "ExecutorState::Process",  # a runtime marker, not an op
        4: "EagerLocalExecute: __inference_step_10",
        5: "ParallelMapV2:ParallelMapV2",  # an input-pipeline op, on tf.data's threads
    }
    for key, label in labels.items():
        plane.event_metadata[key].id = key
        plane.event_metadata[key].name = label
    compute, data = plane.lines.add(name="tf_Compute/1"), plane.lines.add(name="tf_data_private_threadpool")
    for key, ps in ((1, 3e9), (2, 1e9), (3, 9e9), (4, 9e9), (1, 2e9)):
        compute.events.add(metadata_id=key, duration_ps=int(ps))
    data.events.add(metadata_id=5, duration_ps=int(7e9))
    events = list(profile_step.op_events(space))
    assert [e[1] for e in events] == ["_MklMatMul", "ResourceApplyAdam", "_MklMatMul"]
    result = profile_step.breakdown(events)
    assert result["op_seconds"] == pytest.approx(6e-3)
    assert result["shares"]["conv_matmul"] == pytest.approx(5 / 6) and result["shares"]["optimiser"] == pytest.approx(
        1 / 6
    )
    assert result["top_ops"][0] == {"op": labels[1], "seconds": pytest.approx(5e-3)}
    assert set(result["shares"]) == set(profile_step.CLASSES)


@pytest.mark.slow
@pytest.mark.parametrize("update", ["alternating", "joint"])
def test_the_pytorch_step_runs_in_bfloat16_autocast_on_the_same_images(tmp_path, update):
    pytest.importorskip("torch", reason="PyTorch is optional (pip install -e .[bench]); the comparison needs it")
    images = random_images(16)
    np.save(tmp_path / "images.npy", images)
    argv = harness.module_argv(
        "torch_baseline", "--steps=1", "--warmup_steps=1", "--batch_size=4", "--precision=bfloat16",
        f"--update={update}", f"--images_npy={tmp_path / 'images.npy'}",
    )  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, env=harness.child_env(), timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["framework"] == "torch eager bfloat16" and result["update"] == update
    assert result["losses_finite"] and result["images_per_sec"] > 0

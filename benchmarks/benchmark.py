"""Speed of infogan_tf on this machine: train step, input pipeline, serving, memory, FLOP efficiency.

Prints one JSON document (and writes it to ``--output`` if given):

    python -m benchmarks.benchmark --images=mnist --manual_dir=../shared/data/mnist \\
        --output=runs/benchmark.json

What is measured (each part runs in its own Python subprocess, so its peak
RSS is its own and one part's threads or caches cannot help another):

* ``gemm_peak``: this machine's matmul rate per precision (``benchmarks.peak``:
  float32, and bfloat16 where the CPU computes it natively), the best of
  ``--gemm_repeats`` ``tf.matmul`` timings of each ``--gemm_sizes`` square
  size, in GFLOP/s. Measured at the start and at the end of the run (the CPU
  may be shared); efficiencies use the higher of the two, each step against
  the peak of the precision it computes in.
* ``memory_bandwidth``: read rate of ``tf.reduce_sum`` over an array the
  size of the generator's weights (and over 64 MB), and the time to read the
  generator's weights once: a lower bound of a batch-1 serving call.
* ``train``: for the default strategy and each of ``--mixed_precision``
  float32 | bfloat16 x ``--jit_compile`` off | on, the paper's MNIST model at
  ``--batch_size``: per-step wall times of ``infogan_tf.training.loop.Trainer``'s compiled step
  (the one ``train()`` runs: batch fetch + the whole update), each synced on
  its d_loss, over ``--steps`` steps after ``--warmup_steps``; images/s =
  batch / median step time; GFLOP/s and the fraction of the GEMM peak use the
  conv/matmul FLOPs of ``benchmarks.flops``.
* ``input_pipeline``: batches/s and images/s of ``data.make_input_fn`` alone,
  distributed by the default strategy exactly as in training, and its ratio
  to the fastest train step (it must be >= 10x so data never starves a step).
* ``serving``: ``tf.saved_model.load(path).signatures["serving_default"]``
  (z, c) -> images at batch 1, 64 and 1024: median latency (ms), images/s,
  GFLOP/s and fraction of the GEMM peak. The SavedModel is ``--saved_model``
  or, by default, one written by ``infogan_tf.serving.export.export`` from a fresh
  (step 0) checkpoint of the default configuration (latency does not depend
  on the weight values). ``serving_xla``: the same for the export made with
  ``jit_compile=True`` (``infogan-export --jit_compile``); not run with
  ``--saved_model``. The serving targets report the better of the two.
* ``flops``: FLOPs per train step and per generated image from the layer
  shapes (``benchmarks.flops``), cross-checked against the MatMul/Conv2D*
  ops of the traced train step that are actually run.
* ``torch_baseline``: ``benchmarks.torch_baseline --update=joint`` (the same
  architecture and joint update in PyTorch) in every configuration a PyTorch
  user of this CPU would try (eager and ``torch.compile``, float32 and, with
  native bfloat16, bf16 autocast), each in its own process, if torch is
  installed; the summary sets our fastest variant against PyTorch's fastest
  and our fastest float32 variant against PyTorch's fastest float32.
* ``default_vs_torch`` (with torch installed): ``benchmarks.step_vs_torch``
  -- infogan-train's DEFAULT step (as ``train()`` runs it) and its float32
  form against the PyTorch two-update paper step in every configuration,
  alternated block by block in one run: the like-with-like table and the
  targets (default >= 1.5x PyTorch's fastest, float32 >= 1.2x PyTorch's
  fastest float32).
* ``peak_rss_mb`` of every part; ``load_average`` before and after each part;
  CPU time (all threads) per step or call next to wall time, a measure of the
  work that other processes on the machine change less.

``--images=mnist`` trains on the real MNIST training split (prepared from
``--manual_dir`` / ``--data_dir`` by ``infogan_tf.data.datasets.load_train_images``);
``--images=random`` on 60,000 uniform random uint8 images of the same shape
(no data needed; the compute is the same).

This is a benchmark, not a test: targets are reported under ``targets``
(met or not), never asserted. The numbers depend on what else runs on the
machine: ``load_average`` shows how busy it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app, flags

from benchmarks import flops as flops_lib
from benchmarks import harness, peak, step_flops, step_vs_torch
from benchmarks.harness import PartError, distribution, timed
from benchmarks.torch_baseline import configuration_name
from infogan_tf import config as config_lib  # TF-free

MIN_TIMED_STEPS = 50
TRAIN_VARIANTS = (("float32", False), ("float32", True), ("bfloat16", False), ("bfloat16", True))
# Targets of the performance issues, checked (not asserted) in the summary.
TARGET_TORCH_RATIO = step_vs_torch.TARGET_DEFAULT_RATIO  # our fastest variant / PyTorch's fastest configuration
TARGET_TORCH_FLOAT32_RATIO = step_vs_torch.TARGET_FLOAT32_RATIO  # the same in float32 on both sides
TARGET_TRAIN_PEAK_FRACTION = 0.5
TARGET_SERVING_BATCH1_MS = 3.0
TARGET_SERVING_1024_PEAK_FRACTION = 0.4
TARGET_PIPELINE_RATIO = 10.0

FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_enum("images", "random", ["random", "mnist"], "Training images: real MNIST or random uint8.")
    flags.DEFINE_string("manual_dir", None, "MNIST's original files (for --images=mnist).")
    flags.DEFINE_string("data_dir", None, "TFDS data directory (for --images=mnist).")
    flags.DEFINE_integer("batch_size", 64, "Global batch size of the train step.")
    flags.DEFINE_enum(
        "strategy",
        "default",
        ["default", "one_device", "mirrored"],
        "Strategy of the train parts (as infogan-train's flag; the issue's figures use default).",
    )
    flags.DEFINE_integer("num_devices", 0, "As infogan-train's --num_devices, for --strategy=mirrored.")
    flags.DEFINE_string("device", "/cpu:0", "As infogan-train's --device, for --strategy=one_device.")
    flags.DEFINE_integer("steps", 60, f"Timed train steps per variant (>= {MIN_TIMED_STEPS} for a valid figure).")
    flags.DEFINE_integer("warmup_steps", 10, "Untimed train steps first (tracing, XLA compilation, caches).")
    flags.DEFINE_list(
        "variants",
        [f"{p}:{'xla' if j else 'noxla'}" for p, j in TRAIN_VARIANTS],
        "Train variants to run, as precision:xla|noxla.",
    )
    flags.DEFINE_integer("pipeline_batches", 3000, "Batches read in the input-pipeline measurement.")
    flags.DEFINE_list("serving_batches", ["1", "64", "1024"], "Batch sizes of the serving measurement.")
    flags.DEFINE_float("serving_seconds", 5.0, "Approximate timed seconds per serving batch size (>= 10 calls).")
    flags.DEFINE_string("saved_model", None, "A SavedModel version directory to serve; default: export a fresh one.")
    flags.DEFINE_list("gemm_sizes", ["2048", "3072", "4096"], "Square fp32 matmul sizes of the GEMM-peak measurement.")
    flags.DEFINE_integer("gemm_repeats", 5, "Timed matmuls per GEMM size (the best counts).")
    flags.DEFINE_boolean("flop_check", True, "Cross-check the FLOP formula against the traced train step.")
    flags.DEFINE_boolean("torch_baseline", True, "Also run benchmarks.torch_baseline (skipped without torch).")
    flags.DEFINE_integer("vs_torch_rounds", 8, "default_vs_torch: blocks per framework.")
    flags.DEFINE_integer("vs_torch_block_steps", 20, "default_vs_torch: steps per block.")
    flags.DEFINE_string("output", None, "Also write the JSON here.")
    flags.DEFINE_string("work_dir", None, "Scratch directory (default: a temporary one, removed at the end).")


# ---------------------------------------------------------------------------
# Helpers shared by the parts (each runs in a child process).


def _load_images(spec: dict):
    import numpy as np

    return np.load(spec["images_npy"], mmap_mode=None)


def _strategy(cfg: config_lib.TrainConfig):
    from infogan_tf.training.distribute import get_strategy

    rt = cfg.runtime
    return get_strategy(rt.strategy, rt.num_devices, rt.device)


def train_config(spec: dict, model_dir: str) -> config_lib.TrainConfig:
    """The timed step (``step_flops.paper_step_config``) at the spec's batch, precision, XLA and strategy."""
    return step_flops.paper_step_config(
        spec["batch_size"],
        model_dir,
        mixed_precision=spec.get("mixed_precision", "float32"),
        jit_compile=spec.get("jit_compile", False),
        strategy=spec.get("strategy", "default"),
        num_devices=spec.get("num_devices", 0),
        device=spec.get("device", "/cpu:0"),
    )


# ---------------------------------------------------------------------------
# The parts.


def job_memory_bandwidth(spec: dict) -> dict:
    """Read bandwidth (tf.reduce_sum over float32 arrays, best of several) and the batch-1 serving floor.

    At batch 1 the generator does 26 MFLOP but reads every weight once
    (26.6 MB, mostly the 1024 x 6272 FC layer), so a batch-1 call cannot be
    faster than weight bytes / read bandwidth.
    """
    import tensorflow as tf

    total = tf.function(tf.reduce_sum)
    out = {}
    for label, nbytes in (("generator_weights", spec["generator_weight_bytes"]), ("dram_64mb", 64 << 20)):
        x = tf.random.uniform([nbytes // 4], dtype=tf.float32)
        total(x).numpy()
        best = min(timed(lambda x=x: total(x).numpy()) for _ in range(spec["repeats"]))
        out[label] = {"bytes": nbytes, "gb_per_sec": nbytes / best / 1e9, "ms": 1000 * best}
    out["batch1_floor_ms"] = out["generator_weights"]["ms"]
    return out


def job_train(spec: dict) -> dict:
    """Per-step times of the Trainer's compiled step at one precision/XLA setting."""
    import math

    from infogan_tf.training import loop

    images = _load_images(spec)
    with tempfile.TemporaryDirectory(prefix="infogan_bench_train_") as model_dir:
        cfg = train_config(spec, model_dir)
        trainer = loop.Trainer(cfg, _strategy(cfg), images=images)
        # The same input stream and step function train() uses (the loop adds
        # only the per-step Python loop and the log/summary/checkpoint work).
        iterator = trainer.input_iterator()

        def step():
            return float(trainer.step_fn(iterator)["d_loss"])  # syncs on the step's result

        first_step_s = timed(step)
        for _ in range(spec["warmup_steps"] - 1):
            step()
        times, losses = [], []
        cpu_start = time.process_time()
        for _ in range(spec["steps"]):
            start = time.perf_counter()
            losses.append(step())
            times.append(time.perf_counter() - start)
        cpu_per_step = (time.process_time() - cpu_start) / spec["steps"]
        trainer.check_finite()
        dist = distribution(times)
        return {
            "strategy": cfg.runtime.strategy,
            "replicas": trainer.strategy.num_replicas_in_sync,
            "mixed_precision": cfg.runtime.mixed_precision,
            "jit_compile": cfg.runtime.jit_compile,
            "batch_size": cfg.optim.batch_size,
            "first_step_s": first_step_s,
            "step_time": dist,
            "images_per_sec": cfg.optim.batch_size / (dist["median_ms"] / 1000),
            # CPU-seconds (all threads) per step: the work, whatever else runs on the machine.
            "cpu_seconds_per_step": cpu_per_step,
            "images_per_cpu_second": cfg.optim.batch_size / cpu_per_step,
            "losses_finite": all(math.isfinite(x) for x in losses),
            "tracing_count": trainer.step_fn.tracing_count,
        }


def job_pipeline(spec: dict) -> dict:
    """Throughput of the training input pipeline alone, distributed as in training."""
    import tensorflow as tf

    from infogan_tf.data.pipeline import make_input_fn

    images = _load_images(spec)
    strategy = tf.distribute.get_strategy()
    iterator = iter(strategy.distribute_datasets_from_function(make_input_fn(images, spec["batch_size"], seed=0)))
    for _ in range(20):  # warm up (autotuning, prefetch buffer)
        next(iterator)
    n = spec["batches"]
    start = time.perf_counter()
    for _ in range(n):
        batch = next(iterator)
    batch.numpy()
    elapsed = time.perf_counter() - start
    return {
        "batch_size": spec["batch_size"],
        "batches": n,
        "batches_per_sec": n / elapsed,
        "images_per_sec": n * spec["batch_size"] / elapsed,
    }


def job_export(spec: dict) -> dict:
    """Writes a SavedModel with infogan_tf.serving.export from a step-0 checkpoint of the default model."""
    import numpy as np

    from infogan_tf.serving import export as export_lib
    from infogan_tf.training import loop

    model_dir = os.path.join(spec["work_dir"], "export_model_dir")
    if not os.path.isdir(model_dir):
        cfg = train_config({"batch_size": spec["batch_size"]}, model_dir)
        trainer = loop.Trainer(
            cfg, _strategy(cfg), images=np.zeros([cfg.optim.batch_size, *cfg.model.image_shape], np.uint8)
        )
        trainer.run_dir.write_config(cfg)
        trainer.save()
    jit = bool(spec.get("jit_compile", False))
    result = export_lib.export(
        export_lib.ExportConfig(
            model_dir=model_dir,
            export_dir=os.path.join(spec["work_dir"], "export_xla" if jit else "export"),
            jit_compile=jit,
        )
    )
    return {"path": result.path, "variables_bytes": result.variables_bytes, "jit_compile": jit}


def job_serving(spec: dict) -> dict:
    """Latency of the SavedModel's serving_default signature at several batch sizes."""
    import numpy as np
    import tensorflow as tf

    latent = config_lib.TrainConfig().latent
    load_start = time.perf_counter()
    fn = tf.saved_model.load(spec["saved_model"]).signatures["serving_default"]
    load_s = time.perf_counter() - load_start
    rng = np.random.default_rng(0)
    out = {"saved_model": spec["saved_model"], "load_s": load_s, "batches": {}}
    for batch in spec["batches"]:
        z = tf.constant(rng.uniform(-1, 1, [batch, latent.noise_dim]).astype(np.float32))
        categorical = rng.integers(0, latent.categorical[0], [batch, latent.n_categorical]).astype(np.int32)
        continuous = rng.uniform(-1, 1, [batch, latent.continuous]).astype(np.float32)
        c = latent.flatten(categorical, continuous)

        def call(z=z, c=c):
            return fn(z=z, c=c)["images"].numpy()

        first_call_s = timed(call)
        for _ in range(3):
            call()
        per_call = timed(call)
        calls = max(10, int(spec["seconds"] / max(per_call, 1e-6)))
        cpu_start = time.process_time()
        times = [timed(call) for _ in range(calls)]
        cpu_per_call = (time.process_time() - cpu_start) / calls
        dist = distribution(times)
        out["batches"][str(batch)] = {
            "first_call_s": first_call_s,
            "cpu_ms_per_call": 1000 * cpu_per_call,
            "latency": dist,
            "images_per_sec": batch / (dist["median_ms"] / 1000),
        }
    return out


def job_flop_graph(spec: dict) -> dict:
    """Cross-check of benchmarks.flops on the traced float32 train step of the paper's objective."""
    cfg = train_config(spec, model_dir="unused")
    macs = step_flops.traced_train_step_macs(cfg)
    return {"graph_macs_by_op": macs, "graph_train_step_flops": 2 * sum(macs.values())}


JOBS = {
    "memory_bandwidth": job_memory_bandwidth,
    "train": job_train,
    "pipeline": job_pipeline,
    "export": job_export,
    "serving": job_serving,
    "flop_graph": job_flop_graph,
}


# ---------------------------------------------------------------------------
# The parent: runs every part in a subprocess and assembles the report.


def run_part(job: str, spec: dict, log) -> dict:
    """One of this module's JOBS in a fresh interpreter (``harness.run_part``)."""
    return harness.run_part("benchmark", job, spec, log)


def run_torch_baselines(spec: dict, native_bfloat16: bool, log) -> dict:
    """The joint paper step in PyTorch, in every configuration (``step_vs_torch.torch_configurations``)."""
    out = {}
    for compiled, precision in step_vs_torch.torch_configurations(native_bfloat16):
        name = configuration_name(compiled, precision)
        log(f"running {name}")
        load_before = os.getloadavg()
        proc = subprocess.run(
            harness.module_argv(
                "torch_baseline",
                "--update=joint",
                f"--steps={spec['steps']}",
                f"--warmup_steps={spec['warmup_steps']}",
                f"--batch_size={spec['batch_size']}",
                f"--images_npy={spec['images_npy']}",
                f"--precision={precision}",
                f"--compile={str(compiled).lower()}",
            ),
            capture_output=True,
            text=True,
            env=harness.child_env(),
        )
        lines = [line for line in proc.stdout.splitlines() if line.strip().startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = [line for line in proc.stderr.strip().splitlines() if line.strip()][-1:] or ["(no output)"]
            out[name] = {"error": f"torch_baseline failed (exit {proc.returncode}): {tail[0]}"}
            continue
        result = json.loads(lines[-1])
        if "skipped" in result:
            return {"skipped": result["skipped"]}
        result["load_average"] = {"before": list(load_before), "after": list(os.getloadavg())}
        out[name] = result
    return out


def _parse_variant(text: str) -> tuple[str, bool]:
    precision, _, xla = text.partition(":")
    if precision not in ("float32", "bfloat16") or xla not in ("xla", "noxla"):
        raise ValueError(f"--variants entries must be float32|bfloat16:xla|noxla, got {text!r}")
    return precision, xla == "xla"


def run_benchmark(log) -> dict:
    variants = [_parse_variant(v) for v in FLAGS.variants]
    batch = FLAGS.batch_size
    serving_batches = [int(b) for b in FLAGS.serving_batches]
    if FLAGS.images == "mnist" and not (FLAGS.manual_dir or FLAGS.data_dir):
        log("--images=mnist without --manual_dir/--data_dir: TFDS's default data directory is used")
    report: dict = {
        "environment": harness.environment(),
        "settings": {
            "images": FLAGS.images,
            "batch_size": batch,
            "steps": FLAGS.steps,
            "warmup_steps": FLAGS.warmup_steps,
            "strategy": FLAGS.strategy,
            "num_devices": FLAGS.num_devices,
            "valid_step_count": FLAGS.steps >= MIN_TIMED_STEPS,
        },
    }
    if FLAGS.steps < MIN_TIMED_STEPS:
        log(f"--steps={FLAGS.steps} < {MIN_TIMED_STEPS}: figures are for validating the script only")
    cfg = train_config({"batch_size": batch}, model_dir="unused")
    work = flops_lib.step_work(cfg.latent, cfg.model, batch)
    report["flops"] = work.to_dict()

    work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix="infogan_bench_")
    os.makedirs(work_dir, exist_ok=True)
    try:
        images_npy = os.path.join(work_dir, "images.npy")
        report["images"] = harness.run_part(
            "harness",
            "images",
            {
                "images": FLAGS.images,
                "manual_dir": FLAGS.manual_dir,
                "data_dir": FLAGS.data_dir,
                "images_npy": images_npy,
            },
            log,
        )
        gemm = ([int(s) for s in FLAGS.gemm_sizes], FLAGS.gemm_repeats, log)
        gemm_before = peak.measure(*gemm)
        report["memory_bandwidth"] = run_part(
            "memory_bandwidth", {"generator_weight_bytes": work.generator_weight_bytes, "repeats": 10}, log
        )

        train = {}
        for precision, jit in variants:
            name = f"{precision}{'_xla' if jit else ''}"
            try:
                result = run_part(
                    "train",
                    {
                        "images_npy": images_npy,
                        "batch_size": batch,
                        "mixed_precision": precision,
                        "jit_compile": jit,
                        "steps": FLAGS.steps,
                        "warmup_steps": FLAGS.warmup_steps,
                        "strategy": FLAGS.strategy,
                        "num_devices": FLAGS.num_devices,
                        "device": FLAGS.device,
                    },
                    log,
                )
            except PartError as e:  # e.g. XLA with several replicas is refused: report, go on
                log(str(e))
                train[name] = {"error": str(e)}
                continue
            result["gflops"] = work.train_step_flops / (result["step_time"]["median_ms"] / 1000) / 1e9
            result["gflops_per_cpu_second"] = work.train_step_flops / result["cpu_seconds_per_step"] / 1e9
            train[name] = result
        report["train"] = train
        if not any("images_per_sec" in v for v in train.values()):
            raise PartError("every train variant failed: " + "; ".join(v["error"] for v in train.values()))

        report["input_pipeline"] = run_part(
            "pipeline", {"images_npy": images_npy, "batch_size": batch, "batches": FLAGS.pipeline_batches}, log
        )

        # The default export, and (unless --saved_model is given) the --jit_compile one.
        saved_models = {"serving": FLAGS.saved_model}
        if FLAGS.saved_model is None:
            for key, jit in (("serving", False), ("serving_xla", True)):
                exported = run_part("export", {"work_dir": work_dir, "batch_size": batch, "jit_compile": jit}, log)
                report["export" if key == "serving" else "export_xla"] = exported
                saved_models[key] = exported["path"]
        for key, path in saved_models.items():
            serving = run_part(
                "serving", {"saved_model": path, "batches": serving_batches, "seconds": FLAGS.serving_seconds}, log
            )
            for b, entry in serving["batches"].items():
                entry["gflops"] = int(b) * work.generator_flops_per_image / (entry["latency"]["median_ms"] / 1000) / 1e9
                entry["gflops_per_cpu_second"] = (
                    int(b) * work.generator_flops_per_image / (entry["cpu_ms_per_call"] / 1000) / 1e9
                )
            report[key] = serving

        if FLAGS.flop_check:
            graph = run_part("flop_graph", {"batch_size": batch}, log)
            graph["analytic_train_step_flops"] = work.train_step_flops
            graph["agrees"] = graph["graph_train_step_flops"] == work.train_step_flops
            report["flops"]["graph_check"] = graph

        if FLAGS.torch_baseline:
            spec = {"steps": FLAGS.steps, "warmup_steps": FLAGS.warmup_steps, "batch_size": batch}
            native_bfloat16 = "gflops" in gemm_before["bfloat16"]
            torch = run_torch_baselines({**spec, "images_npy": images_npy}, native_bfloat16, log)
            for entry in torch.values():
                if isinstance(entry, dict) and "images_per_sec" in entry:
                    entry["gflops"] = work.train_step_flops / (entry["median_ms"] / 1000) / 1e9
            report["torch_baseline"] = torch
            if any(isinstance(v, dict) and "images_per_sec" in v for v in torch.values()):
                settings = step_vs_torch.Settings(
                    batch,
                    FLAGS.vs_torch_rounds,
                    FLAGS.vs_torch_block_steps,
                    max(FLAGS.warmup_steps, 10),
                    gemm_sizes=tuple(gemm[0]),
                    gemm_repeats=gemm[1],
                )
                try:
                    report["default_vs_torch"] = step_vs_torch.compare(images_npy, settings, log)
                except RuntimeError as e:
                    log(str(e))
                    report["default_vs_torch"] = {"error": str(e)}

        report["gemm_peak"] = peak.best(gemm_before, peak.measure(*gemm))
    finally:
        if FLAGS.work_dir is None:
            import shutil

            shutil.rmtree(work_dir, ignore_errors=True)
    report["summary"] = summarize(report)
    return report


# Serving parts of the report: the default export and the --jit_compile one.
SERVING_PARTS = ("serving", "serving_xla")


def _peak_of(report: dict, precision: str) -> dict:
    """The measured peak of ``precision``; float32's where bfloat16 was not measured (no native bfloat16)."""
    peaks = report["gemm_peak"]
    return peaks[precision] if "gflops" in peaks.get(precision, {}) else peaks["float32"]


def summarize(report: dict) -> dict:
    """Efficiencies (each against the peak of its precision) and the issues' targets, from the measured parts."""
    failed = {k: v["error"] for k, v in report["train"].items() if "error" in v}
    train = {k: v for k, v in report["train"].items() if "error" not in v}
    servings = {key: report[key] for key in SERVING_PARTS if key in report}
    serving_entries = [e for part in servings.values() for e in part["batches"].values()]
    for entry, precision in [(e, e["mixed_precision"]) for e in train.values()] + [
        (e, "float32") for e in serving_entries
    ]:
        peak_of = _peak_of(report, precision)
        entry["fraction_of_gemm_peak"] = entry["gflops"] / peak_of["gflops"]
        # The same ratio per CPU-second of each: how well the CPU time spent is used.
        entry["cpu_time_fraction_of_gemm"] = entry["gflops_per_cpu_second"] / peak_of["gflops_per_cpu_second"]
    fastest_name = max(train, key=lambda k: train[k]["images_per_sec"])
    fastest = train[fastest_name]
    pipeline_ratio = report["input_pipeline"]["images_per_sec"] / fastest["images_per_sec"]
    report["input_pipeline"]["ratio_to_fastest_train_step"] = pipeline_ratio
    summary = {
        "gemm_peak_gflops": {precision: entry.get("gflops") for precision, entry in report["gemm_peak"].items()},
        "train_images_per_sec": {k: v["images_per_sec"] for k, v in train.items()},
        "train_gflops": {k: v["gflops"] for k, v in train.items()},
        "train_fraction_of_gemm_peak": {k: v["fraction_of_gemm_peak"] for k, v in train.items()},
        "train_images_per_cpu_second": {k: v["images_per_cpu_second"] for k, v in train.items()},
        "train_cpu_time_fraction_of_gemm": {k: v["cpu_time_fraction_of_gemm"] for k, v in train.items()},
        # Each variant against plain float32 without XLA, measured in the same run.
        "train_speedup_vs_float32": (
            {k: v["images_per_sec"] / train["float32"]["images_per_sec"] for k, v in train.items()}
            if "float32" in train
            else {}
        ),
        "train_failed": failed,
        "fastest_train_variant": fastest_name,
        "input_pipeline_images_per_sec": report["input_pipeline"]["images_per_sec"],
        **{
            f"{key}_{figure}": {b: get(e) for b, e in part["batches"].items()}
            for key, part in servings.items()
            for figure, get in (
                ("median_ms", lambda e: e["latency"]["median_ms"]),
                ("images_per_sec", lambda e: e["images_per_sec"]),
                ("cpu_time_fraction_of_gemm", lambda e: e["cpu_time_fraction_of_gemm"]),
            )
        },
        "serving_batch1_floor_ms": report["memory_bandwidth"]["batch1_floor_ms"],
        "peak_rss_mb": {
            **{f"train_{k}": v["peak_rss_mb"] for k, v in train.items()},
            "input_pipeline": report["input_pipeline"]["peak_rss_mb"],
            **{key: part["peak_rss_mb"] for key, part in servings.items()},
            "gemm": report["gemm_peak"]["float32"]["before"]["peak_rss_mb"],
        },
    }
    targets = {
        "input_pipeline_vs_fastest_train_step": harness.target(pipeline_ratio, ">=", TARGET_PIPELINE_RATIO),
        "train_fraction_of_gemm_peak": harness.target(
            fastest["fraction_of_gemm_peak"], ">=", TARGET_TRAIN_PEAK_FRACTION
        ),
    }
    torch = {
        k: v for k, v in (report.get("torch_baseline") or {}).items() if isinstance(v, dict) and "images_per_sec" in v
    }
    if torch:
        summary["torch_images_per_sec"] = {k: v["images_per_sec"] for k, v in torch.items()}
        summary["torch_fraction_of_gemm_peak"] = {
            k: v["gflops"] / _peak_of(report, v["precision"])["gflops"] for k, v in torch.items()
        }
        summary["peak_rss_mb"].update({k: v.get("peak_rss_mb") for k, v in torch.items()})
        # Like with like: our fastest variant against PyTorch's fastest configuration, and the same in float32.
        for key, ours, theirs, threshold in (
            ("train_vs_fastest_torch", train, torch, TARGET_TORCH_RATIO),
            (
                "train_float32_vs_fastest_torch_float32",
                {k: v for k, v in train.items() if v["mixed_precision"] == "float32"},
                {k: v for k, v in torch.items() if v["precision"] == "float32"},
                TARGET_TORCH_FLOAT32_RATIO,
            ),
        ):
            if ours and theirs:
                mine = max(ours, key=lambda k: ours[k]["images_per_sec"])
                best = max(theirs, key=lambda k: theirs[k]["images_per_sec"])
                ratio = ours[mine]["images_per_sec"] / theirs[best]["images_per_sec"]
                targets[key] = {**harness.target(ratio, ">=", threshold), "ours": mine, "torch": best}
        versus = report.get("default_vs_torch", {})
        if "targets" in versus:
            targets.update(versus["targets"])
            summary["default_vs_torch_table"] = versus["table"]
    else:
        raw = report.get("torch_baseline") or {}
        targets["train_vs_fastest_torch"] = {"skipped": raw.get("skipped") or "torch baseline not run or failed"}
    # Serving targets: the better of the two exports, named.
    for b, name, figure, op, threshold in (
        ("1", "serving_batch1_latency_ms", lambda e: e["latency"]["median_ms"], "<=", TARGET_SERVING_BATCH1_MS),
        (
            "1024",
            "serving_batch1024_fraction_of_gemm_peak",
            lambda e: e["fraction_of_gemm_peak"],
            ">=",
            TARGET_SERVING_1024_PEAK_FRACTION,
        ),
    ):
        candidates = {key: figure(part["batches"][b]) for key, part in servings.items() if b in part["batches"]}
        if candidates:
            best = (min if op == "<=" else max)(candidates, key=candidates.get)
            targets[name] = {**harness.target(candidates[best], op, threshold), "export": best}
    summary["targets"] = targets
    loads = [v["load_average"]["before"][0] for v in train.values()]
    summary["max_load_average_1min_during_train"] = max(loads) if loads else None
    summary["valid_step_count"] = report["settings"]["valid_step_count"]
    return summary


def main(argv) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    log = harness.logger("benchmark")
    try:
        for v in FLAGS.variants:
            _parse_variant(v)
        if FLAGS.batch_size <= 0 or FLAGS.steps <= 0 or FLAGS.warmup_steps <= 0:
            raise ValueError("--batch_size, --steps and --warmup_steps must be positive")
        report = run_benchmark(log)
    except (ValueError, PartError) as e:
        print(f"benchmark: error: {e}", file=sys.stderr)
        sys.exit(1)
    harness.emit(report, FLAGS.output)


if __name__ == "__main__":
    define_flags()
    app.run(main)

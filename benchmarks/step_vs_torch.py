"""Our train step against PyTorch's fastest configuration on this machine, like with like, alternated in one run.

    python -m benchmarks.step_vs_torch --images=mnist --manual_dir=../shared/data/mnist

Long-lived, warmed-up child processes take turns running blocks of
``--block_steps`` steps (``harness.alternate``: every child once per round,
the order reversed every other round), so all see the same machine at nearly
the same time:

* ours: ``infogan-train``'s default step exactly as ``train()`` runs it (the
  package defaults, batch ``--batch_size``, ``--steps_per_loop`` steps per
  compiled call; ``--mixed_precision=auto`` resolves to bfloat16 on a CPU
  with native bfloat16), and, where the default computes in bfloat16, the
  same step with ``--mixed_precision=float32`` (what CPUs and GPUs without
  bfloat16 units run);
* PyTorch (``torch_baseline.py --update=alternating``, the two-update step
  of common PyTorch InfoGANs on the same networks, batch and images) in
  every configuration a PyTorch user of this machine would try: eager and
  ``torch.compile``, float32 and -- where the CPU computes bfloat16
  natively -- bfloat16 autocast.

The report gives, per child, the median per-step time over its blocks,
images/s, CPU-seconds per step, conv/matmul GFLOP per step, GFLOP/s and its
fraction of this machine's matmul peak in the precision it computes in
(``peak.py``, measured before and after; the higher counts); then our default
against PyTorch's FASTEST configuration and our float32 step against
PyTorch's fastest float32 one (ratio of images/s, its spread over rounds, the
targets >= 1.5 and >= 1.2), and the full table of every pair.
``benchmarks.benchmark`` runs this as its ``default_vs_torch`` part.

FLOPs: ours are counted on the traced default step (``step_flops.traced_train_step_macs``:
it also runs D on the second views and draws fresh codes for its G update);
PyTorch's from the layer shapes (``flops.step_work``: the two-update step
needs the same multiply-adds as the joint one, 3BG - B fc1 + 8BD - 2B conv1;
PyTorch's backward of the G loss also computes D's weight gradients, B·D
more, which are not counted).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from typing import NamedTuple

from absl import app, flags

from benchmarks import flops as flops_lib
from benchmarks import harness, peak, step_flops
from benchmarks.torch_baseline import configuration_name
from infogan_tf import config as config_lib  # TF-free

OURS_DEFAULT = "infogan_tf default"
OURS_FLOAT32 = "infogan_tf float32"
TARGET_DEFAULT_RATIO = 1.5  # our default step / PyTorch's fastest configuration
TARGET_FLOAT32_RATIO = 1.2  # our float32 step / PyTorch's fastest float32 configuration

FLAGS = flags.FLAGS


class Settings(NamedTuple):
    """What the comparison runs (None: infogan-train's default)."""

    batch_size: int = 64
    rounds: int = 8
    block_steps: int = 20
    warmup_steps: int = 20
    steps_per_loop: int | None = None
    jit_compile: bool | None = None
    gemm_sizes: tuple[int, ...] = peak.DEFAULT_SIZES
    gemm_repeats: int = 5

    def our_flags(self) -> list[str]:
        """The settings as our child's flags."""
        out = [f"--batch_size={self.batch_size}", f"--warmup_steps={self.warmup_steps}"]
        if self.steps_per_loop:
            out.append(f"--steps_per_loop={self.steps_per_loop}")
        if self.jit_compile is not None:
            out.append(f"--jit_compile={str(self.jit_compile).lower()}")
        return out


def define_flags() -> None:
    d = Settings()
    flags.DEFINE_enum("images", "random", ["random", "mnist"], "Training images: real MNIST or random uint8.")
    flags.DEFINE_string("manual_dir", None, "MNIST's original files (for --images=mnist).")
    flags.DEFINE_string("data_dir", None, "TFDS data directory (for --images=mnist).")
    flags.DEFINE_integer("batch_size", d.batch_size, "Global batch size of every step.")
    flags.DEFINE_integer("rounds", d.rounds, "Blocks per child.")
    flags.DEFINE_integer("block_steps", d.block_steps, "Steps per block.")
    flags.DEFINE_integer("warmup_steps", d.warmup_steps, "Untimed steps of each before the first block.")
    flags.DEFINE_integer("steps_per_loop", None, "Ours: steps per compiled call (default: infogan-train's).")
    flags.DEFINE_boolean("jit_compile", None, "Ours: XLA on or off (default: infogan-train's per precision).")
    flags.DEFINE_list("gemm_sizes", [str(n) for n in d.gemm_sizes], "Square matmul sizes of the peaks.")
    flags.DEFINE_integer("gemm_repeats", d.gemm_repeats, "Timed matmuls per size of the peaks (the best counts).")
    flags.DEFINE_string("output", None, "Also write the JSON here.")
    # Internal: `python -m benchmarks.step_vs_torch --child_images=NPY` is our block-serving child.
    flags.DEFINE_string("child_images", None, "Internal: serve blocks of our default step on these images.")
    flags.DEFINE_enum("child_precision", None, ["float32", "bfloat16"], "Internal: our child's --mixed_precision.")


def settings_from_flags() -> Settings:
    return Settings(
        FLAGS.batch_size,
        FLAGS.rounds,
        FLAGS.block_steps,
        FLAGS.warmup_steps,
        FLAGS.steps_per_loop,
        FLAGS.jit_compile,
        tuple(int(s) for s in FLAGS.gemm_sizes),
        FLAGS.gemm_repeats,
    )


# ---------------------------------------------------------------------------
# Our child.


def serve_default_step(images_npy: str, settings: Settings, mixed_precision: str | None) -> None:
    """Our child: the default step as train() runs it (calls of steps_per_loop steps, synced on the stop flag)."""
    import numpy as np

    from infogan_tf.training import loop
    from infogan_tf.training.precision import cpu_bfloat16_flags

    images = np.load(images_npy)
    runtime: dict = {"mixed_precision": mixed_precision} if mixed_precision else {}
    if settings.steps_per_loop:
        runtime["steps_per_loop"] = settings.steps_per_loop
    if settings.jit_compile is not None:
        runtime["jit_compile"] = settings.jit_compile
    with tempfile.TemporaryDirectory(prefix="infogan_step_vs_torch_") as model_dir:
        cfg = step_flops.default_step_config(settings.batch_size, model_dir, **runtime)
        trainer = loop.Trainer(cfg, step_flops.default_strategy(), images=images)
        iterator = trainer.input_iterator()
        per_call = cfg.runtime.steps_per_loop

        def run_steps(wanted: int) -> int:
            out = trainer.step_fn(iterator, 0.0, min(per_call, wanted))
            float(out["stop_requested"])  # the host sync train() makes once per call
            return int(out["steps_run"])

        ran = 0
        while ran < settings.warmup_steps:
            ran += run_steps(settings.warmup_steps - ran)
        trainer.check_finite()
        ready = {
            "framework": OURS_FLOAT32 if mixed_precision == "float32" else OURS_DEFAULT,
            "update": step_flops.setting(cfg, "update"),
            "real_info_view": step_flops.setting(cfg, "real_info_view"),
            "precision": trainer.config.runtime.mixed_precision,  # as resolved (auto -> what runs)
            "jit_compile": trainer.step_fn.jit_compile,
            "steps_per_loop": per_call,
            "gflop_per_step": step_flops.step_gflop(cfg),
            "cpu_bfloat16_flags": cpu_bfloat16_flags(),
        }
        harness.serve(run_steps, ready)


# ---------------------------------------------------------------------------
# What runs, and what the blocks say (pure: tested without TensorFlow or PyTorch).


def torch_configurations(native_bfloat16: bool) -> list[tuple[bool, str]]:
    """(compiled, precision) of every PyTorch configuration a user of this CPU would try."""
    precisions = ("float32", "bfloat16") if native_bfloat16 else ("float32",)
    return [(compiled, precision) for precision in precisions for compiled in (False, True)]


def figures(ready: dict, blocks: list[dict], batch: int, gflop: float, peaks: dict[str, dict]) -> dict:
    """One child's figures over its blocks: median step time, images/s, CPU-s per step, GFLOP/s, peak fraction."""
    per_step = [b["wall_s"] / b["steps"] for b in blocks]
    cpu = [b["cpu_s"] / b["steps"] for b in blocks]
    median = statistics.median(per_step)
    return {
        **ready,
        "blocks": len(blocks),
        "steps_per_block": blocks[0]["steps"],
        "step_ms": {"median": 1000 * median, "min": 1000 * min(per_step), "max": 1000 * max(per_step)},
        "images_per_sec": batch / median,
        "cpu_seconds_per_step": statistics.median(cpu),
        "gflop_per_step": gflop,
        "gflops": gflop / median,
        "fraction_of_peak": peak.fraction_of_peak(gflop / median, ready["precision"], peaks),
    }


def versus(ours: str, theirs: str, by_name: dict[str, dict], timed: dict[str, list[dict]]) -> dict:
    """``ours`` against ``theirs``: the ratio of images/s and its spread over the rounds (same-round blocks)."""
    per_round = [(t["wall_s"] / t["steps"]) / (o["wall_s"] / o["steps"]) for o, t in zip(timed[ours], timed[theirs])]
    return {
        "ours": ours,
        "torch": theirs,
        "images_per_sec_ratio": by_name[ours]["images_per_sec"] / by_name[theirs]["images_per_sec"],
        "ratio_per_round": {"min": min(per_round), "median": statistics.median(per_round), "max": max(per_round)},
        "gflops_ratio": by_name[ours]["gflops"] / by_name[theirs]["gflops"],
    }


def fastest(by_name: dict[str, dict], candidates: Sequence[str]) -> str:
    """The candidate with the most images/s."""
    return max(candidates, key=lambda name: by_name[name]["images_per_sec"])


def judge(by_name: dict[str, dict], timed: dict[str, list[dict]]) -> dict:
    """Our default against PyTorch's fastest, our float32 against PyTorch's fastest float32, every pair."""
    ours = [name for name in by_name if name.startswith("infogan_tf")]
    torch = [name for name in by_name if name.startswith("torch")]
    # Where the default computes in float32 it is our float32 step as well.
    ours_float32 = OURS_FLOAT32 if OURS_FLOAT32 in by_name else OURS_DEFAULT
    torch_float32 = [name for name in torch if by_name[name]["precision"] == "float32"]
    default = versus(OURS_DEFAULT, fastest(by_name, torch), by_name, timed)
    float32 = versus(ours_float32, fastest(by_name, torch_float32), by_name, timed)
    ratio = lambda v: v["images_per_sec_ratio"]
    return {
        "default_vs_fastest_torch": default,
        "float32_vs_fastest_torch_float32": float32,
        "every_pair": [versus(o, t, by_name, timed) for o in ours for t in torch],
        "targets": {
            "default_step_vs_fastest_torch": harness.target(ratio(default), ">=", TARGET_DEFAULT_RATIO),
            "float32_step_vs_fastest_torch_float32": harness.target(ratio(float32), ">=", TARGET_FLOAT32_RATIO),
        },
    }


def table(report: dict) -> str:
    """The like-with-like table as Markdown (one row per pair; the two judged pairs in bold)."""
    judged = {
        (v["ours"], v["torch"])
        for v in (report["default_vs_fastest_torch"], report["float32_vs_fastest_torch_float32"])
    }
    steps = report["steps"]
    rows = [
        "| our step | PyTorch step | ours, images/s | PyTorch, images/s | ratio (per round min-max) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for v in report["every_pair"]:
        r = f"{v['images_per_sec_ratio']:.2f}×"
        rows.append(
            f"| {v['ours']} ({steps[v['ours']]['precision']}) | {v['torch']} "
            f"| {steps[v['ours']]['images_per_sec']:.0f} | {steps[v['torch']]['images_per_sec']:.0f} "
            f"| {f'**{r}**' if (v['ours'], v['torch']) in judged else r} "
            f"({v['ratio_per_round']['min']:.2f}-{v['ratio_per_round']['max']:.2f}) |"
        )
    return "\n".join(rows)


# ---------------------------------------------------------------------------
# The parent.


def compare(images_npy: str, settings: Settings, log: harness.Log) -> dict:
    """Starts every child on ``images_npy``, alternates their blocks, returns the figures and the judgement."""
    batch = settings.batch_size
    env = harness.child_env()
    gemm = (list(settings.gemm_sizes), settings.gemm_repeats, log)
    peaks_before = peak.measure(*gemm)
    log("starting our children (warm-up, tracing, XLA compilation)")
    children: list[harness.Child] = []
    try:
        ours = harness.module_argv("step_vs_torch", f"--child_images={images_npy}", *settings.our_flags())
        children.append(harness.Child(OURS_DEFAULT, ours, env))
        default_ready = children[0].ready
        if default_ready["precision"] != "float32":
            argv = harness.module_argv(
                "step_vs_torch",
                f"--child_images={images_npy}",
                "--child_precision=float32",
                *settings.our_flags(),
            )
            children.append(harness.Child(OURS_FLOAT32, argv, env))
        for compiled, precision in torch_configurations(bool(default_ready["cpu_bfloat16_flags"])):
            name = configuration_name(compiled, precision)
            log(f"starting {name}")
            argv = harness.module_argv(
                "torch_baseline",
                "--serve",
                "--update=alternating",
                f"--batch_size={batch}",
                f"--warmup_steps={settings.warmup_steps}",
                f"--images_npy={images_npy}",
                f"--precision={precision}",
                f"--compile={str(compiled).lower()}",
            )
            children.append(harness.Child(name, argv, env))
        load_before = os.getloadavg()
        log(f"alternating {settings.rounds} rounds of {settings.block_steps} steps over {len(children)} children")
        timed = harness.alternate(children, settings.rounds, settings.block_steps)
        load_after = os.getloadavg()
    finally:
        for child in children:
            child.close()
    peaks = peak.best(peaks_before, peak.measure(*gemm))
    cfg = config_lib.TrainConfig()
    paper_gflop = flops_lib.step_work(cfg.latent, cfg.model, batch).train_step_flops / 1e9
    steps = {
        c.name: figures(
            c.ready,
            timed[c.name],
            batch,
            c.ready["gflop_per_step"] if c.name.startswith("infogan_tf") else paper_gflop,
            peaks,
        )
        for c in children
    }
    report = {
        "settings": settings._asdict(),
        "peaks": peaks,
        "steps": steps,
        **judge(steps, timed),
        "load_average": {"before": list(load_before), "after": list(load_after)},
    }
    report["table"] = table(report)
    return report


def main(argv) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if FLAGS.child_images:
        serve_default_step(FLAGS.child_images, settings_from_flags(), FLAGS.child_precision)
        return
    log = harness.logger("step_vs_torch")
    with tempfile.TemporaryDirectory(prefix="infogan_step_vs_torch_") as work:
        images_npy = os.path.join(work, "images.npy")
        spec = {"images": FLAGS.images, "manual_dir": FLAGS.manual_dir, "data_dir": FLAGS.data_dir}
        harness.run_part("harness", "images", {**spec, "images_npy": images_npy}, log)
        report = {"environment": harness.environment(), **compare(images_npy, settings_from_flags(), log)}
    harness.emit(report, FLAGS.output)
    print(report["table"], file=sys.stderr)


if __name__ == "__main__":
    define_flags()
    app.run(main)

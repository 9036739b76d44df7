"""The default train step against the eager PyTorch paper step, alternated in one run.

    python -m benchmarks.step_vs_torch --images=mnist --manual_dir=../shared/data/mnist

Two long-lived child processes, each warmed up: ours runs ``infogan-train``'s
default step exactly as ``train()`` runs it (the package defaults, batch
``--batch_size``, ``--steps_per_loop`` steps per compiled call), the other
``torch_baseline.py``'s two-update paper step (D+Q on the real and the fake
batch, then G+Q; eager PyTorch, fp32). They take turns running blocks of
``--block_steps`` steps (``harness.alternate``; the order flips each round),
so both see the same machine at nearly the same time. Prints one JSON
document: per framework the median per-step time over the blocks, images/s,
CPU-seconds per step, conv/matmul GFLOP per step and GFLOP/s; the ratio of
images/s (ours / PyTorch's, with its spread over rounds) and the target
(>= 1.5). ``benchmarks.benchmark`` runs it as its ``default_vs_torch`` part.

FLOPs: ours are counted on the traced default step (``step_flops.traced_train_step_macs``:
it also runs D on the affine views and draws fresh codes for its G update);
the paper step's from the layer shapes (``flops.step_work``: the two-update
step needs the same multiply-adds as the joint one, 3BG - B fc1 + 8BD - 2B conv1;
PyTorch's backward of the G loss also computes D's weight gradients, B·D more,
which are not counted).
"""

from __future__ import annotations

import os
import statistics
import tempfile
from typing import NamedTuple

from absl import app, flags

from benchmarks import flops as flops_lib
from benchmarks import harness, step_flops
from infogan_tf import config as config_lib  # TF-free

TARGET_RATIO = 1.5

FLAGS = flags.FLAGS


class Settings(NamedTuple):
    """What the comparison runs (None: infogan-train's default)."""

    batch_size: int = 64
    rounds: int = 8
    block_steps: int = 20
    warmup_steps: int = 20
    steps_per_loop: int | None = None
    mixed_precision: str | None = None
    jit_compile: bool | None = None

    def child_flags(self) -> list[str]:
        out = [f"--batch_size={self.batch_size}", f"--warmup_steps={self.warmup_steps}"]
        if self.steps_per_loop:
            out.append(f"--steps_per_loop={self.steps_per_loop}")
        if self.mixed_precision:
            out.append(f"--mixed_precision={self.mixed_precision}")
        if self.jit_compile is not None:
            out.append(f"--jit_compile={str(self.jit_compile).lower()}")
        return out


def define_flags() -> None:
    d = Settings()
    flags.DEFINE_enum("images", "random", ["random", "mnist"], "Training images: real MNIST or random uint8.")
    flags.DEFINE_string("manual_dir", None, "MNIST's original files (for --images=mnist).")
    flags.DEFINE_string("data_dir", None, "TFDS data directory (for --images=mnist).")
    flags.DEFINE_integer("batch_size", d.batch_size, "Global batch size of both steps.")
    flags.DEFINE_integer("rounds", d.rounds, "Blocks per framework.")
    flags.DEFINE_integer("block_steps", d.block_steps, "Steps per block.")
    flags.DEFINE_integer("warmup_steps", d.warmup_steps, "Untimed steps of each before the first block.")
    flags.DEFINE_integer("steps_per_loop", None, "Ours: steps per compiled call (default: infogan-train's).")
    flags.DEFINE_enum("mixed_precision", None, ["float32", "bfloat16"], "Ours (default: infogan-train's).")
    flags.DEFINE_boolean("jit_compile", None, "Ours: XLA on or off (default: infogan-train's).")
    flags.DEFINE_string("output", None, "Also write the JSON here.")
    # Internal: `step_vs_torch.py --child_images=NPY` is our block-serving child.
    flags.DEFINE_string("child_images", None, "Internal: serve blocks of our default step on these images.")


def settings_from_flags() -> Settings:
    return Settings(
        FLAGS.batch_size,
        FLAGS.rounds,
        FLAGS.block_steps,
        FLAGS.warmup_steps,
        FLAGS.steps_per_loop,
        FLAGS.mixed_precision,
        FLAGS.jit_compile,
    )


def default_config(model_dir: str, settings: Settings) -> config_lib.TrainConfig:
    """infogan-train's defaults at the settings' batch size (and steps per loop / precision / XLA if given)."""
    runtime: dict = {}
    if settings.steps_per_loop:
        runtime["steps_per_loop"] = settings.steps_per_loop
    if settings.mixed_precision:
        runtime["mixed_precision"] = settings.mixed_precision
    if settings.jit_compile is not None:
        runtime["jit_compile"] = settings.jit_compile
    return step_flops.default_step_config(settings.batch_size, model_dir, **runtime)


def serve_default_step(images_npy: str, settings: Settings) -> None:
    """Our child: the default step as train() runs it (calls of steps_per_loop steps, synced on the stop flag)."""
    import numpy as np

    from infogan_tf.training import loop

    images = np.load(images_npy)
    with tempfile.TemporaryDirectory(prefix="infogan_step_vs_torch_") as model_dir:
        cfg = default_config(model_dir, settings)
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
        # Counted on the same step traced without XLA (the ops of an XLA cluster are not in the graph).
        macs = step_flops.traced_train_step_macs(cfg)
        ready = {
            "framework": "infogan_tf",
            "update": cfg.optim.update,
            "real_info_view": cfg.optim.real_info_view,
            "mixed_precision": trainer.config.runtime.mixed_precision,  # as resolved (auto -> what runs)
            "jit_compile": trainer.step_fn.jit_compile,
            "steps_per_loop": per_call,
            "gflop_per_step": 2 * sum(macs.values()) / 1e9,
        }
        harness.serve(run_steps, ready)


def _figures(ready: dict, timed: list[dict], batch: int, gflop: float) -> dict:
    per_step = [b["wall_s"] / b["steps"] for b in timed]
    cpu = [b["cpu_s"] / b["steps"] for b in timed]
    median = statistics.median(per_step)
    return {
        **ready,
        "blocks": len(timed),
        "steps_per_block": timed[0]["steps"],
        "step_ms": {"median": 1000 * median, "min": 1000 * min(per_step), "max": 1000 * max(per_step)},
        "images_per_sec": batch / median,
        "cpu_seconds_per_step": statistics.median(cpu),
        "gflop_per_step": gflop,
        "gflops": gflop / median,
    }


def compare(images_npy: str, settings: Settings, log) -> dict:
    """Alternates the two children over ``images_npy``; returns both figures, their ratio and the target."""
    batch = settings.batch_size
    env = harness.child_env()
    ours_argv = harness.module_argv("step_vs_torch", f"--child_images={images_npy}", *settings.child_flags())
    torch_argv = harness.module_argv(
        "torch_baseline",
        "--serve",
        "--update=alternating",
        f"--batch_size={batch}",
        f"--warmup_steps={settings.warmup_steps}",
    )
    log("starting both children (warm-up, tracing, XLA compilation)")
    children = []
    try:
        children.append(harness.Child("infogan_tf", ours_argv, env))
        children.append(harness.Child("torch", torch_argv, env))
        load_before = os.getloadavg()
        log(f"alternating {settings.rounds} rounds of {settings.block_steps} steps")
        timed = harness.alternate(children, settings.rounds, settings.block_steps)
        load_after = os.getloadavg()
    finally:
        for child in children:
            child.close()
    ours_ready, torch_ready = children[0].ready, children[1].ready
    cfg = config_lib.TrainConfig()
    paper_gflop = flops_lib.step_work(cfg.latent, cfg.model, batch).train_step_flops / 1e9
    ours = _figures(ours_ready, timed["infogan_tf"], batch, ours_ready["gflop_per_step"])
    torch = _figures(torch_ready, timed["torch"], batch, paper_gflop)
    per_round = [
        (t["wall_s"] / t["steps"]) / (o["wall_s"] / o["steps"]) for o, t in zip(timed["infogan_tf"], timed["torch"])
    ]
    ratio = ours["images_per_sec"] / torch["images_per_sec"]
    return {
        "infogan_tf_default_step": ours,
        "torch_paper_step": torch,
        "images_per_sec_ratio": ratio,
        "ratio_per_round": {"min": min(per_round), "median": statistics.median(per_round), "max": max(per_round)},
        "gflops_ratio": ours["gflops"] / torch["gflops"],
        "cpu_second_ratio": torch["cpu_seconds_per_step"] / ours["cpu_seconds_per_step"],
        "target": {"value": ratio, "target": f">= {TARGET_RATIO}", "met": ratio >= TARGET_RATIO},
        "load_average": {"before": list(load_before), "after": list(load_after)},
    }


def main(argv) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if FLAGS.child_images:
        serve_default_step(FLAGS.child_images, settings_from_flags())
        return
    log = harness.logger("step_vs_torch")
    with tempfile.TemporaryDirectory(prefix="infogan_step_vs_torch_") as work:
        images_npy = os.path.join(work, "images.npy")
        spec = {"images": FLAGS.images, "manual_dir": FLAGS.manual_dir, "data_dir": FLAGS.data_dir}
        harness.run_part("harness", "images", {**spec, "images_npy": images_npy}, log)
        report = compare(images_npy, settings_from_flags(), log)
    harness.emit(report, FLAGS.output)


if __name__ == "__main__":
    define_flags()
    app.run(main)

"""Where the default train step's time goes: TF's profiler over a few compiled calls, op time by class.

    python -m benchmarks.profile_step [--batch_size=64] [--calls=5] [--mixed_precision=float32]

Runs ``infogan-train``'s default step as ``train()`` runs it (``--warmup_calls``
untimed calls of ``steps_per_loop`` steps, then ``--calls`` calls under
``tf.profiler.experimental``), reads the trace the profiler writes (the
``.xplane.pb`` of TF's profiler plugin, through the ``XSpace`` protocol
buffer TF ships) and sums the duration of every TF op the executor ran
(events named ``<op name>:<op type>`` on TF's compute threads), by class:

* ``conv_matmul``: convolutions (forward, input and filter gradients,
  transposed) and matrix products -- the FLOPs ``step_flops`` counts;
* ``views``: the second views of the real images (``data.augment``'s warp):
  ops under a ``second_views``/``random_affine``/``affine_warp``/``deskew``
  name scope, and the step's own gathers and random draws outside the
  networks (the warp's gathers and its stateless random moves). The step
  gives the views no name scope of their own on purpose: one changes the
  bfloat16 step's bits (oneDNN's graph rewrites follow node names;
  ``python -m experiments.bit_identity`` found the default variant
  different), so this class undercounts and the warp's arithmetic is "other";
* ``batch_norm``: ops inside the networks' batch-norm layers (``bn*``
  scopes), forward and gradient;
* ``cast``: ``Cast`` ops (the mixed-precision policy's float32 <-> bfloat16);
* ``optimiser``: Adam's updates and the gradient-norm ops (``*adam*``,
  ``global_norm`` scopes, ``ResourceApply*``);
* ``other``: the rest (activations, losses, the warp's elementwise
  arithmetic outside a named scope, the loop's bookkeeping).

Op time is summed over TF's threads (ops of one step run in parallel on
several cores), so the shares are of op time, printed next to the wall time
of the profiled calls. Under XLA (``--jit_compile``, the float32 default)
the step is one compiled cluster and the classes are not visible: the
profile turns XLA off unless ``--jit_compile=true`` is given. Prints the
shares, the 15 most expensive ops, and writes the JSON to ``--output``.
"""

from __future__ import annotations

import collections
import glob
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterable

from absl import app, flags

from benchmarks import harness, step_flops

CLASSES = ("conv_matmul", "views", "batch_norm", "cast", "optimiser", "other")
_VIEW_SCOPES = re.compile(r"(^|/)(second_views|random_affine|affine_warp|deskew\w*|ink_slant|level_ink)(_\d+)?/")
_NETWORKS = re.compile(r"(^|/)(generator|discriminator)(_\d+)?/")
_BN = re.compile(r"(^|/)(bn\d*|batch_normalization)(_\d+)?/")
_OPTIMISER = re.compile(r"(^|/)(\w*adam\w*|global_norm|clip\w*)(_\d+)?/", re.IGNORECASE)


def op_class(name: str, op_type: str) -> str:
    """The class of one executed op, from its scoped name and its type (see the module docstring)."""
    if "Conv2D" in op_type or "MatMul" in op_type:
        return "conv_matmul"
    if op_type == "Cast":
        return "cast"
    if _VIEW_SCOPES.search(name):
        return "views"
    if _BN.search(name):
        return "batch_norm"
    if _OPTIMISER.search(name) or op_type.startswith("ResourceApply"):
        return "optimiser"
    if not _NETWORKS.search(name) and (op_type.startswith(("GatherV2", "GatherNd")) or "StatelessRandom" in op_type):
        return "views"
    return "other"


def op_events(xspace) -> Iterable[tuple[str, str, float]]:
    """(op name, op type, seconds) of every TF op event on the executor's threads of an ``XSpace``."""
    for plane in xspace.planes:
        for line in plane.lines:
            if line.name.startswith("tf_data"):  # the input pipeline's threads
                continue
            for event in line.events:
                label = plane.event_metadata[event.metadata_id].name
                name, sep, op_type = label.rpartition(":")
                if not sep or not name or " " in label or "::" in label:
                    continue  # runtime markers (ExecutorState::Process, EagerLocalExecute: ...), not ops
                yield name, op_type, event.duration_ps / 1e12


def breakdown(events: Iterable[tuple[str, str, float]], top: int = 15) -> dict:
    """Op seconds per class, their shares, and the ``top`` most expensive ops."""
    per_class = dict.fromkeys(CLASSES, 0.0)
    per_op: collections.Counter = collections.Counter()
    for name, op_type, seconds in events:
        per_class[op_class(name, op_type)] += seconds
        per_op[f"{name}:{op_type}"] += seconds
    total = sum(per_class.values())
    return {
        "op_seconds": total,
        "seconds": per_class,
        "shares": {k: (v / total if total else 0.0) for k, v in per_class.items()},
        "top_ops": [{"op": op, "seconds": s} for op, s in per_op.most_common(top)],
    }


def read_trace(logdir: str):
    """The ``XSpace`` the profiler wrote under ``logdir`` (one host)."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    (path,) = glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb"))
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    return space


def profile(batch_size: int, calls: int, warmup_calls: int, runtime: dict, images=None) -> dict:
    """Profiles ``calls`` compiled calls of the default step; the breakdown with the step's settings and times."""
    import numpy as np
    import tensorflow as tf

    from infogan_tf.training import loop

    if images is None:
        images = np.random.default_rng(0).integers(0, 256, size=(60000, 28, 28, 1), dtype=np.uint8)
    with tempfile.TemporaryDirectory(prefix="infogan_profile_") as work:
        cfg = step_flops.default_step_config(batch_size, os.path.join(work, "run"), **runtime)
        trainer = loop.Trainer(cfg, step_flops.default_strategy(), images=images)
        iterator = trainer.input_iterator()
        per_call = cfg.runtime.steps_per_loop

        def call() -> int:
            out = trainer.step_fn(iterator, 0.0, per_call)
            float(out["stop_requested"])  # the host sync train() makes once per call
            return int(out["steps_run"])

        for _ in range(warmup_calls):
            call()
        logdir = os.path.join(work, "trace")
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        steps = sum(call() for _ in range(calls))
        wall = time.perf_counter() - start
        tf.profiler.experimental.stop()
        trainer.check_finite()
        result = breakdown(op_events(read_trace(logdir)))
    return {
        "precision": trainer.config.runtime.mixed_precision,
        "jit_compile": trainer.step_fn.jit_compile,
        "batch_size": batch_size,
        "steps_per_loop": per_call,
        "steps": steps,
        "wall_s_per_step_profiled": wall / steps,  # the profiler slows the step; not a speed figure
        "op_seconds_per_step": result["op_seconds"] / steps,
        **result,
    }


def main(argv) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    f = flags.FLAGS
    runtime: dict = {"jit_compile": bool(f.jit_compile)}
    if f.mixed_precision:
        runtime["mixed_precision"] = f.mixed_precision
    if f.steps_per_loop:
        runtime["steps_per_loop"] = f.steps_per_loop
    report = {
        "environment": harness.environment(),
        **profile(f.batch_size, f.calls, f.warmup_calls, runtime),
    }
    harness.emit(report, f.output)
    lines = [f"{name:12s} {100 * share:5.1f} %" for name, share in report["shares"].items()]
    print(
        f"op time by class ({report['precision']}, XLA {report['jit_compile']}):", *lines, sep="\n  ", file=sys.stderr
    )


if __name__ == "__main__":
    flags.DEFINE_integer("batch_size", 64, "Global batch size of the step.")
    flags.DEFINE_integer("calls", 5, "Profiled compiled calls (of steps_per_loop steps each).")
    flags.DEFINE_integer("warmup_calls", 3, "Untimed calls first (tracing, caches).")
    flags.DEFINE_integer("steps_per_loop", None, "Steps per compiled call (default: infogan-train's).")
    flags.DEFINE_enum("mixed_precision", None, ["float32", "bfloat16"], "Default: infogan-train's (auto).")
    flags.DEFINE_boolean("jit_compile", False, "Profile the XLA-compiled step (its ops are then one cluster).")
    flags.DEFINE_string("output", None, "Also write the JSON here.")
    app.run(main)

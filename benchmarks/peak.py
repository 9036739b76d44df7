"""This machine's practical matmul peak in float32 and in bfloat16: the ceiling a train step is measured against.

    python -m benchmarks.peak [--sizes=2048,3072,4096] [--repeats=5]

The best rate of ``--repeats`` ``tf.matmul`` calls on square matrices of each
``--sizes`` size, in GFLOP/s (2 n^3 FLOPs a call), per precision: float32,
and bfloat16 where the CPU computes it natively (``avx512_bf16`` or
``amx_bf16`` in /proc/cpuinfo, ``infogan_tf.training.precision.cpu_bfloat16_flags``;
elsewhere TF emulates bfloat16 and the figure is reported as skipped). A step
that computes in bfloat16 is compared with the bfloat16 peak, a float32 step
with the float32 one (``benchmark.py``, ``step_vs_torch.py``). Each precision
runs in its own process (``harness.run_part``).
"""

from __future__ import annotations

import time

from absl import app, flags

from benchmarks import harness

PRECISIONS = ("float32", "bfloat16")
DEFAULT_SIZES = (2048, 3072, 4096)


def job_gemm(spec: dict) -> dict:
    """Best ``tf.matmul`` rate over square sizes in ``spec["dtype"]`` (default float32), wall and per CPU-second."""
    import tensorflow as tf

    from infogan_tf.training.precision import cpu_bfloat16_flags

    dtype = spec.get("dtype", "float32")
    native = cpu_bfloat16_flags()
    if dtype == "bfloat16" and not native:
        return {"dtype": dtype, "skipped": "this CPU has no native bfloat16 (avx512_bf16/amx_bf16): TF emulates it"}
    matmul = tf.function(tf.matmul)
    per_size, per_cpu_second = {}, {}
    for n in spec["sizes"]:
        a = tf.cast(tf.random.uniform([n, n]), dtype)
        b = tf.cast(tf.random.uniform([n, n]), dtype)
        matmul(a, b).numpy()  # trace and warm up
        wall, cpu = [], []
        for _ in range(spec["repeats"]):
            cpu_start = time.process_time()
            wall.append(harness.timed(lambda a=a, b=b: matmul(a, b).numpy()))
            cpu.append(time.process_time() - cpu_start)
        per_size[str(n)] = 2 * n**3 / min(wall) / 1e9
        per_cpu_second[str(n)] = 2 * n**3 / min(cpu) / 1e9
    return {
        "dtype": dtype,
        "cpu_bfloat16_flags": native,
        "gflops_per_size": per_size,
        "gflops": max(per_size.values()),
        # FLOPs per CPU-second (one core busy for a second): what a core does
        # when it runs, less sensitive to other processes than wall time.
        "gflops_per_cpu_second_per_size": per_cpu_second,
        "gflops_per_cpu_second": max(per_cpu_second.values()),
    }


JOBS = {"gemm": job_gemm}


def measure(sizes: list[int], repeats: int, log: harness.Log) -> dict[str, dict]:
    """Both precisions' peaks, each in its own process: ``{"float32": {...}, "bfloat16": {... or "skipped"}}``."""
    return {
        p: harness.run_part("peak", "gemm", {"sizes": sizes, "repeats": repeats, "dtype": p}, log) for p in PRECISIONS
    }


def best(before: dict[str, dict], after: dict[str, dict]) -> dict[str, dict]:
    """Per precision, the higher of two measurements (the CPU may be shared), with both kept."""
    out = {}
    for precision in before:
        b, a = before[precision], after[precision]
        if "gflops" not in b:
            out[precision] = b
            continue
        out[precision] = {
            "before": b,
            "after": a,
            "gflops": max(b["gflops"], a["gflops"]),
            "gflops_per_cpu_second": max(b["gflops_per_cpu_second"], a["gflops_per_cpu_second"]),
        }
    return out


def fraction_of_peak(gflops: float, precision: str, peaks: dict[str, dict]) -> float | None:
    """``gflops`` over the peak of ``precision`` (None when that peak was not measured)."""
    peak = peaks.get(precision, {}).get("gflops")
    return gflops / peak if peak else None


def main(argv) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    report = {
        "environment": harness.environment(),
        "peaks": measure([int(s) for s in flags.FLAGS.sizes], flags.FLAGS.repeats, harness.logger("peak")),
    }
    harness.emit(report, flags.FLAGS.output)


if __name__ == "__main__":
    flags.DEFINE_list("sizes", [str(n) for n in DEFAULT_SIZES], "Square matrix sizes.")
    flags.DEFINE_integer("repeats", 5, "Timed matmuls per size (the best counts).")
    flags.DEFINE_string("output", None, "Also write the JSON here.")
    app.run(main)

"""Soak run of multi-worker training against the single-process run, on real MNIST.

Trains the same configuration twice with ``infogan-train`` on this machine --
once as one process (``--strategy=default``), once as ``--workers`` local
processes on 127.0.0.1 under ``--strategy=multi_worker`` (TF_CONFIG per
process, the same global batch, so a step is the same amount of work) -- and
prints one JSON document:

    python -m benchmarks.multi_worker_soak --manual_dir=../shared/data/mnist --steps=500

For each run: exit codes, wall time, steady-state steps/s and images/s (from
the chief's ``metrics.jsonl``, without the first log window, which includes
start-up and tracing), and the last logged L_I; then the multi/single ratio.
MNIST is prepared once, before either run, into ``--data_dir``. Each worker
gets ``cores // workers`` op threads (the single process gets all cores), so
the workers do not oversubscribe the CPU they share.
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

from absl import app, flags

from infogan_tf.training.distribute import loopback_tf_configs

flags.DEFINE_integer("steps", 500, "Training steps of each run.")
flags.DEFINE_integer("workers", 2, "Local worker processes of the multi-worker run.")
flags.DEFINE_integer("batch_size", 64, "Global batch size of both runs.")
flags.DEFINE_integer("log_every", 50, "Steps between progress lines (the throughput windows).")
flags.DEFINE_string("manual_dir", "../shared/data/mnist", "The four official MNIST files.")
flags.DEFINE_string("data_dir", None, "TFDS data directory (default: <runs_dir>/tfds).")
flags.DEFINE_string("runs_dir", "runs/multi_worker_soak", "The runs are written (afresh) under this directory.")
flags.DEFINE_string("train_flags", "", "More infogan-train flags for both runs, e.g. '--g_fc_units=32'.")
flags.DEFINE_integer("timeout", 7200, "Seconds before a run is killed.")
FLAGS = flags.FLAGS


def _steady_rate(metrics_path: str) -> dict:
    """Steps/s over every log window but the first (which holds start-up and tracing)."""
    with open(metrics_path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    windows = list(itertools.pairwise(rows))
    if windows:
        steps = rows[-1]["step"] - rows[0]["step"]
        seconds = sum((b["step"] - a["step"]) / b["steps_per_sec"] for a, b in windows)
    else:
        steps, seconds = rows[-1]["step"], rows[-1]["step"] / rows[-1]["steps_per_sec"]
    return {
        "steps_per_sec": steps / seconds,
        "images_per_sec": steps / seconds * FLAGS.batch_size,
        "measured_steps": steps,
        "last_step": rows[-1]["step"],
        "info_lower_bound": rows[-1]["info_lower_bound"],
    }


def _run(name: str, common: list[str], workers: int) -> dict:
    model_dir = os.path.join(FLAGS.runs_dir, name)
    shutil.rmtree(model_dir, ignore_errors=True)
    cores = os.cpu_count() or 1
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_CONFIG", None)
    procs = []
    if workers == 1:
        procs.append(([*common, f"--model_dir={model_dir}"], env))
    else:
        threads = str(max(1, cores // workers))
        for tf_config in loopback_tf_configs(workers):
            procs.append(
                (
                    [*common, f"--model_dir={model_dir}", "--strategy=multi_worker"],
                    {
                        **env,
                        "TF_CONFIG": tf_config,
                        "TF_NUM_INTRAOP_THREADS": threads,
                        "TF_NUM_INTEROP_THREADS": threads,
                    },
                )
            )
    os.makedirs(FLAGS.runs_dir, exist_ok=True)
    start = time.time()
    started = []
    try:
        for i, (args, proc_env) in enumerate(procs):
            # The child keeps its own copy of the log's descriptor.
            with open(os.path.join(FLAGS.runs_dir, f"{name}_{i}.log"), "w") as log:
                started.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "infogan_tf.cli.train", *args],
                        env=proc_env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        codes = [p.wait(timeout=FLAGS.timeout) for p in started]
    finally:
        for p in started:
            if p.poll() is None:
                p.kill()
                p.wait()
    result = {"processes": workers, "exit_codes": codes, "wall_seconds": time.time() - start}
    if workers > 1:
        result["op_threads_per_worker"] = max(1, cores // workers)
    metrics = os.path.join(model_dir, "metrics.jsonl")
    if os.path.exists(metrics):
        result.update(_steady_rate(metrics))
    return result


def main(argv) -> None:
    del argv
    data_dir = FLAGS.data_dir or os.path.join(FLAGS.runs_dir, "tfds")
    # Prepare MNIST once, so neither run pays for it and workers do not race on it.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from infogan_tf.config import DataConfig; "
            "from infogan_tf.data.datasets import load_train_images; "
            "load_train_images(DataConfig(dataset='mnist', data_dir=sys.argv[1], manual_dir=sys.argv[2]))",
            data_dir,
            FLAGS.manual_dir,
        ],
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
    )
    common = [
        f"--train_steps={FLAGS.steps}",
        f"--batch_size={FLAGS.batch_size}",
        f"--log_every={FLAGS.log_every}",
        f"--checkpoint_every={FLAGS.steps}",
        f"--summary_every={10 * FLAGS.steps}",
        f"--data_dir={data_dir}",
        f"--manual_dir={FLAGS.manual_dir}",
        *shlex.split(FLAGS.train_flags),
    ]
    load_before = os.getloadavg()
    single = _run("single", common, 1)
    multi = _run("multi_worker", common, FLAGS.workers)
    report = {
        "steps": FLAGS.steps,
        "batch_size": FLAGS.batch_size,
        "train_flags": FLAGS.train_flags,
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "single_process": single,
        "multi_worker": multi,
    }
    if "steps_per_sec" in single and "steps_per_sec" in multi:
        report["multi_over_single_steps_per_sec"] = multi["steps_per_sec"] / single["steps_per_sec"]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    app.run(main)

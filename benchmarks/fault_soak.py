"""Soak: a training run interrupted again and again by SIGINT, SIGTERM and SIGKILL ends as if never interrupted.

    python -m benchmarks.fault_soak --manual_dir=../shared/data/mnist --interruptions=20

Runs ``infogan-train`` (the real CLI, a small model, MNIST) twice into
``--runs_dir``: once straight through (``reference/``), once (``soak/``)
interrupted ``--interruptions`` times at random moments -- some while a
checkpoint is being written -- by a signal drawn from SIGINT, SIGTERM and
SIGKILL, and restarted with the same command each time, until it reaches
``--train_steps``. Then it checks what a user relies on and prints one JSON
report:

* the run reached the target step, and its last checkpoint restores (every
  tensor reads back, checksummed);
* ``metrics.jsonl`` logs every step exactly once, in order;
* TensorBoard's event files hold one ``d_loss`` value per step;
* the final weights (G, D/Q and both optimisers) equal the uninterrupted
  run's (max |difference| reported; data order and noise are deterministic,
  and XLA is off so TF's CPU kernels give the same bits).

Exit status 0 when every check holds. ``tests/test_fault_soak.py`` runs a
short version (three interruptions).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
from absl import app, flags

flags.DEFINE_string("manual_dir", "../shared/data/mnist", "The four official MNIST files.")
flags.DEFINE_string("data_dir", None, "TFDS data directory (default: <runs_dir>/tfds).")
flags.DEFINE_string("runs_dir", "runs/fault_soak", "Where the two runs go (replaced).")
flags.DEFINE_integer("interruptions", 20, "How many times to interrupt the soak run.")
flags.DEFINE_integer("train_steps", 0, "Target step (default: 30 per interruption, so there is room for them).")
flags.DEFINE_integer("checkpoint_every", 3, "Steps between checkpoints (small: many writes to interrupt).")
flags.DEFINE_integer("seed", 0, "Seed of the runs and of the interruption schedule.")
flags.DEFINE_float("write_fraction", 0.3, "Share of interruptions aimed at a checkpoint write in progress.")
flags.DEFINE_integer("timeout", 600, "Seconds any one process may take.")
flags.DEFINE_integer(
    "fake_images",
    0,
    "Train on this many fixed random images instead of MNIST (through infogan-train's images seam; "
    "faster start-up, for the suite's short version).",
)
FLAGS = flags.FLAGS

SMALL_MODEL = [
    "--batch_size=16",
    "--g_fc_units=64",
    "--g_filters=32,16",
    "--d_filters=16,32",
    "--d_fc_units=64",
    "--q_fc_units=32",
    "--summary_every=1000000",
    "--log_every=1",
    "--keep_checkpoints=2",
    "--nojit_compile",
]
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)


# infogan-train's main with its images seam: the same flags, messages and exit codes.
_FAKE_IMAGES_MAIN = (
    "import sys, numpy as np; from infogan_tf.cli import train; "
    "images = np.random.default_rng(0).integers(0, 256, size=(int(sys.argv[1]), 28, 28, 1), dtype=np.uint8); "
    "sys.exit(train.main(['infogan-train', *sys.argv[2:]], images=images))"
)


def _command(model_dir: str, data_dir: str) -> list[str]:
    run = [f"--model_dir={model_dir}", f"--train_steps={FLAGS.train_steps}", f"--seed={FLAGS.seed}"]
    run += [f"--checkpoint_every={FLAGS.checkpoint_every}", *SMALL_MODEL]
    if FLAGS.fake_images:
        return [sys.executable, "-c", _FAKE_IMAGES_MAIN, str(FLAGS.fake_images), *run]
    return [
        sys.executable,
        "-m",
        "infogan_tf.cli.train",
        *run,
        f"--manual_dir={FLAGS.manual_dir}",
        f"--data_dir={data_dir}",
    ]


def _logged_steps(model_dir: str) -> list[int]:
    path = os.path.join(model_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line)["step"] for line in f if line.strip()]


def _writing_checkpoint(model_dir: str) -> bool:
    checkpoints = os.path.join(model_dir, "checkpoints")
    return os.path.isdir(checkpoints) and any(n.endswith("_temp") for n in os.listdir(checkpoints))


def _interrupt(proc: subprocess.Popen, model_dir: str, signum: int, during_write: bool, rng: random.Random) -> str:
    """Waits for a moment to interrupt ``proc`` at, sends ``signum``; returns when it was sent."""
    start_steps = len(_logged_steps(model_dir))
    deadline = time.time() + FLAGS.timeout
    # Let it train at least one new step, so every restart makes progress.
    while len(_logged_steps(model_dir)) <= start_steps and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    moment = "training"
    if during_write:
        while proc.poll() is None and time.time() < deadline:
            if _writing_checkpoint(model_dir):
                moment = "checkpoint write"
                break
            time.sleep(0.0005)
    else:
        time.sleep(rng.uniform(0.0, 0.3))
    if proc.poll() is None:
        proc.send_signal(signum)
    return moment


def _run_soak(model_dir: str, data_dir: str, log) -> list[dict]:
    rng = random.Random(FLAGS.seed)
    events: list[dict] = []
    order: list[int] = []
    while True:
        proc = subprocess.Popen(_command(model_dir, data_dir), stdout=log, stderr=subprocess.STDOUT)
        if len(events) >= FLAGS.interruptions:
            code = proc.wait(timeout=FLAGS.timeout)
            if code != 0:
                raise SystemExit(f"fault_soak: the last run exited {code}; see {log.name}")
            return events
        if not order:  # every three interruptions use each signal once, in a random order
            order = list(SIGNALS)
            rng.shuffle(order)
        signum = order.pop()
        moment = _interrupt(proc, model_dir, signum, rng.random() < FLAGS.write_fraction, rng)
        code = proc.wait(timeout=FLAGS.timeout)
        if code == 0:  # it finished before the signal
            raise SystemExit("fault_soak: the run finished before all interruptions; raise --train_steps")
        steps = _logged_steps(model_dir)
        events.append({"signal": signal.Signals(signum).name, "moment": moment, "exit": code,
                       "last_logged_step": steps[-1] if steps else 0})  # fmt: skip
        print(f"interruption {len(events)}: {events[-1]}", flush=True)


def _checkpoint_tensors(model_dir: str) -> tuple[int, dict[str, np.ndarray]]:
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    reader = tf.train.load_checkpoint(latest)
    tensors = {name: np.asarray(reader.get_tensor(name)) for name in reader.get_variable_to_shape_map()}
    return int(tensors["step/.ATTRIBUTES/VARIABLE_VALUE"]), tensors


def _event_steps(model_dir: str, tag: str = "d_loss") -> list[int]:
    import tensorflow as tf

    steps = []
    for path in tf.io.gfile.glob(os.path.join(model_dir, "train", "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            steps += [event.step for v in event.summary.value if v.tag == tag]
    return sorted(steps)


def soak() -> dict:
    if FLAGS.train_steps <= 0:
        FLAGS.train_steps = 30 * max(FLAGS.interruptions, 1)
    shutil.rmtree(FLAGS.runs_dir, ignore_errors=True)
    os.makedirs(FLAGS.runs_dir)
    data_dir = FLAGS.data_dir or os.path.join(FLAGS.runs_dir, "tfds")
    reference, soaked = (os.path.join(FLAGS.runs_dir, name) for name in ("reference", "soak"))
    start = time.time()
    with open(os.path.join(FLAGS.runs_dir, "processes.log"), "w") as log:
        subprocess.run(_command(reference, data_dir), stdout=log, stderr=subprocess.STDOUT, check=True)
        events = _run_soak(soaked, data_dir, log)
    target = FLAGS.train_steps
    step, tensors = _checkpoint_tensors(soaked)
    ref_step, ref_tensors = _checkpoint_tensors(reference)
    # Every numeric tensor: the weights, the optimisers' slots and counters, the step (not how often it saved).
    compared = sorted(
        k
        for k in set(tensors) & set(ref_tensors) - {"save_counter/.ATTRIBUTES/VARIABLE_VALUE"}
        if np.issubdtype(tensors[k].dtype, np.number)
    )
    max_diff = max(float(np.max(np.abs(tensors[k].astype(np.float64) - ref_tensors[k]))) for k in compared)
    logged = _logged_steps(soaked)
    checks = {
        "reached_target_step": step == ref_step == target,
        "checkpoint_restores": True,  # every tensor was read above (each is checksummed)
        "metrics_log_every_step_once_in_order": logged == list(range(1, target + 1)),
        "tensorboard_one_value_per_step": _event_steps(soaked) == list(range(1, target + 1)),
        "weights_equal_uninterrupted_run": max_diff <= 1e-5 and set(tensors) == set(ref_tensors),
    }
    return {
        "interruptions_survived": len(events),
        "by_signal": {s.name: sum(e["signal"] == s.name for e in events) for s in SIGNALS},
        "during_checkpoint_writes": sum(e["moment"] == "checkpoint write" for e in events),
        "train_steps": target,
        "max_abs_weight_difference": max_diff,
        "tensors_compared": len(compared),
        "checks": checks,
        "all_checks_pass": all(checks.values()),
        "wall_time_s": round(time.time() - start, 1),
        "events": events,
    }


def main(argv) -> None:
    if len(argv) > 1:
        raise SystemExit(f"fault_soak: unexpected arguments: {' '.join(argv[1:])}")
    report = soak()
    print(json.dumps(report, indent=2))
    sys.exit(0 if report["all_checks_pass"] else 1)


if __name__ == "__main__":
    app.run(main)

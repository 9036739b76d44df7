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
  and XLA is off so TF's CPU kernels give the same bits);
* each interrupted process exited 130 (SIGINT), 143 (SIGTERM) or -9 (SIGKILL);
* each process stopped by SIGINT or SIGTERM (a "clean stop"), read from its
  own stderr (``<runs_dir>/logs/soak-<i>.err``) and its checkpoints right
  after it exited, before the restart: its last line is exactly the one-line
  message (``interrupted (Ctrl-C)`` / ``preempted (SIGTERM)`` at step N,
  naming ``<runs_dir>/soak/checkpoints/ckpt-N``); that checkpoint is the
  latest one and complete (every tensor reads back, its step variable is N);
  it finished the step in flight and no more (N is past the last step logged
  when the signal was sent, it is the last step in ``metrics.jsonl`` and in
  the progress lines); no ``Traceback`` or ``KeyboardInterrupt`` on stderr.

Exit status 0 when every check holds. ``tests/test_fault_soak.py`` runs a
short version (three interruptions, one per signal).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
from absl import app, flags

from infogan_tf.cli.train import PROG
from infogan_tf.errors import INTERRUPTED_EXIT_CODE, PREEMPTED_EXIT_CODE

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
EXIT_STATUS = {"SIGINT": INTERRUPTED_EXIT_CODE, "SIGTERM": PREEMPTED_EXIT_CODE, "SIGKILL": -signal.SIGKILL}
# The last stderr line of a run that SIGINT or SIGTERM stopped (written by infogan_tf.cli.summary.stopped_summary).
STOPPED_LINE = {
    "SIGINT": "{prog}: interrupted (Ctrl-C) at step {step}; checkpoint {checkpoint}; rerun the same command to resume",
    "SIGTERM": "{prog}: preempted (SIGTERM) at step {step}; checkpoint {checkpoint}; rerun the same command to resume",
}
# What each clean stop is checked for (the report's checks name them with a "clean_stops_" prefix).
CLEAN_STOP_CHECKS = (
    "end_with_the_one_line_message",
    "leave_their_checkpoint_latest_and_complete",
    "finish_the_step_in_flight_and_no_more",
    "print_no_traceback",
)


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


class _Logs:
    """Where each process's stdout and stderr go: ``<runs_dir>/logs/<name>.out`` and ``.err``."""

    def __init__(self, runs_dir: str):
        self.dir = os.path.join(runs_dir, "logs")
        os.makedirs(self.dir)

    def start(self, name: str, command: list[str]) -> tuple[subprocess.Popen, str]:
        """Starts ``command`` with its own log files; returns the process and its stderr file."""
        out, err = (os.path.join(self.dir, name + ext) for ext in (".out", ".err"))
        # TF's C++ start-up chatter off (as in the suite), so stderr holds infogan-train's own lines.
        env = {"TF_CPP_MIN_LOG_LEVEL": "2", **os.environ}
        with open(out, "w") as out_file, open(err, "w") as err_file:
            return subprocess.Popen(command, stdout=out_file, stderr=err_file, env=env), err


def _interrupt(
    proc: subprocess.Popen, model_dir: str, signum: int, during_write: bool, rng: random.Random
) -> tuple[str, int]:
    """Waits for a moment to interrupt ``proc`` at, sends ``signum``; returns when, and the last step logged then."""
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
    steps = _logged_steps(model_dir)  # read before the signal: the process is at this step or past it
    if proc.poll() is None:
        proc.send_signal(signum)
    return moment, steps[-1] if steps else 0


def _clean_stop(signame: str, model_dir: str, err_path: str, logged_at_signal: int) -> dict:
    """What a process stopped by SIGINT or SIGTERM left: its last line, its checkpoint (read now, before a restart)."""
    import tensorflow as tf

    with open(err_path, errors="replace") as f:
        err = f.read()
    lines = [line for line in err.splitlines() if line.strip()]
    last_line = lines[-1] if lines else ""
    match = re.search(r" at step (\d+); ", last_line)
    step = int(match.group(1)) if match else None
    checkpoints = os.path.join(model_dir, "checkpoints")
    saved = os.path.join(checkpoints, f"ckpt-{step}")
    latest = tf.train.latest_checkpoint(checkpoints)
    step_variable = _read_checkpoint(saved)[0] if step is not None and os.path.exists(saved + ".index") else None
    logged = _logged_steps(model_dir)
    progress = re.compile(rf"^{re.escape(PROG)}: step (\d+)/", re.MULTILINE)
    progress_steps = [int(s) for s in progress.findall(err)]
    checks = {
        "end_with_the_one_line_message": (
            step is not None and last_line == STOPPED_LINE[signame].format(prog=PROG, step=step, checkpoint=saved)
        ),
        "leave_their_checkpoint_latest_and_complete": latest == saved and step_variable == step,
        # The signal lands in (or between) steps: the step in flight, or the next, finishes; then it saves and stops.
        "finish_the_step_in_flight_and_no_more": (
            step is not None
            and logged_at_signal < step == (logged[-1] if logged else 0)
            and bool(progress_steps)
            and max(progress_steps) == step
        ),
        "print_no_traceback": "Traceback" not in err and "KeyboardInterrupt" not in err,
    }
    return {
        "stderr": err_path,
        "last_line": last_line,
        "stopped_at_step": step,
        "latest_checkpoint_at_exit": latest,
        "checkpoint_step_variable": step_variable,
        "logged_step_at_signal": logged_at_signal,
        "checks": checks,
    }


def _run_soak(model_dir: str, data_dir: str, logs: _Logs) -> list[dict]:
    rng = random.Random(FLAGS.seed)
    events: list[dict] = []
    order: list[int] = []
    while True:
        proc, err_path = logs.start(f"soak-{len(events)}", _command(model_dir, data_dir))
        if len(events) >= FLAGS.interruptions:
            code = proc.wait(timeout=FLAGS.timeout)
            if code != 0:
                raise SystemExit(f"fault_soak: the last run exited {code}; see {err_path}")
            return events
        if not order:  # every three interruptions use each signal once, in a random order
            order = list(SIGNALS)
            rng.shuffle(order)
        signum = order.pop()
        moment, logged_at_signal = _interrupt(proc, model_dir, signum, rng.random() < FLAGS.write_fraction, rng)
        code = proc.wait(timeout=FLAGS.timeout)
        if code == 0:  # it finished before the signal
            raise SystemExit("fault_soak: the run finished before all interruptions; raise --train_steps")
        steps = _logged_steps(model_dir)
        signame = signal.Signals(signum).name
        event = {"signal": signame, "moment": moment, "exit": code, "last_logged_step": steps[-1] if steps else 0}
        if signame in STOPPED_LINE:
            event.update(_clean_stop(signame, model_dir, err_path, logged_at_signal))
        events.append(event)
        print(f"interruption {len(events)}: {event}", flush=True)


def _read_checkpoint(prefix: str) -> tuple[int, dict[str, np.ndarray]]:
    """Every tensor of a checkpoint (each read back, checksummed), and its step variable."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(prefix)
    tensors = {name: np.asarray(reader.get_tensor(name)) for name in reader.get_variable_to_shape_map()}
    return int(tensors["step/.ATTRIBUTES/VARIABLE_VALUE"]), tensors


def _checkpoint_tensors(model_dir: str) -> tuple[int, dict[str, np.ndarray]]:
    import tensorflow as tf

    return _read_checkpoint(tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints")))


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
    runs_dir = os.path.abspath(FLAGS.runs_dir)  # the one-line messages name checkpoints by absolute path
    shutil.rmtree(runs_dir, ignore_errors=True)
    os.makedirs(runs_dir)
    data_dir = FLAGS.data_dir or os.path.join(runs_dir, "tfds")
    reference, soaked = (os.path.join(runs_dir, name) for name in ("reference", "soak"))
    start = time.time()
    logs = _Logs(runs_dir)
    proc, err_path = logs.start("reference", _command(reference, data_dir))
    if proc.wait(timeout=FLAGS.timeout) != 0:
        raise SystemExit(f"fault_soak: the reference run exited {proc.returncode}; see {err_path}")
    events = _run_soak(soaked, data_dir, logs)
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
    clean_stops = [e for e in events if "checks" in e]
    checks = {
        "reached_target_step": step == ref_step == target,
        "checkpoint_restores": True,  # every tensor was read above (each is checksummed)
        "metrics_log_every_step_once_in_order": logged == list(range(1, target + 1)),
        "tensorboard_one_value_per_step": _event_steps(soaked) == list(range(1, target + 1)),
        "weights_equal_uninterrupted_run": max_diff <= 1e-5 and set(tensors) == set(ref_tensors),
        "exit_status_per_signal": all(e["exit"] == EXIT_STATUS[e["signal"]] for e in events),
        **{f"clean_stops_{name}": all(e["checks"][name] for e in clean_stops) for name in CLEAN_STOP_CHECKS},
    }
    return {
        "interruptions_survived": len(events),
        "by_signal": {s.name: sum(e["signal"] == s.name for e in events) for s in SIGNALS},
        "during_checkpoint_writes": sum(e["moment"] == "checkpoint write" for e in events),
        "clean_stops_checked": len(clean_stops),
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

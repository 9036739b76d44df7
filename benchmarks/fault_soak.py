"""Soak: a training run interrupted again and again by SIGINT, SIGTERM and SIGKILL ends as if never interrupted.

    python -m benchmarks.fault_soak --manual_dir=../shared/data/mnist --interruptions=20

Runs ``infogan-train`` (the real CLI, a small model, MNIST) twice into
``--runs_dir``: once straight through (``reference/``), once (``soak/``)
interrupted ``--interruptions`` times at random moments -- some while a
checkpoint is being written -- by a signal drawn from SIGINT, SIGTERM and
SIGKILL, and restarted with the same command each time, until it reaches
``--train_steps``. A SIGKILL aimed at a write (all of them with
``--kill_in_write``) is verified to land inside it: the process is frozen
(SIGSTOP, every thread stopped) when a checkpoint's ``_temp`` files are seen
(once an earlier checkpoint is complete), and killed only if they are still
there (else it runs on to the next write); the event records those files. Then it checks what a user relies on and
prints one JSON report:

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
* each process stopped by SIGKILL, read from its checkpoints before the
  restart: a kill aimed at a write landed inside one; the checkpoint the
  state file names is the latest one it lists and complete (every tensor
  reads back, its step variable is its number); every listed checkpoint that
  exists is complete; at least min(2, checkpoints saved so far) are kept
  (the runs' ``--keep_checkpoints=2``); and the restarted process says ``resumed from`` that
  checkpoint ``at step N`` (its own stderr).
* at the end, no debris of an unfinished write in the soak run's
  checkpoints: no ``*_temp`` or ``checkpoint.tmp*``, no checkpoint files of
  a step past the state file's latest.

Exit status 0 when every check holds. ``tests/test_fault_soak.py`` runs a
short version (three interruptions, one per signal; its SIGKILL inside a
write).
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
from typing import NamedTuple

import numpy as np
from absl import app, flags

from infogan_tf.cli.train import PROG
from infogan_tf.errors import INTERRUPTED_EXIT_CODE, PREEMPTED_EXIT_CODE
from infogan_tf.training.rundir import checkpoint_damage, checkpoint_step

flags.DEFINE_string("manual_dir", "../shared/data/mnist", "The four official MNIST files.")
flags.DEFINE_string("data_dir", None, "TFDS data directory (default: <runs_dir>/tfds).")
flags.DEFINE_string("runs_dir", "runs/fault_soak", "Where the two runs go (replaced).")
flags.DEFINE_integer("interruptions", 20, "How many times to interrupt the soak run.")
flags.DEFINE_integer("train_steps", 0, "Target step (default: 30 per interruption, so there is room for them).")
flags.DEFINE_integer("checkpoint_every", 3, "Steps between checkpoints (small: many writes to interrupt).")
flags.DEFINE_integer("seed", 0, "Seed of the runs and of the interruption schedule.")
flags.DEFINE_float("write_fraction", 0.3, "Share of interruptions aimed at a checkpoint write in progress.")
flags.DEFINE_bool(
    "kill_in_write",
    False,
    "Aim every SIGKILL at a checkpoint write (after the first checkpoint), whatever --write_fraction says.",
)
flags.DEFINE_integer("timeout", 600, "Seconds any one process may take.")
flags.DEFINE_integer(
    "fake_images",
    0,
    "Train on this many fixed random images instead of MNIST (through infogan-train's images seam; "
    "faster start-up, for the suite's short version).",
)
FLAGS = flags.FLAGS

KEEP_CHECKPOINTS = 2
SMALL_MODEL = [
    "--batch_size=16",
    "--g_fc_units=64",
    "--g_filters=32,16",
    "--d_filters=16,32",
    "--d_fc_units=64",
    "--q_fc_units=32",
    "--summary_every=1000000",
    "--log_every=1",
    f"--keep_checkpoints={KEEP_CHECKPOINTS}",
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
# What each SIGKILL is checked for (the report's checks name them with a "kills_" prefix).
KILL_CHECKS = (
    "aimed_at_a_write_land_inside_one",
    "leave_the_latest_checkpoint_complete",
    "leave_every_listed_checkpoint_complete",
    "keep_the_checkpoints_asked_for",
    "resume_from_that_checkpoint",
)
INSIDE_WRITE = "inside a checkpoint write"


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


def _checkpoints(model_dir: str) -> str:
    return os.path.join(model_dir, "checkpoints")


def _writes_in_progress(model_dir: str) -> list[str]:
    """The temp files of a checkpoint being written (TF's ``ckpt-N_temp``, merged into ``ckpt-N.*`` at the end)."""
    checkpoints = _checkpoints(model_dir)
    names = os.listdir(checkpoints) if os.path.isdir(checkpoints) else []
    return sorted(n for n in names if n.endswith("_temp"))


def _unfinished_writes(model_dir: str) -> list[str]:
    """What an unfinished write leaves: temp files, or checkpoint files of a step past the state file's latest."""
    import tensorflow as tf

    checkpoints = _checkpoints(model_dir)
    state = tf.train.get_checkpoint_state(checkpoints)
    latest = checkpoint_step(state.model_checkpoint_path) if state else 0
    file_step = re.compile(r"ckpt-(\d+)\.")
    return sorted(
        name
        for name in os.listdir(checkpoints)
        if name.endswith("_temp")
        or name.startswith("checkpoint.tmp")
        or ((m := file_step.match(name)) is not None and int(m.group(1)) > latest)
    )


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


class _Sent(NamedTuple):
    """When a signal was sent: the moment, the last step logged then; a SIGKILL in a write: the temp files it
    froze the process with, and how many freezes that took (the others found the write already finished)."""

    moment: str
    logged_step: int
    write_in_progress: tuple[str, ...] = ()
    freezes: int = 0


def _stopped(proc: subprocess.Popen) -> bool:
    """Waits until every thread of ``proc`` has stopped (after a SIGSTOP); False if it exited instead.

    ``WNOWAIT`` leaves the exit status for ``proc.wait``; a stop is only reported while the process is stopped.
    """
    info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WSTOPPED | os.WNOWAIT)
    return info is not None and info.si_code == os.CLD_STOPPED


def _kill_inside_write(proc: subprocess.Popen, model_dir: str, deadline: float) -> tuple[tuple[str, ...], int]:
    """SIGKILLs ``proc`` inside a checkpoint write; returns the temp files it froze it with (none: no write
    caught), and the number of freezes.

    Whenever a write's temp files are seen (and an earlier checkpoint is complete, so there is one to
    resume from), the process is frozen (SIGSTOP); if the files are still there, the write is unfinished
    and SIGKILL lands inside it, else it runs on (SIGCONT) to the next write. No write caught before
    the deadline: killed where it is.
    """
    state_file = os.path.join(_checkpoints(model_dir), "checkpoint")
    freezes = 0
    while proc.poll() is None and time.time() < deadline:
        if _writes_in_progress(model_dir) and os.path.exists(state_file):
            proc.send_signal(signal.SIGSTOP)
            freezes += 1
            if not _stopped(proc):
                return (), freezes
            frozen = tuple(_writes_in_progress(model_dir))
            if frozen:
                proc.send_signal(signal.SIGKILL)
                return frozen, freezes
            proc.send_signal(signal.SIGCONT)
        time.sleep(0.0005)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    return (), freezes


def _interrupt(proc: subprocess.Popen, model_dir: str, signum: int, during_write: bool, rng: random.Random) -> _Sent:
    """Waits for a moment to interrupt ``proc`` at and sends ``signum`` (a SIGKILL in a write: frozen inside it)."""
    start_steps = len(_logged_steps(model_dir))
    deadline = time.time() + FLAGS.timeout
    # Let it train at least one new step, so every restart makes progress.
    while len(_logged_steps(model_dir)) <= start_steps and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    if during_write and signum == signal.SIGKILL:
        frozen, freezes = _kill_inside_write(proc, model_dir, deadline)
        moment = INSIDE_WRITE if frozen else "training"
        return _Sent(moment, (_logged_steps(model_dir) or [0])[-1], frozen, freezes)
    moment = "training"
    if during_write:
        while proc.poll() is None and time.time() < deadline:
            if _writes_in_progress(model_dir):
                moment = "checkpoint write"
                break
            time.sleep(0.0005)
    else:
        time.sleep(rng.uniform(0.0, 0.3))
    steps = _logged_steps(model_dir)  # read before the signal: the process is at this step or past it
    if proc.poll() is None:
        proc.send_signal(signum)
    return _Sent(moment, steps[-1] if steps else 0)


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
    step_variable = _step_variable(saved) if step is not None and os.path.exists(saved + ".index") else None
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


_STEP_VARIABLE = "step/.ATTRIBUTES/VARIABLE_VALUE"


def _complete_step(prefix: str) -> int | None:
    """The step variable of a checkpoint whose every tensor reads back (None: it does not)."""
    return None if checkpoint_damage(prefix) else _step_variable(prefix)


def _after_kill(model_dir: str, aimed_at_write: bool, sent: _Sent, last_logged: int, clean_stops: list[int]) -> dict:
    """What a SIGKILL left in the checkpoints (read now, before the restart; the resume is checked after it).

    ``last_logged``: the last step in ``metrics.jsonl``; ``clean_stops``: the steps earlier clean stops saved.
    """
    import tensorflow as tf

    state = tf.train.get_checkpoint_state(_checkpoints(model_dir))
    latest = state.model_checkpoint_path if state else None
    kept = [p for p in (state.all_model_checkpoint_paths if state else []) if os.path.exists(p + ".index")]
    steps = {p: _complete_step(p) for p in kept}
    # Saved so far: every multiple of --checkpoint_every up to the latest, and each clean stop's step.
    latest_step = checkpoint_step(latest) if latest else 0
    saved = set(range(FLAGS.checkpoint_every, latest_step + 1, FLAGS.checkpoint_every)) | {
        s for s in clean_stops if s <= latest_step
    }
    # No state file is right only before the first checkpoint is recorded (a step is logged before its save).
    nothing_saved_yet = latest is None and last_logged <= FLAGS.checkpoint_every
    checks = {
        "aimed_at_a_write_land_inside_one": not aimed_at_write or sent.moment == INSIDE_WRITE,
        "leave_the_latest_checkpoint_complete": nothing_saved_yet
        or (latest in kept and steps[latest] == latest_step == max(checkpoint_step(p) for p in kept)),
        "leave_every_listed_checkpoint_complete": all(step == checkpoint_step(p) for p, step in steps.items()),
        "keep_the_checkpoints_asked_for": len(kept) >= min(KEEP_CHECKPOINTS, len(saved)),
        "resume_from_that_checkpoint": False,  # set by _check_resume once the next process has run
    }
    return {
        "aimed_at_write": aimed_at_write,
        "write_in_progress": list(sent.write_in_progress),
        "freezes": sent.freezes,
        "latest_checkpoint_at_exit": latest,
        "checkpoint_step_variable": steps.get(latest) if latest else None,
        "kept_checkpoints": kept,
        "checks": checks,
    }


def _check_resume(events: list[dict], err_path: str) -> None:
    """If the last event was a SIGKILL: did this next process say it resumed from the checkpoint the kill left?

    (None left, before the first one: it starts afresh, with no "resumed from" line.)
    """
    if not events or events[-1]["signal"] != "SIGKILL":
        return
    kill = events[-1]
    latest = kill["latest_checkpoint_at_exit"]
    with open(err_path, errors="replace") as f:
        lines = f.read().splitlines()
    kill["rerun_stderr"] = err_path
    kill["checks"]["resume_from_that_checkpoint"] = (
        f"{PROG}: resumed from {latest} at step {checkpoint_step(latest)}" in lines
        if latest
        else not any("resumed from" in line for line in lines)
    )


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
            _check_resume(events, err_path)
            return events
        if not order:  # every three interruptions use each signal once, in a random order
            order = list(SIGNALS)
            rng.shuffle(order)
        signum = order.pop()
        during_write = rng.random() < FLAGS.write_fraction or (FLAGS.kill_in_write and signum == signal.SIGKILL)
        sent = _interrupt(proc, model_dir, signum, during_write, rng)
        code = proc.wait(timeout=FLAGS.timeout)
        if code == 0:  # it finished before the signal
            raise SystemExit("fault_soak: the run finished before all interruptions; raise --train_steps")
        _check_resume(events, err_path)
        steps = _logged_steps(model_dir)
        last_logged = steps[-1] if steps else 0
        signame = signal.Signals(signum).name
        event = {"signal": signame, "moment": sent.moment, "exit": code, "last_logged_step": last_logged}
        if signame in STOPPED_LINE:
            event.update(_clean_stop(signame, model_dir, err_path, sent.logged_step))
        else:
            stops = [e["stopped_at_step"] for e in events if e["signal"] in STOPPED_LINE and e["stopped_at_step"]]
            event.update(_after_kill(model_dir, during_write, sent, last_logged, stops))
        events.append(event)
        print(f"interruption {len(events)}: {event}", flush=True)


def _step_variable(prefix: str) -> int:
    """A checkpoint's step variable (that tensor alone read back)."""
    import tensorflow as tf

    return int(tf.train.load_checkpoint(prefix).get_tensor(_STEP_VARIABLE))


def _read_checkpoint(prefix: str) -> tuple[int, dict[str, np.ndarray]]:
    """Every tensor of a checkpoint (each read back, checksummed), and its step variable."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(prefix)
    tensors = {name: np.asarray(reader.get_tensor(name)) for name in reader.get_variable_to_shape_map()}
    return int(tensors[_STEP_VARIABLE]), tensors


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
    clean_stops = [e for e in events if e["signal"] in STOPPED_LINE]
    kills = [e for e in events if e["signal"] == "SIGKILL"]
    debris = _unfinished_writes(soaked)
    checks = {
        "reached_target_step": step == ref_step == target,
        "checkpoint_restores": True,  # every tensor was read above (each is checksummed)
        "metrics_log_every_step_once_in_order": logged == list(range(1, target + 1)),
        "tensorboard_one_value_per_step": _event_steps(soaked) == list(range(1, target + 1)),
        "weights_equal_uninterrupted_run": max_diff <= 1e-5 and set(tensors) == set(ref_tensors),
        "exit_status_per_signal": all(e["exit"] == EXIT_STATUS[e["signal"]] for e in events),
        **{f"clean_stops_{name}": all(e["checks"][name] for e in clean_stops) for name in CLEAN_STOP_CHECKS},
        **{f"kills_{name}": all(e["checks"][name] for e in kills) for name in KILL_CHECKS},
        "no_unfinished_write_debris": not debris,
    }
    return {
        "interruptions_survived": len(events),
        "by_signal": {s.name: sum(e["signal"] == s.name for e in events) for s in SIGNALS},
        "during_checkpoint_writes": sum(e["moment"] in ("checkpoint write", INSIDE_WRITE) for e in events),
        "kills_inside_a_checkpoint_write": sum(e["moment"] == INSIDE_WRITE for e in kills),
        "clean_stops_checked": len(clean_stops),
        "kills_checked": len(kills),
        "unfinished_write_debris": debris,
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

"""Nothing is lost on a second Ctrl-C during the save, or on a numerical blow-up.

The signal test runs the real CLI as a process (``tests/cluster_worker.py``:
fixed fake images, tiny model) and interferes with it from outside, then
checks what is on disk with TF's own checkpoint reader and resumes. The
numerical blow-up is the CLI in-process, with NaN fed through its input seam.

A single SIGTERM or Ctrl-C (exit 143/130, the one line naming the checkpoint
saved at the step it stopped at, that checkpoint the latest and complete, no
traceback) and SIGKILL, at random moments and frozen inside a checkpoint
write (the state file names a complete checkpoint, every listed one is
complete, the rerun resumes from it, no debris left), are checked in the
soak, ``benchmarks/fault_soak.py`` (its short version: ``test_fault_soak.py``).
"""

import os
import re
import signal
import time

import local_cluster
import numpy as np
import pytest
import tensorflow as tf
from conftest import nan_input_fn, tiny_config
from local_cluster import TINY_FLAGS

from infogan_tf.cli import train as train_cli
from infogan_tf.errors import INTERRUPTED_EXIT_CODE
from infogan_tf.training.rundir import latest_checkpoint

CKPT_STEP = "step/.ATTRIBUTES/VARIABLE_VALUE"


def _flags(model_dir, **extra):
    values = {"model_dir": model_dir, "log_every": 1, **extra}
    return [*TINY_FLAGS, *(f"--{k}={v}" for k, v in values.items())]


def _checkpoint_files(checkpoints):
    return sorted(os.listdir(checkpoints)) if os.path.isdir(checkpoints) else []


def _assert_complete(prefix):
    """Every tensor of the checkpoint reads back; returns its step variable."""
    reader = tf.train.load_checkpoint(prefix)
    for name in reader.get_variable_to_shape_map():
        value = np.asarray(reader.get_tensor(name))
        if np.issubdtype(value.dtype, np.floating):
            assert np.all(np.isfinite(value)), f"{prefix}: {name} is not finite"
    return int(reader.get_tensor(CKPT_STEP))


# SIGTERM or one Ctrl-C: exit 143/130, the one line naming ckpt-N, that checkpoint the latest and complete,
# the step in flight finished and no more, no traceback: benchmarks/fault_soak.py (test_fault_soak.py).


@pytest.mark.slow
def test_a_second_ctrl_c_during_the_save_aborts_at_once_and_the_rerun_resumes(tmp_path):
    model_dir = str(tmp_path / "run")
    checkpoints = os.path.join(model_dir, "checkpoints")
    flags = _flags(model_dir, train_steps=100000, checkpoint_every=2)
    # A Ctrl-C, then another while the save it asked for runs: the process dies at once.
    # That save takes milliseconds, so on a loaded machine the poll can miss it: the run then ends
    # after one Ctrl-C (130, a checkpoint; what that leaves is checked in the soak) and the rerun
    # tries again from there.
    step, saved = 0, None
    for attempt in range(5):
        run = local_cluster.start(str(tmp_path), f"run-{attempt}", flags)
        try:
            # By then a complete checkpoint is on disk (a fresh run's ckpt-2, or the one it resumed from).
            local_cluster.wait_for([run], f"step {step + 3}/", timeout=240)
            run.popen.send_signal(signal.SIGINT)
            local_cluster.wait_for([run], "Ctrl-C received", timeout=60)
            deadline = time.time() + 60
            while _unfinished_write(checkpoints) != "temp" and time.time() < deadline and run.popen.poll() is None:
                time.sleep(0.0005)
            run.popen.send_signal(signal.SIGSTOP)  # frozen inside the save ...
            frozen_in_save = _unfinished_write(checkpoints) == "temp"
            if frozen_in_save:
                run.popen.send_signal(signal.SIGINT)  # ... the second Ctrl-C waits for it ...
            run.popen.send_signal(signal.SIGCONT)  # ... and lands there
            code = local_cluster.finish([run], timeout=60)
        finally:
            local_cluster.stop([run])
        if saved is not None:
            assert f"resumed from {saved} at step {step}" in run.err()
        if frozen_in_save:
            break
        assert code == [INTERRUPTED_EXIT_CODE], run.err()[-3000:]
        step = run.report_json()["step"]
        saved = os.path.join(checkpoints, f"ckpt-{step}")
    assert frozen_in_save, "the save after the first Ctrl-C was not caught in progress in 5 tries"
    assert code == [-signal.SIGINT], run.err()[-3000:]  # died of the second Ctrl-C: no waiting, no message
    assert "interrupted (Ctrl-C) at step" not in run.err()
    latest = latest_checkpoint(checkpoints)
    assert _assert_complete(latest) == int(latest.rsplit("-", 1)[1]) >= step
    # The same command again starts from that checkpoint and clears the interrupted write.
    final = local_cluster.start(str(tmp_path), "final", _flags(model_dir, train_steps=step + 6, checkpoint_every=2))
    assert local_cluster.finish([final], timeout=240) == [0], final.err()[-3000:]
    assert f"resumed from {latest}" in final.err() and _unfinished_write(checkpoints) is None


def _state_latest(checkpoints):
    """Step of the checkpoint named by the state file (None: no state file)."""
    latest = tf.train.latest_checkpoint(checkpoints)
    return int(latest.rsplit("-", 1)[1]) if latest else None


def _unfinished_write(checkpoints):
    """A checkpoint being written: its temp dir, or its files before the state names it."""
    names = _checkpoint_files(checkpoints)
    if any(n.endswith("_temp") for n in names):
        return "temp"
    latest = _state_latest(checkpoints) or 0
    steps = [int(m.group(1)) for m in map(re.compile(r"ckpt-(\d+)\.index$").match, names) if m]
    if any(s > latest for s in steps):
        return "unrecorded"
    return None


# SIGKILL inside a checkpoint write: benchmarks/fault_soak.py --kill_in_write (test_fault_soak.py).


def test_injected_nan_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path, fake_images, capsys):
    model_dir = str(tmp_path / "run")
    checkpoints = os.path.join(model_dir, "checkpoints")
    config = tiny_config(model_dir)
    code = train_cli.main(
        ["infogan-train", *_flags(model_dir, train_steps=10, checkpoint_every=1)],
        images=fake_images,
        input_fn=nan_input_fn(fake_images, config, nan_step=4),
    )
    err = capsys.readouterr().err
    assert code == 1, err[-3000:]
    good = os.path.join(checkpoints, "ckpt-3")
    line = err.strip().splitlines()[-1]
    assert line.startswith("infogan-train: error: non-finite d_loss")
    assert line.endswith(f"at step 4; training stopped. The last good checkpoint is {good}")
    assert "Traceback" not in err
    assert tf.train.latest_checkpoint(checkpoints) == good and _assert_complete(good) == 3
    assert not os.path.exists(os.path.join(checkpoints, "ckpt-4.index"))

"""Two workers on 127.0.0.1 under MultiWorkerMirroredStrategy, each the real ``infogan-train``.

Every test starts one process per worker (``tests/local_cluster.py``: free
ports, a TF_CONFIG each, the same 64 fixed images) and checks what each
worker reports and what is on disk.
"""

import glob
import os
import re
import shutil
import signal
import tempfile

import local_cluster
import numpy as np
import pytest
import tensorflow as tf
from conftest import snapshot
from local_cluster import TINY_FLAGS

from infogan_tf.errors import INTERRUPTED_EXIT_CODE, PREEMPTED_EXIT_CODE
from infogan_tf.training.rundir import latest_checkpoint

pytestmark = [pytest.mark.slow, pytest.mark.multiworker]

TIMEOUT = 300  # generous: CI machines are shared


def _flags(model_dir, **extra):
    values = {"model_dir": model_dir, "log_every": 1, **extra}
    return [*TINY_FLAGS, *(f"--{k}={v}" for k, v in values.items())]


def _logged_metrics(worker):
    """The reduced metrics of each logged step (without the worker's own throughput)."""
    return re.findall(r"step \d+/\d+ .*? D\(G\(z\)\)=\S+", worker.err())


def _assert_workers_identical(workers):
    first, second = (w.weights() for w in workers)
    assert sorted(first) == sorted(second) and len(first) > 50
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    assert _logged_metrics(workers[0]) == _logged_metrics(workers[1]) != []


def test_two_workers_train_alike_only_the_chief_writes_sigterm_or_ctrl_c_stops_both_and_they_resume(tmp_path):
    model_dir = str(tmp_path / "run")
    checkpoints = os.path.join(model_dir, "checkpoints")
    workers = local_cluster.start_cluster(str(tmp_path), _flags(model_dir, train_steps=100000, checkpoint_every=2))
    try:
        local_cluster.wait_for(workers, "step 3/", timeout=TIMEOUT)
        # Preempt the non-chief only: the chief must still save, at the same step.
        workers[1].popen.send_signal(signal.SIGTERM)
        codes = local_cluster.finish(workers, timeout=TIMEOUT)
    finally:
        local_cluster.stop(workers)
    assert codes == [PREEMPTED_EXIT_CODE] * 2, [w.err()[-2000:] for w in workers]

    chief, other = (w.report_json() for w in workers)
    step = chief["step"]
    assert chief["chief"] and not other["chief"] and other["step"] == step >= 4
    _assert_workers_identical(workers)
    saved = os.path.join(checkpoints, f"ckpt-{step}")
    assert workers[0].last_line() == (
        f"infogan-train: preempted (SIGTERM) at step {step}; checkpoint {saved}; rerun the same command to resume"
    )
    assert workers[1].last_line() == (
        f"infogan-train: preempted (SIGTERM) at step {step}; the chief saved the checkpoint; "
        "rerun the same command to resume"
    )
    assert tf.train.latest_checkpoint(checkpoints) == saved
    assert int(tf.train.load_checkpoint(saved).get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")) == step
    # Only the chief wrote; the other worker's scratch directory is gone.
    assert chief["write_dir"] == model_dir
    assert sorted(os.listdir(model_dir)) == ["checkpoints", "config.json", "metrics.jsonl", "train"]
    assert not os.path.exists(other["write_dir"])

    # The same command on both workers continues from the chief's checkpoint; a Ctrl-C on the chief
    # now stops both after the same step, as SIGTERM did.
    workers = local_cluster.start_cluster(str(tmp_path), _flags(model_dir, train_steps=100000, checkpoint_every=2))
    try:
        local_cluster.wait_for(workers, f"step {step + 2}/", timeout=TIMEOUT)
        workers[0].popen.send_signal(signal.SIGINT)
        codes = local_cluster.finish(workers, timeout=TIMEOUT)
    finally:
        local_cluster.stop(workers)
    assert codes == [INTERRUPTED_EXIT_CODE] * 2, [w.err()[-2000:] for w in workers]
    for w in workers:
        assert f"resumed from {saved} at step {step}" in w.err()
        assert "Traceback" not in w.err()
    second = workers[0].report_json()["step"]
    assert workers[1].report_json()["step"] == second >= step + 2
    _assert_workers_identical(workers)
    final = os.path.join(checkpoints, f"ckpt-{second}")
    assert workers[0].last_line() == (
        f"infogan-train: interrupted (Ctrl-C) at step {second}; checkpoint {final}; rerun the same command to resume"
    )
    assert workers[1].last_line() == (
        f"infogan-train: interrupted (Ctrl-C) at step {second}; the chief saved the checkpoint; "
        "rerun the same command to resume"
    )
    assert workers[1].out() == "" and tf.train.latest_checkpoint(checkpoints) == final
    assert not os.path.exists(workers[1].report_json()["write_dir"])


def test_workers_with_different_flags_refuse_to_start(tmp_path):
    model_dir = str(tmp_path / "run")
    workers = local_cluster.start_cluster(
        str(tmp_path), _flags(model_dir, train_steps=5), per_worker_flags=[[], ["--seed=1"]]
    )
    assert local_cluster.finish(workers, timeout=TIMEOUT) == [2, 2], [w.err()[-2000:] for w in workers]
    for w in workers:
        assert w.last_line() == (
            "infogan-train: error: worker 1 was started with other flags than worker 0; every worker of a run "
            "needs the same flags (only the paths --model_dir, --data_dir, --manual_dir may differ)"
        )
    assert not os.path.exists(model_dir)


def test_a_worker_that_cannot_see_the_chiefs_model_dir_is_refused(tmp_path, trained_model_dir):
    """Without shared storage the second worker would start at step 0 while the chief resumes."""
    model_dir = str(tmp_path / "run")
    shutil.copytree(trained_model_dir, model_dir)
    before = snapshot(model_dir)
    elsewhere = str(tmp_path / "not_shared")
    workers = local_cluster.start_cluster(
        str(tmp_path), _flags(model_dir, train_steps=6), per_worker_flags=[[], [f"--model_dir={elsewhere}"]]
    )
    assert local_cluster.finish(workers, timeout=TIMEOUT) == [1, 1], [w.err()[-2000:] for w in workers]
    for w in workers:
        assert w.last_line() == (
            "infogan-train: error: the workers restored different steps (worker 0: 4, worker 1: 0); every "
            "worker must read the chief's --model_dir (shared storage). Nothing was changed"
        )
    assert snapshot(model_dir) == before and not os.path.exists(elsewhere)


def test_a_killed_worker_stops_the_other_with_one_line_and_the_checkpoints_survive(tmp_path):
    model_dir = str(tmp_path / "run")
    checkpoints = os.path.join(model_dir, "checkpoints")
    workers = local_cluster.start_cluster(str(tmp_path), _flags(model_dir, train_steps=100000, checkpoint_every=2))
    try:
        local_cluster.wait_for(workers, "step 3/", timeout=TIMEOUT)
        workers[1].popen.send_signal(signal.SIGKILL)
        assert local_cluster.finish(workers[:1], timeout=TIMEOUT) == [1], workers[0].err()[-3000:]
    finally:
        local_cluster.stop(workers)
        # A killed non-chief cannot remove its scratch directory (README says so); the test does.
        for scratch in glob.glob(os.path.join(tempfile.gettempdir(), f"infogan_worker_{workers[1].popen.pid}_*")):
            shutil.rmtree(scratch)
    latest = latest_checkpoint(checkpoints)
    line = workers[0].last_line()
    assert re.fullmatch(
        r"infogan-train: error: the cluster lost /job:worker/replica:0/task:1 during step \d+ \(\w+Error\); "
        rf"restart every worker with the same flags to resume from {re.escape(latest)}",
        line,
    ), line
    step = int(latest.rsplit("-", 1)[1])
    assert step >= 2 and int(tf.train.load_checkpoint(latest).get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")) == step

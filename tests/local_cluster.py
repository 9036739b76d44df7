"""Test helper: starts ``infogan-train`` processes (one per worker) on 127.0.0.1.

Each process runs ``tests/cluster_worker.py`` (the real CLI on TFDS mock data)
with its own TF_CONFIG; stdout and stderr go to files so a test can wait for
a log line, send a signal, and read the one-line messages afterwards.
Processes are only ever stopped by their own pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import NamedTuple

import numpy as np

from infogan_tf.training.distribute import loopback_tf_configs

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER_SCRIPT = os.path.join(HERE, "cluster_worker.py")

# The tiny model and run shape every fault-tolerance test uses. No XLA: these
# tests are about processes, signals and files, and compiling the step would
# add an XLA compilation to every process's start-up (XLA's own path is tested
# in test_trainer.py and test_train_cli.py).
TINY_FLAGS = (
    "--batch_size=8",
    "--g_fc_units=32",
    "--g_filters=16,8",
    "--d_filters=8,16",
    "--d_fc_units=32",
    "--q_fc_units=16",
    "--summary_every=1000",
    "--nojit_compile",
    "--mixed_precision=float32",  # the same numbers on every machine (auto would pick bfloat16 on some)
)
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
# Workers of one cluster share the cores: one op thread each keeps them from thrashing.
WORKER_ENV = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}


class Process(NamedTuple):
    """One started ``infogan-train`` process and where its outputs go."""

    popen: subprocess.Popen
    report: str  # prefix of the .npz/.json report cluster_worker.py writes
    stdout: str
    stderr: str

    def err(self) -> str:
        with open(self.stderr, errors="replace") as f:
            return f.read()

    def out(self) -> str:
        with open(self.stdout, errors="replace") as f:
            return f.read()

    def last_line(self) -> str:
        """The last stderr line: the one-line message of a failed or preempted run."""
        lines = [line for line in self.err().splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def report_json(self) -> dict:
        with open(self.report + ".json") as f:
            return json.load(f)

    def weights(self) -> dict:
        with np.load(self.report + ".npz") as z:
            return {k: z[k] for k in z.files}


def start(directory: str, name: str, flags, tf_config: str | None = None) -> Process:
    """Starts one ``infogan-train`` process (a cluster worker if ``tf_config`` is given)."""
    env = dict(ENV)
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env.update(WORKER_ENV, TF_CONFIG=tf_config)
    prefix = os.path.join(directory, name)
    with open(prefix + ".out", "w") as out, open(prefix + ".err", "w") as err:
        popen = subprocess.Popen(
            [sys.executable, WORKER_SCRIPT, prefix, *flags], stdout=out, stderr=err, env=env, cwd=directory
        )
    return Process(popen, prefix, prefix + ".out", prefix + ".err")


def start_cluster(directory: str, flags, num_workers: int = 2, per_worker_flags=None) -> list[Process]:
    """Starts a loopback cluster of ``num_workers`` processes with --strategy=multi_worker."""
    extra = per_worker_flags or [[] for _ in range(num_workers)]
    return [
        start(directory, f"worker{i}", ["--strategy=multi_worker", *flags, *extra[i]], cfg)
        for i, cfg in enumerate(loopback_tf_configs(num_workers))
    ]


def wait_for(processes, text: str, timeout: float) -> None:
    """Waits until every process has logged ``text`` (fails if one exits first)."""
    deadline = time.time() + timeout
    for p in processes:
        while text not in p.err():
            if p.popen.poll() is not None:
                raise AssertionError(
                    f"{p.report} exited ({p.popen.returncode}) before logging {text!r}:\n{p.err()[-3000:]}"
                )
            if time.time() > deadline:
                raise AssertionError(f"{p.report} did not log {text!r} within {timeout}s:\n{p.err()[-3000:]}")
            time.sleep(0.05)


def finish(processes, timeout: float) -> list[int]:
    """Waits for every process; kills (by pid) any still running after ``timeout``."""
    deadline = time.time() + timeout
    codes = []
    try:
        for p in processes:
            codes.append(p.popen.wait(timeout=max(deadline - time.time(), 1)))
    finally:
        stop(processes)
    return codes


def stop(processes) -> None:
    """SIGKILLs those of ``processes`` still running (cleanup after a failed test)."""
    for p in processes:
        if p.popen.poll() is None:
            p.popen.send_signal(signal.SIGKILL)
            p.popen.wait()

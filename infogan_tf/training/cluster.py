"""The multi-worker concerns of a run: who is chief, whether the workers agree, lost workers.

Under MultiWorkerMirroredStrategy only the chief writes to ``--model_dir``;
the others write to a scratch directory removed at the end (saving may
involve collectives, so they take part in it). Before the first step every
worker reports a fingerprint of its flags and the step it restored; the
decision on those reports is the pure function :func:`check_agreement`. A
collective that fails because a worker went away becomes one
:class:`~infogan_tf.errors.ClusterError` line (:func:`cluster_error`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import uuid
from collections.abc import Sequence
from typing import NamedTuple

import tensorflow as tf

from infogan_tf.config import TrainConfig
from infogan_tf.errors import CheckpointError, ClusterError, ConfigError


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that writes checkpoints, summaries and config."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not is_multi_worker(strategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return (
        task_type is None
        or task_type == "chief"
        or (task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict())
    )


def scratch_dir() -> str:
    """Where a non-chief worker writes (created by its first write; the loop removes it)."""
    return os.path.join(tempfile.gettempdir(), f"infogan_worker_{os.getpid()}_{uuid.uuid4().hex[:8]}")


def config_fingerprint(config: TrainConfig) -> int:
    """A 60-bit hash of the flags that must be equal on every worker (paths may differ)."""
    d = config.to_dict()
    d["runtime"]["model_dir"] = d["data"]["data_dir"] = d["data"]["manual_dir"] = None
    text = json.dumps(d, sort_keys=True)
    return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)


class WorkerReport(NamedTuple):
    """What one worker says before the first step."""

    fingerprint: int
    start_step: int


def check_agreement(reports: Sequence[WorkerReport]) -> None:
    """Every worker must run the same flags from the same step (reports in worker order).

    Workers that disagree would otherwise train silently apart (or wait for
    each other forever); every worker raises the same error instead.
    """
    if len({r.fingerprint for r in reports}) > 1:
        odd = next(i for i, r in enumerate(reports) if r.fingerprint != reports[0].fingerprint)
        raise ConfigError(
            f"worker {odd} was started with other flags than worker 0; every worker of a "
            "run needs the same flags (only the paths --model_dir, --data_dir, --manual_dir may differ)"
        )
    if len({r.start_step for r in reports}) > 1:
        steps = ", ".join(f"worker {i}: {r.start_step}" for i, r in enumerate(reports))
        raise CheckpointError(
            f"the workers restored different steps ({steps}); every worker must read the "
            "chief's --model_dir (shared storage). Nothing was changed"
        )


def gather_reports(strategy: tf.distribute.Strategy, report: WorkerReport) -> list[WorkerReport]:
    """Every worker's report, in worker order (a collective: every worker must call it)."""
    local = tf.constant([[report.fingerprint, report.start_step]], tf.int64)
    # One row per replica, in replica order: each worker's replicas are contiguous.
    gather = tf.function(lambda: strategy.gather(strategy.run(lambda: tf.identity(local)), axis=0))
    rows = gather().numpy()
    per_worker = rows[:: len(strategy.extended.worker_devices)]
    return [WorkerReport(int(r[0]), int(r[1])) for r in per_worker]


def cluster_error(error: tf.errors.OpError, when: str, last_checkpoint: str | None) -> ClusterError:
    """One line for a collective that failed because a worker went away."""
    tasks = sorted(set(re.findall(r"/job:\w+/replica:\d+/task:\d+", error.message)))
    lost = f"lost {', '.join(tasks)}" if tasks else "failed"
    return ClusterError(
        f"the cluster {lost} {when} ({type(error).__name__}); restart every worker with the "
        f"same flags to resume from {last_checkpoint or 'step 0 (no checkpoint yet)'}"
    )

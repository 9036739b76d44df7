"""What a run logs -- the progress line, ``metrics.jsonl``, the TensorBoard events -- and rewinding them on resume.

``metrics.jsonl`` and TensorBoard get every metric of the step (the
objective's terms declare them, ``model.objective``); the progress line the
ones a term declares ``shown``, in its format.

Every write is whole or not at all: a full disk is one line naming the log
(``errors.DiskFullError``), and ``metrics.jsonl`` never ends in half a line.

A run stopped between two checkpoints (SIGKILL, a crash) has logged steps
that its resumption trains again. So that every step is logged exactly once,
in order, the resumed run first rewinds both logs to the step it restored:
``metrics.jsonl`` keeps its lines up to that step, and each TensorBoard event
file keeps its events up to that step (a record cut short by the kill is
dropped too). Both are rewritten atomically (``fileio``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence

import tensorflow as tf
from absl import logging

from infogan_tf import fileio
from infogan_tf.model.objective import BUILT_IN, Metric


def rewind_metrics_log(path: str, step: int) -> int:
    """Drops the lines of ``metrics.jsonl`` after ``step`` (and unreadable ones); returns how many."""
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        lines = f.read().splitlines()
    kept = []
    for line in lines:
        try:
            if int(json.loads(line)["step"]) <= step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            pass  # a line cut short by a kill
    dropped = len(lines) - len(kept)
    if dropped:
        fileio.write_text(path, "".join(line + "\n" for line in kept))
    return dropped


def _event_records(path: str) -> list[bytes]:
    """The records of an event file; a last record cut short by a kill ends the list."""
    records = []
    try:
        for record in tf.data.TFRecordDataset(path):
            records.append(record.numpy())
    except tf.errors.DataLossError:
        pass
    return records


def rewind_events(summary_dir: str, step: int) -> int:
    """Drops the TensorBoard events after ``step`` from every event file; returns how many."""
    dropped = 0
    for path in sorted(tf.io.gfile.glob(os.path.join(summary_dir, "events.out.tfevents.*"))):
        records = _event_records(path)
        kept = [r for r in records if not tf.compat.v1.Event.FromString(r).step > step]
        # A truncated last record is not in `records`: rewrite the file without it, too.
        if len(kept) == len(records) and os.path.getsize(path) == sum(len(r) + 16 for r in records):
            continue
        dropped += len(records) - len(kept)

        def write(tmp: str, kept: list[bytes] = kept) -> None:
            with tf.io.TFRecordWriter(tmp) as writer:
                for record in kept:
                    writer.write(record)

        fileio.write_file(path, write)
    if dropped:
        logging.info(
            "rewound the TensorBoard log of %s to step %d (%d later events dropped)", summary_dir, step, dropped
        )
    return dropped


# About what one log step adds to the TensorBoard log (scalars and, at summary steps, a PNG grid).
_SUMMARY_BYTES = 64 * 1024


def shown_metrics(metrics: Sequence[Metric]) -> tuple[tuple[str, str], ...]:
    """(name, format) of the metrics the progress line shows (``Metric.shown``), in declared order."""
    return tuple((m.name, m.shown) for m in metrics if m.shown)


# What the progress line shows by default: the built-in terms' declared metrics.
DEFAULT_SHOWN = shown_metrics([m for term in BUILT_IN for m in term.metrics])


def progress_line(
    step: int, total: int, metrics: dict, entropy: float, rate: float, shown: Sequence[tuple[str, str]] = DEFAULT_SHOWN
) -> str:
    """The line a run prints every --log_every steps: each shown metric (``Metric.shown``), the label-free check's."""
    eta = (total - step) / rate if rate > 0 else float("inf")
    values = [fmt.format(value=metrics[name], entropy=entropy) for name, fmt in shown if name in metrics]
    if "view_agreement" in metrics:
        values.append(f"views_agree={metrics['view_agreement']:.3f}")
    return f"step {step}/{total} {' '.join(values)} {rate:.2f} steps/s ETA {format_eta(eta)}"


def format_eta(seconds: float) -> str:
    """H:MM:SS, or ? when unknown."""
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def append_metrics(path: str, step: int, metrics: dict) -> None:
    """Appends step ``step``'s line to ``metrics.jsonl``, whole or not at all."""
    line = json.dumps({"step": step, **metrics})
    try:
        fileio.append_line(path, line)
    except OSError as e:
        full = fileio.no_space_error(f"step {step}'s line of metrics.jsonl", path, len(line) + 1, e)
        if full is None:
            raise
        raise full from e


def summary_error(summary_dir: str, error: Exception) -> Exception:
    """A full disk under the TensorBoard log as one line; any other error as it is."""
    events = os.path.join(summary_dir, "events")
    return fileio.no_space_error("the TensorBoard log", events, _SUMMARY_BYTES, error) or error


def write_summaries(writer, summary_dir: str, step: int, scalars: dict, grid=None) -> None:
    """Step ``step``'s scalars (and the traversal grid) into the TensorBoard log."""
    try:
        with writer.as_default(step=step):
            for name, value in scalars.items():
                tf.summary.scalar(name, value)
            if grid is not None:
                tf.summary.image("traversal", grid)
    except tf.errors.OpError as e:
        raise summary_error(summary_dir, e) from e

"""The one error hierarchy of infogan_tf, and the exit status of each kind of failure.

Every failure a user can cause or meet is an :class:`InfoGANError` whose
message is one line naming the problem (the flag, the file, the step). Each
class carries the exit status every command line reports for it
(``infogan_tf.cli.common.run_main`` maps them, the same for every CLI):

  2  UsageError and its kinds -- a bad flag or configuration, a run directory
     in use by another process; nothing was done.
  1  every other InfoGANError -- the work failed (data, checkpoint, disk full, export, ...).
  143 / 130 (not errors) -- a run stopped by SIGTERM / Ctrl-C (SIGINT) saved a
     checkpoint at its current step (128 + the signal's number).

Nothing here imports TensorFlow.
"""

from __future__ import annotations

USAGE_EXIT_CODE = 2
FAILURE_EXIT_CODE = 1
# A SIGTERM'd run saves a checkpoint and exits 143 (128 + SIGTERM, what an
# unhandled SIGTERM reports, and TF's own restartable code): schedulers then
# restart it, and `infogan-train ... && next-step` does not go on unfinished.
PREEMPTED_EXIT_CODE = 143
# Ctrl-C: the same, with the status a shell gives an interrupted command (128 + SIGINT).
INTERRUPTED_EXIT_CODE = 130


class InfoGANError(Exception):
    """Base of every infogan_tf error; ``exit_code`` is what a CLI exits with."""

    exit_code = FAILURE_EXIT_CODE


class UsageError(InfoGANError, ValueError):
    """A flag or argument is invalid; nothing was done (exit 2)."""

    exit_code = USAGE_EXIT_CODE


class ConfigError(UsageError):
    """A configuration value is invalid; the message names the flag."""


class RunDirBusyError(UsageError):
    """Another live process is writing the run directory (it holds the directory's lock)."""


class DataError(InfoGANError):
    """The data source is missing, corrupt or unusable; the message says what was expected where."""


class RunDirError(InfoGANError):
    """A --model_dir is not a usable training run (no config.json, no checkpoint yet)."""


class CheckpointError(InfoGANError):
    """A checkpoint (or the state file naming it) in a run directory cannot be read."""


class CheckpointGoneError(CheckpointError):
    """A checkpoint was deleted while it was being read (a run still training rotates them): retry."""


class DiskFullError(InfoGANError):
    """A file could not be written for lack of space; the message names it and the space it needed."""


class NonFiniteError(InfoGANError):
    """A loss or gradient became NaN/Inf; the message names the step and quantity."""


class ClusterError(InfoGANError):
    """A multi-worker run lost a worker (crashed, killed or unreachable)."""


class ExportError(InfoGANError):
    """The export cannot be made; the message says what is wrong and where."""


class ClassifierError(InfoGANError):
    """The sample-quality classifier is missing, unreadable or not good enough."""


class ServingError(InfoGANError):
    """A model server could not be reached or answered with an error."""


class SampleError(InfoGANError):
    """The model to sample from could not be loaded or reached."""


def first_line(error: BaseException | str) -> str:
    """The first non-empty line of an error's message ('' if none)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def describe(error: BaseException) -> str:
    """``Type: first line`` of a foreign exception, for wrapping it in one of ours."""
    line = first_line(error)
    return f"{type(error).__name__}: {line}" if line else type(error).__name__

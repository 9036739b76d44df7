"""Train, export, evaluate and sample from Python: ``ig.train``, ``ig.export``, ``ig.evaluate``, ``ig.sample``.

Each function is what its command line does (``infogan-train``,
``-export``, ``-evaluate``, ``-sample``; those CLIs only turn flags into the
arguments and call these), with the same settings under the flags' names and
the same one-line :mod:`infogan_tf.errors` for bad ones. Arguments are
checked before TensorFlow is imported; the library functions underneath
(``training.loop.train``, ``serving.export.export``,
``evaluation.evaluate.evaluate_model_dir``, ``serving.sample.sample``) do
the work.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from infogan_tf import errors
from infogan_tf.config import TrainConfig
from infogan_tf.evaluation import evaluate as evaluate_lib
from infogan_tf.serving import sample as sample_lib

if TYPE_CHECKING:
    from infogan_tf.model.objective import Term
    from infogan_tf.serving.export import ExportResult
    from infogan_tf.training.console import Reporter
    from infogan_tf.training.loop import TrainResult


def train(
    config: TrainConfig,
    model_dir: str | os.PathLike[str] | None = None,
    *,
    images=None,
    strategy=None,
    input_fn=None,
    reporter: Reporter | None = None,
    restore_checkpoint: str | None = None,
    terms: Sequence[Term] = (),
) -> TrainResult:
    """Trains ``config`` into ``model_dir`` (default ``config.runtime.model_dir``) up to ``train_steps``.

    A run directory that already holds a run of this configuration is
    resumed from its latest checkpoint (a changed setting is refused or
    recorded, as on the command line). SIGTERM or Ctrl-C save a checkpoint
    and return early (``result.preempted``).

    Args:
      config: e.g. ``ig.preset("fashion_mnist", train_steps=500)``.
      model_dir: where checkpoints, summaries, metrics.jsonl and config.json go.
      images: uint8 [N, H, W, C] training images replacing the configured data.
      strategy: a ``tf.distribute.Strategy`` replacing the one ``config.runtime`` names.
      input_fn: a ``tf.distribute`` input function replacing the input pipeline.
      reporter: shows the progress (``training.console``); default: lines on stderr.
      restore_checkpoint: resume from this checkpoint prefix instead of the latest (e.g. the newest
        intact one a refusal names); later checkpoints are moved to ``<model_dir>/set_aside/``.
      terms: extra terms of the objective (``ig.Term`` instances), summed after Eq. 6's and
        the real-image term; their metrics join metrics.jsonl and TensorBoard.

    Raises:
      ConfigError: a bad configuration. Other InfoGANErrors: the data,
        checkpoints or run directory cannot be used, a loss became non-finite.
    """
    if not isinstance(config, TrainConfig):
        raise errors.UsageError(f"config must be a TrainConfig (e.g. ig.preset()), got {type(config).__name__}")
    if model_dir is not None:
        config = dataclasses.replace(
            config, runtime=dataclasses.replace(config.runtime, model_dir=os.fspath(model_dir))
        )
    config.validate()
    from infogan_tf.training import console, loop

    if reporter is None:
        reporter = console.for_stream(sys.stderr, config.latent.categorical_entropy(), "infogan_tf")
    return loop.train(
        config,
        strategy,
        images=images,
        input_fn=input_fn,
        reporter=reporter,
        restore_checkpoint=restore_checkpoint,
        terms=terms,
    )


def export(
    model_dir: str | os.PathLike[str],
    export_dir: str | os.PathLike[str],
    *,
    checkpoint: str | None = None,
    restore_checkpoint: str | None = None,
    version: int | None = None,
    model_name: str | None = None,
    jit_compile: bool = False,
) -> ExportResult:
    """Writes ``<export_dir>/<version>/``, a SavedModel of the run's generator and Q encoder.

    The version is the checkpoint's step unless ``version`` is given; an
    existing version is never overwritten. ``ig.load`` and TF Serving read it.

    Args:
      model_dir: the training run (config.json + checkpoints/).
      export_dir: the model's base path; the version directory goes below it.
      checkpoint: a checkpoint prefix or directory (default: the latest in ``model_dir``).
      restore_checkpoint: the same, under the name a damaged-checkpoint refusal gives (``--restore_checkpoint``).
      version: the version number (default: the checkpoint's step).
      model_name: the name in the warmup requests (default: ``export_dir``'s last component).
      jit_compile: compile the signatures with XLA (TF Serving then needs ``--xla_cpu_compilation_enabled``).

    Raises:
      UsageError: a missing or bad argument. ExportError, RunDirError,
        CheckpointError: the export cannot be made; nothing is published.
    """
    for name, value in (("model_dir", model_dir), ("export_dir", export_dir)):
        if not value:
            raise errors.UsageError(f"--{name} is required")
    checkpoint = _one_checkpoint(checkpoint, restore_checkpoint)
    from infogan_tf.serving import export as export_lib

    config = export_lib.ExportConfig(
        model_dir=os.fspath(model_dir),
        export_dir=os.fspath(export_dir),
        checkpoint=checkpoint,
        version=version,
        model_name=model_name,
        jit_compile=jit_compile,
    )
    return export_lib.export(config.validate())


def evaluate(
    model_dir: str | os.PathLike[str], *, data: evaluate_lib.EvalData | None = None, classifier=None, **settings: Any
) -> evaluate_lib.EvalResult:
    """Measures a trained run (``infogan-evaluate``): report.json and figures under ``<model_dir>/eval/<step>/``.

    Args:
      model_dir: the training run.
      data: real images (``EvalData``) replacing the dataset's test and reference sets.
      classifier: a loaded sample-quality classifier replacing the cached one.
      **settings: ``EvalConfig`` fields by flag name (``num_samples=``, ``sample_quality=False``, ...);
        ``restore_checkpoint=`` is ``checkpoint=`` under the name a damaged-checkpoint refusal gives.

    Returns:
      ``EvalResult``: the report (dict) and the directory it was written to.

    Raises:
      UsageError: an unknown or bad setting. Other InfoGANErrors: the run,
        checkpoint, classifier or data cannot be used; nothing is written then.
    """
    if "restore_checkpoint" in settings:
        settings["checkpoint"] = _one_checkpoint(settings.get("checkpoint"), settings.pop("restore_checkpoint"))
    _check_names("evaluation", settings, {f.name for f in dataclasses.fields(evaluate_lib.EvalConfig)})
    config = evaluate_lib.EvalConfig(model_dir=os.fspath(model_dir) if model_dir else "", **settings)
    problems = config.problems()
    if problems:
        raise errors.UsageError(problems[0])
    return evaluate_lib.evaluate_model_dir(config, data, classifier)


def sample(out: str, *, source: sample_lib.ImageSource | None = None, **settings: Any) -> sample_lib.SampleResult:
    """Writes a PNG grid (``infogan-sample``): a latent traversal, or one row of images for given codes.

    Args:
      out: the .png to write (replaced only once the new one is complete).
      source: an ``ImageSource`` (e.g. a loaded model's) replacing the one ``saved_model``/``server`` names.
      **settings: ``SampleConfig`` fields by flag name (``saved_model=``, ``category=(7,)``, ``seed=``, ...).

    Raises:
      UsageError: an unknown or bad setting, or codes that do not fit the model.
      SampleError: the model cannot be loaded or reached.
    """
    _check_names("sampling", settings, {f.name for f in dataclasses.fields(sample_lib.SampleConfig)} - {"out"})
    return sample_lib.sample(sample_lib.SampleConfig(out=out, **settings).validate(), source)


def _one_checkpoint(checkpoint: str | None, restore_checkpoint: str | None) -> str | None:
    """``checkpoint`` or its alias ``restore_checkpoint`` (the name a damaged-checkpoint refusal gives)."""
    if checkpoint and restore_checkpoint and os.fspath(checkpoint) != os.fspath(restore_checkpoint):
        raise errors.UsageError("give the checkpoint once: checkpoint= and restore_checkpoint= name different ones")
    return checkpoint or restore_checkpoint


def _check_names(what: str, settings: dict[str, Any], names: set[str]) -> None:
    """Refuses a setting that is not one of ``names`` (naming the closest one)."""
    for name in settings:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"; did you mean {close[0]}?" if close else f"; expected one of {', '.join(sorted(names))}"
            raise errors.UsageError(f"unknown {what} setting {name!r}{hint}")

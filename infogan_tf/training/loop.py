"""The training loop: restore, step, log, summarise, checkpoint, stop cleanly.

:class:`Trainer` runs :class:`~infogan_tf.training.step.InfoGANStep` from the
latest checkpoint of the run directory to ``--train_steps``. Around the
algorithm it owns the safety rails every long run needs: a config check on
resume (``training.resume``: refused, or recorded in config.json), one writer
per run directory (its lock), checkpoints that are only written while every
quantity is finite and only restored after every tensor read back intact
(``training.rundir``), logs rewound to the restored step so each step is
logged once (``training.records``), and a clean save-and-stop on SIGTERM or
Ctrl-C (``training.stopping``; every worker of a cluster stops after the same
step). The strategy is built by the caller (``get_strategy``); what the user
sees of the progress is a reporter's business (``training.console``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import tensorflow as tf
from absl import logging

from infogan_tf import fileio, visualize
from infogan_tf.config import TrainConfig
from infogan_tf.data import source
from infogan_tf.data.pipeline import StreamedImages
from infogan_tf.data.pixels import to_unit_range
from infogan_tf.errors import CheckpointError, DataError, NonFiniteError, describe
from infogan_tf.model.objective import Term
from infogan_tf.training import cluster, console, label_free, precision, records, resume, stopping
from infogan_tf.training.distribute import get_strategy
from infogan_tf.training.rundir import RunDir, latest_checkpoint, restore_checkpoint
from infogan_tf.training.state import build_state, state_bytes
from infogan_tf.training.step import InfoGANStep, InputFn, input_stream


class TrainResult(NamedTuple):
    """What a finished (or preempted) run leaves behind.

    Attributes:
      step: the global step reached.
      checkpoint: path prefix of the last checkpoint written (None on non-chief workers).
      summary_dir: TensorBoard log directory.
      metrics: last reduced metrics (name -> float).
      stopped_by: the signal that stopped it early (SIGINT if any worker got a Ctrl-C), None if none.
    """

    step: int
    checkpoint: str | None
    summary_dir: str
    metrics: dict
    stopped_by: signal.Signals | None = None

    @property
    def preempted(self) -> bool:
        """True when the run stopped early on SIGTERM or Ctrl-C (on any worker)."""
        return self.stopped_by is not None


def training_images(
    config: TrainConfig,
    strategy: tf.distribute.Strategy,
    run_dir: RunDir,
    images: np.ndarray | StreamedImages | None,
    input_fn: InputFn | None,
) -> tuple[np.ndarray | StreamedImages, dict | None]:
    """The run's images (given, or loaded per ``config.data``) and a folder's manifest to record; writes nothing.

    A folder run reads its saved ``images.json`` (resume). With an
    ``input_fn`` the images are not read; an empty array stands for them.
    """
    manifest = None
    if images is None and input_fn is None:
        saved = run_dir.read_images_manifest() if config.data.image_dir else None
        images, manifest = source.load_training_data(
            config.data, config.model.image_shape, saved, run_dir.images_manifest
        )
    if images is None:
        images = np.zeros([0, *config.model.image_shape], np.uint8)
    per_replica = config.optim.batch_size // strategy.num_replicas_in_sync
    if input_fn is None and len(images) < per_replica:
        raise DataError(
            f"the training data has {len(images)} images, fewer than the per-replica batch of {per_replica}"
        )
    return images, manifest


class Trainer:
    """One run: its state, its compiled step, its run directory; ``train()`` runs it.

    Args:
      config: the validated run configuration.
      strategy: the tf.distribute.Strategy to train under (built by the caller).
      images: uint8 [N, H, W, C] training images (tests inject fakes), or
        files to stream; default loaded from ``config.data`` (TFDS or
        --image_dir, ``data.source``) at ``config.model.image_shape``.
      input_fn: replaces the input pipeline over ``images`` (a test seam; see
        ``step.input_stream``).
      terms: extra terms of the objective (``model.objective.Term``), summed
        after the default ones; their metrics are logged with the others.
    """

    def __init__(
        self,
        config: TrainConfig,
        strategy: tf.distribute.Strategy,
        images: np.ndarray | StreamedImages | None = None,
        input_fn: InputFn | None = None,
        terms: Sequence[Term] = (),
    ):
        config, self.precision_reason = precision.resolve(config.validate())
        self.config = config
        self.terms = tuple(terms)
        self.strategy = strategy
        config.check_replicas(strategy.num_replicas_in_sync)
        self.run_dir = RunDir(config.runtime.model_dir)
        self.chief = cluster.is_chief(strategy)
        self._check_run_dir()
        self.images, self._images_manifest = training_images(config, strategy, self.run_dir, images, input_fn)
        self._input_fn = input_fn
        # Non-chief workers take part in saving (it may involve collectives)
        # but write to a scratch directory that train() removes at the end.
        self.write_dir = RunDir(config.runtime.model_dir if self.chief else cluster.scratch_dir())
        self.state = build_state(config, strategy)
        self.step_fn = InfoGANStep(config, strategy, self.state, self.terms)
        # What the objective's terms declare: the metrics guarded for finiteness, those the progress line shows.
        self.guarded, self.shown = self.step_fn.guarded, self.step_fn.shown
        s = self.state
        self.checkpoint = tf.train.Checkpoint(
            generator=s.generator,
            discriminator=s.discriminator,
            g_optimizer=s.g_optimizer,
            d_optimizer=s.d_optimizer,
            step=s.step,
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint,
            self.write_dir.checkpoints,
            max_to_keep=config.runtime.keep_checkpoints,
            step_counter=s.step,
        )
        self.restored_from: str | None = None  # set by restore()
        self._check = label_free.RunCheck(self.images, self.state.discriminator, config.runtime.seed)
        self._signals = stopping.StopSignals()

    def _check_run_dir(self) -> None:
        """Refuses a model_dir with another configuration or a damaged checkpoint state.

        Only reads: config.json is (re)written by train() once the checkpoint
        has been restored, so a refused or failed start leaves model_dir as it was.
        """
        saved = self.run_dir.read_config_dict()
        if saved is not None:
            resume.check_resume(saved, self.config, self.run_dir.config_path, self.terms)
        self._saved_config: dict | None = saved  # config.json as found; train() records the changes
        self.run_dir.latest_checkpoint()

    # ------------------------------------------------------------ public API
    def input_iterator(self, start_step: int = 0):
        """The distributed batches of this run from ``start_step`` on."""
        return input_stream(self.config, self.strategy, self.images, start_step, self._input_fn)

    def restore(self) -> int:
        """Restores the latest checkpoint if any; returns the step reached."""
        latest = self.run_dir.latest_checkpoint()
        self.restored_from = latest
        if latest is None:
            return 0
        restore_checkpoint(self.checkpoint, latest)
        return int(self.state.step.numpy())

    def check_finite(self) -> None:
        """Raises NonFiniteError if any step so far produced a NaN/Inf."""
        bad_step = int(self.state.nonfinite_step.numpy())
        if bad_step < 0:
            return
        mask = int(self.state.nonfinite_mask.numpy())
        names = [n for i, n in enumerate(self.guarded) if mask & (1 << i)]
        last = self.manager.latest_checkpoint if self.chief else self._last_checkpoint()
        raise NonFiniteError(
            f"non-finite {', '.join(names)} at step {bad_step}; training stopped. "
            f"The last good checkpoint is {last or 'none (nothing was saved)'}"
        )

    def save(self) -> str | None:
        """Saves a checkpoint, but only if every step so far was finite.

        A full disk is one line (``errors.DiskFullError``) and leaves the
        earlier checkpoints as they were: TF names a checkpoint in the state
        file only once its files are complete, and the unfinished files are
        removed here.
        """
        self.check_finite()
        step = int(self.state.step.numpy())
        try:
            return self.manager.save(checkpoint_number=step)
        except Exception as e:
            full = fileio.no_space_error(
                f"checkpoint ckpt-{step}",
                os.path.join(self.write_dir.checkpoints, f"ckpt-{step}"),
                state_bytes(self.state),
                e,
            )
            if full is None:
                raise
            self.write_dir.remove_unfinished_writes()
            raise full from e

    def traversal_grid(self) -> np.ndarray:
        """[1, H', W', C] uint8 traversal grid from the current generator."""
        spec = self.config.latent
        inputs = visualize.traversal_inputs(spec, seed=self.config.runtime.seed)
        c = spec.flatten(inputs.categorical, inputs.continuous)
        images = to_unit_range(self.state.generator(inputs.z, c, training=False)).numpy()
        return visualize.tile_grid(visualize.to_uint8(images), inputs.rows, inputs.cols)[None]

    # ------------------------------------------------------------------ loop
    def _last_checkpoint(self) -> str | None:
        """The chief's latest checkpoint, for messages (never raises)."""
        try:
            return latest_checkpoint(self.run_dir.checkpoints)
        except CheckpointError:
            return None

    def _restore_and_agree(self, say: Callable[[str], None]) -> int:
        """Restores the latest checkpoint and checks that every worker agrees; writes nothing."""
        start = self.restore()
        if cluster.is_multi_worker(self.strategy):
            report = cluster.WorkerReport(cluster.config_fingerprint(self.config), start)
            try:
                reports = cluster.gather_reports(self.strategy, report)
            except tf.errors.OpError as e:
                raise cluster.cluster_error(e, "at start-up", self._last_checkpoint()) from e
            cluster.check_agreement(reports)
        if start:
            say(f"resumed from {self.restored_from} at step {start}")
        return start

    def _record_start(self, start: int) -> None:
        """(Chief, holding the lock) records the config and its changes, clears debris, rewinds the logs."""
        if not self.chief:
            return
        fileio.write_text(self.run_dir.config_path, resume.record(self._saved_config, self.config, start, self.terms))
        if self._images_manifest is not None:
            self.run_dir.write_images_manifest(self._images_manifest)
        self.run_dir.remove_unfinished_writes()
        records.rewind_metrics_log(self.run_dir.metrics_log, start)
        records.rewind_events(self.run_dir.summaries, start)

    def _log(self, step: int, out: dict, rate: float, elapsed: float, at_summary: bool, writer, reporter) -> dict:
        """The reporter's log step, one metrics.jsonl line (chief), the TensorBoard scalars (and grid)."""
        metrics = {k: float(v) for k, v in out.items()}
        metrics["steps_per_sec"] = rate
        metrics["elapsed_s"] = elapsed  # seconds since this process started (or resumed) training
        entropy = self.config.latent.categorical_entropy()
        grid = self.traversal_grid() if at_summary else None
        metrics.update(self._check() if at_summary else {})
        reporter.log(step, metrics)
        if self.chief:
            records.append_metrics(self.write_dir.metrics_log, step, metrics)
        records.write_summaries(
            writer, self.write_dir.summaries, step, {**metrics, "categorical_entropy": entropy}, grid
        )
        return metrics

    def train(
        self, progress: Callable[[str], None] | None = None, reporter: console.Reporter | None = None
    ) -> TrainResult:
        """Trains from the latest checkpoint (if any) to ``optim.train_steps``.

        ``reporter`` shows the progress (``training.console``); by default
        plain lines go to ``progress`` (default: ``logging.info``).

        The chief holds the run directory's lock from the first write on: a
        second process on the same ``--model_dir`` is refused
        (``errors.RunDirBusyError``) with the directory as it was.
        """
        if reporter is None:
            reporter = console.Reporter(progress or logging.info, self.config.latent.categorical_entropy())
        reporter.shown = self.shown
        start = self._restore_and_agree(reporter.say)
        lock = self.run_dir.lock() if self.chief else contextlib.nullcontext()
        with lock, self._signals:
            self._record_start(start)
            jit = precision.use_jit_compile(self.config, self.strategy)
            reporter.say(precision.describe(self.config, self.precision_reason, jit))
            return self._train(start, reporter)

    def _train(self, start: int, reporter: console.Reporter) -> TrainResult:
        cfg, rt = self.config, self.config.runtime
        iterator = self.input_iterator(start)
        writer = tf.summary.create_file_writer(self.write_dir.summaries)
        stopped_by = None
        step = start
        # What is on disk; every worker decides the same way when to save
        # (saving may involve collectives), so they track the step, not paths.
        last_checkpoint, saved_step = self.restored_from, (start if self.restored_from else None)
        metrics: dict = {}
        window_start, window_step = time.time(), step
        loop_start = window_start
        reporter.begin(start, cfg.optim.train_steps)
        try:
            while step < cfg.optim.train_steps and stopped_by is None:
                try:
                    out = self.step_fn(iterator, self._signals.stop_code(), steps_this_call(self.config, step))
                except tf.errors.OpError as e:
                    if cluster.is_multi_worker(self.strategy):
                        raise cluster.cluster_error(e, f"during step {step + 1}", self._last_checkpoint()) from e
                    if isinstance(self.images, StreamedImages):  # a file removed or damaged while training
                        raise DataError(
                            f"reading the training images failed during step {step + 1} ({describe(e)}); restore "
                            f"--image_dir and rerun to resume from {self._last_checkpoint() or 'the start'}"
                        ) from e
                    raise
                stopped_by = stopping.stopped_by(float(out.pop("stop_requested")))
                step += int(out.pop("steps_run"))
                self.check_finite()
                reporter.advance(step)
                at_summary = step % rt.summary_every == 0
                if at_summary or step % rt.log_every == 0 or step == cfg.optim.train_steps:
                    now = time.time()
                    rate = (step - window_step) / max(now - window_start, 1e-9)
                    window_start, window_step = now, step
                    metrics = self._log(step, out, rate, now - loop_start, at_summary, writer, reporter)
                if step % rt.checkpoint_every == 0:
                    last_checkpoint, saved_step = self.save(), step
            if step != saved_step:
                last_checkpoint = self.save()
        finally:
            reporter.end()
            try:
                writer.close()  # flushes the last events
            except tf.errors.OpError as e:
                if sys.exc_info()[0] is None:  # not while another error is on its way out
                    raise records.summary_error(self.write_dir.summaries, e) from e
            if not self.chief:
                shutil.rmtree(self.write_dir.path, ignore_errors=True)
        return TrainResult(
            step=step,
            checkpoint=last_checkpoint if self.chief else None,
            summary_dir=self.run_dir.summaries,
            metrics=metrics,
            stopped_by=stopped_by,
        )


def steps_this_call(config: TrainConfig, step: int) -> int:
    """``--steps_per_loop``, cut short so that a call from ``step`` ends on the next log, summary or checkpoint step."""
    rt = config.runtime
    boundary = min(
        config.optim.train_steps,
        *(step + every - step % every for every in (rt.log_every, rt.summary_every, rt.checkpoint_every)),
    )
    return max(1, min(rt.steps_per_loop, boundary - step))


def train(
    config: TrainConfig,
    strategy: tf.distribute.Strategy | None = None,
    images: np.ndarray | StreamedImages | None = None,
    input_fn: InputFn | None = None,
    progress: Callable[[str], None] | None = None,
    reporter: console.Reporter | None = None,
    terms: Sequence[Term] = (),
) -> TrainResult:
    """Library entry point: trains ``config`` under ``strategy`` (default: the one ``config.runtime`` names).

    Progress goes to ``reporter`` (``training.console``), or as plain lines to ``progress``.
    ``terms``: extra terms of the objective (``model.objective.Term`` instances), after the default ones.
    """
    if strategy is None:
        rt = config.runtime
        strategy = get_strategy(rt.strategy, rt.num_devices, rt.device)
    trainer = Trainer(config, strategy, images=images, input_fn=input_fn, terms=terms)
    return trainer.train(progress=progress, reporter=reporter)

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
from infogan_tf.training.rundir import RESTORE_FLAG, RunDir, checkpoint_of, latest_checkpoint, restore_checkpoint
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
      restore_checkpoint: a checkpoint prefix (or directory) to resume from
        instead of the latest (``--restore_checkpoint``: e.g. the newest
        intact one when the latest is damaged). Checkpoints of later steps in
        the run directory are moved to ``set_aside/`` before the first save
        (``RunDir.set_aside_after``); config.json's history records it.
    """

    def __init__(
        self,
        config: TrainConfig,
        strategy: tf.distribute.Strategy,
        images: np.ndarray | StreamedImages | None = None,
        input_fn: InputFn | None = None,
        terms: Sequence[Term] = (),
        restore_checkpoint: str | None = None,
    ):
        config, self.precision_reason = precision.resolve(config.validate())
        self.config = config
        self.terms = tuple(terms)
        self.strategy = strategy
        config.check_replicas(strategy.num_replicas_in_sync)
        self.run_dir = RunDir(config.runtime.model_dir)
        self.chief = cluster.is_chief(strategy)
        self._check_run_dir(restore_checkpoint)
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
        self.checkpoint = checkpoint_of(s.generator, s.discriminator, s.step, (s.g_optimizer, s.d_optimizer))
        self._manager: tf.train.CheckpointManager | None = None  # built on first use (``manager``)
        self.restored_from: str | None = None  # set by restore()
        self.set_aside: str | None = None  # set by train(): where later checkpoints were moved
        self._check = label_free.RunCheck(self.images, self.state.discriminator, config.runtime.seed)
        self._signals = stopping.StopSignals()

    def _check_run_dir(self, restore_checkpoint: str | None) -> None:
        """Refuses a model_dir with another configuration, a damaged checkpoint state, a missing --restore_checkpoint.

        Only reads: config.json is (re)written by train() once the checkpoint
        has been restored, so a refused or failed start leaves model_dir as it was.
        """
        saved = self.run_dir.read_config_dict()
        if saved is not None:
            resume.check_resume(saved, self.config, self.run_dir.config_path, self.terms)
        self._saved_config: dict | None = saved  # config.json as found; train() records the changes
        self.explicit_checkpoint: str | None = None  # the resolved --restore_checkpoint
        if restore_checkpoint is None:
            self.run_dir.latest_checkpoint()
        else:
            self.explicit_checkpoint = self.run_dir.checkpoint_to_read(restore_checkpoint, RESTORE_FLAG)

    @property
    def manager(self) -> tf.train.CheckpointManager:
        """Saves ckpt-<step> in the run's checkpoints (a worker's scratch copy) and rotates the oldest away."""
        if self._manager is None:
            self._manager = self.write_dir.checkpoint_manager(
                self.checkpoint, self.config.runtime.keep_checkpoints, self.state.step
            )
        return self._manager

    # ------------------------------------------------------------ public API
    def input_iterator(self, start_step: int = 0):
        """The distributed batches of this run from ``start_step`` on."""
        return input_stream(self.config, self.strategy, self.images, start_step, self._input_fn)

    def restore(self) -> int:
        """Restores --restore_checkpoint, else the latest checkpoint if any; returns the step reached."""
        prefix = self.explicit_checkpoint or self.run_dir.latest_checkpoint()
        self.restored_from = prefix
        if prefix is None:
            return 0
        restore_checkpoint(self.checkpoint, prefix)
        return int(self.state.step.numpy())

    def check_finite(self) -> None:
        """Raises NonFiniteError if any step so far produced a NaN/Inf."""
        bad_step = int(self.state.nonfinite_step.numpy())
        if bad_step < 0:
            return
        mask = int(self.state.nonfinite_mask.numpy())
        names = [n for i, n in enumerate(self.guarded) if mask & (1 << i)]
        last = self._manager.latest_checkpoint if self.chief and self._manager else self._last_checkpoint()
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
        if self.explicit_checkpoint:
            say(f"resumed from {self.restored_from} at step {start} (explicit {RESTORE_FLAG})")
        elif start:
            say(f"resumed from {self.restored_from} at step {start}")
        return start

    def _record_start(self, start: int, say: Callable[[str], None]) -> None:
        """(Chief, holding the lock) sets later checkpoints aside, records the config, clears debris, rewinds logs."""
        if not self.chief:
            return
        if self.explicit_checkpoint:
            self.set_aside = self.run_dir.set_aside_after(start)
            self._manager = None  # the next save reads the rewritten state file
            if self.set_aside:
                say(f"the checkpoints after step {start} and the logs as they were are kept in {self.set_aside}")
        record = resume.record(
            self._saved_config, self.config, start, self.terms, self.explicit_checkpoint, self.set_aside
        )
        fileio.write_text(self.run_dir.config_path, record)
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
            self._record_start(start, reporter.say)
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
    restore_checkpoint: str | None = None,
) -> TrainResult:
    """Library entry point: trains ``config`` under ``strategy`` (default: the one ``config.runtime`` names).

    Progress goes to ``reporter`` (``training.console``), or as plain lines to ``progress``.
    ``terms``: extra terms of the objective (``model.objective.Term`` instances), after the default ones.
    ``restore_checkpoint``: resume from this checkpoint instead of the latest (see :class:`Trainer`).
    """
    if strategy is None:
        rt = config.runtime
        strategy = get_strategy(rt.strategy, rt.num_devices, rt.device)
    trainer = Trainer(
        config, strategy, images=images, input_fn=input_fn, terms=terms, restore_checkpoint=restore_checkpoint
    )
    return trainer.train(progress=progress, reporter=reporter)

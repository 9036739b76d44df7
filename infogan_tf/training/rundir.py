"""The run directory (``--model_dir``): its layout, its config, and the one rule for its checkpoints.

Layout, written by ``infogan-train`` (only the chief of a cluster writes):

  <model_dir>/config.json          the run's TrainConfig (``config.TrainConfig.to_json``)
  <model_dir>/checkpoints/         tf.train checkpoints ckpt-<step> and their state file
  <model_dir>/train/               TensorBoard event files
  <model_dir>/metrics.jsonl        one JSON line of reduced metrics per logged step
  <model_dir>/images.json          with --image_dir: the files trained on and held out (``data.folder``)
  <model_dir>/eval/<step>/         infogan-evaluate's report and figures
  <model_dir>/.lock                while a run trains: who writes it (pid, host, since, command)

One writer: ``infogan-train`` holds the directory with :meth:`RunDir.lock`
(the chief only, under multi-worker) for as long as it trains. A second
process on the same directory is refused with one line naming the holder
(``errors.RunDirBusyError``, exit status 2) and writes nothing; a lock left
by a process that died (SIGKILL, power loss, a lost machine) is taken over
with one warning. Readers (export, evaluation, sampling) never take it.

Every reader -- training (resume), export, evaluation, sampling, the
benchmarks -- finds "the latest checkpoint" with :func:`latest_checkpoint`
and restores networks with :func:`restore_networks`, so a damaged run is
refused by all of them with the same one-line message (exit status 1,
``errors.CheckpointError``) and nothing in it is changed. The paths and the
config need no TensorFlow (a CLI checks them before it imports it).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import TYPE_CHECKING, Any, NamedTuple

from absl import logging

from infogan_tf import fileio
from infogan_tf.config import TrainConfig
from infogan_tf.errors import CheckpointError, CheckpointGoneError, ConfigError, RunDirError, describe
from infogan_tf.training.runlock import LOCK_FILENAME, RunLock

if TYPE_CHECKING:  # TensorFlow is imported where it is used: the paths and config need none.
    import tensorflow as tf

    from infogan_tf.model.networks import Discriminator, Generator

CONFIG_FILENAME = "config.json"
CHECKPOINT_SUBDIR = "checkpoints"
SUMMARY_SUBDIR = "train"
METRICS_LOG = "metrics.jsonl"
EVAL_SUBDIR = "eval"
IMAGES_MANIFEST = "images.json"


@dataclasses.dataclass(frozen=True)
class RunDir:
    """Paths of one run directory (nothing is created by making one)."""

    path: str

    @property
    def config_path(self) -> str:
        return os.path.join(self.path, CONFIG_FILENAME)

    @property
    def checkpoints(self) -> str:
        return os.path.join(self.path, CHECKPOINT_SUBDIR)

    @property
    def summaries(self) -> str:
        return os.path.join(self.path, SUMMARY_SUBDIR)

    @property
    def metrics_log(self) -> str:
        return os.path.join(self.path, METRICS_LOG)

    @property
    def lock_path(self) -> str:
        return os.path.join(self.path, LOCK_FILENAME)

    @property
    def images_manifest(self) -> str:
        return os.path.join(self.path, IMAGES_MANIFEST)

    def read_images_manifest(self) -> dict[str, Any] | None:
        """The recorded file list of a folder run (``data.folder.manifest``), None if there is none."""
        if not os.path.exists(self.images_manifest):
            return None
        try:
            with open(self.images_manifest) as f:
                return json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise RunDirError(
                f"{self.images_manifest} is unreadable ({e}); move it away to re-list --image_dir"
            ) from None

    def write_images_manifest(self, manifest: dict[str, Any]) -> str:
        """Writes images.json atomically; returns its path."""
        return fileio.write_text(self.images_manifest, json.dumps(manifest, separators=(",", ":")) + "\n")

    def eval_dir(self, step: int) -> str:
        return os.path.join(self.path, EVAL_SUBDIR, str(step))

    # ------------------------------------------------------------------ lock
    def lock(self) -> RunLock:
        """The directory's one-writer lock, to hold while training: ``with run_dir.lock(): ...``."""
        return RunLock(self.path, self.lock_path)

    # ---------------------------------------------------------------- config
    def read_config_dict(self) -> dict[str, Any] | None:
        """The saved config.json as a dict, None if there is none."""
        if not os.path.exists(self.config_path):
            return None
        try:
            with open(self.config_path) as f:
                return json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"{self.config_path} is unreadable ({e}); it is not a valid infogan_tf config") from None

    def load_config(self) -> TrainConfig:
        """The run's TrainConfig, for readers of a finished or running run."""
        if not os.path.isdir(self.path):
            raise RunDirError(f"--model_dir {self.path} is not a directory")
        saved = self.read_config_dict()
        if saved is None:
            raise RunDirError(
                f"--model_dir {self.path} has no {CONFIG_FILENAME}; it must be an infogan-train --model_dir"
            )
        try:
            return TrainConfig.from_dict(saved)
        except (KeyError, TypeError, ValueError) as e:
            raise RunDirError(f"{self.config_path} is not a valid infogan_tf config ({describe(e)})") from None

    def write_config(self, config: TrainConfig) -> str:
        """Writes config.json atomically; returns its path."""
        os.makedirs(self.path, exist_ok=True)
        return fileio.write_text(self.config_path, config.to_json() + "\n")

    # ----------------------------------------------------------- checkpoints
    def latest_checkpoint(self) -> str | None:
        """The latest checkpoint of this run (strict: see :func:`latest_checkpoint`)."""
        return latest_checkpoint(self.checkpoints)

    def checkpoint_to_read(self, checkpoint: str | None = None) -> str:
        """``checkpoint`` (a prefix or a directory of checkpoints) or the latest one; never None."""
        if checkpoint is None:
            latest = self.latest_checkpoint()
            if latest is None:
                raise RunDirError(
                    f"no checkpoint in {self.checkpoints} yet; train first (infogan-train --model_dir={self.path}) "
                    "or pass --checkpoint"
                )
            return latest
        if os.path.isdir(checkpoint):
            latest = latest_checkpoint(checkpoint)
            if latest is None:
                raise RunDirError(f"--checkpoint {checkpoint} is a directory without checkpoints")
            return latest
        if not os.path.exists(checkpoint + ".index"):
            raise RunDirError(
                f"--checkpoint {checkpoint}: no such checkpoint (expected {checkpoint}.index); "
                "pass a prefix such as <model_dir>/checkpoints/ckpt-3000 or a checkpoint directory"
            )
        return checkpoint

    def remove_unfinished_writes(self) -> None:
        """Deletes what a killed checkpoint write left (the state file never names it)."""
        import tensorflow as tf

        pattern = os.path.join(self.checkpoints, "{}")
        for path in tf.io.gfile.glob(pattern.format("ckpt-*_temp")) + tf.io.gfile.glob(
            pattern.format("checkpoint.tmp*")
        ):
            logging.warning("removing %s, left by an interrupted checkpoint write", path)
            if tf.io.gfile.isdir(path):
                tf.io.gfile.rmtree(path)
            else:
                tf.io.gfile.remove(path)


def latest_checkpoint(directory: str) -> str | None:
    """The checkpoint that ``directory``'s state file names, checked to be there.

    TF writes a checkpoint's files first and only then atomically replaces the
    state file (``checkpoint``), so a run killed at any moment leaves a state
    file naming a complete checkpoint (files of an unfinished one are never
    named, and are overwritten when that step is saved again). A state file
    that cannot be parsed, or that names a checkpoint without its index file,
    means the directory was damaged or copied in part. That is refused rather
    than skipped: skipping would restart training from step 0 (and later
    delete the older checkpoints), or export an older model than asked for.
    """
    import tensorflow as tf

    state_file = os.path.join(directory, "checkpoint")
    if not tf.io.gfile.exists(state_file):
        return None
    try:
        state = tf.train.get_checkpoint_state(directory)
    except ValueError:  # parses, but names no checkpoint
        state = None
    if state is None:
        raise CheckpointError(
            f"{state_file} is not a readable checkpoint state; nothing was changed "
            "(move the checkpoints directory away to start afresh)"
        )
    latest = state.model_checkpoint_path
    if not tf.io.gfile.exists(latest + ".index"):
        raise CheckpointError(f"{state_file} names {latest}, but {latest}.index is missing; nothing was changed")
    return latest


def restore_checkpoint(checkpoint: tf.train.Checkpoint, prefix: str, partial: bool = False) -> None:
    """Restores ``prefix`` into ``checkpoint`` after reading every tensor of it intact.

    Each tensor has a checksum, so damaged files fail in the first pass,
    before any variable is assigned. ``partial``: the objects of
    ``checkpoint`` need only be a part of what was saved (readers skip the
    optimisers).
    """
    import tensorflow as tf

    status = None
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
        status = checkpoint.restore(prefix)
        status.assert_existing_objects_matched()
        if partial:
            status.expect_partial()
    except Exception as e:  # corrupt files, foreign or mismatched checkpoints
        if status is not None:
            status.expect_partial()  # no second warning about it at exit
        if isinstance(e, tf.errors.NotFoundError) and _rotated_away(prefix):
            raise CheckpointGoneError(
                f"checkpoint {prefix} was deleted while it was being read (its run is still training and keeps "
                "only its newest --keep_checkpoints); nothing was read from it: run the command again"
            ) from e
        raise CheckpointError(f"cannot restore checkpoint {prefix}: {describe(e)}") from e


def _rotated_away(prefix: str) -> bool:
    """Whether ``prefix``'s state file no longer lists it: a training run deleted it as planned."""
    import tensorflow as tf

    try:
        state = tf.train.get_checkpoint_state(os.path.dirname(prefix))
    except (ValueError, tf.errors.OpError):
        return False
    if state is None:
        return False
    listed = {os.path.abspath(p) for p in state.all_model_checkpoint_paths}
    return os.path.abspath(prefix) not in listed


class RestoredNetworks(NamedTuple):
    """Networks restored from a checkpoint of a training run.

    Attributes:
      config: the run's TrainConfig (from ``config.json``).
      generator, discriminator: the networks with the checkpoint's weights.
      checkpoint: the checkpoint prefix that was read.
      step: the training step stored in that checkpoint.
    """

    config: TrainConfig
    generator: Generator
    discriminator: Discriminator
    checkpoint: str
    step: int


def restore_networks(model_dir: str, checkpoint: str | None = None) -> RestoredNetworks:
    """Builds a run's networks and restores their weights (the optimisers are not read).

    Args:
      model_dir: the run directory.
      checkpoint: a checkpoint prefix or a directory of checkpoints; None =
        the run's latest.
    """
    import tensorflow as tf

    from infogan_tf.model.networks import build_networks

    run = RunDir(model_dir)
    config = run.load_config()
    prefix = run.checkpoint_to_read(checkpoint)
    networks = build_networks(config.latent, config.model)
    step = tf.Variable(-1, dtype=tf.int64, name="global_step")
    ckpt = tf.train.Checkpoint(generator=networks.generator, discriminator=networks.discriminator, step=step)
    restore_checkpoint(ckpt, prefix, partial=True)
    return RestoredNetworks(config, networks.generator, networks.discriminator, prefix, int(step.numpy()))

"""The run directory (``--model_dir``): its layout, its config, and the one rule for its checkpoints.

Layout, written by ``infogan-train`` (only the chief of a cluster writes):

  <model_dir>/config.json          the run's TrainConfig (``config.TrainConfig.to_json``)
  <model_dir>/checkpoints/         tf.train checkpoints ckpt-<step> and their state file
  <model_dir>/train/               TensorBoard event files
  <model_dir>/metrics.jsonl        one JSON line of reduced metrics per logged step
  <model_dir>/images.json          with --image_dir: the files trained on and held out (``data.folder``)
  <model_dir>/eval/<step>/         infogan-evaluate's report and figures
  <model_dir>/.lock                while a run trains: who writes it (pid, host, since, command)
  <model_dir>/set_aside/<time>/    what a run resumed with --restore_checkpoint moved out of its way:
                                   the newer checkpoints (damaged or not), the state file, the logs as they were

One writer: ``infogan-train`` holds the directory with :meth:`RunDir.lock`
(the chief only, under multi-worker) for as long as it trains. A second
process on the same directory is refused with one line naming the holder
(``errors.RunDirBusyError``, exit status 2) and writes nothing; a lock left
by a process that died (SIGKILL, power loss, a lost machine) is taken over
with one warning. Readers (export, evaluation, sampling) never take it.

The checkpoints have one owner, this module: what a checkpoint holds
(:func:`checkpoint_of`: the networks, the step and, for training, the
optimisers), how the latest is found (:func:`latest_checkpoint`), how one is
verified (:func:`checkpoint_damage`: every tensor read back, so every CRC
checked) and restored (:func:`restore_checkpoint`; :func:`restore_networks`
for readers). Training (resume), export, evaluation and sampling all go
through it, so a damaged run is refused by all of them with the same one-line
message (exit status 1, ``errors.CheckpointError``) that names the damage,
the newest intact checkpoint and the flag that continues from it
(``--restore_checkpoint=<prefix>``); nothing in the run is changed by a
refusal. A training run resumed from an older checkpoint first moves the
newer ones aside (:meth:`RunDir.set_aside_after`), so its saves neither
overwrite them nor rotate them away. The paths and the config need no
TensorFlow (a CLI checks them before it imports it).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from absl import logging
from google.protobuf import text_format

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
SET_ASIDE_SUBDIR = "set_aside"
STATE_FILENAME = "checkpoint"  # TF's checkpoint state file: names the latest checkpoint and those kept
CHECKPOINT_NAME = "ckpt"  # checkpoints are <checkpoints>/ckpt-<step>.index and .data-*
# The flag (and Python argument ``restore_checkpoint``) that continues from a named checkpoint.
RESTORE_FLAG = "--restore_checkpoint"
_STEP_FILE = re.compile(rf"^{CHECKPOINT_NAME}-(\d+)\.(index|data-\d+-of-\d+)$")


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

    def checkpoint_to_read(self, checkpoint: str | None = None, flag: str = "--checkpoint") -> str:
        """``checkpoint`` (a prefix or a directory of checkpoints) or the latest one; never None.

        ``flag``: the name the user gave ``checkpoint`` by, for the messages.
        """
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
                raise RunDirError(f"{flag} {checkpoint} is a directory without checkpoints")
            return latest
        if not os.path.exists(checkpoint + ".index"):
            raise RunDirError(
                f"{flag} {checkpoint}: no such checkpoint (expected {checkpoint}.index); "
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

    def checkpoint_manager(self, checkpoint: tf.train.Checkpoint, max_to_keep: int, step_counter: tf.Variable):
        """The ``tf.train.CheckpointManager`` that saves ``checkpoint`` here as ckpt-<step>, keeping ``max_to_keep``."""
        import tensorflow as tf

        return tf.train.CheckpointManager(
            checkpoint,
            self.checkpoints,
            max_to_keep=max_to_keep,
            step_counter=step_counter,
            checkpoint_name=CHECKPOINT_NAME,
        )

    def set_aside_after(self, step: int) -> str | None:
        """Moves what is in the way of a run resumed at ``step`` to ``set_aside/<time>/``; returns it (None: nothing).

        A run resumed from an explicit, older checkpoint would save
        ckpt-<step> again over a newer checkpoint of that step, and its
        manager rotates the oldest listed checkpoints away. So every
        checkpoint file of a later step (damaged or not) is moved there, with
        copies of the state file, ``metrics.jsonl`` and the TensorBoard log
        as they were (the resumed run rewinds those to ``step``). The state
        file is then rewritten to list only the checkpoints left, each in its
        place in the rotation; an unreadable state file is set aside and
        rewritten the same way. Called by the lock's holder.
        """
        newer = sorted(name for name in _checkpoint_files(self.checkpoints) if _file_step(name) > step)
        state_path = os.path.join(self.checkpoints, STATE_FILENAME)
        state = _read_state(self.checkpoints)
        if not newer and (state is not None or not os.path.exists(state_path)):
            return None
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        dest = os.path.join(self.path, SET_ASIDE_SUBDIR, stamp)
        suffix = 1
        while os.path.exists(dest):
            suffix += 1
            dest = os.path.join(self.path, SET_ASIDE_SUBDIR, f"{stamp}-{suffix}")
        os.makedirs(os.path.join(dest, CHECKPOINT_SUBDIR))
        if os.path.exists(state_path):
            shutil.copy2(state_path, os.path.join(dest, CHECKPOINT_SUBDIR, STATE_FILENAME))
        if newer and os.path.exists(self.metrics_log):
            shutil.copy2(self.metrics_log, os.path.join(dest, METRICS_LOG))
        if newer and os.path.isdir(self.summaries):
            shutil.copytree(self.summaries, os.path.join(dest, SUMMARY_SUBDIR))
        for name in newer:  # the copies first: a kill from here on leaves a state the refusal explains
            os.replace(os.path.join(self.checkpoints, name), os.path.join(dest, CHECKPOINT_SUBDIR, name))
        self._rewrite_state(state)
        return dest

    def _rewrite_state(self, state: Any) -> None:
        """Writes the state file listing the checkpoints here, oldest first, keeping ``state``'s timestamps."""
        import tensorflow as tf

        left = list(reversed(checkpoints_in(self.checkpoints)))
        state_path = os.path.join(self.checkpoints, STATE_FILENAME)
        if not left:
            if os.path.exists(state_path):
                os.remove(state_path)  # its copy is set aside; no checkpoint is left to name
            return
        old: dict[str, float] = {}
        if state is not None:
            old = {
                os.path.abspath(p): t
                for p, t in zip(state.all_model_checkpoint_paths, state.all_model_checkpoint_timestamps)
            }
        stamps = [old.get(os.path.abspath(p), os.path.getmtime(p + ".index")) for p in left]
        preserved = state.last_preserved_timestamp if state is not None else min(stamps) - 1.0
        names = [os.path.basename(p) for p in left]  # relative, as CheckpointManager writes them
        proto = tf.compat.v1.train.generate_checkpoint_state_proto(
            os.path.abspath(self.checkpoints),
            names[-1],
            all_model_checkpoint_paths=names,
            all_model_checkpoint_timestamps=stamps,
            last_preserved_timestamp=preserved,
        )
        fileio.write_text(state_path, text_format.MessageToString(proto))


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
            f"{state_file} is not a readable checkpoint state; nothing was changed; {way_on(directory)}"
        )
    latest = state.model_checkpoint_path
    if not tf.io.gfile.exists(latest + ".index"):
        raise CheckpointError(
            f"{state_file} names {latest}, but {latest}.index is missing; nothing was changed; "
            f"{way_on(directory, latest)}"
        )
    return latest


def checkpoint_of(
    generator: Generator,
    discriminator: Discriminator,
    step: tf.Variable,
    optimizers: Sequence[Any] | None = None,
) -> tf.train.Checkpoint:
    """What a run's checkpoint holds: G, D (with Q), the step, and for training the two optimisers.

    Training saves and restores all of it (``optimizers`` = (G's, D and Q's));
    readers pass none and restore the networks and step alone
    (:func:`restore_networks`).
    """
    import tensorflow as tf

    objects: dict[str, Any] = {"generator": generator, "discriminator": discriminator, "step": step}
    if optimizers is not None:
        objects["g_optimizer"], objects["d_optimizer"] = optimizers
    return tf.train.Checkpoint(**objects)


def checkpoint_step(prefix: str) -> int:
    """The step in a checkpoint's name (``.../ckpt-500`` -> 500), -1 for another name."""
    match = re.fullmatch(rf"{CHECKPOINT_NAME}-(\d+)", os.path.basename(prefix))
    return int(match.group(1)) if match else -1


def _checkpoint_files(directory: str) -> list[str]:
    """The names of the checkpoint files (index and data) in ``directory``."""
    if not os.path.isdir(directory):
        return []
    return [name for name in os.listdir(directory) if _STEP_FILE.match(name)]


def _file_step(name: str) -> int:
    match = _STEP_FILE.match(name)
    return int(match.group(1)) if match else -1


def checkpoints_in(directory: str) -> list[str]:
    """The checkpoint prefixes in ``directory`` with an index file, newest step first (the state file not read)."""
    steps = {_file_step(name) for name in _checkpoint_files(directory) if name.endswith(".index")}
    return [os.path.join(directory, f"{CHECKPOINT_NAME}-{step}") for step in sorted(steps, reverse=True)]


def _read_state(directory: str) -> Any:
    """``directory``'s checkpoint state (a CheckpointState), None if there is none or it is unreadable."""
    import tensorflow as tf

    try:
        return tf.train.get_checkpoint_state(directory)
    except (ValueError, tf.errors.OpError):
        return None


def checkpoint_damage(prefix: str) -> str | None:
    """What is wrong with checkpoint ``prefix`` (e.g. "checksum does not match"), None if it reads back intact.

    Reads every tensor: each is stored with a CRC32C that the reader checks,
    so a flipped byte anywhere in the data file is found. A truncated data
    file fails differently (TF: "Read less bytes than requested"), and so
    does a damaged index file (its blocks carry checksums of their own).
    """
    import tensorflow as tf

    if not os.path.exists(prefix + ".index"):
        return "its index file is missing"
    try:
        reader = tf.train.load_checkpoint(prefix)
    except Exception as e:  # an sstable that cannot be parsed, or one deleted meanwhile
        if isinstance(e, tf.errors.NotFoundError) or not os.path.exists(prefix + ".index"):
            return "its index file is missing"
        return f"its index file is unreadable: {describe(e)}"
    try:
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as e:
        text = str(e)
        if "Checksum does not match" in text:
            return "checksum does not match"
        if "Read less bytes than requested" in text:
            return "its data file is truncated"
        if isinstance(e, tf.errors.NotFoundError) or "No such file" in text:
            return "its data file is missing"
        return f"its data file is unreadable: {describe(e)}"
    return None


def newest_intact(directory: str, skip: str | None = None) -> str | None:
    """The checkpoint of ``directory`` with the highest step that reads back intact (``skip`` not tried)."""
    skipped = os.path.abspath(skip) if skip else None
    for prefix in checkpoints_in(directory):
        if os.path.abspath(prefix) != skipped and checkpoint_damage(prefix) is None:
            return prefix
    return None


def way_on(directory: str, damaged: str | None = None) -> str:
    """The end of a refusal's line: ``directory``'s newest intact checkpoint and the flag continuing from it."""
    intact = newest_intact(directory, skip=damaged)
    if intact is None:
        return f"no checkpoint in {directory} is intact (move the directory away to start afresh)"
    return f"the newest intact checkpoint is {intact}: rerun with {RESTORE_FLAG}={intact}"


def restore_checkpoint(checkpoint: tf.train.Checkpoint, prefix: str, partial: bool = False) -> None:
    """Restores ``prefix`` into ``checkpoint`` after reading every tensor of it intact.

    Damaged files fail in the first pass (:func:`checkpoint_damage`), before
    any variable is assigned, with one line naming the damage and the way on
    (:func:`way_on`). ``partial``: the objects of ``checkpoint`` need only be
    a part of what was saved (readers skip the optimisers).
    """
    damage = checkpoint_damage(prefix)
    if damage is not None:
        if "missing" in damage and _rotated_away(prefix):
            raise CheckpointGoneError(
                f"checkpoint {prefix} was deleted while it was being read (its run is still training and keeps "
                "only its newest --keep_checkpoints); nothing was read from it: run the command again"
            )
        raise CheckpointError(
            f"cannot restore checkpoint {prefix}: it is damaged ({damage}); "
            f"{way_on(os.path.dirname(prefix) or '.', prefix)}"
        )
    status = None
    try:
        status = checkpoint.restore(prefix)
        status.assert_existing_objects_matched()
        if partial:
            status.expect_partial()
    except Exception as e:  # a foreign checkpoint, or one of networks of other shapes
        if status is not None:
            status.expect_partial()  # no second warning about it at exit
        raise CheckpointError(
            f"cannot restore checkpoint {prefix}: it does not hold this run's networks ({describe(e)}); "
            f"pass a checkpoint of this run"
        ) from e


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
    restore_checkpoint(checkpoint_of(networks.generator, networks.discriminator, step), prefix, partial=True)
    return RestoredNetworks(config, networks.generator, networks.discriminator, prefix, int(step.numpy()))

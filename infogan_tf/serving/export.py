"""Export a trained InfoGAN's generator and Q encoder as a TF Serving-ready SavedModel.

The paper's generator G(z, c) and its Q network (Chen et al. 2016, Sec. 4-5)
become three signatures (names, inputs and outputs: ``infogan_tf.serving.signatures``;
the exported object: ``infogan_tf.serving.module``): ``serving_default`` (z,
flat c -> images in [0, 1]), ``generate`` (z, category indices, continuous
values -> images and uint8 images) and ``encode`` (images -> Q's categorical
probabilities and continuous mean/std). This module restores a training
checkpoint, writes the SavedModel with its JSON asset and TF Serving warmup
records, and publishes it as a new version.

Why not save the Keras models directly
--------------------------------------
Measured on TF 2.21 / Keras 3.15.1 (``export/measure_export_size.py``): a
plain ``tf.saved_model.save`` of a ``tf.Module`` that tracks the Keras models
fails (Keras gives every tracked layer a one-argument ``serving_default``,
which the two-input Generator cannot trace: "missing a required argument:
'c'"); ``keras.export.ExportArchive`` of the generator loads in both loaders
but its variables/ hold 2.0x the generator's weight bytes. Layouts in which
Keras variables are exported twice and the session loader then fails with
"Could not find variable" have also been reported. The exported module owns
one plain copy of each weight instead (see ``infogan_tf.serving.module``):
its variables/ hold 1.0002x the exported weight bytes, and both the TF2
loader and the TF1/C++ session loader of TF Serving run it.

Versioning and atomicity
------------------------
The version directory is the checkpoint's training step (``--version``
overrides it). The SavedModel, its JSON asset and the warmup records are
written to a hidden sibling ``<export_dir>/.<version>.incomplete-<id>`` and
renamed into place with one ``os.rename``: TF Serving polls ``export_dir`` for
numeric children, so it never sees a half-written version. An existing version
(also spelled with leading zeros) is never overwritten.

A full disk (ENOSPC/EDQUOT while writing the SavedModel, its asset or the
warmup records) removes the hidden directory and raises one
``errors.DiskFullError``: ``cannot write export version 5 to <export_dir>: no
space left on device (it needs about 0.65 MB, 0.30 MB free there)``; the
versions already there are untouched.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

import infogan_tf
from infogan_tf import fileio
from infogan_tf.errors import ConfigError, DiskFullError, ExportError
from infogan_tf.latent import LatentSpec
from infogan_tf.serving import signatures as sig
from infogan_tf.serving.module import InfoGANExportModule
from infogan_tf.training.rundir import RestoredNetworks, restore_networks

WARMUP_BATCH = 2  # rows in each warmup request


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """What to export and where.

    Attributes:
      model_dir: an ``infogan-train --model_dir`` (config.json + checkpoints/).
      export_dir: the model's base path for TF Serving; versions go below it.
      checkpoint: a checkpoint prefix (``.../checkpoints/ckpt-3000``) or a
        directory of checkpoints (its latest is used); None = the latest in
        ``model_dir/checkpoints``.
      version: the version directory number; None = the checkpoint's step.
      model_name: model name put in the warmup requests' ModelSpec; None = the
        last component of ``export_dir``.
      jit_compile: compile the signatures' network math with XLA (faster on
        a CPU; TF Serving then needs ``--xla_cpu_compilation_enabled=true``).
    """

    model_dir: str
    export_dir: str
    checkpoint: str | None = None
    version: int | None = None
    model_name: str | None = None
    jit_compile: bool = False

    def problems(self) -> list[str]:
        out = []
        if not self.model_dir:
            out.append("--model_dir must be set")
        if not self.export_dir:
            out.append("--export_dir must be set")
        if self.version is not None and self.version < 0:
            out.append(f"--version must be a non-negative integer, got {self.version}")
        if self.model_name is not None and not self.model_name.strip():
            out.append("--model_name must not be empty")
        return out

    def validate(self) -> ExportConfig:
        problems = self.problems()
        if problems:
            raise ConfigError(problems[0])
        return self

    @property
    def resolved_model_name(self) -> str:
        return self.model_name or os.path.basename(os.path.normpath(self.export_dir))


class ExportResult(NamedTuple):
    """What an export wrote.

    Attributes:
      path: the version directory (``export_dir/<version>``).
      version: its number.
      checkpoint: the checkpoint prefix exported.
      step: that checkpoint's training step.
      variables_bytes: bytes of ``path/variables/`` (the stored weights).
      saved_model_bytes: bytes of the whole version directory.
      exported_parameter_bytes: bytes of the weights the SavedModel holds.
      generator_parameter_bytes: bytes of the generator's weights.
      encoder_parameter_bytes: bytes of the trunk + Q head weights.
    """

    path: str
    version: int
    checkpoint: str
    step: int
    variables_bytes: int
    saved_model_bytes: int
    exported_parameter_bytes: int
    generator_parameter_bytes: int
    encoder_parameter_bytes: int


# --------------------------------------------------------------------------
# Metadata asset and warmup records.


def build_metadata(restored: RestoredNetworks, version: int, jit_compile: bool = False) -> dict:
    """The JSON asset: everything a client needs to build inputs and read outputs."""
    cfg = restored.config
    return {
        "format_version": sig.METADATA_FORMAT_VERSION,
        "model": "InfoGAN generator G(z, c) and Q encoder (Chen et al. 2016, arXiv:1606.03657)",
        "latent": cfg.latent.to_dict(),
        "image": {
            "shape": list(cfg.model.image_shape),
            "dtype": "float32",
            "range": [0.0, 1.0],
            "uint8": "images_uint8 = round(255 * images)",
        },
        "signatures": sig.signatures_metadata(cfg.latent, cfg.model.image_shape),
        "version": version,
        # True: the network math is XLA-compiled; TF Serving needs --xla_cpu_compilation_enabled=true.
        "jit_compile": jit_compile,
        "checkpoint": os.path.abspath(restored.checkpoint),
        "step": restored.step,
        "training_config": cfg.to_dict(),
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "software": {
            "infogan_tf": infogan_tf.__version__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
    }


def warmup_records(latent: LatentSpec, image_shape, model_name: str) -> list:
    """One TF Serving PredictionLog per signature, for ``assets.extra``: its declared example request."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    logs = []
    for name, inputs in sig.examples(latent, image_shape, WARMUP_BATCH).items():
        request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(name=model_name, signature_name=name))
        for key, value in inputs.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        logs.append(prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request)))
    return logs


def write_warmup(version_dir: str, logs: list) -> str:
    """Writes the records where TF Serving looks for them; returns the file path."""
    directory = os.path.join(version_dir, sig.WARMUP_DIR)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, sig.WARMUP_FILE)
    with tf.io.TFRecordWriter(path) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    return path


# --------------------------------------------------------------------------
# Versioned, atomic publication.


def existing_version_path(export_dir: str, version: int) -> str | None:
    """The child of ``export_dir`` TF Serving would read as ``version``, if any."""
    if not os.path.isdir(export_dir):
        return None
    for entry in os.listdir(export_dir):
        if entry.isdigit() and int(entry) == version:
            return os.path.join(export_dir, entry)
    return None


def _refuse_existing(export_dir: str, version: int) -> None:
    existing = existing_version_path(export_dir, version)
    if existing is not None:
        raise ExportError(
            f"version {version} already exists at {existing}; versions are never overwritten "
            "(pass --version with a new number, or remove that directory yourself)"
        )


def publish_version(export_dir: str, version: int, write: Callable[[str], None]) -> str:
    """Calls ``write(tmp_dir)`` then renames ``tmp_dir`` to ``export_dir/version`` (``fileio.publish_dir``).

    The version is checked for existence before writing and again just
    before the rename; a failed write leaves no trace.
    """
    _refuse_existing(export_dir, version)
    return fileio.publish_dir(
        os.path.join(export_dir, str(version)), write, before_rename=lambda: _refuse_existing(export_dir, version)
    )


def _parameter_bytes(variables) -> int:
    return int(sum(np.asarray(v.numpy()).nbytes for v in variables))


def directory_bytes(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def save_module(module: InfoGANExportModule, path: str) -> None:
    """tf.saved_model.save with the declared signatures."""
    tf.saved_model.save(module, path, signatures=module.signature_functions())


# TFRecord framing of each record: a uint64 length, its CRC32C, the record's CRC32C.
_TFRECORD_OVERHEAD = 8 + 4 + 4


def _gfile_tree_bytes(path: str) -> int:
    total = 0
    for directory, _, files in tf.io.gfile.walk(path):
        total += sum(tf.io.gfile.stat(os.path.join(directory, f)).length for f in files)
    return total


def estimated_version_bytes(module: InfoGANExportModule, logs: list) -> int:
    """About how many bytes a version directory of ``module`` with warmup records ``logs`` takes.

    For the message of a full disk, so only called after a write failed. How
    it is estimated: the SavedModel -- the exported weights (variables/,
    1.0002x their bytes), the serialized graph of the traced signatures
    (saved_model.pb, ~0.4 MB for the paper's networks and for the tiny test
    ones alike), the fingerprint and the JSON asset -- is saved once more, to
    TensorFlow's in-memory file system (``ram://``, freed right after), and its
    files are counted; the warmup records add their serialized size plus the
    TFRecord framing. The graph's size is not known until it is serialized
    (summing the traced functions' GraphDefs undercounts it by ~45%), hence
    the second save (about as long as the first; the weights are held in
    memory once more meanwhile). If that save fails as well, the estimate is
    the weights' bytes alone, a lower bound.
    """
    warmup = sum(log.ByteSize() + _TFRECORD_OVERHEAD for log in logs)
    root = f"ram://infogan_export_size_{uuid.uuid4().hex}"
    try:
        save_module(module, root)
        return _gfile_tree_bytes(root) + warmup
    except Exception:
        return _parameter_bytes(module.weights.values()) + warmup
    finally:
        try:
            if tf.io.gfile.exists(root):
                tf.io.gfile.rmtree(root)
        except Exception:
            pass


@contextmanager
def _staged_metadata(metadata: dict, version: int) -> Iterator[str]:
    """Yields a temporary file holding the JSON asset (the module's asset points to it; the save copies it).

    Raises:
      DiskFullError: the temporary directory is full (the file is removed).
    """
    text = json.dumps(metadata, indent=2, sort_keys=True) + "\n"

    def no_space(error: OSError, where: str) -> BaseException:
        full = fileio.no_space_error(f"export version {version}", where, len(text.encode()), error)
        return error if full is None else full

    try:
        staging = tempfile.TemporaryDirectory(prefix="infogan_export_meta_")
    except OSError as e:
        raise no_space(e, os.path.join(tempfile.gettempdir(), "infogan_export_meta")) from e
    with staging:
        path = os.path.join(staging.name, sig.METADATA_ASSET)
        try:
            with open(path, "w") as f:
                f.write(text)
        except OSError as e:
            raise no_space(e, staging.name) from e
        yield path


def export(config: ExportConfig) -> ExportResult:
    """Restores a checkpoint of ``config.model_dir`` and publishes a new version."""
    config.validate()
    restored = restore_networks(config.model_dir, config.checkpoint)
    version = restored.step if config.version is None else config.version
    if version < 0:
        raise ExportError(f"checkpoint {restored.checkpoint} has no training step; pass --version")
    _refuse_existing(config.export_dir, version)  # fail before any work
    latent, image_shape = restored.config.latent, restored.config.model.image_shape

    logs = warmup_records(latent, image_shape, config.resolved_model_name)

    with _staged_metadata(build_metadata(restored, version, config.jit_compile), version) as metadata_path:
        module = InfoGANExportModule(restored.generator, restored.discriminator, metadata_path, config.jit_compile)

        def write(tmp_dir: str) -> None:
            save_module(module, tmp_dir)
            write_warmup(tmp_dir, logs)

        try:
            path = publish_version(config.export_dir, version, write)
        except Exception as e:  # the hidden temporary version is gone already (publish_dir)
            if not fileio.is_no_space(e):
                raise
            destination = os.path.join(config.export_dir, str(version))
            full = fileio.no_space_error(
                f"export version {version}", destination, estimated_version_bytes(module, logs), e
            )
            raise full or DiskFullError(str(e)) from e

    d = restored.discriminator
    encoder_vars = [v for v in d.variables if id(v) not in {id(u) for u in d.d_head.variables}]
    return ExportResult(
        path=path,
        version=version,
        checkpoint=restored.checkpoint,
        step=restored.step,
        variables_bytes=directory_bytes(os.path.join(path, "variables")),
        saved_model_bytes=directory_bytes(path),
        exported_parameter_bytes=_parameter_bytes(module.weights.values()),
        generator_parameter_bytes=_parameter_bytes(restored.generator.variables),
        encoder_parameter_bytes=_parameter_bytes(encoder_vars),
    )

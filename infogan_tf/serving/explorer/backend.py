"""Where the explorer's images come from: an exported SavedModel in this process, or a model behind TF Serving.

Both backends run a signature of ``infogan_tf.serving.signatures`` on checked
numpy inputs and return numpy outputs, and both describe the model with the
export's metadata asset (``assets/infogan_tf_export.json``: the latent layout,
the continuous prior's range, the image shape):

  :class:`SavedModelBackend`  ``tf.saved_model.load`` of a version directory;
                              signature calls are thread safe and run
                              concurrently (the app's ``admission`` bounds how
                              many; TensorFlow's own threads work inside each);
  :class:`ServingBackend`     TF Serving's REST API through
                              ``infogan_tf.serving.client.RestClient`` (thread
                              safe: one HTTP request per call); the layout comes
                              from ``--spec_json`` or from the server's model
                              metadata, as for ``infogan-sample``.

A server that cannot be reached is a :class:`BackendError` with HTTP status 503,
an error answer from it one with 502 (the explorer's JSON errors say which).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Protocol

import numpy as np

from infogan_tf import errors
from infogan_tf.errors import SampleError, ServingError, UsageError
from infogan_tf.serving import sample as sample_lib
from infogan_tf.serving import signatures as sig
from infogan_tf.serving.explorer.api import RequestError
from infogan_tf.serving.explorer.policy import ServeOptions


@dataclasses.dataclass(frozen=True)
class ExploreConfig:
    """Which model to explore and where to serve the page.

    Attributes:
      saved_model: an exported SavedModel version directory (exclusive with ``server``).
      server: TF Serving REST base URL, e.g. http://localhost:8501.
      model_name: the served model's name (with ``server``).
      model_version: a served version; None = the latest.
      spec_json: the export's JSON asset (with ``server``; needed for several categorical codes).
      host: the address the page is served on (127.0.0.1: this machine only).
      port: its port (0: any free port).
      serve: what the server accepts (hosts, origins) and how much work it takes on at once.
    """

    saved_model: str | None = None
    server: str | None = None
    model_name: str | None = None
    model_version: int | None = None
    spec_json: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    serve: ServeOptions = ServeOptions()

    def problems(self) -> list[str]:
        out = []
        if (self.saved_model is None) == (self.server is None):
            out.append("give exactly one of --saved_model and --server")
        if self.server is not None and not self.model_name:
            out.append("--server needs --model_name (the name the model is served under)")
        if self.saved_model is not None and self.spec_json is not None:
            out.append("--spec_json is for --server; a --saved_model carries its own metadata")
        if self.saved_model is not None and self.model_version is not None:
            out.append("--model_version is for --server; --saved_model names the version directory itself")
        if not self.host:
            out.append("--host must not be empty")
        if not 0 <= self.port <= 65535:
            out.append(f"--port must be in 0..65535, got {self.port}")
        if self.model_version is not None and self.model_version < 0:
            out.append(f"--model_version must be >= 0, got {self.model_version}")
        return out + self.serve.problems()

    def validate(self) -> ExploreConfig:
        problems = self.problems()
        if problems:
            raise UsageError(problems[0])
        return self


class BackendError(ServingError):
    """The model server failed a request; ``status`` is the explorer's HTTP answer (502 or 503)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class Backend(Protocol):
    """Runs the export's signatures; ``metadata`` is its JSON asset (or what the server tells of it)."""

    info: sample_lib.ModelInfo
    metadata: dict
    name: str
    version: str
    source: str

    def run(self, signature: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The signature's outputs for checked inputs."""


class SavedModelBackend:
    """An exported version directory, loaded in this process."""

    def __init__(self, path: str):
        import tensorflow as tf

        self.metadata = sample_lib.read_metadata_json(sample_lib.check_version_dir(path))
        self.info = sample_lib.info_from_metadata(self.metadata)
        try:
            loaded = tf.saved_model.load(path)
            self._functions = {name: loaded.signatures[name] for name in sig.SIGNATURES}
        except (KeyError, OSError, ValueError) as e:
            raise SampleError(f"cannot load the signatures of {path}: {errors.describe(e)}") from None
        self._loaded = loaded  # keeps the variables alive
        self._tf = tf
        absolute = os.path.abspath(path)
        self.name = os.path.basename(os.path.dirname(absolute)) or "infogan"
        self.version = os.path.basename(absolute)
        self.source = f"SavedModel {absolute}"

    def run(self, signature: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        tf = self._tf
        dtypes = {t.name: t.dtype for t in sig.SIGNATURES[signature].inputs}
        feeds = {k: tf.constant(v, tf.as_dtype(dtypes[k])) for k, v in inputs.items()}
        try:
            out = self._functions[signature](**feeds)
            return {k: v.numpy() for k, v in out.items()}
        except tf.errors.InvalidArgumentError as e:
            raise RequestError(f"the model refused the input: {errors.first_line(e.message)}") from None


class ServingBackend:
    """A model behind TF Serving's REST API."""

    def __init__(self, client, spec_json: str | None = None):
        self._client = client
        url = client.model_url
        if spec_json is not None:
            self.metadata = sample_lib.read_metadata_json(spec_json)
            self.info = sample_lib.info_from_metadata(self.metadata)
        else:
            try:
                self.info = sample_lib.info_from_server_metadata(client.metadata())
            except ServingError as e:
                raise SampleError(f"cannot read the model's metadata from TF Serving: {e}") from None
            self.metadata = {
                "latent": self.info.latent.to_dict(),
                "image": {"shape": list(self.info.image_shape)},
                "signatures": sig.signatures_metadata(self.info.latent, self.info.image_shape),
                "note": "read from TF Serving's signature metadata; the continuous prior's range is assumed "
                "to be 1 (pass --spec_json for the export's own metadata)",
            }
        self.name = client.model_name
        self.version = "latest" if client.version is None else str(client.version)
        self.source = f"TF Serving {url}"

    def run(self, signature: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            return self._client.predict(signature, inputs)
        except ServingError as e:
            unreachable = str(e).startswith("cannot reach")
            raise BackendError(f"TF Serving backend: {e}", 503 if unreachable else 502) from None


def open_backend(config: ExploreConfig) -> Backend:
    """The backend ``config`` names (validated first)."""
    config.validate()
    if config.saved_model is not None:
        return SavedModelBackend(config.saved_model)
    from infogan_tf.serving.client import RestClient

    assert config.server is not None and config.model_name is not None  # validate() checked
    try:
        client = RestClient(config.server, config.model_name, config.model_version)
    except ValueError as e:  # a malformed --server URL
        raise UsageError(str(e)) from None
    return ServingBackend(client, config.spec_json)

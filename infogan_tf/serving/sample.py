"""Images from an exported InfoGAN, local or served by TF Serving: the library of ``infogan-sample``.

Two sources, one :class:`ImageSource` interface:

  :class:`SavedModelSource`  a version directory written by infogan-export, run
                             in this process (``tf.saved_model.load``, signature
                             ``generate``);
  :class:`ServerSource`      a TF Serving REST endpoint, through
                             ``infogan_tf.serving.client``; the latent layout is
                             read from the server's model metadata, or from the
                             export's ``assets/infogan_tf_export.json`` when the
                             metadata cannot tell it (several categorical codes).

:func:`sample` draws either a latent traversal grid (the paper's Figure 2
layout, Chen et al. 2016: rows = the categories of one categorical code,
columns = one continuous code swept over lo..hi, noise fixed by the seed) or,
when codes are given, one row of images for those codes (each with its own
noise; codes not given: a random category per image, continuous 0). Bad codes
raise ``errors.UsageError`` naming the problem before anything is generated;
an existing output PNG is replaced only once the new one is complete. The
command line is ``infogan_tf/cli/sample.py``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import NamedTuple, Protocol

import numpy as np

from infogan_tf import fileio, visualize
from infogan_tf.errors import SampleError, UsageError
from infogan_tf.latent import LatentSpec
from infogan_tf.serving import signatures as sig


@dataclasses.dataclass(frozen=True)
class SampleConfig:
    """What to draw, from which model, into which file.

    Attributes:
      out: PNG path to write.
      saved_model: a SavedModel version directory (exclusive with ``server``).
      server: TF Serving REST base URL, e.g. http://localhost:8501.
      model_name: the served model's name (with ``server``).
      model_version: a served version; None = the latest.
      spec_json: the export's JSON asset, if the server's metadata is not enough.
      request_form: "inputs" (columnar) or "instances" (row) REST requests.
      category: one category index per categorical code, or None.
      continuous: one value per continuous code, or None.
      num: images drawn for ``category``/``continuous``.
      seed: seed of the noise (and of random categories).
      categorical_code: which categorical code gives the grid's rows.
      continuous_code: which continuous code the grid's columns sweep.
      cols: columns of the traversal grid.
      lo, hi: the sweep's range.
    """

    out: str
    saved_model: str | None = None
    server: str | None = None
    model_name: str | None = None
    model_version: int | None = None
    spec_json: str | None = None
    request_form: str = "inputs"
    category: tuple[int, ...] | None = None
    continuous: tuple[float, ...] | None = None
    num: int = 10
    seed: int = 0
    categorical_code: int = 0
    continuous_code: int = 0
    cols: int = 10
    lo: float = -2.0
    hi: float = 2.0

    @property
    def traversal(self) -> bool:
        return self.category is None and self.continuous is None

    def problems(self) -> list[str]:
        out = []
        if (self.saved_model is None) == (self.server is None):
            out.append("give exactly one of --saved_model and --server")
        if self.server is not None and not self.model_name:
            out.append("--server needs --model_name (the name the model is served under)")
        if not self.out:
            out.append("--out must be set")
        elif not self.out.lower().endswith(".png"):
            out.append(f"--out must be a .png path, got {self.out!r}")
        if self.request_form not in ("inputs", "instances"):
            out.append(f"--request_form must be 'inputs' or 'instances', got {self.request_form!r}")
        if self.num <= 0:
            out.append(f"--num must be positive, got {self.num}")
        if self.cols <= 0:
            out.append(f"--cols must be positive, got {self.cols}")
        if not (math.isfinite(self.lo) and math.isfinite(self.hi) and self.lo < self.hi):
            out.append(f"--lo and --hi must be finite with lo < hi, got {self.lo} and {self.hi}")
        if self.continuous is not None and not all(math.isfinite(v) for v in self.continuous):
            out.append(f"--continuous values must be finite numbers, got {list(self.continuous)}")
        if self.model_version is not None and self.model_version < 0:
            out.append(f"--model_version must be >= 0, got {self.model_version}")
        return out

    def validate(self) -> SampleConfig:
        problems = self.problems()
        if problems:
            raise UsageError(problems[0])
        return self


class ModelInfo(NamedTuple):
    """What a sampler needs to know about a model: its codes and image shape."""

    latent: LatentSpec
    image_shape: tuple[int, int, int]


class ImageSource(Protocol):
    """Anything that turns codes into uint8 images (a SavedModel or a server)."""

    info: ModelInfo

    def generate(self, z: np.ndarray, categorical: np.ndarray, continuous: np.ndarray) -> np.ndarray:
        """uint8 [B, H, W, C] images for the given codes."""


def info_from_metadata(metadata: dict) -> ModelInfo:
    """ModelInfo from the export's JSON asset (a parsed ``infogan_tf_export.json``)."""
    try:
        h, w, c = (int(d) for d in metadata["image"]["shape"])
        return ModelInfo(LatentSpec.from_dict(metadata["latent"]), (h, w, c))
    except (KeyError, TypeError, ValueError) as e:
        raise SampleError(f"not an infogan_tf export metadata file ({type(e).__name__}: {e})") from None


def read_metadata_json(path: str) -> dict:
    """The export's metadata asset as a dict; one-line SampleError if it cannot be read."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise SampleError(f"cannot read export metadata {path}: {e}") from None


def read_metadata_file(path: str) -> ModelInfo:
    return info_from_metadata(read_metadata_json(path))


def check_version_dir(path: str) -> str:
    """``path`` if it is an export version directory (has saved_model.pb); its metadata asset's path."""
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise SampleError(
            f"--saved_model {path} has no saved_model.pb; pass a version directory such as "
            "export/models/infogan_mnist/3000"
        )
    return os.path.join(path, "assets", sig.METADATA_ASSET)


class SavedModelSource:
    """Runs the ``generate`` signature of a SavedModel in this process."""

    def __init__(self, path: str):
        import tensorflow as tf

        self.info = read_metadata_file(check_version_dir(path))
        try:
            self._fn = tf.saved_model.load(path).signatures["generate"]
        except (KeyError, OSError, ValueError) as e:
            raise SampleError(f"cannot load the generate signature of {path}: {e}") from None
        self._tf = tf

    def generate(self, z, categorical, continuous) -> np.ndarray:
        tf = self._tf
        out = self._fn(
            z=tf.constant(z, tf.float32),
            categorical=tf.constant(categorical, tf.int32),
            continuous=tf.constant(continuous, tf.float32),
        )
        return out["images_uint8"].numpy()


def info_from_server_metadata(signatures: dict) -> ModelInfo:
    """Derives the latent layout from the served signatures' shapes.

    Widths give noise_dim, the number of categorical and continuous codes and
    sum_i K_i. The cardinalities themselves are known only when there is at
    most one categorical code; otherwise ``--spec_json`` is required.
    """
    try:
        gen = signatures["generate"]
        noise_dim = gen.inputs["z"].shape[1]
        n_categorical = gen.inputs["categorical"].shape[1]
        n_continuous = gen.inputs["continuous"].shape[1]
        code_dim = signatures["serving_default"].inputs["c"].shape[1]
        image_shape = tuple(gen.outputs["images"].shape[1:])
    except (KeyError, IndexError) as e:
        raise SampleError(f"the served model does not have the infogan_tf signatures (missing {e})") from None
    if n_categorical > 1:
        raise SampleError(
            f"the served model has {n_categorical} categorical codes whose cardinalities its metadata "
            "does not give; pass --spec_json=<version dir>/assets/" + sig.METADATA_ASSET
        )
    categorical = (code_dim - n_continuous,) if n_categorical else ()
    return ModelInfo(LatentSpec(noise_dim=noise_dim, categorical=categorical, continuous=n_continuous), image_shape)


class ServerSource:
    """Calls the ``generate`` signature of a model on a TF Serving REST endpoint."""

    def __init__(self, client, spec_json: str | None = None, form: str = "inputs"):
        from infogan_tf.serving.client import ServingError

        self._client = client
        self._form = form
        try:
            self.info = read_metadata_file(spec_json) if spec_json else info_from_server_metadata(client.metadata())
        except ServingError as e:
            raise SampleError(str(e)) from None

    def generate(self, z, categorical, continuous) -> np.ndarray:
        from infogan_tf.serving.client import ServingError

        try:
            out = self._client.predict(
                "generate", {"z": z, "categorical": categorical, "continuous": continuous}, form=self._form
            )
        except ServingError as e:
            raise SampleError(str(e)) from None
        return out["images_uint8"]


def open_source(config: SampleConfig) -> ImageSource:
    if config.saved_model is not None:
        return SavedModelSource(config.saved_model)
    from infogan_tf.serving.client import RestClient

    assert config.server is not None and config.model_name is not None  # SampleConfig.problems() checked

    try:
        client = RestClient(config.server, config.model_name, config.model_version)
    except ValueError as e:  # a malformed --server URL
        raise UsageError(str(e)) from None
    return ServerSource(client, config.spec_json, config.request_form)


def check_codes(latent: LatentSpec, category, continuous) -> None:
    """Raises UsageError naming the problem if the given codes do not fit the model."""
    if category is not None:
        if len(category) != latent.n_categorical:
            raise UsageError(
                f"--category needs one index per categorical code: the model has {latent.n_categorical} "
                f"({list(latent.categorical)} categories), got {list(category)}"
            )
        for i, (value, k) in enumerate(zip(category, latent.categorical)):
            if not 0 <= value < k:
                raise UsageError(f"--category: code {i} has {k} categories (0..{k - 1}), got {value}")
    if continuous is not None:
        if len(continuous) != latent.continuous:
            raise UsageError(
                f"--continuous needs one value per continuous code: the model has {latent.continuous}, "
                f"got {list(continuous)}"
            )
        if not all(math.isfinite(v) for v in continuous):
            raise UsageError(f"--continuous values must be finite, got {list(continuous)}")


def code_inputs(latent: LatentSpec, category, continuous, num: int, seed: int) -> visualize.TraversalInputs:
    """One row of ``num`` images with the given codes (see module docstring for defaults)."""
    check_codes(latent, category, continuous)
    rng = np.random.default_rng(seed)
    z = rng.uniform(-1.0, 1.0, size=(num, latent.noise_dim)).astype(np.float32)
    if category is not None:
        cat = np.tile(np.asarray(category, np.int32), (num, 1))
    else:
        cat = (
            np.stack([rng.integers(0, k, size=num) for k in latent.categorical], axis=1).astype(np.int32)
            if latent.categorical
            else np.zeros([num, 0], np.int32)
        )
    cont = np.tile(
        np.asarray(continuous if continuous is not None else [0.0] * latent.continuous, np.float32), (num, 1)
    )
    return visualize.TraversalInputs(z, cat, cont.reshape(num, latent.continuous), 1, num)


class SampleResult(NamedTuple):
    """The written PNG: its path, pixel size (height, width) and grid layout."""

    path: str
    height: int
    width: int
    rows: int
    cols: int


def render(source: ImageSource, inputs: visualize.TraversalInputs) -> np.ndarray:
    """The [H', W', C] uint8 grid of the images the source generates for ``inputs``."""
    images = source.generate(inputs.z, inputs.categorical, inputs.continuous)
    return visualize.tile_grid(np.asarray(images, np.uint8), inputs.rows, inputs.cols)


def sample(config: SampleConfig, source: ImageSource | None = None) -> SampleResult:
    """Library entry point: draws the grid or the code images and writes the PNG.

    Raises:
      UsageError: an invalid setting, or codes that do not fit the model.
      SampleError: the model cannot be loaded or reached.
    """
    config.validate()
    source = source or open_source(config)
    latent = source.info.latent
    if config.traversal:
        try:
            inputs = visualize.traversal_inputs(
                latent,
                categorical_code=config.categorical_code,
                continuous_code=config.continuous_code,
                cols=config.cols,
                lo=config.lo,
                hi=config.hi,
                seed=config.seed,
            )
        except ValueError as e:  # --categorical_code / --continuous_code beyond the model's codes
            raise UsageError(str(e)) from None
    else:
        inputs = code_inputs(latent, config.category, config.continuous, config.num, config.seed)
    grid = render(source, inputs)
    fileio.write_file(config.out, lambda tmp: visualize.write_png(tmp, grid))
    return SampleResult(config.out, grid.shape[0], grid.shape[1], inputs.rows, inputs.cols)

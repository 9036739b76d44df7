"""``infogan-sample``: images from an exported InfoGAN, local or served by TF Serving.

Two sources, one result:

  --saved_model=DIR   a version directory written by infogan-export, run in
                      this process (``tf.saved_model.load``, signature ``generate``);
  --server=URL        a TF Serving REST endpoint (``--model_name``), through
                      ``infogan_tf.serving_client``; the latent layout is read
                      from the server's model metadata, or from ``--spec_json``
                      (the export's ``assets/infogan_tf_export.json``) when the
                      metadata cannot tell it (several categorical codes).

Two kinds of PNG:

  * by default a latent traversal grid (the paper's Figure 2 layout, Chen et
    al. 2016): rows = the categories of ``--categorical_code``, columns =
    ``--continuous_code`` swept over ``--lo..--hi`` (default -2..2), noise fixed
    by ``--seed``;
  * with ``--category`` and/or ``--continuous``: one row of ``--num`` images
    for those codes (one value per code), each with its own noise from
    ``--seed``. Codes not given: a random category per image, continuous 0.

Bad codes are rejected with one line naming the problem before anything is
generated; an existing ``--out`` is replaced only once the new PNG is complete.

Examples:
  infogan-sample --saved_model=export/models/infogan_mnist/3000 --out=grid.png
  infogan-sample --server=http://localhost:8501 --model_name=infogan_mnist --out=grid.png
  infogan-sample --saved_model=export/models/infogan_mnist/3000 --category=7 --continuous=1.5,0 --out=sevens.png
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import NamedTuple, Protocol

import numpy as np

from infogan_tf import cli
from infogan_tf import signatures as sig
from infogan_tf import visualize
from infogan_tf.latent import LatentSpec

PROG = "infogan-sample"


class SampleError(RuntimeError):
    """The model could not be loaded or reached; the message says which and where."""


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

    def validate(self) -> "SampleConfig":
        problems = self.problems()
        if problems:
            raise ValueError(problems[0])
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
        return ModelInfo(LatentSpec.from_dict(metadata["latent"]), tuple(int(d) for d in metadata["image"]["shape"]))
    except (KeyError, TypeError, ValueError) as e:
        raise SampleError(f"not an infogan_tf export metadata file ({type(e).__name__}: {e})") from None


def read_metadata_file(path: str) -> ModelInfo:
    try:
        with open(path) as f:
            return info_from_metadata(json.load(f))
    except (OSError, json.JSONDecodeError) as e:
        raise SampleError(f"cannot read export metadata {path}: {e}") from None


class SavedModelSource:
    """Runs the ``generate`` signature of a SavedModel in this process."""

    def __init__(self, path: str):
        import tensorflow as tf

        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise SampleError(
                f"--saved_model {path} has no saved_model.pb; pass a version directory such as "
                "export/models/infogan_mnist/3000"
            )
        self.info = read_metadata_file(os.path.join(path, "assets", sig.METADATA_ASSET))
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
        from infogan_tf.serving_client import ServingError

        self._client = client
        self._form = form
        try:
            self.info = read_metadata_file(spec_json) if spec_json else info_from_server_metadata(client.metadata())
        except ServingError as e:
            raise SampleError(str(e)) from None

    def generate(self, z, categorical, continuous) -> np.ndarray:
        from infogan_tf.serving_client import ServingError

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
    from infogan_tf.serving_client import RestClient

    client = RestClient(config.server, config.model_name, config.model_version)
    return ServerSource(client, config.spec_json, config.request_form)


def check_codes(latent: LatentSpec, category, continuous) -> None:
    """Raises ValueError naming the problem if the given codes do not fit the model."""
    if category is not None:
        if len(category) != latent.n_categorical:
            raise ValueError(
                f"--category needs one index per categorical code: the model has {latent.n_categorical} "
                f"({list(latent.categorical)} categories), got {list(category)}"
            )
        for i, (value, k) in enumerate(zip(category, latent.categorical)):
            if not 0 <= value < k:
                raise ValueError(f"--category: code {i} has {k} categories (0..{k - 1}), got {value}")
    if continuous is not None:
        if len(continuous) != latent.continuous:
            raise ValueError(
                f"--continuous needs one value per continuous code: the model has {latent.continuous}, "
                f"got {list(continuous)}"
            )
        if not all(math.isfinite(v) for v in continuous):
            raise ValueError(f"--continuous values must be finite, got {list(continuous)}")


def code_inputs(latent: LatentSpec, category, continuous, num: int, seed: int) -> visualize.TraversalInputs:
    """One row of ``num`` images with the given codes (see module docstring for defaults)."""
    check_codes(latent, category, continuous)
    rng = np.random.default_rng(seed)
    z = rng.uniform(-1.0, 1.0, size=(num, latent.noise_dim)).astype(np.float32)
    if category is not None:
        cat = np.tile(np.asarray(category, np.int32), (num, 1))
    else:
        cat = np.stack([rng.integers(0, k, size=num) for k in latent.categorical], axis=1).astype(np.int32) \
            if latent.categorical else np.zeros([num, 0], np.int32)
    cont = np.tile(np.asarray(continuous if continuous is not None else [0.0] * latent.continuous, np.float32), (num, 1))
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


def _write_png_atomically(path: str, grid: np.ndarray) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        visualize.write_png(tmp, grid)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def sample(config: SampleConfig, source: ImageSource | None = None) -> SampleResult:
    """Library entry point: draws the grid or the code images and writes the PNG."""
    config.validate()
    source = source or open_source(config)
    latent = source.info.latent
    if config.traversal:
        inputs = visualize.traversal_inputs(
            latent,
            categorical_code=config.categorical_code,
            continuous_code=config.continuous_code,
            cols=config.cols,
            lo=config.lo,
            hi=config.hi,
            seed=config.seed,
        )
    else:
        inputs = code_inputs(latent, config.category, config.continuous, config.num, config.seed)
    grid = render(source, inputs)
    _write_png_atomically(config.out, grid)
    return SampleResult(config.out, grid.shape[0], grid.shape[1], inputs.rows, inputs.cols)


# ---------------------------------------------------------------------- CLI


def define_flags() -> None:
    """Defines the sampling flags (idempotent)."""
    from absl import flags

    if "saved_model" in flags.FLAGS:
        return
    d = SampleConfig(out="")
    flags.DEFINE_string("saved_model", None, "A SavedModel version directory written by infogan-export.")
    flags.DEFINE_string("server", None, "TF Serving REST base URL, e.g. http://localhost:8501.")
    flags.DEFINE_string("model_name", None, "Name of the served model (with --server).")
    flags.DEFINE_integer("model_version", None, "Served version to call (with --server); default: the latest.")
    flags.DEFINE_string("spec_json", None, "The export's assets/" + sig.METADATA_ASSET + " (with --server, if needed).")
    flags.DEFINE_enum("request_form", d.request_form, ["inputs", "instances"], "REST request form (with --server).")
    flags.DEFINE_string("out", None, "PNG file to write.")
    flags.DEFINE_list("category", None, "One category index per categorical code, e.g. 7 or 7,2.")
    flags.DEFINE_list("continuous", None, "One value per continuous code, e.g. 1.5,0.")
    flags.DEFINE_integer("num", d.num, "Images to draw for --category/--continuous.")
    flags.DEFINE_integer("seed", d.seed, "Seed of the noise z (and of random categories).")
    flags.DEFINE_integer("categorical_code", d.categorical_code, "Traversal: the categorical code giving the rows.")
    flags.DEFINE_integer("continuous_code", d.continuous_code, "Traversal: the continuous code swept by the columns.")
    flags.DEFINE_integer("cols", d.cols, "Traversal: number of columns.")
    flags.DEFINE_float("lo", d.lo, "Traversal: start of the sweep.")
    flags.DEFINE_float("hi", d.hi, "Traversal: end of the sweep.")


def _parse_numbers(values, kind, flag: str):
    if values is None:
        return None
    try:
        return tuple(kind(v) for v in values)
    except ValueError:
        raise ValueError(f"--{flag} must be comma-separated {kind.__name__}s, got {','.join(values)!r}") from None


def config_from_flags(values) -> SampleConfig:
    return SampleConfig(
        out=values.out or "",
        saved_model=values.saved_model,
        server=values.server,
        model_name=values.model_name,
        model_version=values.model_version,
        spec_json=values.spec_json,
        request_form=values.request_form,
        category=_parse_numbers(values.category, int, "category"),
        continuous=_parse_numbers(values.continuous, float, "continuous"),
        num=values.num,
        seed=values.seed,
        categorical_code=values.categorical_code,
        continuous_code=values.continuous_code,
        cols=values.cols,
        lo=values.lo,
        hi=values.hi,
    ).validate()


def main(argv) -> None:
    from absl import flags

    cli.reject_positional(PROG, argv)
    try:
        config = config_from_flags(flags.FLAGS)
    except ValueError as e:
        cli.fail(PROG, str(e), 2)
    try:
        source = open_source(config)
    except ValueError as e:
        cli.fail(PROG, str(e), 2)
    except SampleError as e:
        cli.fail(PROG, str(e), 1)
    try:
        result = sample(config, source)
    except ValueError as e:  # codes that do not fit the model
        cli.fail(PROG, str(e), 2)
    except SampleError as e:
        cli.fail(PROG, str(e), 1)
    kind = "traversal grid" if config.traversal else "grid of images"
    print(f"infogan-sample: wrote a {result.rows}x{result.cols} {kind} ({result.width}x{result.height} px) to {result.path}")


def run() -> None:
    """Console-script entry point."""
    cli.run_app(PROG, define_flags, main)


if __name__ == "__main__":
    run()

"""Typed, validated configuration of a training run.

A run is described by one frozen :class:`TrainConfig` made of five parts
(data, latent codes, model, optimisation, runtime). The command line builds it
once (``infogan_tf/train.py``), everything below takes it as a value. Field
names are the flag names, so an error can name the flag to fix.

Nothing here imports TensorFlow: a bad flag is rejected in milliseconds,
before any TF work starts.

The resolved config is written to ``<model_dir>/config.json``. When a run is
resumed, :func:`check_resume_compatible` refuses a config whose architecture
or code layout differs from the saved one, since checkpoint variables would
not match (or, worse, would match with another meaning).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any

from infogan_tf.latent import LatentSpec

CONFIG_FILENAME = "config.json"
STRATEGIES = ("default", "one_device", "mirrored", "multi_worker")
UPDATES = ("alternating", "joint")
REAL_INFO_VIEWS = ("same", "affine")


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the flag."""


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a supported TFDS dataset."""

    name: str
    image_shape: tuple[int, int, int]
    train_split: str
    test_split: str
    # The original files TFDS looks for in --manual_dir (offline preparation).
    manual_files: tuple[str, ...]


_IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("mnist", (28, 28, 1), "train", "test", _IDX_FILES),
    "fashion_mnist": DatasetInfo("fashion_mnist", (28, 28, 1), "train", "test", _IDX_FILES),
    # 32x32x3 street-view digits, for the `svhn` preset.
    "svhn_cropped": DatasetInfo(
        "svhn_cropped", (32, 32, 3), "train", "test", ("train_32x32.mat", "test_32x32.mat", "extra_32x32.mat")
    ),
}


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the training images come from.

    Attributes:
      dataset: TFDS name, one of ``DATASETS``.
      data_dir: TFDS data directory (prepared datasets); None = TFDS default.
      manual_dir: folder holding the dataset's original files (for MNIST the
        four official IDX ``.gz`` files); prepares the dataset offline.
    """

    dataset: str = "mnist"
    data_dir: str | None = None
    manual_dir: str | None = None

    @property
    def info(self) -> DatasetInfo:
        return DATASETS[self.dataset]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.info.image_shape


def manual_dir_problems(data: DataConfig) -> list[str]:
    """What is wrong with --manual_dir for this dataset (empty list: nothing)."""
    if not os.path.isdir(data.manual_dir):
        return [f"--manual_dir {data.manual_dir!r} is not a directory"]
    expected = data.info.manual_files
    missing = [f for f in expected if not os.path.isfile(os.path.join(data.manual_dir, f))]
    if missing:
        return [
            f"--manual_dir {data.manual_dir!r} lacks {', '.join(missing)}; "
            f"{data.dataset} needs the original files {', '.join(expected)}"
        ]
    return []


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture (defaults: the paper's MNIST networks, Table 1 of App. C).

    Attributes:
      g_fc_units: width of the generator's first fully connected layer.
      g_base_filters: channels of the generator feature map at 1/4 resolution
        (the ``FC 7x7x128`` layer on MNIST); the next upconv has half of it.
      d_filters: channels of the two strided discriminator convolutions.
      d_fc_units: width of the discriminator's fully connected layer.
      q_fc_units: width of the Q head's hidden layer.
      leaky_slope: slope of the leaky ReLUs in D and Q (paper: 0.1).
      continuous_std: "fixed" (default, as in the authors' reference code:
        unit std, the Gaussian NLL becomes a scaled MSE) or "learned" (Q
        predicts a log-std per code).
      image_shape: (H, W, C) of the images; H and W divisible by 4.
    """

    g_fc_units: int = 1024
    g_base_filters: int = 128
    d_filters: tuple[int, int] = (64, 128)
    d_fc_units: int = 1024
    q_fc_units: int = 128
    leaky_slope: float = 0.1
    continuous_std: str = "fixed"
    image_shape: tuple[int, int, int] = (28, 28, 1)

    def __post_init__(self):
        object.__setattr__(self, "d_filters", tuple(int(x) for x in self.d_filters))
        object.__setattr__(self, "image_shape", tuple(int(x) for x in self.image_shape))


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """The objective and its optimisation.

    The defaults are the configuration that reproduces the paper's MNIST
    result here (BUILD_NOTES, "Reproduction status"): the paper's Adam
    settings, lambda_cat = 1 and the reference code's lambda_cont = 1 with the
    alternating update, plus the real-image information term with affine
    views (not in the paper). ``--lambda_real_info=0 --update=joint`` and
    ``--continuous_std=learned --lambda_cont=0.1`` go back to the plain
    objective.

    Attributes:
      train_steps: total number of steps; a resumed run continues to it.
      batch_size: GLOBAL batch size (split across replicas).
      d_learning_rate: Adam learning rate of D and Q (paper: 2e-4).
      g_learning_rate: Adam learning rate of G (paper: 1e-3).
      beta1: Adam beta_1 (paper: 0.5).
      beta2: Adam beta_2.
      lambda_cat: weight of the categorical MI term (paper: 1).
      lambda_cont: weight of the continuous MI term (the paper: "smaller"
        than lambda_cat when the std is learned; its code: 1 with a fixed std).
      lambda_real_info: weight of Q's information about the categories of
        real images (losses.categorical_information or, with affine views,
        losses.paired_categorical_information), added to the D/Q objective;
        0 = the paper's objective.
      real_info_view: what Q's categories of a real image are paired with in
        that term: "same" -- the image itself, i.e. H(E Q(c|x)) - E H(Q(c|x));
        "affine" -- a copy rotated/scaled/shifted a little (augment.py), i.e.
        I(c(x); c(x')).
      update: "alternating" -- a D/Q step (real and fake batches through D
        separately), then a G step on freshly drawn (z, c), as the authors'
        reference code trains; "joint" -- one forward pass of [real; fake]
        and simultaneous D/Q and G updates from it (cheaper per step).
    """

    train_steps: int = 3000
    batch_size: int = 64
    d_learning_rate: float = 2e-4
    g_learning_rate: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_cat: float = 1.0
    lambda_cont: float = 1.0
    lambda_real_info: float = 1.0
    real_info_view: str = "affine"
    update: str = "alternating"


@dataclasses.dataclass(frozen=True)
class RuntimeConfig:
    """Where and how the run executes; none of it changes the model.

    Attributes:
      model_dir: checkpoints, summaries and config.json go here.
      strategy: one of STRATEGIES.
      num_devices: devices for `mirrored` (0 = all visible GPUs, else CPU).
      device: device for `one_device`, e.g. "/cpu:0" or "/gpu:0".
      seed: seeds data order, noise and codes (and weight init).
      checkpoint_every: steps between checkpoints (one is always saved at the end).
      summary_every: steps between TensorBoard summaries and image grids.
      log_every: steps between progress log lines.
      keep_checkpoints: how many recent checkpoints to keep.
      mixed_precision: "float32", or "bfloat16" (Keras mixed_bfloat16 policy:
        variables and losses stay float32, layer math runs in bfloat16).
      jit_compile: compile the train step with XLA: True, False, or None
        (the default) = on when the strategy has a single replica. Several
        replicas cannot use it: on TF 2.21 XLA fails on a multi-replica
        Mirrored step.
      inject_nan_step: test-only fault injection: the real images of this
        step (1-based) are made NaN, to exercise the non-finite guard; 0 = off.
    """

    model_dir: str = "runs/mnist"
    strategy: str = "default"
    num_devices: int = 0
    device: str = "/cpu:0"
    seed: int = 0
    checkpoint_every: int = 500
    summary_every: int = 500
    log_every: int = 100
    keep_checkpoints: int = 3
    mixed_precision: str = "float32"
    jit_compile: bool | None = None
    inject_nan_step: int = 0


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs."""

    data: DataConfig = DataConfig()
    latent: LatentSpec = LatentSpec()
    model: ModelConfig = ModelConfig()
    optim: OptimConfig = OptimConfig()
    runtime: RuntimeConfig = RuntimeConfig()

    # ---------------------------------------------------------------- checks
    def problems(self) -> list[str]:
        """Every invalid value, each phrased as a one-line message naming its flag."""
        out = []
        d, m, o, r = self.data, self.model, self.optim, self.runtime
        if d.dataset not in DATASETS:
            out.append(f"--dataset must be one of {', '.join(DATASETS)}, got {d.dataset!r}")
        elif d.manual_dir is not None:
            out.extend(manual_dir_problems(d))
        out.extend(self.latent.problems())
        h, w, ch = m.image_shape
        if h % 4 or w % 4 or min(h, w, ch) <= 0:
            out.append(f"image shape {m.image_shape} must be positive with H and W divisible by 4")
        for name in ("g_fc_units", "g_base_filters", "d_fc_units", "q_fc_units"):
            if getattr(m, name) <= 0:
                out.append(f"--{name} must be positive, got {getattr(m, name)}")
        if len(m.d_filters) != 2 or min(m.d_filters) <= 0:
            out.append(f"--d_filters must be two positive integers, got {m.d_filters}")
        if m.continuous_std not in ("learned", "fixed"):
            out.append(f"--continuous_std must be 'learned' or 'fixed', got {m.continuous_std!r}")
        if not 0 <= m.leaky_slope < 1:
            out.append(f"--leaky_slope must be in [0, 1), got {m.leaky_slope}")
        for name in ("train_steps", "batch_size"):
            if getattr(o, name) <= 0:
                out.append(f"--{name} must be positive, got {getattr(o, name)}")
        for name in ("d_learning_rate", "g_learning_rate"):
            v = getattr(o, name)
            if not (math.isfinite(v) and v > 0):
                out.append(f"--{name} must be a finite number > 0, got {v}")
        for name in ("beta1", "beta2"):
            v = getattr(o, name)
            if not 0 <= v < 1:
                out.append(f"--{name} must be in [0, 1), got {v}")
        for name in ("lambda_cat", "lambda_cont", "lambda_real_info"):
            v = getattr(o, name)
            if not (math.isfinite(v) and v >= 0):
                out.append(f"--{name} must be a finite number >= 0, got {v}")
        if o.real_info_view not in REAL_INFO_VIEWS:
            out.append(f"--real_info_view must be one of {', '.join(REAL_INFO_VIEWS)}, got {o.real_info_view!r}")
        if o.update not in UPDATES:
            out.append(f"--update must be one of {', '.join(UPDATES)}, got {o.update!r}")
        if not r.model_dir:
            out.append("--model_dir must be set")
        if r.strategy not in STRATEGIES:
            out.append(f"--strategy must be one of {', '.join(STRATEGIES)}, got {r.strategy!r}")
        if r.num_devices < 0:
            out.append(f"--num_devices must be >= 0, got {r.num_devices}")
        if r.mixed_precision not in ("float32", "bfloat16"):
            out.append(f"--mixed_precision must be 'float32' or 'bfloat16', got {r.mixed_precision!r}")
        if r.jit_compile is True and (r.strategy == "multi_worker" or (r.strategy == "mirrored" and r.num_devices != 1)):
            out.append(
                f"--jit_compile works with a single replica only (XLA fails on a multi-replica step on "
                f"TF 2.21); drop it (the default compiles single-replica runs only) or use "
                f"--strategy=default/one_device, not --strategy={r.strategy}"
            )
        if r.inject_nan_step < 0:
            out.append(f"--inject_nan_step must be >= 0, got {r.inject_nan_step}")
        for name in ("checkpoint_every", "summary_every", "log_every", "keep_checkpoints"):
            if getattr(r, name) <= 0:
                out.append(f"--{name} must be positive, got {getattr(r, name)}")
        if r.strategy == "mirrored" and r.num_devices and o.batch_size % r.num_devices:
            out.append(
                f"--batch_size {o.batch_size} must be divisible by the number of replicas "
                f"(--num_devices={r.num_devices})"
            )
        return out

    def validate(self) -> "TrainConfig":
        """Raises ConfigError with the first problem; returns self otherwise."""
        problems = self.problems()
        if problems:
            raise ConfigError(problems[0])
        return self

    def check_replicas(self, num_replicas: int) -> None:
        """The global batch must split evenly over the strategy's replicas (and XLA needs one)."""
        if self.runtime.jit_compile is True and num_replicas > 1:
            raise ConfigError(
                f"--jit_compile works with a single replica only, the strategy has {num_replicas}"
            )
        if self.optim.batch_size % num_replicas:
            raise ConfigError(
                f"--batch_size {self.optim.batch_size} must be divisible by the number "
                f"of replicas ({num_replicas})"
            )

    # ----------------------------------------------------------- (de)serial
    def to_dict(self) -> dict[str, Any]:
        return {
            "data": dataclasses.asdict(self.data),
            "latent": self.latent.to_dict(),
            "model": dataclasses.asdict(self.model),
            "optim": dataclasses.asdict(self.optim),
            "runtime": dataclasses.asdict(self.runtime),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        return cls(
            data=DataConfig(**d["data"]),
            latent=LatentSpec.from_dict(d["latent"]),
            model=ModelConfig(**d["model"]),
            optim=OptimConfig(**d["optim"]),
            runtime=RuntimeConfig(**d["runtime"]),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def default_config(**overrides: Any) -> TrainConfig:
    """The default (MNIST reproduction) configuration, with keyword overrides per part."""
    return dataclasses.replace(TrainConfig(), **overrides)


def svhn_preset(base: TrainConfig) -> TrainConfig:
    """32x32x3 street-view digits: same topology, sized from the image shape."""
    return dataclasses.replace(
        base,
        data=dataclasses.replace(base.data, dataset="svhn_cropped"),
        model=dataclasses.replace(base.model, image_shape=(32, 32, 3), g_base_filters=256),
        latent=LatentSpec(noise_dim=124, categorical=(10,) * 4, continuous=4),
    )


def fashion_mnist_preset(base: TrainConfig) -> TrainConfig:
    return dataclasses.replace(base, data=dataclasses.replace(base.data, dataset="fashion_mnist"))


PRESETS = {
    "mnist": lambda base: base,
    "fashion_mnist": fashion_mnist_preset,
    "svhn": svhn_preset,
}

# Parts of the config that define the variables in a checkpoint and their
# meaning. Changing any of them on resume is refused.
_ARCHITECTURE_KEYS = (("data", "dataset"), ("latent",), ("model",))


def _pick(d: dict, path: tuple[str, ...]) -> Any:
    for key in path:
        d = d[key]
    return d


def check_resume_compatible(saved: dict[str, Any], new: TrainConfig) -> None:
    """Refuses to resume with a different architecture or code layout."""
    new_d = json.loads(new.to_json())
    for path in _ARCHITECTURE_KEYS:
        try:
            old_value = _pick(saved, path)
        except (KeyError, TypeError):
            raise ConfigError(
                f"{os.path.join(new.runtime.model_dir, CONFIG_FILENAME)} is not a config "
                f"written by infogan_tf (missing {'.'.join(path)})"
            ) from None
        new_value = _pick(new_d, path)
        if old_value != new_value:
            diffs = _diff(old_value, new_value, ".".join(path))
            raise ConfigError(
                f"--model_dir {new.runtime.model_dir} holds a run with a different "
                f"configuration ({'; '.join(diffs)}); use a new --model_dir or the "
                "original flags"
            )


def _diff(old: Any, new: Any, prefix: str) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            out.extend(_diff(old.get(key), new.get(key), f"{prefix}.{key}"))
        return out
    return [] if old == new else [f"{prefix}: saved {old!r}, now {new!r}"]


def read_saved_config(model_dir: str) -> dict[str, Any] | None:
    """The config.json of a model_dir, None if there is none."""
    path = os.path.join(model_dir, CONFIG_FILENAME)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path} is unreadable ({e}); it is not a valid infogan_tf config") from None


def write_config(config: TrainConfig) -> str:
    """Writes config.json atomically (temp file + rename); returns its path."""
    path = os.path.join(config.runtime.model_dir, CONFIG_FILENAME)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(config.to_json() + "\n")
    os.replace(tmp, path)
    return path

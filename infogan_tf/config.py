"""Typed, validated configuration of a training run.

A run is described by one frozen :class:`TrainConfig` made of seven parts
(data, latent codes, model, optimisation, the real-image term, the factor-views
term, runtime). The command line builds it
once (``infogan_tf/cli/train.py``), everything below takes it as a value. Field
names are the flag names, so an error can name the flag to fix; each field's
``metadata["help"]`` is its flag's help (``metadata["flag"] = False``: not a flag,
``metadata["choices"]``: an enum flag); every name is unique across the
parts, so :meth:`TrainConfig.override` takes settings by flag name.

Nothing here imports TensorFlow: a bad flag is rejected in milliseconds,
before any TF work starts.

Presets (a dataset's codes and sizes) are in ``infogan_tf.presets``. The
resolved config is written to the run directory's ``config.json``; on resume
``training.resume`` compares the two (refused, or recorded).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import types
import typing
from typing import Any

from infogan_tf.architecture import ModelConfig, network_problems

# Re-exported: the data part of a TrainConfig lives in its own module.
from infogan_tf.dataconfig import CACHE_MODES as CACHE_MODES
from infogan_tf.dataconfig import DATASETS as DATASETS
from infogan_tf.dataconfig import DataConfig as DataConfig
from infogan_tf.dataconfig import DatasetInfo as DatasetInfo
from infogan_tf.dataconfig import manual_dir_problems as manual_dir_problems
from infogan_tf.dataconfig import tfds_base_name as tfds_base_name
from infogan_tf.errors import ConfigError
from infogan_tf.latent import LatentSpec, parse_categorical_codes

STRATEGIES = ("default", "one_device", "mirrored", "multi_worker")
UPDATES = ("alternating", "joint")
REAL_INFO_VIEWS = ("same", "affine", "deskewed")
FACTOR_VIEWS_SECOND = ("width", "thickness")
PRECISIONS = ("auto", "float32", "bfloat16")


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """The paper's objective and its optimisation (each field's ``help`` says what it means).

    The defaults are the configuration that reproduces the paper's MNIST
    result here (BUILD_NOTES, "Design decisions"): the paper's Adam
    settings, lambda_cat = 1 and the reference code's lambda_cont = 1 with the
    alternating update, plus the real-image information term of
    :class:`RealInfoConfig` (not in the paper; on MNIST its second views are
    deskewed copies). ``--lambda_real_info=0 --update=joint`` and
    ``--continuous_std=learned --lambda_cont=0.1`` go back to the plain
    objective.
    """

    train_steps: int = dataclasses.field(
        default=3000, metadata={"help": "Total training steps (a resumed run continues to it)."}
    )
    batch_size: int = dataclasses.field(default=64, metadata={"help": "Global batch size, split across replicas."})
    d_learning_rate: float = dataclasses.field(
        default=2e-4, metadata={"help": "Adam learning rate of D and Q (paper: 2e-4)."}
    )
    g_learning_rate: float = dataclasses.field(
        default=1e-3, metadata={"help": "Adam learning rate of G (paper: 1e-3)."}
    )
    beta1: float = dataclasses.field(default=0.5, metadata={"help": "Adam beta_1 (paper: 0.5)."})
    beta2: float = dataclasses.field(default=0.999, metadata={"help": "Adam beta_2."})
    lambda_cat: float = dataclasses.field(
        default=1.0, metadata={"help": "Weight of the categorical mutual-information term (paper: 1)."}
    )
    lambda_cont: float = dataclasses.field(
        default=1.0,
        metadata={
            "help": "Weight of the continuous mutual-information term (the paper: smaller than --lambda_cat "
            "when the std is learned; its code: 1 with a fixed std)."
        },
    )
    update: str = dataclasses.field(
        default="alternating",
        metadata={
            "help": f"{' or '.join(UPDATES)}: a D/Q step (real and fake batches through D separately), then "
            "a G step on freshly drawn (z, c), as the authors' reference code trains; or one forward pass "
            "of [real; fake] and simultaneous D/Q and G updates from it (cheaper per step)."
        },
    )


@dataclasses.dataclass(frozen=True)
class RealInfoConfig:
    """The real-image information term (not in the paper; ``model.objective.real_info``). See each field's ``help``.

    D/Q also maximises, with weight ``lambda_real_info``, Q's information
    about the categories of REAL images, paired with second views of them
    (IIC, Ji et al. 2019) or with themselves (Krause et al. 2010); no labels.
    MNIST's default pairs each digit with a deskewed copy, other data with an
    affine copy (``presets.other_images``); ``lambda_real_info = 0`` is the
    paper's objective. ``q_overcluster`` adds Q's auxiliary head that only
    this term trains.
    """

    lambda_real_info: float = dataclasses.field(
        default=1.0,
        metadata={
            "help": "Weight of Q's information about the categories of real images (see --real_info_view) "
            "in the D/Q objective (not in the paper; no labels; 0 = the paper's objective); "
            "losses.categorical_information, or losses.paired_categorical_information with affine views."
        },
    )
    real_info_view: str = dataclasses.field(
        default="deskewed",
        metadata={
            "help": f"{' or '.join(REAL_INFO_VIEWS)}: pair Q's categories of a real image with those of the "
            "image itself (H(E Q(c|x)) - E H(Q(c|x))), of a slightly rotated/scaled/shifted copy "
            "(I(c(x); c(x'))), or of such a copy made upright first (its ink's slant removed: a class "
            "split by slant costs information), in the --lambda_real_info term. Default: deskewed for "
            "MNIST's digits; affine with any other --preset, and for other data without one."
        },
    )
    real_info_shear: float = dataclasses.field(
        default=0.0,
        metadata={
            "help": "Largest horizontal shear k (x -> x + k y) of the affine views, besides their rotation "
            "(<= 15 degrees), rescaling (--real_info_scale) and shift (<= 2 px): a digit's slant changes, its identity "
            "does not, so a split of a class by slant costs information (0 = no shear, the default)."
        },
    )
    real_info_scale: float = dataclasses.field(
        default=0.1,
        metadata={
            "help": "Largest relative rescaling of the affine views about their centre (0.1: by a factor in "
            "[0.9, 1.1], the default; the fashion_mnist preset: 0.4): the larger, the more a split of a class "
            "by size costs information (in [0, 0.5])."
        },
    )
    real_info_balance: float = dataclasses.field(
        default=1.0,
        metadata={
            "help": "Weight of the categories' marginal entropy in the real-image term, IIC's lambda (Ji et al. "
            "2019's loss; 1 = the mutual information itself, the default; the fashion_mnist preset: 2): above "
            "1, Q is pushed harder to use its categories equally often on real images, so merging two classes "
            "into one category costs more (in [0.5, 4])."
        },
    )
    real_info_flip: bool = dataclasses.field(
        default=False,
        metadata={
            "help": "Also mirror each affine view left-right with probability 1/2: for images whose class "
            "a mirror image keeps (garments, shoes, faces; not digits or letters)."
        },
    )
    real_info_level_ink: bool = dataclasses.field(
        default=False,
        metadata={
            "help": "Rescale each second view's ink to one brightness before the random moves (its "
            "ink-weighted mean to 70 % of the range; data.augment.level_ink), so a class split by shade "
            "costs information: for objects on a dark background whose class does not depend on how dark "
            "they are (garments)."
        },
    )
    real_info_erase: float = dataclasses.field(
        default=0.0,
        metadata={
            "help": "Largest area, as a fraction of the image, of a rectangle set to the background in half of "
            "the second views (random erasing, Zhong et al. 2020; smallest 0.02): a detail that only some images "
            "of a class have is then sometimes missing from a copy, so a class split by it costs information "
            "(0 = no erasing, the default; else in [0.02, 0.5]). On MNIST it joins crossed and plain sevens "
            "but can open nines into fours: off there."
        },
    )
    q_overcluster: int = dataclasses.field(
        default=0,
        metadata={
            "help": "Categories of Q's auxiliary over-clustering head (0: none). It reads Q's hidden layer, is "
            "trained only by the real-image information term (--lambda_real_info, on the same views) and is "
            "not a latent code: it shapes the shared features, as IIC's over-clustering head (Ji et al. 2019)."
        },
    )

    def problems(self) -> list[str]:
        """Every invalid value of the term, each naming its flag."""
        out = []
        if not (math.isfinite(self.lambda_real_info) and self.lambda_real_info >= 0):
            out.append(f"--lambda_real_info must be a finite number >= 0, got {self.lambda_real_info}")
        if self.q_overcluster < 0:
            out.append(f"--q_overcluster must be >= 0, got {self.q_overcluster}")
        if self.q_overcluster == 1:
            out.append("--q_overcluster must be 0 (none) or at least 2 categories, got 1")
        if self.q_overcluster and self.lambda_real_info == 0:
            out.append("--q_overcluster trains only through the real-image term: it needs --lambda_real_info > 0")
        if not (math.isfinite(self.real_info_shear) and 0 <= self.real_info_shear <= 1):
            out.append(f"--real_info_shear must be a number in [0, 1], got {self.real_info_shear}")
        if not (math.isfinite(self.real_info_scale) and 0 <= self.real_info_scale <= 0.5):
            out.append(f"--real_info_scale must be a number in [0, 0.5], got {self.real_info_scale}")
        if not (
            math.isfinite(self.real_info_erase) and (self.real_info_erase == 0 or 0.02 <= self.real_info_erase <= 0.5)
        ):
            out.append(
                f"--real_info_erase must be 0 (no erasing) or a number in [0.02, 0.5], got {self.real_info_erase}"
            )
        if not (math.isfinite(self.real_info_balance) and 0.5 <= self.real_info_balance <= 4):
            out.append(f"--real_info_balance must be a number in [0.5, 4], got {self.real_info_balance}")
        if self.real_info_view not in REAL_INFO_VIEWS:
            out.append(f"--real_info_view must be one of {', '.join(REAL_INFO_VIEWS)}, got {self.real_info_view!r}")
        view_options = (
            ("real_info_flip", "mirrors the second views"),
            ("real_info_level_ink", "rescales the second views"),
            ("real_info_erase", "erases part of the second views"),
        )
        for name, what in view_options:
            if getattr(self, name) and self.real_info_view == "same":
                out.append(f"--{name} {what}: it needs --real_info_view=affine or deskewed")
        return out


@dataclasses.dataclass(frozen=True)
class FactorViewsConfig:
    """The factor-views term (not in the paper; ``model.objective.factor_views``). See each field's ``help``.

    D/Q's continuous outputs 0 and 1 are asked to follow known moves of REAL
    images (a shear for code 0; a thickening or a horizontal stretch for
    code 1), so that each continuous code means one factor, as Chen et al.
    2016 (Fig. 2) found for slant and width; no labels. ``factor_views = 0``
    (the default) leaves the term out.
    """

    factor_views: float = dataclasses.field(
        default=0.0,
        metadata={
            "help": "Weight of the term asking Q's continuous codes 0 and 1 to follow known moves of real "
            "images: code 0 a shear (the ink's slant), code 1 --factor_views_second (not in the paper; no "
            "labels; model.objective.factor_views). 0 = the term is left out (the default)."
        },
    )
    factor_views_shear: float = dataclasses.field(
        default=0.3,
        metadata={"help": "Largest shear k (x -> x - k (y - centre)) of the copies that move code 0, in (0, 1]."},
    )
    factor_views_second: str = dataclasses.field(
        default="thickness",
        metadata={
            "choices": FACTOR_VIEWS_SECOND,
            "help": f"{' or '.join(FACTOR_VIEWS_SECOND)}: the move of the copies that move code 1, a horizontal "
            "stretch by up to --factor_views_scale, or a blend of the strokes towards their 3x3 dilation (by "
            "up to --factor_views_thicken) or erosion (by up to --factor_views_thin) (the default; a class's "
            "digits differ little in thickness, a lot in width, so Q can read thickness back on real digits).",
        },
    )
    factor_views_scale: float = dataclasses.field(
        default=0.25,
        metadata={
            "help": "With --factor_views_second=width: the largest relative stretch (the copies' widths span "
            "1/(1+x) to 1+x), in (0, 0.5]."
        },
    )
    factor_views_thicken: float = dataclasses.field(
        default=0.5,
        metadata={
            "help": "With --factor_views_second=thickness: the largest blend of the strokes towards their 3x3 "
            "dilation, the move that sets code 1 to +r, in (0, 1]. On MNIST 0.5 adds 1.27 px of stroke, 0.2 adds "
            "0.52 px (experiments/factor_spread.py)."
        },
    )
    factor_views_thin: float = dataclasses.field(
        default=0.5,
        metadata={
            "help": "With --factor_views_second=thickness: the largest blend of the strokes towards their 3x3 "
            "erosion, the move that sets code 1 to -r, in (0, 1]. On MNIST 0.5 removes 0.34 px of stroke, 0.7 "
            "removes 0.58 px (experiments/factor_spread.py)."
        },
    )

    def problems(self, continuous_codes: int) -> list[str]:
        """Every invalid value of the term, each naming its flag (``continuous_codes``: the latent's count)."""
        out = []
        if not (math.isfinite(self.factor_views) and self.factor_views >= 0):
            out.append(f"--factor_views must be a finite number >= 0, got {self.factor_views}")
        for name, largest in (
            ("factor_views_shear", 1),
            ("factor_views_scale", 0.5),
            ("factor_views_thicken", 1),
            ("factor_views_thin", 1),
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 < value <= largest):
                out.append(f"--{name} must be a number in (0, {largest}], got {value}")
        if self.factor_views_second not in FACTOR_VIEWS_SECOND:
            out.append(
                f"--factor_views_second must be one of {', '.join(FACTOR_VIEWS_SECOND)}, "
                f"got {self.factor_views_second!r}"
            )
        if self.factor_views > 0 and continuous_codes < 2:
            out.append(
                f"--factor_views moves continuous codes 0 and 1: it needs --continuous_codes >= 2, "
                f"got {continuous_codes} (or set --factor_views=0)"
            )
        return out


@dataclasses.dataclass(frozen=True)
class RuntimeConfig:
    """Where and how the run executes; none of it changes the model. See each field's ``help``."""

    model_dir: str = dataclasses.field(
        default="runs/mnist", metadata={"help": "Checkpoints, summaries and config.json are written here."}
    )
    strategy: str = dataclasses.field(
        default="default", metadata={"help": f"tf.distribute strategy: {', '.join(STRATEGIES)}."}
    )
    num_devices: int = dataclasses.field(
        default=0,
        metadata={
            "help": "Devices for --strategy=mirrored: 0 = all GPUs; on a CPU-only host, N > 1 splits the "
            "CPU into N logical devices."
        },
    )
    device: str = dataclasses.field(
        default="/cpu:0", metadata={"help": "Device for --strategy=one_device, e.g. /cpu:0 or /gpu:0."}
    )
    seed: int = dataclasses.field(default=0, metadata={"help": "Seed of data order, noise, codes and initial weights."})
    checkpoint_every: int = dataclasses.field(
        default=500, metadata={"help": "Steps between checkpoints (one is also saved at the end)."}
    )
    summary_every: int = dataclasses.field(
        default=500, metadata={"help": "Steps between TensorBoard summaries and traversal images."}
    )
    log_every: int = dataclasses.field(default=100, metadata={"help": "Steps between progress lines."})
    steps_per_loop: int = dataclasses.field(
        default=10,
        metadata={
            "help": "Train steps per compiled call: the host reads the metrics and the stop flag once per call, "
            "so SIGTERM/Ctrl-C stop within this many steps; a call never crosses a log, summary or checkpoint "
            "step. 1 = a call per step."
        },
    )
    keep_checkpoints: int = dataclasses.field(default=3, metadata={"help": "How many recent checkpoints to keep."})
    mixed_precision: str = dataclasses.field(
        default="auto",
        metadata={
            "help": "Compute dtype of the layers; bfloat16 (Keras mixed_bfloat16 policy) keeps variables "
            "and losses in float32; auto (the default) = bfloat16 on hardware with native bfloat16 "
            "arithmetic (x86 AVX512_BF16/AMX, GPUs of compute capability >= 8.0), else float32 "
            "(training/precision.py); config.json records which.",
            "choices": PRECISIONS,
        },
    )
    jit_compile: bool | None = dataclasses.field(
        default=None,
        metadata={
            "help": "Compile the train step with XLA (default: on for single-replica float32 runs; off with "
            "several replicas, where XLA fails on a Mirrored step on TF 2.21, and for bfloat16, whose "
            "oneDNN kernels beat XLA's on a CPU)."
        },
    )


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs."""

    data: DataConfig = DataConfig()
    latent: LatentSpec = LatentSpec()
    model: ModelConfig = ModelConfig()
    optim: OptimConfig = OptimConfig()
    real_info: RealInfoConfig = RealInfoConfig()
    factor_views: FactorViewsConfig = FactorViewsConfig()
    runtime: RuntimeConfig = RuntimeConfig()

    # ---------------------------------------------------------------- checks
    def problems(self) -> list[str]:
        """Every invalid value, each phrased as a one-line message naming its flag."""
        out = []
        d, m, o, r = self.data, self.model, self.optim, self.runtime
        out.extend(d.problems())
        if d.channels and d.channels != m.image_shape[2]:
            out.append(f"--channels={d.channels} but the network takes {m.image_shape[2]}-channel images")
        if d.image_size and (d.image_size, d.image_size) != tuple(m.image_shape[:2]):
            shape = f"{m.image_shape[0]}x{m.image_shape[1]}"
            out.append(f"--image_size={d.image_size} but the network takes {shape} images")
        out.extend(self.latent.problems())
        out.extend(network_problems(m))
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
        for name in ("lambda_cat", "lambda_cont"):
            v = getattr(o, name)
            if not (math.isfinite(v) and v >= 0):
                out.append(f"--{name} must be a finite number >= 0, got {v}")
        out.extend(self.real_info.problems())
        out.extend(self.factor_views.problems(self.latent.continuous))
        if o.update not in UPDATES:
            out.append(f"--update must be one of {', '.join(UPDATES)}, got {o.update!r}")
        if not r.model_dir:
            out.append("--model_dir must be set")
        if r.strategy not in STRATEGIES:
            out.append(f"--strategy must be one of {', '.join(STRATEGIES)}, got {r.strategy!r}")
        if r.num_devices < 0:
            out.append(f"--num_devices must be >= 0, got {r.num_devices}")
        if r.mixed_precision not in PRECISIONS:
            out.append(f"--mixed_precision must be one of {', '.join(PRECISIONS)}, got {r.mixed_precision!r}")
        if r.jit_compile is True and (
            r.strategy == "multi_worker" or (r.strategy == "mirrored" and r.num_devices != 1)
        ):
            out.append(
                f"--jit_compile works with a single replica only (XLA fails on a multi-replica step on "
                f"TF 2.21); drop it (the default compiles single-replica runs only) or use "
                f"--strategy=default/one_device, not --strategy={r.strategy}"
            )
        for name in ("checkpoint_every", "summary_every", "log_every", "keep_checkpoints", "steps_per_loop"):
            if getattr(r, name) <= 0:
                out.append(f"--{name} must be positive, got {getattr(r, name)}")
        if r.strategy == "mirrored" and r.num_devices and o.batch_size % r.num_devices:
            out.append(
                f"--batch_size {o.batch_size} must be divisible by the number of replicas "
                f"(--num_devices={r.num_devices})"
            )
        return out

    def validate(self) -> TrainConfig:
        """Raises ConfigError with the first problem; returns self otherwise."""
        problems = self.problems()
        if problems:
            raise ConfigError(problems[0])
        return self

    def check_replicas(self, num_replicas: int) -> None:
        """The global batch must split evenly over the strategy's replicas (and XLA needs one)."""
        if self.runtime.jit_compile is True and num_replicas > 1:
            raise ConfigError(f"--jit_compile works with a single replica only, the strategy has {num_replicas}")
        if self.optim.batch_size % num_replicas:
            raise ConfigError(
                f"--batch_size {self.optim.batch_size} must be divisible by the number of replicas ({num_replicas})"
            )

    # ----------------------------------------------------------- (de)serial
    def to_dict(self) -> dict[str, Any]:
        return {
            "data": dataclasses.asdict(self.data),
            "latent": self.latent.to_dict(),
            "model": dataclasses.asdict(self.model),
            "optim": dataclasses.asdict(self.optim),
            "real_info": dataclasses.asdict(self.real_info),
            "factor_views": dataclasses.asdict(self.factor_views),
            "runtime": dataclasses.asdict(self.runtime),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """From :meth:`to_dict`, or from a config.json of an earlier version (:func:`migrate`)."""
        d = migrate(d)
        return cls(
            data=DataConfig(**d["data"]),
            latent=LatentSpec.from_dict(d["latent"]),
            model=ModelConfig.from_dict(d["model"]),
            optim=OptimConfig(**d["optim"]),
            real_info=RealInfoConfig(**d["real_info"]),
            factor_views=FactorViewsConfig(**d["factor_views"]),
            runtime=RuntimeConfig(**d["runtime"]),
        )

    def override(self, **values: Any) -> TrainConfig:
        """This config with settings replaced by FLAG name, validated: ``config.override(lambda_cat=0.5, seed=3)``.

        Each name is routed to the part that owns it (:data:`FLAG_OWNERS`);
        the latent codes take their flags' names (``categorical_codes`` as a
        tuple of cardinalities or "10,4", ``continuous_codes``, ``noise_dim``,
        ``continuous_range``), and ``image_shape`` sets the networks' input.

        Raises:
          ConfigError: one line, for an unknown name (naming the closest
            one), a value of the wrong type, or an invalid result.
        """
        parts: dict[str, dict[str, Any]] = {}
        for name, value in values.items():
            owner = FLAG_OWNERS.get(name)
            if owner is None:
                close = difflib.get_close_matches(name, FLAG_OWNERS, n=1)
                hint = f"; did you mean {close[0]}?" if close else " (infogan-train --help lists the settings)"
                raise ConfigError(f"unknown setting {name!r}{hint}")
            part, field_name = owner
            parts.setdefault(part, {})[field_name] = _typed(name, value, _FIELD_TYPES[name])
        replaced = {part: dataclasses.replace(getattr(self, part), **kw) for part, kw in parts.items()}
        return dataclasses.replace(self, **replaced).validate()

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


# The parts of a TrainConfig whose fields are flags of the same name (the latent codes have flags of their own).
PARTS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "optim": OptimConfig,
    "real_info": RealInfoConfig,
    "factor_views": FactorViewsConfig,
    "runtime": RuntimeConfig,
}
# The latent codes' flags and the LatentSpec fields they set.
LATENT_FLAGS = {
    "noise_dim": "noise_dim",
    "categorical_codes": "categorical",
    "continuous_codes": "continuous",
    "continuous_range": "continuous_range",
}


def _owners() -> tuple[dict[str, tuple[str, str]], dict[str, Any]]:
    owners: dict[str, tuple[str, str]] = {flag: ("latent", name) for flag, name in LATENT_FLAGS.items()}
    hints = typing.get_type_hints(LatentSpec)
    kinds: dict[str, Any] = {flag: hints[name] for flag, name in LATENT_FLAGS.items()}
    for part_name, part in PARTS.items():
        hints = typing.get_type_hints(part)
        for field in dataclasses.fields(part):
            if field.name in owners:  # a flag name must say which part it sets
                raise TypeError(f"{part.__name__}.{field.name} repeats the setting of {owners[field.name][0]}")
            owners[field.name] = (part_name, field.name)
            kinds[field.name] = hints[field.name]
    return owners, kinds


# Flag name -> (part of TrainConfig, field): where TrainConfig.override puts each setting.
FLAG_OWNERS, _FIELD_TYPES = _owners()


def without_none(kind: Any) -> Any:
    """``X`` for ``X | None``; any other type unchanged."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return kind


def typed_setting(name: str, value: Any) -> Any:
    """``value`` as the type of setting ``name`` (as ``TrainConfig.override`` takes it), or a one-line ConfigError."""
    return _typed(name, value, _FIELD_TYPES[name])


def _typed(name: str, value: Any, kind: Any) -> Any:
    """``value`` as the type of setting ``name`` (an int for a float, a list for a tuple), or a one-line ConfigError."""
    args = typing.get_args(kind)
    if type(None) in args:
        if value is None:
            return None
        kind = next(a for a in args if a is not type(None))
    if name == "categorical_codes" and isinstance(value, str):
        try:
            return parse_categorical_codes(value)
        except ValueError as e:
            raise ConfigError(str(e)) from None
    if typing.get_origin(kind) is tuple and isinstance(value, (tuple, list)):
        if all(isinstance(x, int) and not isinstance(x, bool) for x in value):
            return tuple(value)
    elif kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    elif (kind is int and isinstance(value, int) and not isinstance(value, bool)) or (
        kind in (bool, str) and isinstance(value, kind)
    ):
        return value
    wanted = "integers" if typing.get_origin(kind) is tuple else getattr(kind, "__name__", str(kind))
    raise ConfigError(f"--{name} takes {wanted}, got {value!r}")


def migrate(d: dict[str, Any]) -> dict[str, Any]:
    """A config dict of an earlier version in today's layout (a copy; today's is returned as it is).

    Before the real-image term had its own part (December 2026), its fields
    were ``optim.real_info_*``, ``optim.lambda_real_info`` and
    ``model.q_overcluster``. Before the factor-views term had its own part
    (December 2026), a run that added it kept its settings under
    ``terms.factor_views`` (``factor_views_weight`` for the weight); a run
    without it had none. Before ``--factor_views_thicken`` and
    ``--factor_views_thin``, its thickness moves blended by up to 0.5 each way.
    """
    part = d.get("factor_views", {})
    if "optim" not in d or ("real_info" in d and "factor_views_thin" in part and "factor_views_thicken" in part):
        return d
    d = {**d, "optim": dict(d["optim"]), "model": dict(d.get("model", {}))}
    if "real_info" not in d:
        names = [f.name for f in dataclasses.fields(RealInfoConfig)]
        moved = {name: d["optim"].pop(name) for name in names if name in d["optim"]}
        if "q_overcluster" in d["model"]:
            moved["q_overcluster"] = d["model"].pop("q_overcluster")
        d["real_info"] = moved
    if "factor_views" not in d:
        terms = dict(d.get("terms") or {})
        held = dict(terms.pop("factor_views", {}))
        if "factor_views_weight" in held:
            held["factor_views"] = held.pop("factor_views_weight")
        # A run without the term had weight 0, whatever today's default.
        d["factor_views"] = held or {"factor_views": 0.0}
        if "terms" in d:
            d["terms"] = terms
            if not terms:
                del d["terms"]
    d["factor_views"] = {"factor_views_thicken": 0.5, "factor_views_thin": 0.5, **d["factor_views"]}
    return d

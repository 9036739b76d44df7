"""The architecture's description and the one rule that sizes the networks from it.

:class:`ModelConfig` describes G and D as a few numbers (channels per layer,
first grid, widths of the fully connected layers); :func:`network_plan`
turns it and the image shape (H, W, C) into the strides and grids that
``infogan_tf.model.networks`` builds. The defaults are the paper's MNIST
networks (Chen et al. 2016, App. C, Table 1); ``infogan_tf.presets`` holds
its SVHN, CelebA, 3D-faces and 3D-chairs tables (Tables 2-5) in this form.
An image shape the rule cannot build is a one-line ConfigError.

Nothing here imports TensorFlow (``infogan_tf.config`` validates with it).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from infogan_tf.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture; the defaults are the paper's MNIST networks (Table 1 of App. C). See each field's ``help``.

    One rule builds G and D from these fields and ``image_shape``
    (:func:`network_plan`); the presets (``infogan_tf.presets``) hold the
    paper's other tables in this form.
    """

    g_fc_units: int = dataclasses.field(
        default=1024,
        metadata={
            "help": "Width of the generator's first fully connected layer (0: none, G starts with the FC to its "
            "first grid, as in the paper's SVHN and CelebA tables)."
        },
    )
    g_filters: tuple[int, ...] = dataclasses.field(
        default=(128, 64),
        metadata={
            "help": "Generator channels: of its first grid (the FC 7x7x128 layer on MNIST), then of each hidden "
            "4x4 upconvolution; one more upconvolution makes the image's channels."
        },
    )
    g_grid: int = dataclasses.field(
        default=0,
        metadata={
            "help": "Height of the generator's first grid: its last log2(H / g_grid) upconvolutions have stride 2, "
            "the others stride 1 (0: every upconvolution has stride 2; the grid is H / 2^len(g_filters))."
        },
    )
    g_upconv_batchnorm: int = dataclasses.field(
        default=-1,
        metadata={
            "help": "How many of the generator's hidden upconvolutions, from the first, are batch-normalised "
            "(-1: all; the paper's SVHN and CelebA tables: 1)."
        },
    )
    d_filters: tuple[int, ...] = dataclasses.field(
        default=(64, 128),
        metadata={
            "help": "Channels of the discriminator's 4x4 convolutions: stride 2 down to the generator's first "
            "grid, stride 1 after; all but the first batch-normalised."
        },
    )
    d_fc_units: int = dataclasses.field(
        default=1024,
        metadata={
            "help": "Width of the discriminator's fully connected layer (0: none, the D and Q heads read the "
            "convolutions, as in the paper's SVHN and CelebA tables)."
        },
    )
    q_fc_units: int = dataclasses.field(default=128, metadata={"help": "Width of the Q head's hidden layer (0: none)."})
    leaky_slope: float = dataclasses.field(
        default=0.1, metadata={"help": "Slope of the leaky ReLUs in D and Q (paper: 0.1)."}
    )
    continuous_std: str = dataclasses.field(
        default="fixed",
        metadata={
            "help": "Q's std for continuous codes: fixed (unit std, as in the authors' reference code; the "
            "Gaussian NLL becomes a scaled MSE) or learned (Q predicts a log-std per code).",
            "choices": ("learned", "fixed"),
        },
    )
    image_shape: tuple[int, int, int] = dataclasses.field(
        default=(28, 28, 1),
        metadata={
            "help": "(H, W, C) of the images the networks take; the data is delivered at this shape. Set by "
            "the CLI from --image_size/--channels, else the preset, else the data.",
            "flag": False,
        },
    )

    def __post_init__(self):
        for name in ("g_filters", "d_filters", "image_shape"):
            object.__setattr__(self, name, tuple(int(x) for x in getattr(self, name)))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """From ``dataclasses.asdict``; also reads configs written before ``g_filters`` existed.

        (``q_overcluster``, here before it joined the real-image term's
        config, is moved there by ``config.migrate``.)
        """
        d = dict(d)
        if "g_base_filters" in d:  # (b,): the FC to b channels, one hidden upconvolution of b / 2.
            base = int(d.pop("g_base_filters"))
            d.setdefault("g_filters", (base, base // 2))
        return cls(**d)


@dataclasses.dataclass(frozen=True)
class NetworkPlan:
    """The shapes :func:`network_plan` derives (what G and D are built from).

    Attributes:
      grid: (height, width) of G's first grid, before its upconvolutions.
      g_strides: stride of each of G's upconvolutions (the last makes the image).
      d_strides: stride of each of D's convolutions.
      d_grid: (height, width) of D's last convolution's output.
    """

    grid: tuple[int, int]
    g_strides: tuple[int, ...]
    d_strides: tuple[int, ...]
    d_grid: tuple[int, int]


def _positive_ints(values: tuple[int, ...]) -> bool:
    return len(values) > 0 and min(values) > 0


def network_problems(m: ModelConfig) -> list[str]:
    """What stops :func:`network_plan` building networks for ``m`` (one line each, naming the flag)."""
    out = []
    for name in ("g_fc_units", "d_fc_units", "q_fc_units", "g_grid"):
        if getattr(m, name) < 0:
            out.append(f"--{name} must be >= 0, got {getattr(m, name)}")
    for name in ("g_filters", "d_filters"):
        if not _positive_ints(getattr(m, name)):
            out.append(f"--{name} must be one or more positive integers, got {getattr(m, name)}")
    if out:
        return out
    if not -1 <= m.g_upconv_batchnorm < len(m.g_filters):
        out.append(
            f"--g_upconv_batchnorm must be -1 (all) or 0..{len(m.g_filters) - 1} (G has {len(m.g_filters) - 1} "
            f"hidden upconvolutions), got {m.g_upconv_batchnorm}"
        )
    h, w, ch = m.image_shape
    if min(h, w, ch) <= 0:
        out.append(f"image shape {m.image_shape} must be positive")
        return out
    n = len(m.g_filters)
    if m.g_grid:
        ratio = h // m.g_grid
        if h % m.g_grid or ratio & (ratio - 1) or ratio > 2**n:
            out.append(
                f"image shape {m.image_shape} cannot be built from --g_grid={m.g_grid}: H / g_grid must be a power "
                f"of 2 up to 2^{n} (--g_filters has {n} entries, one per upconvolution)"
            )
            return out
        strided = ratio.bit_length() - 1
    else:
        strided = n
    if h % 2**strided or w % 2**strided:
        out.append(
            f"image shape {m.image_shape} must have H and W divisible by {2**strided} for the generator's "
            f"{strided} stride-2 upconvolutions (--g_filters, --g_grid)"
        )
    return out


def network_plan(m: ModelConfig) -> NetworkPlan:
    """The one rule that sizes G and D from the image shape and the layer description in ``m``.

    G: [FC g_fc_units] -> FC to a (H/2^k, W/2^k, g_filters[0]) grid -> one
    4x4 upconvolution per further entry of g_filters, then one to C channels;
    the last k upconvolutions have stride 2 (k = len(g_filters), or
    log2(H / g_grid)), the others stride 1. D mirrors it: 4x4 convolutions of
    d_filters, the first min(k, len(d_filters)) of stride 2 (down to G's
    first grid at most), the rest stride 1, then [FC d_fc_units] and the heads.

    Raises:
      ConfigError: the first of :func:`network_problems`.
    """
    problems = network_problems(m)
    if problems:
        raise ConfigError(problems[0])
    h, w, _ = m.image_shape
    n = len(m.g_filters)
    strided = (h // m.g_grid).bit_length() - 1 if m.g_grid else n
    d_strided = min(strided, len(m.d_filters))
    return NetworkPlan(
        grid=(h >> strided, w >> strided),
        g_strides=(1,) * (n - strided) + (2,) * strided,
        d_strides=(2,) * d_strided + (1,) * (len(m.d_filters) - d_strided),
        d_grid=(h >> d_strided, w >> d_strided),
    )

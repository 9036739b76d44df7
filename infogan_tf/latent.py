"""The latent-code structure shared by every part of infogan_tf.

InfoGAN (Chen et al. 2016, Sec. 4) splits the generator input into
incompressible noise ``z`` and a structured code ``c = (c_1, ..., c_L)`` with a
factored prior ``P(c) = prod_i P(c_i)``. This module is the single description
of that split. The generator, the Q head, the losses, the exporter and the
evaluation all read it from here.

Flat layout of ``c`` (the SavedModel signature ``serving_default`` uses it):

    c = [one_hot(cat_0) | one_hot(cat_1) | ... | cont_0, cont_1, ...]

That is, one one-hot block per categorical code in declaration order, each of
its own cardinality, then the continuous values. With the MNIST default (one
10-way categorical code, two continuous codes) ``c`` has 12 columns: columns
0-9 are the one-hot digit code and columns 10-11 the two Uniform(-1, 1) values.

Entropy: ``H(c)`` of the categorical part is ``sum_i ln K_i`` nats (uniform
priors), the constant in the lower bound L_I(G, Q) = E[log Q(c|x)] + H(c)
(Eq. 4 of the paper). The differential entropy of the continuous part,
``n * ln(2r)`` for Uniform(-r, r), is given separately because it is not a
bound on a discrete mutual information.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # TensorFlow is imported lazily so that validating a spec
    import tensorflow as tf  # (e.g. from command-line flags) stays instant.


class LatentBatch(NamedTuple):
    """One batch of generator inputs, in every form consumers need.

    Attributes:
      z: float32 [B, noise_dim], the incompressible noise.
      categorical: int32 [B, n_categorical], the index of each categorical code.
      continuous: float32 [B, n_continuous], the continuous code values.
      c: float32 [B, code_dim], the flat code (see the module docstring).
    """

    z: Any
    categorical: Any
    continuous: Any
    c: Any


@dataclasses.dataclass(frozen=True)
class LatentSpec:
    """Shape and priors of the generator input.

    Attributes:
      noise_dim: width of the noise vector z ~ Uniform(-1, 1)^noise_dim
        (62 on MNIST in the paper).
      categorical: one cardinality per categorical code, each >= 2; each code
        is Cat(K=k, p=1/k) (MNIST: ``(10,)``).
      continuous: how many continuous codes, each Uniform(-continuous_range,
        continuous_range) (MNIST: 2 codes on (-1, 1)).
      continuous_range: the half width ``r`` of the continuous prior.
    """

    noise_dim: int = 62
    categorical: tuple[int, ...] = (10,)
    continuous: int = 2
    continuous_range: float = 1.0

    def __post_init__(self):
        # Accept lists from JSON, store tuples so the spec stays hashable.
        object.__setattr__(self, "categorical", tuple(int(k) for k in self.categorical))
        problems = self.problems()
        if problems:
            raise ValueError(problems[0])

    def problems(self) -> list[str]:
        """Every reason this spec is invalid, phrased with the flag names."""
        out = []
        if self.noise_dim < 0:
            out.append(f"--noise_dim must be >= 0, got {self.noise_dim}")
        for k in self.categorical:
            if k < 2:
                out.append(f"--categorical_codes: every cardinality must be >= 2, got {k}")
        if self.continuous < 0:
            out.append(f"--continuous_codes must be >= 0, got {self.continuous}")
        if not self.continuous_range > 0 or not math.isfinite(self.continuous_range):
            out.append(f"--continuous_range must be a finite number > 0, got {self.continuous_range}")
        if self.noise_dim + self.code_dim == 0:
            out.append("the generator needs at least one input: noise or a code")
        return out

    # ------------------------------------------------------------------ layout
    @property
    def n_categorical(self) -> int:
        return len(self.categorical)

    @property
    def categorical_dim(self) -> int:
        """Columns of ``c`` taken by the one-hot blocks."""
        return sum(self.categorical)

    @property
    def code_dim(self) -> int:
        """Width of the flat ``c`` vector."""
        return self.categorical_dim + self.continuous

    def categorical_slices(self) -> list[slice]:
        """Column range of each categorical one-hot block inside ``c``."""
        out, start = [], 0
        for k in self.categorical:
            out.append(slice(start, start + k))
            start += k
        return out

    @property
    def continuous_slice(self) -> slice:
        return slice(self.categorical_dim, self.code_dim)

    # ---------------------------------------------------------------- entropy
    def categorical_entropy(self) -> float:
        """H(c) of the categorical codes in nats: sum_i ln K_i."""
        return float(sum(math.log(k) for k in self.categorical))

    def continuous_entropy(self) -> float:
        """Differential entropy of the continuous prior in nats: n ln(2r)."""
        return float(self.continuous * math.log(2.0 * self.continuous_range))

    # --------------------------------------------------------------- building
    def flatten(self, categorical: tf.Tensor, continuous: tf.Tensor) -> tf.Tensor:
        """Builds the flat ``c`` from category indices and continuous values."""
        import tensorflow as tf

        categorical = tf.convert_to_tensor(categorical, tf.int32)
        continuous = tf.convert_to_tensor(continuous, tf.float32)
        blocks = [tf.one_hot(categorical[:, i], k, dtype=tf.float32) for i, k in enumerate(self.categorical)]
        blocks.append(continuous)
        return tf.concat(blocks, axis=-1)

    def flatten_numpy(self, categorical, continuous):
        """:meth:`flatten` in numpy: float32 [B, code_dim] from int indices and continuous values."""
        import numpy as np

        categorical = np.asarray(categorical, np.int64).reshape(-1, self.n_categorical)
        blocks = [np.eye(k, dtype=np.float32)[categorical[:, i]] for i, k in enumerate(self.categorical)]
        blocks.append(np.asarray(continuous, np.float32).reshape(len(categorical), self.continuous))
        return np.concatenate(blocks, axis=1)

    def split(self, c: tf.Tensor) -> tuple[list[tf.Tensor], tf.Tensor]:
        """Inverse of the layout: the one-hot blocks and the continuous part."""
        onehots = [c[:, s] for s in self.categorical_slices()]
        return onehots, c[:, self.continuous_slice]

    def sample(self, batch_size: int, seed: tf.Tensor) -> LatentBatch:
        """Draws ``batch_size`` inputs from the priors, deterministically.

        Args:
          batch_size: number of rows.
          seed: int32/int64 shape-[2] stateless seed. Callers fold the step,
            replica and worker into it so every replica draws its own inputs
            and a resumed run draws the same ones it would have drawn.
        """
        import tensorflow as tf

        seeds = tf.random.experimental.stateless_split(seed, num=3)
        z = tf.random.stateless_uniform([batch_size, self.noise_dim], seeds[0], minval=-1.0, maxval=1.0)
        if self.categorical:
            maxvals = tf.constant(self.categorical, tf.int32)
            # Uniform integer in [0, k_i) per column, drawn as floor(u * k_i).
            u = tf.random.stateless_uniform([batch_size, self.n_categorical], seeds[1])
            categorical = tf.minimum(
                tf.cast(tf.floor(u * tf.cast(maxvals, tf.float32)), tf.int32),
                maxvals - 1,
            )
        else:
            categorical = tf.zeros([batch_size, 0], tf.int32)
        r = self.continuous_range
        continuous = tf.random.stateless_uniform([batch_size, self.continuous], seeds[2], minval=-r, maxval=r)
        return LatentBatch(
            z=z,
            categorical=categorical,
            continuous=continuous,
            c=self.flatten(categorical, continuous),
        )

    # ------------------------------------------------------------- (de)serial
    def to_dict(self) -> dict:
        return {
            "noise_dim": self.noise_dim,
            "categorical": list(self.categorical),
            "continuous": self.continuous,
            "continuous_range": self.continuous_range,
            "code_dim": self.code_dim,
            "layout": self.layout_description(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> LatentSpec:
        return cls(
            noise_dim=int(d["noise_dim"]),
            categorical=tuple(d["categorical"]),
            continuous=int(d["continuous"]),
            continuous_range=float(d["continuous_range"]),
        )

    def layout_description(self) -> list[dict]:
        """Human- and machine-readable column map of ``c``."""
        out = []
        for i, (k, s) in enumerate(zip(self.categorical, self.categorical_slices())):
            out.append({"name": f"categorical_{i}", "kind": "one_hot", "columns": [s.start, s.stop], "cardinality": k})
        for j in range(self.continuous):
            col = self.categorical_dim + j
            out.append(
                {
                    "name": f"continuous_{j}",
                    "kind": "uniform",
                    "columns": [col, col + 1],
                    "range": [-self.continuous_range, self.continuous_range],
                }
            )
        return out


def parse_categorical_codes(text: str) -> tuple[int, ...]:
    """Parses ``--categorical_codes``: comma-separated cardinalities or empty.

    >>> parse_categorical_codes("10")
    (10,)
    >>> parse_categorical_codes("10,4")
    (10, 4)
    >>> parse_categorical_codes("")
    ()
    """
    text = text.strip()
    if not text:
        return ()
    out = []
    for part in text.split(","):
        part = part.strip()
        try:
            k = int(part)
        except ValueError:
            raise ValueError(
                f"--categorical_codes must be comma-separated integers such as '10' or '10,4', got {text!r}"
            ) from None
        if k < 2:
            raise ValueError(f"--categorical_codes: every cardinality must be >= 2, got {k}")
        out.append(k)
    return tuple(out)

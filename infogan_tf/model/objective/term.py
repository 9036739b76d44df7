"""What a term of the objective declares, and what it is handed.

A :class:`Term` is one summand of the training objective (Chen et al. 2016,
Eq. 6, plus any extra): it names the updates it enters (:data:`D`, the D/Q
update; :data:`G`, the G update), its metrics (:class:`Metric`: name, how the
replicas' values are reduced, whether the loop guards it, how the progress
line shows it), the config part its settings live in and which of them a
resumed run may not change. Each update, it is handed an :class:`UpdateBatch`
(what D/Q said about the images of that update) and returns a
:class:`Contribution`: its loss for each update it enters and its metrics'
per-replica values. The losses stay pure functions of ``model.losses``.

``training.step`` sums the contributions; everything downstream (the step's
metrics, ``metrics.jsonl``, TensorBoard, the progress line, the resume rule)
reads the declarations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple

import tensorflow as tf

from infogan_tf.latent import LatentBatch
from infogan_tf.model.networks import DiscriminatorOutput

# The two updates of a step: D and Q (descending the D/Q objective), and G.
D, G = "d", "g"

# How a metric's per-replica values become the step's value.
BATCH_MEAN = "batch_mean"  # one value per example [B]: the mean over the GLOBAL batch
REPLICA_MEAN = "replica_mean"  # one scalar per replica: the mean over replicas
DERIVED = "derived"  # computed from the reduced metrics by Term.derived


@dataclasses.dataclass(frozen=True)
class Metric:
    """One metric a term reports each step.

    Attributes:
      name: its key in the step's metrics, ``metrics.jsonl`` and TensorBoard (unique across terms).
      reduce: :data:`BATCH_MEAN`, :data:`REPLICA_MEAN` or :data:`DERIVED`.
      guarded: the loop stops (and keeps the last good checkpoint) when it is not finite.
      shown: its part of the progress line, a format of ``value`` (and ``entropy``, H(c)); None: not shown.
    """

    name: str
    reduce: str = BATCH_MEAN
    guarded: bool = False
    shown: str | None = None


class UpdateBatch(NamedTuple):
    """What D/Q said about the images of one update, on this replica (what a term computes its loss from).

    Attributes:
      updates: the updates computed from it: ``{D}`` or ``{G}`` (the alternating
        update's two steps), or ``{D, G}`` (the joint update).
      fake: D/Q's outputs for G(z, c).
      codes: the (z, c) of the fake batch.
      real: D/Q's outputs for the real images (None in the alternating update's G step).
      extra: D/Q's outputs for the batch a term added (:meth:`Term.extra_batch`), by term name.
    """

    updates: frozenset
    fake: DiscriminatorOutput
    codes: LatentBatch
    real: DiscriminatorOutput | None
    extra: Mapping[str, DiscriminatorOutput]


class Contribution(NamedTuple):
    """A term's part of one update, on this replica.

    Attributes:
      d, g: its loss in the D/Q and the G objective (None: it does not enter that
        update or this batch's updates). A [B] tensor has one value per example
        (summed with the others' per example, in term order, then averaged over
        the global batch); a scalar is this replica's estimate of the term
        (added after, divided by the number of replicas: their gradients sum).
      metrics: the per-replica value of each metric measured on this batch
        ([B] for BATCH_MEAN, scalar for REPLICA_MEAN).
    """

    d: tf.Tensor | None = None
    g: tf.Tensor | None = None
    metrics: Mapping[str, tf.Tensor] = {}


class Term:
    """One term of the objective; subclass it, declare the class attributes, and implement :meth:`contribute`.

    Class attributes:
      name: unique among the objective's terms.
      updates: the updates it enters (``frozenset({D})``, ``{G}`` or ``{D, G}``).
      metrics: what it reports (:class:`Metric`).
      config_part: the TrainConfig part holding its settings (None: none, or
        held by the term itself, see :meth:`settings`).
      fixed_on_resume: setting name -> why a resumed run may not change it
        (refused); every other setting a resume changes is recorded in config.json.
    """

    name: ClassVar[str]
    updates: ClassVar[frozenset]
    metrics: ClassVar[tuple[Metric, ...]] = ()
    config_part: ClassVar[str | None] = None
    fixed_on_resume: ClassVar[Mapping[str, str]] = {}

    def contribute(self, batch: UpdateBatch) -> Contribution:
        """Its losses for ``batch.updates`` (those it enters) and the metrics measured on ``batch``."""
        raise NotImplementedError

    def extra_batch(self, real_images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor | None:  # noqa: ARG002
        """Images D/Q should also see in the D/Q update (e.g. moved copies of the real ones); None: none.

        ``seed`` is a stateless seed of (run seed, step, replica): a resumed run draws the same.
        """
        return None

    def derived(self, reduced: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:  # noqa: ARG002
        """The values of its :data:`DERIVED` metrics from the reduced ones."""
        return {}

    def settings(self) -> dict[str, Any]:
        """Its settings, when they are not a part of the TrainConfig (recorded in config.json; see fixed_on_resume)."""
        return {}

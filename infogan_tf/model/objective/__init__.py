"""The training objective as declared terms: min_{G,Q} max_D V(D, G) - lambda * L_I(G, Q) (+ extras).

Chen et al. 2016, Eq. 6, is two terms, each declared in a file of its own:

* :class:`~.adversarial.AdversarialTerm` -- V(D, G), non-saturating for G;
* :class:`~.information.InformationTerm` -- -lambda * L_I(G, Q), in both updates;

and this project adds one, on by default (``--lambda_real_info=0`` removes its
weight, leaving the paper's objective):

* :class:`~.real_info.RealImageTerm` -- Q's information about the categories
  of real images, in the D/Q update (its settings: ``config.RealInfoConfig``);

and one more that the config switches on (``--factor_views`` > 0):

* :class:`~.factor_views.FactorViewsTerm` -- Q's continuous codes 0 and 1
  follow known moves of real images, in the D/Q update (its settings:
  ``config.FactorViewsConfig``).

A term (``term.Term``) declares the updates it enters, its metrics and how
they are reduced and shown, where its settings live and which of them a
resumed run may not change. ``training.step`` sums the terms of an
:class:`Objective`; the step's metrics, ``metrics.jsonl``, TensorBoard, the
progress line and the resume rule follow from the declarations.

Adding a term is one new file (a ``Term`` subclass) and one registration:
pass an instance in ``terms=`` to ``training.loop.train`` (or ``Trainer``),
which appends it to :func:`default_terms`. Its metrics then appear in the
step's metrics, ``metrics.jsonl`` and TensorBoard, and its :meth:`Term.settings`
in config.json under ``"terms"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tensorflow as tf

from infogan_tf.config import TrainConfig
from infogan_tf.errors import ConfigError
from infogan_tf.model.objective.adversarial import AdversarialTerm
from infogan_tf.model.objective.factor_views import FactorViewsTerm
from infogan_tf.model.objective.information import InformationTerm
from infogan_tf.model.objective.real_info import RealImageTerm
from infogan_tf.model.objective.term import (
    BATCH_MEAN,
    DERIVED,
    REPLICA_MEAN,
    Contribution,
    D,
    G,
    Metric,
    Term,
    UpdateBatch,
)

__all__ = [
    "BATCH_MEAN",
    "BUILT_IN",
    "CONFIGURED",
    "DERIVED",
    "REPLICA_MEAN",
    "AdversarialTerm",
    "Contribution",
    "D",
    "FactorViewsTerm",
    "G",
    "InformationTerm",
    "Metric",
    "Objective",
    "RealImageTerm",
    "Term",
    "UpdateBatch",
    "default_terms",
    "paper_terms",
]

# The terms every run has, in the order they are summed.
BUILT_IN = (AdversarialTerm, InformationTerm, RealImageTerm)
# The terms a run has when its config switches them on, after BUILT_IN.
CONFIGURED = (FactorViewsTerm,)
_REDUCTIONS = (BATCH_MEAN, REPLICA_MEAN, DERIVED)


def paper_terms(config: TrainConfig) -> list[Term]:
    """V(D, G) and -lambda * L_I(G, Q): Eq. 6."""
    return [AdversarialTerm(), InformationTerm(config)]


def default_terms(config: TrainConfig) -> list[Term]:
    """Eq. 6, the real-image term (``--lambda_real_info``) and, if ``--factor_views`` > 0, the factor-views term."""
    configured = [FactorViewsTerm(config)] if config.factor_views.factor_views > 0 else []
    return [*paper_terms(config), RealImageTerm(config), *configured]


class Objective:
    """The terms of a run's objective, checked: unique names, unique metric names, known updates and reductions.

    Args:
      terms: summed in this order (per-example losses per example, then the scalar ones).

    Raises:
      ConfigError: a malformed declaration (one line naming the term).
    """

    def __init__(self, terms: Sequence[Term]):
        self.terms = tuple(terms)
        names: set[str] = set()
        metric_names: set[str] = set()
        for term in self.terms:
            if not isinstance(term, Term):
                raise ConfigError(f"{term!r} is not an objective Term (infogan_tf.model.objective.Term)")
            if term.name in names:
                raise ConfigError(f"two terms of the objective are named {term.name!r}")
            names.add(term.name)
            if not term.updates or not term.updates <= {D, G}:
                raise ConfigError(f"term {term.name!r} must enter D, G or both, not {sorted(term.updates)}")
            for metric in term.metrics:
                if metric.name in metric_names:
                    raise ConfigError(f"term {term.name!r} declares metric {metric.name!r}, which another term has")
                if metric.reduce not in _REDUCTIONS:
                    raise ConfigError(
                        f"metric {metric.name!r} of term {term.name!r} has no reduction {metric.reduce!r}"
                    )
                metric_names.add(metric.name)

    @classmethod
    def for_config(cls, config: TrainConfig, extra: Sequence[Term] = ()) -> Objective:
        """:func:`default_terms` of ``config``, then ``extra``."""
        return cls([*default_terms(config), *extra])

    @property
    def metrics(self) -> tuple[Metric, ...]:
        """Every term's metrics, in term order."""
        return tuple(m for term in self.terms for m in term.metrics)

    def entering(self, updates: frozenset) -> list[Term]:
        """The terms that enter any of ``updates``, in order."""
        return [term for term in self.terms if term.updates & updates]

    def derived(self, reduced: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Every term's DERIVED metrics from the reduced ones."""
        out: dict[str, tf.Tensor] = {}
        for term in self.terms:
            out.update(term.derived(reduced))
        return out

    def extra_settings(self) -> dict[str, dict]:
        """The settings of the terms that hold their own (config.json's ``"terms"``), by term name."""
        return {term.name: term.settings() for term in self.terms if term.config_part is None and term.settings()}

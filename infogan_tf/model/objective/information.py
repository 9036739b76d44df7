"""-lambda * L_I(G, Q), the information term of Eq. 6 (Chen et al. 2016, Eq. 4-5).

L_I = E[log Q(c|x)] + H(c) for x = G(z, c): both D/Q and G descend
lambda_cat * (-log Q(c_cat|x)) + lambda_cont * (-log Q(c_cont|x)) per
example (``model.losses.mutual_information_loss``; H(c) is a constant).
Its weights are ``--lambda_cat`` and ``--lambda_cont`` (``config.OptimConfig``).
Its metrics are measured on the D/Q update's fake batch; ``info_lower_bound``
is L_I itself, H(c) - E[-log Q(c_cat|x)] (of the categorical codes), shown
against H(c), the most it can be.
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf

from infogan_tf.config import TrainConfig
from infogan_tf.model import losses
from infogan_tf.model.objective.term import DERIVED, Contribution, D, G, Metric, Term, UpdateBatch


class InformationTerm(Term):
    """-lambda * L_I: Q recovers the codes c from G(z, c)."""

    name = "information"
    updates = frozenset({D, G})
    metrics = (
        Metric("mi_loss", guarded=True, shown="mi_loss={value:.4f}"),
        Metric("mi_categorical_ce"),
        Metric("mi_continuous_nll"),
        Metric("info_lower_bound", reduce=DERIVED, shown="L_I={value:.4f}/{entropy:.4f}"),
    )
    config_part = "optim"

    def __init__(self, config: TrainConfig):
        self.lambda_cat = config.optim.lambda_cat
        self.lambda_cont = config.optim.lambda_cont
        self.entropy = config.latent.categorical_entropy()

    def contribute(self, batch: UpdateBatch) -> Contribution:
        fake, codes = batch.fake, batch.codes
        mi = losses.mutual_information_loss(
            codes.categorical,
            codes.continuous,
            list(fake.categorical_logits),
            fake.continuous_mean,
            fake.continuous_log_std,
            self.lambda_cat,
            self.lambda_cont,
        )
        metrics = {}
        if D in batch.updates:  # measured on the D/Q update's batch
            metrics = {
                "mi_loss": mi.loss,
                "mi_categorical_ce": mi.categorical_ce,
                "mi_continuous_nll": mi.continuous_nll,
            }
        return Contribution(mi.loss if D in batch.updates else None, mi.loss if G in batch.updates else None, metrics)

    def derived(self, reduced: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return {"info_lower_bound": self.entropy - reduced["mi_categorical_ce"]}

"""V(D, G), the adversarial term of Eq. 6 (Chen et al. 2016; Goodfellow et al. 2014, with the non-saturating G loss).

D descends -log D(x) - log(1 - D(G(z, c))) and G descends -log D(G(z, c))
(``model.losses.discriminator_loss`` / ``generator_loss``, from logits).
Its metrics: the two losses and D's mean output on the real and the fake
batch of the D/Q update.
"""

from __future__ import annotations

import tensorflow as tf

from infogan_tf.model import losses
from infogan_tf.model.objective.term import Contribution, D, G, Metric, Term, UpdateBatch


class AdversarialTerm(Term):
    """V(D, G): D tells real from fake, G fools D."""

    name = "adversarial"
    updates = frozenset({D, G})
    metrics = (
        Metric("d_loss", guarded=True, shown="d_loss={value:.4f}"),
        Metric("g_loss", guarded=True, shown="g_loss={value:.4f}"),
        Metric("d_real", shown="D(x)={value:.3f}"),
        Metric("d_fake", shown="D(G(z))={value:.3f}"),
    )

    def contribute(self, batch: UpdateBatch) -> Contribution:
        d = g = None
        metrics = {}
        if D in batch.updates:
            if batch.real is None:
                raise ValueError("the D/Q update needs D's outputs for the real images")
            d = losses.discriminator_loss(batch.real.d_logit, batch.fake.d_logit)
            metrics = {
                "d_loss": d,
                "d_real": tf.sigmoid(batch.real.d_logit),
                "d_fake": tf.sigmoid(batch.fake.d_logit),
            }
        if G in batch.updates:
            g = losses.generator_loss(batch.fake.d_logit)
            metrics["g_loss"] = g
        return Contribution(d, g, metrics)

"""One InfoGAN training step: the per-replica update, and its distributed, compiled form.

The objective (Chen et al. 2016, Eq. 6, with the non-saturating G loss):

    min_{G,Q} max_D  V(D, G) - lambda * L_I(G, Q)

With the default ``update="alternating"`` (the authors' reference procedure)
one step on each replica is:

  1. sample z and c from their priors (seeded by run seed, step and replica);
  2. update D and Q: x_fake = G(z, c); D sees x_real and x_fake as separate
     batches (each normalised with its own statistics, in one pass) and
     descends  V_D + lambda * (-log Q(c|x_fake)) - lambda_real * I_real;
  3. update G (and Q's hold on it): on fresh (z', c'), G descends
     V_G + lambda * (-log Q(c'|G(z', c'))) against the updated D.

I_real is Q's information about the categories of real images (not in the
paper; ``lambda_real_info = 0`` turns it off; ``model.losses``), plus the
same for Q's auxiliary over-clustering head when there is one
(``ModelConfig.q_overcluster``, as IIC's, Ji et al. 2019): with affine
views, the second views of the real images are made inside the
(XLA-compiled) replica step (``data.augment.affine_warp`` compiles).
``update="joint"`` updates D/Q and G simultaneously from one forward pass of
[x_real; x_fake] (cheaper per step).

Per-example losses are averaged over the GLOBAL batch
(``tf.nn.compute_average_loss``) and the optimisers sum gradients across
replicas, so any replica count computes the same update. The step records
the first step at which a loss or gradient norm stops being finite
(:data:`GUARDED_QUANTITIES`), so the loop can refuse to checkpoint it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from infogan_tf.config import TrainConfig
from infogan_tf.data.pipeline import StreamedImages, make_input_fn
from infogan_tf.latent import LatentBatch
from infogan_tf.model import losses
from infogan_tf.model.networks import DiscriminatorOutput
from infogan_tf.training import precision
from infogan_tf.training.real_info import RealImageTerms, real_image_terms, second_views
from infogan_tf.training.state import TrainState

# Quantities checked for finiteness each step, in bit order of the mask.
GUARDED_QUANTITIES = ("d_loss", "g_loss", "mi_loss", "d_grad_norm", "g_grad_norm")

# What a step returns (summed over replicas), each a float32 scalar.
METRICS = tuple(
    "d_loss g_loss mi_loss mi_categorical_ce mi_continuous_nll d_real d_fake d_grad_norm g_grad_norm real_info "  # noqa: SIM905
    "overcluster_info stop_requested info_lower_bound".split()
)

# Streams of the per-replica stateless seeds (codes; affine views).
_CODES_STREAM, _VIEWS_STREAM = 0x1F0, 0xA6F

InputFn = Callable[[tf.distribute.InputContext], tf.data.Dataset]


class StepTerms(NamedTuple):
    """What one update computed on this replica, for the step's metrics.

    Attributes:
      d_adv, g_adv: per-example adversarial losses of D and of G.
      mi: the mutual-information terms of the D/Q update's fake batch.
      real_logit, fake_logit: D's logits for the D/Q update's batches.
      d_grads, g_grads: the gradients applied to D/Q and to G.
      real_info: Q's information about the categories of the real batch (scalar).
      overcluster_info: the same for the over-clustering head (0 without one).
    """

    d_adv: tf.Tensor
    g_adv: tf.Tensor
    mi: losses.MutualInformationTerms
    real_logit: tf.Tensor
    fake_logit: tf.Tensor
    d_grads: list
    g_grads: list
    real_info: tf.Tensor
    overcluster_info: tf.Tensor


def input_stream(
    config: TrainConfig,
    strategy: tf.distribute.Strategy,
    images: np.ndarray | StreamedImages,
    start_step: int = 0,
    input_fn: InputFn | None = None,
):
    """The distributed iterator of training batches from ``start_step`` on (what the step consumes).

    ``input_fn`` replaces the pipeline over ``images`` (a seam for tests);
    it must then start at ``start_step`` itself.
    """
    fn = input_fn or make_input_fn(images, config.optim.batch_size, config.runtime.seed, start_step=start_step)
    return iter(strategy.distribute_datasets_from_function(fn))


class InfoGANStep:
    """The compiled training step: call it with the input iterator and the stop flag.

    ``step(iterator, stop_code, steps=1)`` runs up to ``steps`` updates on
    every replica in ONE call (a loop inside the graph: the host waits for
    the device once per call, as Model Garden's steps-per-loop) and returns
    the last update's metrics summed over replicas (name -> scalar tensor),
    including ``stop_requested``, the sum of every replica's ``stop_code``
    (``training.stopping``: > 0 when some worker was asked to stop), and
    ``steps_run``. The loop ends early after the first update when a stop
    was requested (every worker sees the same sum, so all stop after the
    same step) and after an update whose guarded quantities were not finite.
    ``steps`` is a tensor argument: any count runs the same trace.
    """

    def __init__(self, config: TrainConfig, strategy: tf.distribute.Strategy, state: TrainState):
        self.config = config
        self.strategy = strategy
        self.state = state
        self.jit_compile = precision.use_jit_compile(config, strategy)
        # XLA cannot compile the iterator op, so only the per-replica step is
        # jit-compiled; the outer function fetches the batch and reduces.
        self._replica_fn = tf.function(self.replica_step, jit_compile=True) if self.jit_compile else self.replica_step
        self._step = tf.function(self._distributed_steps)
        self._single_step: tf.types.experimental.PolymorphicFunction | None = None

    def __call__(self, iterator, stop_code: float = 0.0, steps: int = 1) -> dict:
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        return self._step(iterator, tf.constant(stop_code, tf.float32), tf.constant(steps, tf.int32))

    def graph(self, iterator) -> tf.Graph:
        """The graph of ONE traced step (for FLOP counts; a call runs it ``steps`` times)."""
        if self._single_step is None:
            self._single_step = tf.function(self._distributed_step)
        return self._single_step.get_concrete_function(iterator, tf.constant(0.0)).graph

    @property
    def tracing_count(self) -> int:
        return self._step.experimental_get_tracing_count()

    # ------------------------------------------------------- the algorithm
    def replica_step(self, real_images: tf.Tensor, step: tf.Tensor, stop_requested: tf.Tensor) -> dict:
        """One InfoGAN update on this replica's slice of the global batch.

        ``stop_requested`` (this process's stop code, ``training.stopping``)
        is passed through, to be summed with the metrics: every worker then
        learns in the same step that one of them must stop, and they all save
        at that step.
        """
        cfg, spec = self.config, self.config.latent
        ctx = tf.distribute.get_replica_context()
        # Second views of the real images for the real-image information term ("affine", "deskewed").
        real_views = self._second_views(real_images, step) if cfg.real_info.real_info_view != "same" else None
        # Sample the noise and codes: seeded by (seed, step, replica), so every
        # replica draws its own and a resumed run draws what it would have.
        seed = self._replica_seed(_CODES_STREAM, step)
        per_replica_batch = cfg.optim.batch_size // ctx.num_replicas_in_sync
        codes = spec.sample(per_replica_batch, seed)
        if cfg.optim.update == "joint":
            terms = self._joint_update(real_images, real_views, codes)
        else:
            # The G step draws its own (z, c), as the reference code does.
            g_codes = spec.sample(per_replica_batch, tf.random.experimental.stateless_fold_in(seed, 1))
            terms = self._alternating_update(real_images, real_views, codes, g_codes)
        return self._replica_metrics(terms, stop_requested)

    def _alternating_update(
        self, real_images: tf.Tensor, real_views: tf.Tensor | None, codes: LatentBatch, g_codes: LatentBatch
    ) -> StepTerms:
        """A D/Q step, then a G step against the updated D on fresh codes.

        D normalises the real, the fake batch (and the views) each with its
        own statistics, as separate calls would, in one pass (``model.batchnorm``).
        """
        s = self.state
        d_vars, g_vars = s.discriminator.trainable_variables, s.generator.trainable_variables
        # Update D and Q: tell real from fake, recover c from G(z, c).
        fake_images = tf.stop_gradient(s.generator(codes.z, codes.c, training=True))
        batches = [real_images, fake_images] + ([] if real_views is None else [real_views])
        with tf.GradientTape() as tape:
            out = s.discriminator(tf.concat(batches, axis=0), training=True, segments=len(batches))
            real_out, fake_out, *views = out.split(len(batches))
            mi = self._mi_terms(codes, fake_out, slice(None))
            d_adv = losses.discriminator_loss(real_out.d_logit, fake_out.d_logit)
            real = self._real_image_terms(real_out, views[0] if views else None, slice(None), slice(None))
            d_loss = self._average(d_adv + mi.loss) + self._real_info_loss(real.objective)
        d_grads = tape.gradient(d_loss, d_vars)
        s.d_optimizer.apply_gradients(zip(d_grads, d_vars))

        # Update G: fool the updated D (non-saturating) and keep the fresh codes recoverable.
        with tf.GradientTape() as tape:
            g_out = s.discriminator(s.generator(g_codes.z, g_codes.c, training=True), training=True)
            g_adv = losses.generator_loss(g_out.d_logit)
            g_loss = self._average(g_adv + self._mi_terms(g_codes, g_out, slice(None)).loss)
        g_grads = tape.gradient(g_loss, g_vars)
        s.g_optimizer.apply_gradients(zip(g_grads, g_vars))
        return StepTerms(
            d_adv, g_adv, mi, real_out.d_logit, fake_out.d_logit, d_grads, g_grads, real.information, real.overcluster
        )

    def _joint_update(self, real_images: tf.Tensor, real_views: tf.Tensor | None, codes: LatentBatch) -> StepTerms:
        """D/Q and G updated simultaneously from one forward pass of [real; fake (; views)]."""
        s = self.state
        batch = tf.shape(real_images)[0]
        with tf.GradientTape(persistent=True) as tape:
            fake_images = s.generator(codes.z, codes.c, training=True)
            views = [] if real_views is None else [real_views]
            out = s.discriminator(tf.concat([real_images, fake_images, *views], axis=0), training=True)
            real_logit, fake_logit = out.d_logit[:batch], out.d_logit[batch : 2 * batch]
            mi = self._mi_terms(codes, out, slice(batch, 2 * batch))
            # D (and Q): classify real vs fake and recover c. G: fool D (non-saturating), keep c recoverable.
            d_adv = losses.discriminator_loss(real_logit, fake_logit)
            g_adv = losses.generator_loss(fake_logit)
            views_out = None if real_views is None else out
            real = self._real_image_terms(out, views_out, slice(None, batch), slice(2 * batch, None))
            d_loss = self._average(d_adv + mi.loss) + self._real_info_loss(real.objective)
            g_loss = self._average(g_adv + mi.loss)
        d_vars, g_vars = s.discriminator.trainable_variables, s.generator.trainable_variables
        d_grads = tape.gradient(d_loss, d_vars)
        g_grads = tape.gradient(g_loss, g_vars)
        del tape
        # Gradients are summed across replicas inside apply_gradients.
        s.d_optimizer.apply_gradients(zip(d_grads, d_vars))
        s.g_optimizer.apply_gradients(zip(g_grads, g_vars))
        return StepTerms(d_adv, g_adv, mi, real_logit, fake_logit, d_grads, g_grads, real.information, real.overcluster)

    # ------------------------------------------------------------ the terms
    def _average(self, per_example: tf.Tensor) -> tf.Tensor:
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.config.optim.batch_size)

    def _mi_terms(self, codes: LatentBatch, out: DiscriminatorOutput, rows: slice) -> losses.MutualInformationTerms:
        """-lambda (L_I - H(c)) per example: Q's prediction of the codes of G(z, c)."""
        o = self.config.optim
        return losses.mutual_information_loss(
            codes.categorical,
            codes.continuous,
            [logits[rows] for logits in out.categorical_logits],
            out.continuous_mean[rows],
            out.continuous_log_std[rows],
            o.lambda_cat,
            o.lambda_cont,
        )

    def _real_image_terms(
        self, real_out: DiscriminatorOutput, views_out: DiscriminatorOutput | None, rows: slice, view_rows: slice
    ) -> RealImageTerms:
        """Q's information about the categories of this replica's real images (``training.real_info``).

        ``rows`` of ``real_out`` are the real images, ``view_rows`` of ``views_out`` their second views.
        """
        over = self.config.real_info.q_overcluster > 0
        return real_image_terms(
            self.config.real_info,
            [logits[rows] for logits in real_out.categorical_logits],
            None if views_out is None else [logits[view_rows] for logits in views_out.categorical_logits],
            real_out.overcluster_logits[rows] if over else None,
            views_out.overcluster_logits[view_rows] if over and views_out is not None else None,
        )

    def _real_info_loss(self, real_info: tf.Tensor) -> tf.Tensor:
        """-lambda_real_info * I(x; c), divided by the replicas because their gradients are summed."""
        replicas = tf.distribute.get_replica_context().num_replicas_in_sync
        return -self.config.real_info.lambda_real_info * real_info / replicas

    def _replica_seed(self, stream: int, step: tf.Tensor) -> tf.Tensor:
        """Stateless seed of (run seed, stream, step, replica): each replica draws its own, a resumed run the same."""
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        return tf.random.experimental.stateless_fold_in(
            tf.random.experimental.stateless_fold_in(tf.constant([self.config.runtime.seed, stream], tf.int64), step),
            tf.cast(replica, tf.int64),
        )

    def _second_views(self, real_images: tf.Tensor, step: tf.Tensor) -> tf.Tensor:
        """Moved copies of this replica's real images (``training.real_info.second_views``), seeded per step."""
        return second_views(self.config.real_info, real_images, self._replica_seed(_VIEWS_STREAM, step))

    def _replica_metrics(self, terms: StepTerms, stop_requested: tf.Tensor) -> dict:
        average = self._average
        replica_mean = 1.0 / tf.distribute.get_replica_context().num_replicas_in_sync
        return {
            "d_loss": average(terms.d_adv),
            "g_loss": average(terms.g_adv),
            "mi_loss": average(terms.mi.loss),
            "mi_categorical_ce": average(terms.mi.categorical_ce),
            "mi_continuous_nll": average(terms.mi.continuous_nll),
            "d_real": average(tf.sigmoid(terms.real_logit)),
            "d_fake": average(tf.sigmoid(terms.fake_logit)),
            # Per-replica gradient norms, averaged over replicas by the SUM below.
            "d_grad_norm": tf.linalg.global_norm(terms.d_grads) * replica_mean,
            "g_grad_norm": tf.linalg.global_norm(terms.g_grads) * replica_mean,
            # Q's information about the categories of real images (the mean over replicas).
            "real_info": terms.real_info * replica_mean,
            "overcluster_info": terms.overcluster_info * replica_mean,
            "stop_requested": tf.cast(stop_requested, tf.float32),
        }

    # ------------------------------------------------------ across replicas
    def _distributed_steps(self, iterator, stop_requested: tf.Tensor, steps: tf.Tensor) -> dict:
        """Up to ``steps`` distributed steps in one graph (traced once); the last one's metrics and ``steps_run``."""
        nonfinite_step = self.state.nonfinite_step

        def more(done: tf.Tensor, metrics: dict) -> tf.Tensor:
            go_on = (metrics["stop_requested"] <= 0.0) & (nonfinite_step < 0)
            return (done < steps) & ((done == 0) | go_on)

        def step(done: tf.Tensor, _last: dict) -> tuple:
            return done + 1, self._distributed_step(iterator, stop_requested)

        zeros = {name: tf.constant(0.0) for name in METRICS}
        done, metrics = tf.while_loop(more, step, (tf.constant(0), zeros))
        return {**metrics, "steps_run": done}

    def _distributed_step(self, iterator, stop_requested: tf.Tensor) -> dict:
        """Runs one step on all replicas and reduces the metrics (in graph)."""
        s = self.state
        step = s.step.read_value()
        real_images = next(iterator)
        per_replica = self.strategy.run(self._replica_fn, args=(real_images, step, stop_requested))
        # All scalars in one all-reduce: across workers every collective is a network round trip.
        names = list(per_replica)
        stacked = self.strategy.run(lambda values: tf.stack([values[n] for n in names]), args=(per_replica,))
        summed = tf.unstack(self.strategy.reduce(tf.distribute.ReduceOp.SUM, stacked, axis=None))
        metrics = dict(zip(names, summed))
        metrics["info_lower_bound"] = self.config.latent.categorical_entropy() - metrics["mi_categorical_ce"]
        if set(metrics) != set(METRICS):  # the loop carries exactly these
            raise AssertionError(f"the step's metrics {sorted(metrics)} are not METRICS {sorted(METRICS)}")
        # Record the first step at which anything guarded stops being finite.
        bits = [tf.where(tf.math.is_finite(metrics[name]), 0, 1 << i) for i, name in enumerate(GUARDED_QUANTITIES)]
        mask = tf.add_n(bits)
        first = tf.logical_and(mask > 0, s.nonfinite_step < 0)
        s.nonfinite_step.assign(tf.where(first, step + 1, s.nonfinite_step))
        s.nonfinite_mask.assign(tf.where(first, mask, s.nonfinite_mask))
        s.step.assign_add(1)
        return metrics

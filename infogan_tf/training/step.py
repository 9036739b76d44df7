"""One InfoGAN training step: the per-replica update, and its distributed, compiled form.

The objective (Chen et al. 2016, Eq. 6, with the non-saturating G loss) is
a sum of declared terms (``model.objective``):

    min_{G,Q} max_D  V(D, G) - lambda * L_I(G, Q)  [- lambda_real * I_real]  [+ extra terms]

With the default ``update="alternating"`` (the authors' reference procedure)
one step on each replica is:

  1. sample z and c from their priors (seeded by run seed, step and replica);
  2. update D and Q: x_fake = G(z, c); D sees x_real, x_fake (and any batch a
     term adds: the real-image term's second views, moved copies of x_real
     made here, inside the compiled step) as separate batches, each
     normalised with its own statistics, in one pass; D and Q descend the sum
     of the terms that enter the D/Q update:
     V_D + lambda * (-log Q(c|x_fake)) - lambda_real * I_real;
  3. update G (and Q's hold on it): on fresh (z', c'), G descends the terms
     that enter the G update, V_G + lambda * (-log Q(c'|G(z', c'))), against
     the updated D.

``update="joint"`` updates D/Q and G simultaneously from one forward pass of
[x_real; x_fake (; added batches)] (cheaper per step).

Each update's loss is the terms' per-example losses summed per example (in
term order) and averaged over the GLOBAL batch (``tf.nn.compute_average_loss``),
then their per-replica scalar losses divided by the number of replicas; the
optimisers sum gradients across replicas, so any replica count computes the
same update. The metrics are the terms' declared ones plus the gradient norms;
the step records the first step at which a guarded one (``Metric.guarded``,
and the gradient norms) stops being finite, so the loop can refuse to
checkpoint it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from infogan_tf.config import TrainConfig
from infogan_tf.data.pipeline import StreamedImages, make_input_fn
from infogan_tf.latent import LatentBatch
from infogan_tf.model.networks import DiscriminatorOutput
from infogan_tf.model.objective import DERIVED, REPLICA_MEAN, D, G, Metric, Objective, Term, UpdateBatch
from infogan_tf.training import precision
from infogan_tf.training.records import shown_metrics
from infogan_tf.training.state import TrainState

# The step's own metrics beside the terms': per-replica gradient norms (averaged over replicas).
GRADIENT_METRICS = (
    Metric("d_grad_norm", reduce=REPLICA_MEAN, guarded=True),
    Metric("g_grad_norm", reduce=REPLICA_MEAN, guarded=True),
)
# Summed over replicas: > 0 when some worker was asked to stop (``training.stopping``).
STOP_REQUESTED = "stop_requested"

# Streams of the per-replica stateless seeds (codes; the terms' added batches).
_CODES_STREAM, _VIEWS_STREAM = 0x1F0, 0xA6F

InputFn = Callable[[tf.distribute.InputContext], tf.data.Dataset]


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


def _rows(out: DiscriminatorOutput, rows: slice) -> DiscriminatorOutput:
    """The outputs of ``rows`` of a batch."""
    return DiscriminatorOutput(
        out.d_logit[rows],
        tuple(logits[rows] for logits in out.categorical_logits),
        out.continuous_mean[rows],
        out.continuous_log_std[rows],
        out.overcluster_logits[rows],
    )


class InfoGANStep:
    """The compiled training step: call it with the input iterator and the stop flag.

    ``step(iterator, stop_code, steps=1)`` runs up to ``steps`` updates on
    every replica in ONE call (a loop inside the graph: the host waits for
    the device once per call, as Model Garden's steps-per-loop) and returns
    the last update's metrics reduced over replicas (name -> scalar tensor:
    :attr:`metric_names`), with ``stop_requested``, the sum of every replica's
    ``stop_code`` (``training.stopping``: > 0 when some worker was asked to
    stop), and ``steps_run``. The loop ends early after the first update when
    a stop was requested (every worker sees the same sum, so all stop after
    the same step) and after an update whose guarded quantities were not
    finite. ``steps`` is a tensor argument: any count runs the same trace.

    ``terms``: extra terms of the objective, after ``model.objective.default_terms``.
    """

    def __init__(
        self, config: TrainConfig, strategy: tf.distribute.Strategy, state: TrainState, terms: Sequence[Term] = ()
    ):
        self.config = config
        self.strategy = strategy
        self.state = state
        self.objective = Objective.for_config(config, terms)
        self.metrics = (*self.objective.metrics, *GRADIENT_METRICS)
        self.jit_compile = precision.use_jit_compile(config, strategy)
        # XLA cannot compile the iterator op, so only the per-replica step is
        # jit-compiled; the outer function fetches the batch and reduces.
        self._replica_fn = tf.function(self.replica_step, jit_compile=True) if self.jit_compile else self.replica_step
        self._step = tf.function(self._distributed_steps)
        self._single_step: tf.types.experimental.PolymorphicFunction | None = None

    @property
    def metric_names(self) -> tuple[str, ...]:
        """What a call returns besides ``stop_requested`` and ``steps_run``: the terms' metrics, the gradient norms."""
        return tuple(m.name for m in self.metrics)

    @property
    def shown(self) -> tuple[tuple[str, str], ...]:
        """(name, format) of the metrics the progress line shows, as the terms declare them."""
        return shown_metrics(self.metrics)

    @property
    def guarded(self) -> tuple[str, ...]:
        """The metrics checked for finiteness each step, in bit order of ``TrainState.nonfinite_mask``."""
        return tuple(m.name for m in self.metrics if m.guarded)

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
        # The batches the terms add for D/Q to see (the real-image term's second views).
        extra = self._extra_batches(real_images, step)
        # Sample the noise and codes: seeded by (seed, step, replica), so every
        # replica draws its own and a resumed run draws what it would have.
        seed = self._replica_seed(_CODES_STREAM, step)
        per_replica_batch = cfg.optim.batch_size // ctx.num_replicas_in_sync
        codes = spec.sample(per_replica_batch, seed)
        if cfg.optim.update == "joint":
            metrics, d_grads, g_grads = self._joint_update(real_images, extra, codes)
        else:
            # The G step draws its own (z, c), as the reference code does.
            g_codes = spec.sample(per_replica_batch, tf.random.experimental.stateless_fold_in(seed, 1))
            metrics, d_grads, g_grads = self._alternating_update(real_images, extra, codes, g_codes)
        return self._replica_metrics(metrics, d_grads, g_grads, stop_requested)

    def _alternating_update(
        self, real_images: tf.Tensor, extra: dict[str, tf.Tensor], codes: LatentBatch, g_codes: LatentBatch
    ) -> tuple[dict, list, list]:
        """A D/Q step, then a G step against the updated D on fresh codes.

        D normalises the real, the fake batch (and the added ones) each with
        its own statistics, as separate calls would, in one pass (``model.batchnorm``).
        """
        s = self.state
        d_vars, g_vars = s.discriminator.trainable_variables, s.generator.trainable_variables
        # Update D and Q: the terms of the D/Q objective (tell real from fake, recover c from G(z, c), ...).
        fake_images = tf.stop_gradient(s.generator(codes.z, codes.c, training=True))
        batches = [real_images, fake_images, *extra.values()]
        with tf.GradientTape() as tape:
            out = s.discriminator(tf.concat(batches, axis=0), training=True, segments=len(batches))
            real_out, fake_out, *added = out.split(len(batches))
            batch = UpdateBatch(frozenset({D}), fake_out, codes, real_out, dict(zip(extra, added)))
            (d_loss,), metrics = self.losses(batch)
        d_grads = tape.gradient(d_loss, d_vars)
        s.d_optimizer.apply_gradients(zip(d_grads, d_vars))

        # Update G: the terms of the G objective (fool the updated D, keep the fresh codes recoverable).
        with tf.GradientTape() as tape:
            g_out = s.discriminator(s.generator(g_codes.z, g_codes.c, training=True), training=True)
            (g_loss,), g_metrics = self.losses(UpdateBatch(frozenset({G}), g_out, g_codes, None, {}))
        g_grads = tape.gradient(g_loss, g_vars)
        s.g_optimizer.apply_gradients(zip(g_grads, g_vars))
        return {**metrics, **g_metrics}, d_grads, g_grads

    def _joint_update(
        self, real_images: tf.Tensor, extra: dict[str, tf.Tensor], codes: LatentBatch
    ) -> tuple[dict, list, list]:
        """D/Q and G updated simultaneously from one forward pass of [real; fake (; added batches)]."""
        s = self.state
        b = tf.shape(real_images)[0]
        with tf.GradientTape(persistent=True) as tape:
            fake_images = s.generator(codes.z, codes.c, training=True)
            out = s.discriminator(tf.concat([real_images, fake_images, *extra.values()], axis=0), training=True)
            added = {name: _rows(out, slice((2 + i) * b, (3 + i) * b)) for i, name in enumerate(extra)}
            batch = UpdateBatch(
                frozenset({D, G}), _rows(out, slice(b, 2 * b)), codes, _rows(out, slice(None, b)), added
            )
            (d_loss, g_loss), metrics = self.losses(batch)
        d_vars, g_vars = s.discriminator.trainable_variables, s.generator.trainable_variables
        d_grads = tape.gradient(d_loss, d_vars)
        g_grads = tape.gradient(g_loss, g_vars)
        del tape
        # Gradients are summed across replicas inside apply_gradients.
        s.d_optimizer.apply_gradients(zip(d_grads, d_vars))
        s.g_optimizer.apply_gradients(zip(g_grads, g_vars))
        return metrics, d_grads, g_grads

    # ------------------------------------------------------------ the terms
    def losses(self, batch: UpdateBatch) -> tuple[list[tf.Tensor], dict]:
        """The loss of each of ``batch.updates`` (D before G) summed over the terms, and the metrics measured.

        Per-example losses are summed per example in term order and averaged
        over the global batch once; scalar ones are added after, divided by
        the replicas (whose gradients are summed).
        """
        per_example: dict[str, list] = {D: [], G: []}
        scalars: dict[str, list] = {D: [], G: []}
        metrics: dict = {}
        for term in self.objective.entering(batch.updates):
            part = term.contribute(batch)
            for update, loss in ((D, part.d), (G, part.g)):
                if loss is None or update not in batch.updates or update not in term.updates:
                    continue
                (per_example if loss.shape.rank else scalars)[update].append(loss)
            metrics.update(part.metrics)
        replicas = tf.distribute.get_replica_context().num_replicas_in_sync
        totals = []
        for update in (D, G):
            if update not in batch.updates:
                continue
            total = self._average(functools.reduce(tf.add, per_example[update])) if per_example[update] else 0.0
            for loss in scalars[update]:
                total = total + loss / replicas
            totals.append(total)
        return totals, metrics

    def _average(self, per_example: tf.Tensor) -> tf.Tensor:
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.config.optim.batch_size)

    def _extra_batches(self, real_images: tf.Tensor, step: tf.Tensor) -> dict[str, tf.Tensor]:
        """The images each term adds for D/Q (by term name), seeded per step."""
        extra = {}
        for term in self.objective.terms:
            images = term.extra_batch(real_images, self._replica_seed(_VIEWS_STREAM, step))
            if images is not None:
                extra[term.name] = images
        return extra

    def _replica_seed(self, stream: int, step: tf.Tensor) -> tf.Tensor:
        """Stateless seed of (run seed, stream, step, replica): each replica draws its own, a resumed run the same."""
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        return tf.random.experimental.stateless_fold_in(
            tf.random.experimental.stateless_fold_in(tf.constant([self.config.runtime.seed, stream], tf.int64), step),
            tf.cast(replica, tf.int64),
        )

    def _replica_metrics(self, measured: dict, d_grads: list, g_grads: list, stop_requested: tf.Tensor) -> dict:
        """This replica's share of each metric: the replicas' shares SUM to the step's value."""
        replica_mean = 1.0 / tf.distribute.get_replica_context().num_replicas_in_sync
        measured = {
            **measured,
            "d_grad_norm": tf.linalg.global_norm(d_grads),
            "g_grad_norm": tf.linalg.global_norm(g_grads),
        }
        wanted = [m for m in self.metrics if m.reduce != DERIVED]
        missing = sorted({m.name for m in wanted} - set(measured))
        unknown = sorted(set(measured) - {m.name for m in wanted})
        if missing or unknown:
            raise ValueError(f"the terms measured {sorted(measured)}: {missing} missing, {unknown} not declared")
        out = {
            m.name: self._average(measured[m.name]) if m.reduce != REPLICA_MEAN else measured[m.name] * replica_mean
            for m in wanted
        }
        out[STOP_REQUESTED] = tf.cast(stop_requested, tf.float32)
        return out

    # ------------------------------------------------------ across replicas
    def _distributed_steps(self, iterator, stop_requested: tf.Tensor, steps: tf.Tensor) -> dict:
        """Up to ``steps`` distributed steps in one graph (traced once); the last one's metrics and ``steps_run``."""
        nonfinite_step = self.state.nonfinite_step

        def more(done: tf.Tensor, metrics: dict) -> tf.Tensor:
            go_on = (metrics[STOP_REQUESTED] <= 0.0) & (nonfinite_step < 0)
            return (done < steps) & ((done == 0) | go_on)

        def step(done: tf.Tensor, _last: dict) -> tuple:
            return done + 1, self._distributed_step(iterator, stop_requested)

        zeros = {name: tf.constant(0.0) for name in (*self.metric_names, STOP_REQUESTED)}
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
        metrics.update(self.objective.derived(metrics))
        # Record the first step at which anything guarded stops being finite.
        bits = [tf.where(tf.math.is_finite(metrics[name]), 0, 1 << i) for i, name in enumerate(self.guarded)]
        mask = tf.add_n(bits)
        first = tf.logical_and(mask > 0, s.nonfinite_step < 0)
        s.nonfinite_step.assign(tf.where(first, step + 1, s.nonfinite_step))
        s.nonfinite_mask.assign(tf.where(first, mask, s.nonfinite_mask))
        s.step.assign_add(1)
        return metrics

"""InfoGAN training: the distributed train step, the loop, checkpoints, summaries.

One step (Chen et al. 2016, Eq. 6, with the non-saturating G loss), run on
every replica by ``strategy.run`` inside one ``tf.function``. With the
default ``update="alternating"`` (the authors' reference procedure):

  1. sample z and c from their priors (seeded by step and replica);
  2. x_fake = G(z, c); D/Q see x_real and x_fake in separate calls and
     descend  V_D + lambda * (-log Q(c|x_fake))  - lambda_real * I_real;
  3. sample fresh (z', c'); G descends  V_G + lambda * (-log Q(c'|G(z', c')))
     against the updated D.

I_real is Q's information about the categories of real images (not in the
paper, off with lambda_real_info = 0; losses.py): with affine views, the real
images' copies are made before the (XLA-compiled) replica step. With
``update="joint"`` both updates use gradients of one forward pass of
[x_real; x_fake] (a simultaneous update; cheaper per step).
Per-example losses are averaged over the GLOBAL batch
(``tf.nn.compute_average_loss``) and the optimisers sum gradients across
replicas, so any replica count computes the same update.

The trainer also owns the safety rails every long run needs: a config check
on resume, checkpoints that are only written while every quantity is finite
and only restored after every tensor read back intact, and a clean
save-and-exit on SIGTERM. Under MultiWorkerMirroredStrategy only the chief
writes to model_dir, the workers check that they run the same flags from the
same step, a SIGTERM to any worker stops all of them after the same step,
and a lost worker is reported in one line.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import signal
import tempfile
import time
import uuid
from typing import Callable, NamedTuple

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from infogan_tf import data as data_lib
from infogan_tf import losses, visualize
from infogan_tf.config import (
    ConfigError,
    TrainConfig,
    check_resume_compatible,
    read_saved_config,
    write_config,
)
from infogan_tf.augment import random_affine
from infogan_tf.distribute import get_strategy
from infogan_tf.networks import DiscriminatorOutput, build_networks

CHECKPOINT_SUBDIR = "checkpoints"
SUMMARY_SUBDIR = "train"
METRICS_LOG = "metrics.jsonl"
# A SIGTERM'd run saves a checkpoint and the CLI exits 143 (128 + SIGTERM, what
# an unhandled SIGTERM reports, and TF's own restartable code): schedulers then
# restart it, and `infogan-train ... && next-step` does not go on unfinished.
PREEMPTED_EXIT_CODE = 143

# Quantities checked for finiteness each step, in bit order of the mask.
GUARDED_QUANTITIES = ("d_loss", "g_loss", "mi_loss", "d_grad_norm", "g_grad_norm")


class NonFiniteError(RuntimeError):
    """A loss or gradient became NaN/Inf; the message names the step and quantity."""


class CheckpointError(RuntimeError):
    """A checkpoint in model_dir cannot be read."""


class ClusterError(RuntimeError):
    """A multi-worker run lost a worker (crashed, killed or unreachable)."""


class TrainResult(NamedTuple):
    """What a finished (or preempted) run leaves behind.

    Attributes:
      step: the global step reached.
      checkpoint: path prefix of the last checkpoint written.
      summary_dir: TensorBoard log directory.
      metrics: last reduced metrics (name -> float).
      preempted: True when the run stopped early on SIGTERM.
    """

    step: int
    checkpoint: str | None
    summary_dir: str
    metrics: dict
    preempted: bool


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that writes checkpoints, summaries and config."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type is None or task_type == "chief" or (
        task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()
    )


class StepTerms(NamedTuple):
    """What one update computed on this replica, for the step's metrics.

    Attributes:
      d_adv, g_adv: per-example adversarial losses of D and of G.
      mi: the mutual-information terms of the D/Q update's fake batch.
      real_logit, fake_logit: D's logits for the D/Q update's batches.
      d_grads, g_grads: the gradients applied to D/Q and to G.
      real_info: Q's information about the categories of the real batch
        (scalar; see InfoGANTrainer._real_info).
    """

    d_adv: tf.Tensor
    g_adv: tf.Tensor
    mi: losses.MutualInformationTerms
    real_logit: tf.Tensor
    fake_logit: tf.Tensor
    d_grads: list
    g_grads: list
    real_info: tf.Tensor


class InfoGANTrainer:
    """Holds networks, optimisers and state of one run; ``train()`` runs it.

    Args:
      config: the validated run configuration.
      strategy: a tf.distribute.Strategy (tests inject one); default from config.
      images: uint8 [N, H, W, C] training images (tests inject fakes); default
        loaded with TFDS from ``config.data``.
    """

    def __init__(
        self,
        config: TrainConfig,
        strategy: tf.distribute.Strategy | None = None,
        images: np.ndarray | None = None,
    ):
        self.config = config.validate()
        rt = config.runtime
        self.strategy = strategy or get_strategy(rt.strategy, rt.num_devices, rt.device)
        self.num_replicas = self.strategy.num_replicas_in_sync
        config.check_replicas(self.num_replicas)
        self.chief = is_chief(self.strategy)
        self.multi_worker = isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy)
        self._check_model_dir()
        self.images = images if images is not None else data_lib.load_train_images(config.data)
        # Non-chief workers take part in saving (it may involve collectives)
        # but write to a scratch directory (created by the first write) that
        # train() removes at the end.
        self.write_dir = (
            rt.model_dir
            if self.chief
            else os.path.join(tempfile.gettempdir(), f"infogan_worker_{os.getpid()}_{uuid.uuid4().hex[:8]}")
        )
        self._build()
        self.restored_from: str | None = None  # set by restore()
        self._stop_requested = False  # this process got SIGTERM
        self._preempted = False  # some worker got SIGTERM: every worker stops

    # ----------------------------------------------------------------- setup
    def _check_model_dir(self) -> None:
        """Refuses a model_dir with another configuration or a damaged checkpoint state.

        Only reads: config.json is (re)written by train() once the checkpoint
        has been restored, so a refused or failed start leaves model_dir as it was.
        """
        model_dir = self.config.runtime.model_dir
        saved = read_saved_config(model_dir)
        if saved is not None:
            check_resume_compatible(saved, self.config)
        latest_checkpoint(os.path.join(model_dir, CHECKPOINT_SUBDIR))

    def _build(self) -> None:
        # Initial weights follow --seed (Keras initialisers draw from the global seed).
        keras.utils.set_random_seed(self.config.runtime.seed)
        # Layers created below take this policy: "mixed_bfloat16" computes in
        # bfloat16 with float32 variables; networks return float32 outputs.
        policy = "mixed_bfloat16" if self.config.runtime.mixed_precision == "bfloat16" else "float32"
        previous_policy = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(policy)
        try:
            self._build_variables()
        finally:
            keras.mixed_precision.set_global_policy(previous_policy)
        # XLA cannot compile the iterator op, so only the per-replica step is
        # jit-compiled; the outer function fetches the batch and reduces.
        # Default (None): compile single-replica, single-process runs, which XLA supports.
        jit = self.config.runtime.jit_compile
        self.jit_compile = (self.num_replicas == 1 and not self.multi_worker) if jit is None else jit
        self._replica_fn = tf.function(self._replica_step, jit_compile=True) if self.jit_compile else self._replica_step
        self._train_step = tf.function(self._distributed_step)

    def _build_variables(self) -> None:
        o = self.config.optim
        with self.strategy.scope():
            self.generator, self.discriminator = build_networks(self.config.latent, self.config.model)
            self.g_optimizer = keras.optimizers.Adam(o.g_learning_rate, beta_1=o.beta1, beta_2=o.beta2)
            self.d_optimizer = keras.optimizers.Adam(o.d_learning_rate, beta_1=o.beta1, beta_2=o.beta2)
            # Keras 3 optimisers build lazily on first apply, which fails inside
            # a distributed tf.function: build them here, under the scope.
            self.g_optimizer.build(self.generator.trainable_variables)
            self.d_optimizer.build(self.discriminator.trainable_variables)
            self.step = tf.Variable(
                0, dtype=tf.int64, trainable=False, name="global_step",
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )
            # First step whose losses or gradients were non-finite (-1: none)
            # and which quantities (bit mask over GUARDED_QUANTITIES).
            self.nonfinite_step = tf.Variable(
                -1, dtype=tf.int64, trainable=False, name="nonfinite_step",
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )
            self.nonfinite_mask = tf.Variable(
                0, dtype=tf.int32, trainable=False, name="nonfinite_mask",
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )
        self.checkpoint = tf.train.Checkpoint(
            generator=self.generator,
            discriminator=self.discriminator,
            g_optimizer=self.g_optimizer,
            d_optimizer=self.d_optimizer,
            step=self.step,
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint,
            os.path.join(self.write_dir, CHECKPOINT_SUBDIR),
            max_to_keep=self.config.runtime.keep_checkpoints,
            step_counter=self.step,
        )

    def restore(self) -> int:
        """Restores the latest checkpoint if any; returns the step reached."""
        latest = latest_checkpoint(os.path.join(self.config.runtime.model_dir, CHECKPOINT_SUBDIR))
        self.restored_from = latest
        if latest is None:
            return 0
        status = None
        try:
            # Read every tensor once first: damaged files fail here (each
            # tensor has a checksum), before any variable is assigned.
            reader = tf.train.load_checkpoint(latest)
            for name in reader.get_variable_to_shape_map():
                reader.get_tensor(name)
            status = self.checkpoint.restore(latest)
            status.assert_existing_objects_matched()
        except Exception as e:
            if status is not None:
                status.expect_partial()  # no second warning about it at exit
            raise CheckpointError(
                f"cannot restore checkpoint {latest}: {type(e).__name__}: "
                f"{str(e).strip().splitlines()[0] if str(e).strip() else ''}"
            ) from e
        return int(self.step.numpy())

    def _check_workers_agree(self, start: int) -> None:
        """Multi-worker only: every worker must run the same flags from the same step.

        Workers that disagree would otherwise train silently apart (or wait
        for each other forever); all of them raise the same error instead.
        """
        if not self.multi_worker:
            return
        # Paths may differ from machine to machine; everything else must not.
        d = self.config.to_dict()
        d["runtime"]["model_dir"] = d["data"]["data_dir"] = d["data"]["manual_dir"] = None
        text = json.dumps(d, sort_keys=True)
        fingerprint = int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)
        local = tf.constant([[fingerprint, start]], tf.int64)
        # One row per replica, in replica order: each worker's replicas are contiguous.
        gather = tf.function(lambda: self.strategy.gather(self.strategy.run(lambda: tf.identity(local)), axis=0))
        try:
            rows = gather().numpy()
        except tf.errors.OpError as e:
            raise self._cluster_error(e, "at start-up") from e
        workers = rows[:: len(self.strategy.extended.worker_devices)]
        if len({int(r[0]) for r in workers}) > 1:
            odd = next(i for i, r in enumerate(workers) if r[0] != workers[0][0])
            raise ConfigError(
                f"worker {odd} was started with other flags than worker 0; every worker of a "
                "run needs the same flags (only the paths --model_dir, --data_dir, --manual_dir may differ)"
            )
        if len({int(r[1]) for r in workers}) > 1:
            steps = ", ".join(f"worker {i}: {int(r[1])}" for i, r in enumerate(workers))
            raise CheckpointError(
                f"the workers restored different steps ({steps}); every worker must read the "
                "chief's --model_dir (shared storage). Nothing was changed"
            )

    # ------------------------------------------------------------ train step
    def _replica_step(
        self, real_images: tf.Tensor, real_views: tf.Tensor | None, step: tf.Tensor, stop_requested: tf.Tensor
    ) -> dict:
        """One InfoGAN update on this replica's slice of the global batch.

        ``real_views`` are the second views of the real images for the
        real-image information term ("affine"), or None.

        ``stop_requested`` (this process got SIGTERM) is passed through, to be
        summed with the metrics: every worker then learns in the same step
        that one of them must stop, and they all save at that step.
        """
        cfg, spec = self.config, self.config.latent
        ctx = tf.distribute.get_replica_context()
        if cfg.runtime.inject_nan_step:
            # Test-only seam: poison the data at one step to exercise the guard.
            poison = tf.where(step + 1 == cfg.runtime.inject_nan_step, float("nan"), 0.0)
            real_images = real_images + poison

        # Sample the noise and codes: seeded by (seed, step, replica), so every
        # replica draws its own and a resumed run draws what it would have.
        seed = self._replica_seed(0x1F0, step)
        per_replica_batch = cfg.optim.batch_size // ctx.num_replicas_in_sync
        codes = spec.sample(per_replica_batch, seed)
        if cfg.optim.update == "joint":
            terms = self._joint_update(real_images, real_views, codes)
        else:
            # The G step draws its own (z, c), as the reference code does.
            g_codes = spec.sample(per_replica_batch, tf.random.experimental.stateless_fold_in(seed, 1))
            terms = self._alternating_update(real_images, real_views, codes, g_codes)

        average = self._average
        replica_mean = 1.0 / ctx.num_replicas_in_sync
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
            "stop_requested": tf.cast(stop_requested, tf.float32),
        }

    def _average(self, per_example: tf.Tensor) -> tf.Tensor:
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.config.optim.batch_size)

    def _mi_terms(self, codes, out: DiscriminatorOutput, rows: slice) -> losses.MutualInformationTerms:
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

    def _real_info(self, real_logits: list, view_logits: list | None) -> tf.Tensor:
        """Q's information about the categories of this replica's real images (scalar, nats).

        Without second views: H(E Q(c|x)) - E H(Q(c|x)); with them: I(c(x); c(x')).
        """
        if view_logits is None:
            return losses.categorical_information(real_logits)
        return losses.paired_categorical_information(real_logits, view_logits)

    def _replica_seed(self, stream: int, step: tf.Tensor) -> tf.Tensor:
        """Stateless seed of (run seed, stream, step, replica): each replica draws its own, a resumed run the same."""
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        return tf.random.experimental.stateless_fold_in(
            tf.random.experimental.stateless_fold_in(
                tf.constant([self.config.runtime.seed, stream], tf.int64), step
            ),
            tf.cast(replica, tf.int64),
        )

    def _second_views(self, real_images: tf.Tensor, step: tf.Tensor) -> tf.Tensor:
        """Random small affine copies of this replica's real images (outside XLA: no kernel there)."""
        seed = self._replica_seed(0xA6F, step)
        return random_affine(real_images, seed)

    def _real_info_loss(self, real_info: tf.Tensor) -> tf.Tensor:
        """-lambda_real_info * I(x; c), divided by the replicas because their gradients are summed."""
        replicas = tf.distribute.get_replica_context().num_replicas_in_sync
        return -self.config.optim.lambda_real_info * real_info / replicas

    def _joint_update(self, real_images: tf.Tensor, real_views: tf.Tensor | None, codes) -> StepTerms:
        """D/Q and G updated simultaneously from one forward pass of [real; fake (; views)]."""
        batch = tf.shape(real_images)[0]
        with tf.GradientTape(persistent=True) as tape:
            fake_images = self.generator(codes.z, codes.c, training=True)
            views = [] if real_views is None else [real_views]
            out = self.discriminator(tf.concat([real_images, fake_images, *views], axis=0), training=True)
            real_logit, fake_logit = out.d_logit[:batch], out.d_logit[batch : 2 * batch]
            mi = self._mi_terms(codes, out, slice(batch, 2 * batch))
            # D (and Q): classify real vs fake and recover c. G: fool D (non-saturating), keep c recoverable.
            d_adv = losses.discriminator_loss(real_logit, fake_logit)
            g_adv = losses.generator_loss(fake_logit)
            real_info = self._real_info(
                [logits[:batch] for logits in out.categorical_logits],
                None if real_views is None else [logits[2 * batch :] for logits in out.categorical_logits],
            )
            d_loss = self._average(d_adv + mi.loss) + self._real_info_loss(real_info)
            g_loss = self._average(g_adv + mi.loss)
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        d_grads = tape.gradient(d_loss, d_vars)
        g_grads = tape.gradient(g_loss, g_vars)
        del tape
        # Gradients are summed across replicas inside apply_gradients.
        self.d_optimizer.apply_gradients(zip(d_grads, d_vars))
        self.g_optimizer.apply_gradients(zip(g_grads, g_vars))
        return StepTerms(d_adv, g_adv, mi, real_logit, fake_logit, d_grads, g_grads, real_info)

    def _alternating_update(self, real_images: tf.Tensor, real_views: tf.Tensor | None, codes, g_codes) -> StepTerms:
        """A D/Q step, then a G step against the updated D on fresh codes.

        D sees the real and the fake batch in separate calls, so each is
        batch-normalised with its own statistics.
        """
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        fake_images = tf.stop_gradient(self.generator(codes.z, codes.c, training=True))
        with tf.GradientTape() as tape:
            real_out = self.discriminator(real_images, training=True)
            real_logit = real_out.d_logit
            fake_out = self.discriminator(fake_images, training=True)
            mi = self._mi_terms(codes, fake_out, slice(None))
            d_adv = losses.discriminator_loss(real_logit, fake_out.d_logit)
            view_logits = (
                None if real_views is None else self.discriminator(real_views, training=True).categorical_logits
            )
            real_info = self._real_info(real_out.categorical_logits, view_logits)
            d_loss = self._average(d_adv + mi.loss) + self._real_info_loss(real_info)
        d_grads = tape.gradient(d_loss, d_vars)
        self.d_optimizer.apply_gradients(zip(d_grads, d_vars))

        with tf.GradientTape() as tape:
            g_out = self.discriminator(self.generator(g_codes.z, g_codes.c, training=True), training=True)
            g_adv = losses.generator_loss(g_out.d_logit)
            g_loss = self._average(g_adv + self._mi_terms(g_codes, g_out, slice(None)).loss)
        g_grads = tape.gradient(g_loss, g_vars)
        self.g_optimizer.apply_gradients(zip(g_grads, g_vars))
        return StepTerms(d_adv, g_adv, mi, real_logit, fake_out.d_logit, d_grads, g_grads, real_info)

    def _distributed_step(self, iterator, stop_requested: tf.Tensor) -> dict:
        """Runs one step on all replicas and reduces the metrics (in graph)."""
        step = self.step.read_value()
        real_images = next(iterator)
        real_views = None
        if self.config.optim.real_info_view == "affine":
            real_views = self.strategy.run(self._second_views, args=(real_images, step))
        per_replica = self.strategy.run(self._replica_fn, args=(real_images, real_views, step, stop_requested))
        # All scalars in one all-reduce: across workers every collective is a network round trip.
        names = list(per_replica)
        stacked = self.strategy.run(lambda values: tf.stack([values[n] for n in names]), args=(per_replica,))
        summed = tf.unstack(self.strategy.reduce(tf.distribute.ReduceOp.SUM, stacked, axis=None))
        metrics = dict(zip(names, summed))
        metrics["info_lower_bound"] = self.config.latent.categorical_entropy() - metrics["mi_categorical_ce"]
        # Record the first step at which anything guarded stops being finite.
        bits = [
            tf.where(tf.math.is_finite(metrics[name]), 0, 1 << i)
            for i, name in enumerate(GUARDED_QUANTITIES)
        ]
        mask = tf.add_n(bits)
        first = tf.logical_and(mask > 0, self.nonfinite_step < 0)
        self.nonfinite_step.assign(tf.where(first, step + 1, self.nonfinite_step))
        self.nonfinite_mask.assign(tf.where(first, mask, self.nonfinite_mask))
        self.step.assign_add(1)
        return metrics

    @property
    def tracing_count(self) -> int:
        return self._train_step.experimental_get_tracing_count()

    # --------------------------------------------------------------- guards
    def check_finite(self) -> None:
        """Raises NonFiniteError if any step so far produced a NaN/Inf."""
        bad_step = int(self.nonfinite_step.numpy())
        if bad_step < 0:
            return
        mask = int(self.nonfinite_mask.numpy())
        names = [n for i, n in enumerate(GUARDED_QUANTITIES) if mask & (1 << i)]
        last = (
            self.manager.latest_checkpoint
            if self.chief
            else tf.train.latest_checkpoint(os.path.join(self.config.runtime.model_dir, CHECKPOINT_SUBDIR))
        )
        raise NonFiniteError(
            f"non-finite {', '.join(names)} at step {bad_step}; training stopped. "
            f"The last good checkpoint is {last or 'none (nothing was saved)'}"
        )

    def save(self) -> str | None:
        """Saves a checkpoint, but only if every step so far was finite."""
        self.check_finite()
        return self.manager.save(checkpoint_number=int(self.step.numpy()))

    # ------------------------------------------------------------- summaries
    def traversal_grid(self) -> np.ndarray:
        """[1, H', W', C] uint8 traversal grid from the current generator."""
        spec = self.config.latent
        inputs = visualize.traversal_inputs(spec, seed=self.config.runtime.seed)
        c = spec.flatten(inputs.categorical, inputs.continuous)
        images = data_lib.to_unit_range(self.generator(inputs.z, c, training=False)).numpy()
        grid = visualize.tile_grid(visualize.to_uint8(images), inputs.rows, inputs.cols)
        return grid[None]

    # ------------------------------------------------------------------ loop
    def _cluster_error(self, error: tf.errors.OpError, when: str) -> ClusterError:
        """Multi-worker: one line for a collective that failed because a worker went away."""
        tasks = sorted(set(re.findall(r"/job:\w+/replica:\d+/task:\d+", error.message)))
        lost = f"lost {', '.join(tasks)}" if tasks else "failed"
        last = tf.train.latest_checkpoint(os.path.join(self.config.runtime.model_dir, CHECKPOINT_SUBDIR))
        return ClusterError(
            f"the cluster {lost} {when} ({type(error).__name__}); restart every worker with the "
            f"same flags to resume from {last or 'step 0 (no checkpoint yet)'}"
        )

    def _on_sigterm(self, signum, frame):  # noqa: ARG002
        logging.warning("SIGTERM received: every worker saves a checkpoint after the next step and exits.")
        self._stop_requested = True

    def train(self, progress: Callable[[str], None] | None = None) -> TrainResult:
        """Trains from the latest checkpoint (if any) to ``optim.train_steps``."""
        cfg, rt = self.config, self.config.runtime
        say = progress or logging.info
        start = self.restore()
        self._check_workers_agree(start)
        if start:
            say(f"resumed from {self.restored_from} at step {start}")
        if self.chief:
            os.makedirs(rt.model_dir, exist_ok=True)
            write_config(self.config)
            _remove_unfinished_writes(os.path.join(rt.model_dir, CHECKPOINT_SUBDIR))
        input_fn = data_lib.make_input_fn(self.images, cfg.optim.batch_size, rt.seed, start_step=start)
        dataset = self.strategy.distribute_datasets_from_function(input_fn)
        iterator = iter(dataset)
        summary_dir = os.path.join(self.write_dir, SUMMARY_SUBDIR)
        writer = tf.summary.create_file_writer(summary_dir)
        metrics_path = os.path.join(self.write_dir, METRICS_LOG)
        entropy = cfg.latent.categorical_entropy()

        previous_handler = None
        try:
            previous_handler = signal.signal(signal.SIGTERM, self._on_sigterm)
        except ValueError:  # not in the main thread: no preemption handling
            pass

        step = start
        # What is on disk; every worker decides the same way when to save
        # (saving may involve collectives), so they track the step, not paths.
        last_checkpoint, saved_step = self.restored_from, (start if self.restored_from else None)
        metrics: dict = {}
        window_start, window_step = time.time(), step
        loop_start = window_start
        try:
            while step < cfg.optim.train_steps and not self._preempted:
                try:
                    out = self._train_step(iterator, tf.constant(self._stop_requested))
                except tf.errors.OpError as e:
                    if self.multi_worker:
                        raise self._cluster_error(e, f"during step {step + 1}") from e
                    raise
                self._preempted = bool(out.pop("stop_requested") > 0)
                step += 1
                at_log = step % rt.log_every == 0 or step == cfg.optim.train_steps
                at_summary = step % rt.summary_every == 0
                if at_log or at_summary:
                    metrics = {k: float(v) for k, v in out.items()}
                    self.check_finite()
                    now = time.time()
                    rate = (step - window_step) / max(now - window_start, 1e-9)
                    window_start, window_step = now, step
                    metrics["steps_per_sec"] = rate
                    # Seconds since this process started (or resumed) training.
                    metrics["elapsed_s"] = now - loop_start
                    eta = (cfg.optim.train_steps - step) / rate if rate > 0 else float("inf")
                    say(
                        f"step {step}/{cfg.optim.train_steps} d_loss={metrics['d_loss']:.4f} "
                        f"g_loss={metrics['g_loss']:.4f} mi_loss={metrics['mi_loss']:.4f} "
                        f"L_I={metrics['info_lower_bound']:.4f}/{entropy:.4f} "
                        f"I_real={metrics['real_info']:.3f} "
                        f"D(x)={metrics['d_real']:.3f} D(G(z))={metrics['d_fake']:.3f} "
                        f"{rate:.2f} steps/s ETA {_format_eta(eta)}"
                    )
                    if self.chief:
                        with open(metrics_path, "a") as f:
                            f.write(json.dumps({"step": step, **metrics}) + "\n")
                    with writer.as_default(step=step):
                        for name, value in metrics.items():
                            tf.summary.scalar(name, value)
                        tf.summary.scalar("categorical_entropy", entropy)
                        if at_summary:
                            tf.summary.image("traversal", self.traversal_grid())
                if step % rt.checkpoint_every == 0:
                    last_checkpoint, saved_step = self.save(), step
            if step != saved_step:
                last_checkpoint = self.save()
        finally:
            writer.close()
            if previous_handler is not None:
                signal.signal(signal.SIGTERM, previous_handler)
            if not self.chief:
                shutil.rmtree(self.write_dir, ignore_errors=True)
        if self._preempted:
            saved = last_checkpoint if self.chief else f"the chief's checkpoint of step {step}"
            say(f"preempted: saved {saved}; rerun the same command to resume")
        return TrainResult(
            step=step,
            checkpoint=last_checkpoint if self.chief else None,
            summary_dir=os.path.join(cfg.runtime.model_dir, SUMMARY_SUBDIR),
            metrics=metrics,
            preempted=self._preempted,
        )


def latest_checkpoint(directory: str) -> str | None:
    """The checkpoint that ``directory``'s state file names, checked to be there.

    TF writes a checkpoint's files first and only then atomically replaces the
    state file (``checkpoint``), so a run killed at any moment leaves a state
    file naming a complete checkpoint (files of an unfinished one are never
    named, and are overwritten when that step is saved again). A state file
    that cannot be parsed, or that names a checkpoint without its index file,
    means the directory was damaged or copied in part. That is refused rather
    than skipped: skipping would restart from step 0 and later delete the
    older checkpoints.
    """
    state_file = os.path.join(directory, "checkpoint")
    if not tf.io.gfile.exists(state_file):
        return None
    try:
        state = tf.train.get_checkpoint_state(directory)
    except ValueError:  # parses, but names no checkpoint
        state = None
    if state is None:
        raise CheckpointError(
            f"{state_file} is not a readable checkpoint state; nothing was changed "
            "(move the checkpoints directory away to start afresh)"
        )
    latest = state.model_checkpoint_path
    if not tf.io.gfile.exists(latest + ".index"):
        raise CheckpointError(f"{state_file} names {latest}, but {latest}.index is missing; nothing was changed")
    return latest


def _remove_unfinished_writes(directory: str) -> None:
    """Deletes what a killed checkpoint write left (the state file never names it)."""
    for path in tf.io.gfile.glob(os.path.join(directory, "ckpt-*_temp")) + tf.io.gfile.glob(
        os.path.join(directory, "checkpoint.tmp*")
    ):
        logging.warning("removing %s, left by an interrupted checkpoint write", path)
        if tf.io.gfile.isdir(path):
            tf.io.gfile.rmtree(path)
        else:
            tf.io.gfile.remove(path)


def _format_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def train(
    config: TrainConfig,
    strategy: tf.distribute.Strategy | None = None,
    images: np.ndarray | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainResult:
    """Library entry point: builds a trainer and runs it (see InfoGANTrainer)."""
    return InfoGANTrainer(config, strategy=strategy, images=images).train(progress=progress)

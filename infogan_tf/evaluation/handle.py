"""The model handle: what the metrics need from a trained InfoGAN, whatever its source.

Every metric in this package sees a trained model only through a
:class:`ModelHandle`, a named pair of numpy-in / numpy-out callables:

* ``generate(z, c) -> images``: float32 images in **[0, 1]**, shape
  [N, H, W, C], from noise ``z`` [N, noise_dim] and the flat code ``c``
  [N, code_dim] laid out as in :mod:`infogan_tf.latent` (one-hots, then the
  continuous values);
* ``encode(images) -> QOutput``: what Q says about float32 images in
  **[0, 1]** (the same range ``generate`` returns and the exported
  signatures use).

:func:`handle_from_model_dir` builds one from a training run's checkpoint
(Keras networks restored by ``training.rundir.restore_networks``, the checkpoints' one owner); a SavedModel-backed
handle only has to provide the same two callables. Helpers here run a handle
over large arrays in batches and draw the fresh (z, c) samples that the
mutual-information, code-recovery and sample-quality metrics share.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from infogan_tf.latent import LatentSpec


class QOutput(NamedTuple):
    """Q's posterior over the codes for a batch of images.

    Attributes:
      categorical_probs: one float [N, K_i] array of probabilities per
        categorical code (rows sum to 1).
      continuous_mean: float [N, n_continuous], the mean of Q(c_cont | x).
      continuous_std: float [N, n_continuous], its standard deviation
        (ones when the model was trained with a fixed std).
    """

    categorical_probs: tuple
    continuous_mean: np.ndarray
    continuous_std: np.ndarray


class ModelHandle(NamedTuple):
    """A trained model as seen by the metrics.

    Attributes:
      latent: the model's latent-code structure.
      generate: ``(z, c) -> images`` float32 in [0, 1], [N, H, W, C].
      encode: ``images in [0, 1] -> QOutput``.
      step: the training step of the weights (-1 when unknown).
      source: where the weights came from (a checkpoint path or directory).
    """

    latent: LatentSpec
    generate: Callable[[np.ndarray, np.ndarray], np.ndarray]
    encode: Callable[[np.ndarray], QOutput]
    step: int
    source: str


class CodeSamples(NamedTuple):
    """Fresh samples from the priors, the images G made of them, and Q's reading.

    Attributes:
      categorical: int [N, n_categorical], the category index of each code.
      continuous: float [N, n_continuous], the continuous code values.
      images: float32 [N, H, W, C] in [0, 1], G(z, c).
      q: Q's output on ``images``.
    """

    categorical: np.ndarray
    continuous: np.ndarray
    images: np.ndarray
    q: QOutput


def concat_q(parts: list[QOutput]) -> QOutput:
    """Concatenates per-batch Q outputs along the example axis."""
    n_codes = len(parts[0].categorical_probs)
    return QOutput(
        categorical_probs=tuple(np.concatenate([p.categorical_probs[i] for p in parts]) for i in range(n_codes)),
        continuous_mean=np.concatenate([p.continuous_mean for p in parts]),
        continuous_std=np.concatenate([p.continuous_std for p in parts]),
    )


def encode_in_batches(handle: ModelHandle, images: np.ndarray, batch_size: int) -> QOutput:
    """Runs ``handle.encode`` over [N, H, W, C] images in [0, 1], ``batch_size`` at a time."""
    if len(images) == 0:
        raise ValueError("encode_in_batches: no images")
    return concat_q([handle.encode(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])


def generate_in_batches(handle: ModelHandle, z: np.ndarray, c: np.ndarray, batch_size: int) -> np.ndarray:
    """Runs ``handle.generate`` over matching rows of z and c, ``batch_size`` at a time."""
    return np.concatenate(
        [
            np.asarray(handle.generate(z[i : i + batch_size], c[i : i + batch_size]))
            for i in range(0, len(z), batch_size)
        ]
    )


def draw_samples(handle: ModelHandle, num_samples: int, batch_size: int, seed: int) -> CodeSamples:
    """Draws (z, c) from the priors, generates images and encodes them with Q.

    The priors are the model's own (:meth:`LatentSpec.sample`), seeded by
    ``seed`` so two evaluations of the same model see the same codes.
    """
    import tensorflow as tf

    if num_samples <= 0:
        raise ValueError(f"num_samples must be positive, got {num_samples}")
    batch = handle.latent.sample(num_samples, tf.constant([seed, 0x5EED], tf.int64))
    z, c = batch.z.numpy(), batch.c.numpy()
    images = generate_in_batches(handle, z, c, batch_size)
    return CodeSamples(
        categorical=batch.categorical.numpy(),
        continuous=batch.continuous.numpy(),
        images=images,
        q=encode_in_batches(handle, images, batch_size),
    )


def handle_from_model_dir(model_dir: str, checkpoint: str | None = None) -> ModelHandle:
    """Restores G and D/Q of a training run into a :class:`ModelHandle`.

    Args:
      model_dir: the run's directory (holds config.json and checkpoints/).
      checkpoint: a checkpoint path prefix; default the latest in model_dir.

    Raises:
      RunDirError: no config or no checkpoint. CheckpointError: a damaged
        checkpoint (or state file), or weights that do not match the saved
        architecture -- the same refusal as ``infogan-train``'s
        (``training.rundir``).
    """
    from infogan_tf.training.rundir import restore_networks

    restored = restore_networks(model_dir, checkpoint)
    return keras_handle(
        restored.generator, restored.discriminator, restored.config.latent, restored.step, restored.checkpoint
    )


def keras_handle(generator, discriminator, latent: LatentSpec, step: int = -1, source: str = "") -> ModelHandle:
    """A handle over live Keras networks (G outputs and D inputs in [-1, 1])."""
    import tensorflow as tf

    from infogan_tf.data.pixels import to_unit_range, unit_to_model_range

    image_spec = tf.TensorSpec([None, *discriminator.model_config.image_shape], tf.float32)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, latent.noise_dim], tf.float32),
            tf.TensorSpec([None, latent.code_dim], tf.float32),
        ]
    )
    def _generate(z, c):
        return to_unit_range(generator(z, c, training=False))

    @tf.function(input_signature=[image_spec])
    def _encode(images):
        out = discriminator(unit_to_model_range(images), training=False)
        probs = tuple(tf.nn.softmax(logits) for logits in out.categorical_logits)
        return probs, out.continuous_mean, tf.exp(out.continuous_log_std)

    def generate(z, c):
        return _generate(np.asarray(z, np.float32), np.asarray(c, np.float32)).numpy()

    def encode(images):
        probs, mean, std = _encode(np.asarray(images, np.float32))
        return QOutput(tuple(p.numpy() for p in probs), mean.numpy(), std.numpy())

    return ModelHandle(latent=latent, generate=generate, encode=encode, step=step, source=source)

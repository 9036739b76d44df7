"""The generator and the shared-trunk discriminator with its D and Q heads.

Default sizes follow the paper's MNIST architecture (Chen et al. 2016,
Appendix C, Table 1), generalised to any (H, W, C) with H and W divisible by 4:

  G(z, c): FC g_fc_units, BN, ReLU -> FC (H/4)(W/4)g_base_filters, BN, ReLU
           -> upconv g_base_filters/2 4x4 s2, BN, ReLU -> upconv C 4x4 s2 -> tanh
  trunk(x): conv d_filters[0] 4x4 s2, lReLU -> conv d_filters[1] 4x4 s2, BN,
           lReLU -> FC d_fc_units, BN, lReLU
  D head:  FC 1 (real/fake logit)
  Q head:  FC q_fc_units, BN, lReLU -> per categorical code k logits,
           continuous mean and log-std (learned) or log-std 0 (fixed).

Q shares the trunk with D, which is what makes L_I almost free to compute
(Sec. 5 of the paper). Images are in [-1, 1] (tanh), the training data is
scaled to match; exported signatures map them to [0, 1].

BatchNormalization uses ``synchronized=True``: under a multi-replica
tf.distribute strategy the batch statistics are all-reduced, so every replica
normalises with the global batch and keeps identical moving statistics (only
one copy is saved). On a single replica it is the ordinary layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import keras
import tensorflow as tf

from infogan_tf.config import ModelConfig
from infogan_tf.latent import LatentSpec


class DiscriminatorOutput(NamedTuple):
    """What the shared-trunk network says about a batch of images.

    Attributes:
      d_logit: [B] real-vs-fake logit.
      categorical_logits: one [B, K_i] tensor per categorical code (logits,
        never softmaxed here: the losses take logits).
      continuous_mean: [B, n_continuous] mean of Q(c_cont | x).
      continuous_log_std: [B, n_continuous] log standard deviation (zeros
        when the std is fixed).
    """

    d_logit: tf.Tensor
    categorical_logits: tuple
    continuous_mean: tf.Tensor
    continuous_log_std: tf.Tensor


def _bn(name: str) -> keras.layers.BatchNormalization:
    # momentum 0.9 / epsilon 1e-5 as in common GAN practice; synchronized so
    # replicas share statistics (see module docstring).
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=True, name=name)


# How G computes an upconvolution: ``upsample(layer, x)``; by default the Keras layer itself.
Upsample = Callable[[keras.layers.Conv2DTranspose, tf.Tensor], tf.Tensor]


def _apply(layer: keras.layers.Conv2DTranspose, x: tf.Tensor) -> tf.Tensor:
    return layer(x)


class Generator(keras.Model):
    """G(z, c) -> images in [-1, 1] of shape model_config.image_shape."""

    def __init__(self, latent: LatentSpec, model_config: ModelConfig, **kwargs):
        super().__init__(name=kwargs.pop("name", "generator"), **kwargs)
        self.latent = latent
        self.model_config = model_config
        h, w, ch = model_config.image_shape
        self._grid = (h // 4, w // 4, model_config.g_base_filters)
        self.fc1 = keras.layers.Dense(model_config.g_fc_units, use_bias=False, name="fc1")
        self.bn1 = _bn("bn1")
        self.fc2 = keras.layers.Dense(self._grid[0] * self._grid[1] * self._grid[2], use_bias=False, name="fc2")
        self.bn2 = _bn("bn2")
        self.up1 = keras.layers.Conv2DTranspose(
            model_config.g_base_filters // 2, 4, strides=2, padding="same", use_bias=False, name="upconv1"
        )
        self.bn3 = _bn("bn3")
        self.up2 = keras.layers.Conv2DTranspose(ch, 4, strides=2, padding="same", name="upconv2")

    def call(self, z, c, training=False, upsample: Upsample | None = None):
        """G(z, c); ``upsample(layer, x)`` may compute the two upconvolutions another way (serving does)."""
        up = upsample or _apply
        x = tf.concat([tf.cast(z, self.compute_dtype), tf.cast(c, self.compute_dtype)], axis=-1)
        x = tf.nn.relu(self.bn1(self.fc1(x), training=training))
        x = tf.nn.relu(self.bn2(self.fc2(x), training=training))
        x = tf.reshape(x, [-1, *self._grid])
        x = tf.nn.relu(self.bn3(up(self.up1, x), training=training))
        # Images leave G in float32 whatever the compute dtype.
        return tf.tanh(tf.cast(up(self.up2, x), tf.float32))

    def build_variables(self) -> Generator:
        """Creates the variables (subclassed models only get them when called)."""
        spec = self.latent
        self(tf.zeros([1, spec.noise_dim]), tf.zeros([1, spec.code_dim]))
        return self


class Discriminator(keras.Model):
    """The shared trunk with its D head and Q head; returns DiscriminatorOutput."""

    def __init__(self, latent: LatentSpec, model_config: ModelConfig, **kwargs):
        super().__init__(name=kwargs.pop("name", "discriminator"), **kwargs)
        self.latent = latent
        self.model_config = model_config
        f1, f2 = model_config.d_filters
        self.slope = model_config.leaky_slope
        # Shared trunk.
        self.conv1 = keras.layers.Conv2D(f1, 4, strides=2, padding="same", name="conv1")
        self.conv2 = keras.layers.Conv2D(f2, 4, strides=2, padding="same", use_bias=False, name="conv2")
        self.bn2 = _bn("bn2")
        self.flatten = keras.layers.Flatten(name="flatten")
        self.fc = keras.layers.Dense(model_config.d_fc_units, use_bias=False, name="fc")
        self.bn3 = _bn("bn3")
        # D head.
        self.d_head = keras.layers.Dense(1, name="d_head")
        # Q head.
        self.q_fc = keras.layers.Dense(model_config.q_fc_units, use_bias=False, name="q_fc")
        self.q_bn = _bn("q_bn")
        self.q_categorical = (
            keras.layers.Dense(latent.categorical_dim, name="q_categorical") if latent.categorical else None
        )
        self.q_mean = keras.layers.Dense(latent.continuous, name="q_mean") if latent.continuous else None
        self.q_log_std = (
            keras.layers.Dense(latent.continuous, name="q_log_std")
            if latent.continuous and model_config.continuous_std == "learned"
            else None
        )

    def trunk(self, images, training=False):
        """The layers D and Q share."""
        lrelu = lambda t: tf.nn.leaky_relu(t, alpha=self.slope)
        x = lrelu(self.conv1(tf.cast(images, self.compute_dtype)))
        x = lrelu(self.bn2(self.conv2(x), training=training))
        x = lrelu(self.bn3(self.fc(self.flatten(x)), training=training))
        return x

    def call(self, images, training=False) -> DiscriminatorOutput:
        h = self.trunk(images, training=training)
        d_logit = tf.cast(self.d_head(h), tf.float32)[:, 0]
        q = tf.nn.leaky_relu(self.q_bn(self.q_fc(h), training=training), alpha=self.slope)
        batch = tf.shape(images)[0]
        if self.q_categorical is not None:
            logits = tf.cast(self.q_categorical(q), tf.float32)
            categorical_logits = tuple(logits[:, s] for s in self.latent.categorical_slices())
        else:
            categorical_logits = ()
        if self.q_mean is not None:
            mean = tf.cast(self.q_mean(q), tf.float32)
        else:
            mean = tf.zeros([batch, 0], tf.float32)
        if self.q_log_std is not None:
            log_std = tf.cast(self.q_log_std(q), tf.float32)
        else:
            log_std = tf.zeros_like(mean)
        return DiscriminatorOutput(d_logit, categorical_logits, mean, log_std)

    def build_variables(self) -> Discriminator:
        self(tf.zeros([1, *self.model_config.image_shape]))
        return self

    def q_head_variables(self) -> list:
        """Variables that belong to the Q head only (for gradient tests)."""
        layers = [self.q_fc, self.q_bn, self.q_categorical, self.q_mean, self.q_log_std]
        return [v for layer in layers if layer is not None for v in layer.trainable_variables]

    def trunk_variables(self) -> list:
        layers = [self.conv1, self.conv2, self.bn2, self.fc, self.bn3]
        return [v for layer in layers for v in layer.trainable_variables]


class Networks(NamedTuple):
    generator: Generator
    discriminator: Discriminator


def build_networks(latent: LatentSpec, model_config: ModelConfig) -> Networks:
    """Builds both networks with their variables (call under a strategy scope)."""
    return Networks(
        Generator(latent, model_config).build_variables(),
        Discriminator(latent, model_config).build_variables(),
    )

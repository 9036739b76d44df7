"""The generator and the shared-trunk discriminator with its D and Q heads, built by one rule.

``infogan_tf.architecture.network_plan`` sizes both from the image shape
(H, W, C) and the layer description in ModelConfig; the defaults are the
paper's MNIST networks (Chen et al. 2016, Appendix C, Table 1), the presets
its other tables:

  G(z, c): [FC g_fc_units, BN, ReLU] -> FC h0 x w0 x g_filters[0], BN, ReLU
           -> per further g_filters entry: 4x4 upconv, [BN], ReLU
           -> 4x4 upconv to C channels -> tanh
           (the last log2(H / h0) upconvolutions have stride 2, the others 1)
  trunk(x): 4x4 conv d_filters[0], lReLU -> per further entry: 4x4 conv, BN,
           lReLU (stride 2 down to G's first grid, then 1) -> [FC d_fc_units,
           BN, lReLU]
  D head:  FC 1 (real/fake logit)
  Q head:  [FC q_fc_units, BN, lReLU] -> per categorical code k logits,
           continuous mean and log-std (learned) or log-std 0 (fixed)
           [, q_overcluster logits of an auxiliary over-clustering head].
  ([...]: absent when its width is 0, as in the SVHN and CelebA tables.)

Q shares the trunk with D, which is what makes L_I almost free to compute
(Sec. 5 of the paper). Images are in [-1, 1] (tanh; the paper's 3D-faces and
chairs tables end in a sigmoid, the same map up to the pixel scale), the
training data is scaled to match; exported signatures map them to [0, 1].

Layers are attributes named as in the MNIST networks (fc1, bn1, fc2, bn2,
up1, bn3, up2; conv1, conv2, bn2, fc, bn3, ...), numbered on for more
layers: checkpoints of MNIST runs restore unchanged.

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

from infogan_tf.architecture import ModelConfig, network_plan
from infogan_tf.latent import LatentSpec
from infogan_tf.model.batchnorm import BatchNormalization


class DiscriminatorOutput(NamedTuple):
    """What the shared-trunk network says about a batch of images.

    Attributes:
      d_logit: [B] real-vs-fake logit.
      categorical_logits: one [B, K_i] tensor per categorical code (logits,
        never softmaxed here: the losses take logits).
      continuous_mean: [B, n_continuous] mean of Q(c_cont | x).
      continuous_log_std: [B, n_continuous] log standard deviation (zeros
        when the std is fixed).
      overcluster_logits: [B, q_overcluster] logits of the auxiliary
        over-clustering head ([B, 0] without one); not a latent code.
    """

    d_logit: tf.Tensor
    categorical_logits: tuple
    continuous_mean: tf.Tensor
    continuous_log_std: tf.Tensor
    overcluster_logits: tf.Tensor

    def split(self, parts: int) -> list[DiscriminatorOutput]:
        """The outputs of ``parts`` equal batches concatenated, one DiscriminatorOutput each (in order)."""
        pieces = lambda t: tf.split(t, parts, axis=0)
        logits = [pieces(t) for t in self.categorical_logits]
        return [
            DiscriminatorOutput(d, tuple(code[i] for code in logits), mean, log_std, over)
            for i, (d, mean, log_std, over) in enumerate(
                zip(
                    pieces(self.d_logit),
                    pieces(self.continuous_mean),
                    pieces(self.continuous_log_std),
                    pieces(self.overcluster_logits),
                )
            )
        ]


def _bn(name: str) -> BatchNormalization:
    # momentum 0.9 / epsilon 1e-5 as in common GAN practice; synchronized so
    # replicas share statistics (see module docstring).
    return BatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=True, name=name)


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
        plan = network_plan(model_config)
        m, ch = model_config, model_config.image_shape[2]
        self._grid = (*plan.grid, m.g_filters[0])
        self.fc1 = keras.layers.Dense(m.g_fc_units, use_bias=False, name="fc1") if m.g_fc_units else None
        self.bn1 = _bn("bn1") if m.g_fc_units else None
        self.fc2 = keras.layers.Dense(self._grid[0] * self._grid[1] * self._grid[2], use_bias=False, name="fc2")
        self.bn2 = _bn("bn2")
        hidden = len(m.g_filters) - 1
        normalised = hidden if m.g_upconv_batchnorm < 0 else m.g_upconv_batchnorm
        self._upconvs = len(m.g_filters)
        for i, (filters, stride) in enumerate(zip((*m.g_filters[1:], ch), plan.g_strides), start=1):
            last, bn = i == self._upconvs, i <= normalised
            layer = keras.layers.Conv2DTranspose(
                filters, 4, strides=stride, padding="same", use_bias=last or not bn, name=f"upconv{i}"
            )
            setattr(self, f"up{i}", layer)
            if not last:
                setattr(self, f"bn{i + 2}", _bn(f"bn{i + 2}") if bn else None)

    @property
    def upconvolutions(self) -> tuple:
        """G's transposed convolutions, in order (the last makes the image)."""
        return tuple(getattr(self, f"up{i}") for i in range(1, self._upconvs + 1))

    def call(self, z, c, training=False, upsample: Upsample | None = None):
        """G(z, c); ``upsample(layer, x)`` may compute the upconvolutions another way (serving does)."""
        up = upsample or _apply
        x = tf.concat([tf.cast(z, self.compute_dtype), tf.cast(c, self.compute_dtype)], axis=-1)
        if self.fc1 is not None and self.bn1 is not None:
            x = tf.nn.relu(self.bn1(self.fc1(x), training=training))
        x = tf.nn.relu(self.bn2(self.fc2(x), training=training))
        x = tf.reshape(x, [-1, *self._grid])
        *hidden, last = self.upconvolutions
        for i, layer in enumerate(hidden, start=1):
            x = up(layer, x)
            bn = getattr(self, f"bn{i + 2}")
            x = tf.nn.relu(bn(x, training=training) if bn is not None else x)
        # Images leave G in float32 whatever the compute dtype.
        return tf.tanh(tf.cast(up(last, x), tf.float32))

    def build_variables(self) -> Generator:
        """Creates the variables (subclassed models only get them when called)."""
        spec = self.latent
        self(tf.zeros([1, spec.noise_dim]), tf.zeros([1, spec.code_dim]))
        return self


class Discriminator(keras.Model):
    """The shared trunk with its D head and Q head; returns DiscriminatorOutput.

    ``overcluster``: categories of Q's auxiliary over-clustering head (0: none;
    ``config.RealInfoConfig.q_overcluster``, trained by the real-image term only).
    """

    def __init__(self, latent: LatentSpec, model_config: ModelConfig, overcluster: int = 0, **kwargs):
        super().__init__(name=kwargs.pop("name", "discriminator"), **kwargs)
        self.latent = latent
        self.model_config = model_config
        m = model_config
        plan = network_plan(m)
        self.slope = m.leaky_slope
        # Shared trunk: conv1 (no BN), then conv_i with bn_i.
        self._convs = len(m.d_filters)
        for i, (filters, stride) in enumerate(zip(m.d_filters, plan.d_strides), start=1):
            conv = keras.layers.Conv2D(filters, 4, strides=stride, padding="same", use_bias=i == 1, name=f"conv{i}")
            setattr(self, f"conv{i}", conv)
            if i > 1:
                setattr(self, f"bn{i}", _bn(f"bn{i}"))
        self.flatten = keras.layers.Flatten(name="flatten")
        self.fc = keras.layers.Dense(m.d_fc_units, use_bias=False, name="fc") if m.d_fc_units else None
        self._fc_bn = f"bn{self._convs + 1}"
        setattr(self, self._fc_bn, _bn(self._fc_bn) if m.d_fc_units else None)
        # D head.
        self.d_head = keras.layers.Dense(1, name="d_head")
        # Q head.
        self.q_fc = keras.layers.Dense(m.q_fc_units, use_bias=False, name="q_fc") if m.q_fc_units else None
        self.q_bn = _bn("q_bn") if m.q_fc_units else None
        self.q_categorical = (
            keras.layers.Dense(latent.categorical_dim, name="q_categorical") if latent.categorical else None
        )
        self.q_mean = keras.layers.Dense(latent.continuous, name="q_mean") if latent.continuous else None
        self.q_overcluster = keras.layers.Dense(overcluster, name="q_overcluster") if overcluster else None
        self.q_log_std = (
            keras.layers.Dense(latent.continuous, name="q_log_std")
            if latent.continuous and m.continuous_std == "learned"
            else None
        )

    def _trunk_layers(self) -> list:
        names = [f"conv{i}" for i in range(1, self._convs + 1)] + [f"bn{i}" for i in range(2, self._convs + 1)]
        layers = [getattr(self, n) for n in names] + [self.fc, getattr(self, self._fc_bn)]
        return [layer for layer in layers if layer is not None]

    def trunk(self, images, training=False, segments: int = 1):
        """The layers D and Q share."""
        lrelu = lambda t: tf.nn.leaky_relu(t, alpha=self.slope)
        x = lrelu(self.conv1(tf.cast(images, self.compute_dtype)))
        for i in range(2, self._convs + 1):
            x = lrelu(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x), training=training, segments=segments))
        x = self.flatten(x)
        if self.fc is not None:
            x = lrelu(getattr(self, self._fc_bn)(self.fc(x), training=training, segments=segments))
        return x

    def call(self, images, training=False, segments: int = 1) -> DiscriminatorOutput:
        """D's and Q's outputs for ``images``.

        ``segments=n``: ``images`` are n batches of equal size concatenated,
        and training-mode batch normalisation treats them as n separate
        calls would (``model.batchnorm``), in one pass of the layers.
        """
        h = self.trunk(images, training=training, segments=segments)
        d_logit = tf.cast(self.d_head(h), tf.float32)[:, 0]
        q = h
        if self.q_fc is not None and self.q_bn is not None:
            q = tf.nn.leaky_relu(self.q_bn(self.q_fc(h), training=training, segments=segments), alpha=self.slope)
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
        if self.q_overcluster is not None:
            overcluster = tf.cast(self.q_overcluster(q), tf.float32)
        else:
            overcluster = tf.zeros([batch, 0], tf.float32)
        return DiscriminatorOutput(d_logit, categorical_logits, mean, log_std, overcluster)

    def build_variables(self) -> Discriminator:
        self(tf.zeros([1, *self.model_config.image_shape]))
        return self

    def q_head_variables(self) -> list:
        """Variables that belong to the Q head only (for gradient tests)."""
        layers = [self.q_fc, self.q_bn, self.q_categorical, self.q_mean, self.q_log_std, self.q_overcluster]
        return [v for layer in layers if layer is not None for v in layer.trainable_variables]

    def trunk_variables(self) -> list:
        return [v for layer in self._trunk_layers() for v in layer.trainable_variables]


class Networks(NamedTuple):
    generator: Generator
    discriminator: Discriminator


def build_networks(latent: LatentSpec, model_config: ModelConfig, overcluster: int = 0) -> Networks:
    """Builds both networks with their variables (call under a strategy scope); ``overcluster``: see Discriminator."""
    return Networks(
        Generator(latent, model_config).build_variables(),
        Discriminator(latent, model_config, overcluster).build_variables(),
    )

"""Presets: a base configuration per experiment, which the flags given explicitly then override.

``mnist`` is the default TrainConfig (the paper's MNIST networks and codes,
Chen et al. 2016, App. C Table 1, with this project's reproduction settings).
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses

from infogan_tf.config import TrainConfig
from infogan_tf.latent import LatentSpec


def svhn_preset(base: TrainConfig) -> TrainConfig:
    """32x32x3 street-view digits: same topology, sized from the image shape."""
    return dataclasses.replace(
        base,
        data=dataclasses.replace(base.data, dataset="svhn_cropped"),
        model=dataclasses.replace(base.model, image_shape=(32, 32, 3), g_base_filters=256),
        latent=LatentSpec(noise_dim=124, categorical=(10,) * 4, continuous=4),
    )


def fashion_mnist_preset(base: TrainConfig) -> TrainConfig:
    """Zalando's 28x28x1 clothing images with the MNIST networks and codes."""
    return dataclasses.replace(base, data=dataclasses.replace(base.data, dataset="fashion_mnist"))


PRESETS = {
    "mnist": lambda base: base,
    "fashion_mnist": fashion_mnist_preset,
    "svhn": svhn_preset,
}

"""A label-free feature space for the Fréchet distance: a fixed, randomly initialised CNN.

The project's classifier (:mod:`infogan_tf.evaluation.classifier`) needs a
labelled dataset of its image shape; a folder of faces or chairs has no
labels. For any (H, W, C) this module builds a CNN whose weights are drawn
once from a fixed seed and never trained -- random convolutional features
still separate image statistics well enough to rank generators (the
"random-network FID" of the GAN-evaluation literature) -- and uses it like
the classifier's feature layer:

  x in [0, 1] -> 2x - 1 -> 3x3 conv 64, stride 2, ReLU -> 3x3 conv 128,
  stride 2, ReLU -> 3x3 conv 256, stride 2, ReLU; features = the spatial
  mean of each layer's output, concatenated (448 numbers per image).

He-normal weights from ``numpy.random.default_rng(FEATURE_SEED)``, no
biases: the same image shape always gets the same network, on any machine,
so distances are comparable between runs of the same image shape (not with
Inception-FID, nor across image shapes). No class probabilities, so no
classifier score.
"""

from __future__ import annotations

import numpy as np

from infogan_tf.evaluation.classifier import Classifier, ClassifierOutputs

FEATURE_SEED = 0
CHANNELS = (64, 128, 256)
DESCRIPTION = (
    "fixed random-init CNN (infogan_tf.evaluation.random_features: 3x3 convs of 64/128/256 channels, "
    "stride 2, ReLU, He-normal weights of numpy seed 0; features = spatial means of each layer, 448 dims); "
    "comparable between runs of the same image shape only"
)


def random_kernels(channels_in: int, seed: int = FEATURE_SEED) -> list[np.ndarray]:
    """The network's 3x3 kernels, [3, 3, C_in, C_out] float32 each, He-normal."""
    rng = np.random.default_rng(seed)
    kernels, c_in = [], channels_in
    for c_out in CHANNELS:
        std = np.sqrt(2.0 / (9 * c_in))
        kernels.append((rng.standard_normal((3, 3, c_in, c_out)) * std).astype(np.float32))
        c_in = c_out
    return kernels


def random_feature_extractor(image_shape: tuple[int, int, int], batch_size: int = 500) -> Classifier:
    """A :class:`Classifier` whose ``predict`` gives the random-CNN features (probabilities: None)."""
    import tensorflow as tf

    from infogan_tf.data.pixels import uint8_to_unit, unit_to_model_range

    kernels = [tf.constant(k) for k in random_kernels(int(image_shape[2]))]

    @tf.function(input_signature=[tf.TensorSpec([None, *image_shape], tf.float32)])
    def _features(images):
        x, means = unit_to_model_range(images), []
        for kernel in kernels:
            x = tf.nn.relu(tf.nn.conv2d(x, kernel, strides=2, padding="SAME"))
            means.append(tf.reduce_mean(x, axis=[1, 2]))
        return tf.concat(means, axis=1)

    def predict(images: np.ndarray) -> ClassifierOutputs:
        images = np.asarray(uint8_to_unit(images), np.float32)
        parts = [_features(images[i : i + batch_size]).numpy() for i in range(0, len(images), batch_size)]
        return ClassifierOutputs(np.concatenate(parts), None)

    info = {"feature_space": DESCRIPTION, "image_shape": list(image_shape), "seed": FEATURE_SEED}
    return Classifier(predict=predict, info=info, path="random_features")

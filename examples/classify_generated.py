"""Labelled images from an exported InfoGAN as a tf.data pipeline, and a small classifier trained on them.

    python examples/classify_generated.py --saved_model=export/models/example --steps=300

Each batch is generated on the fly: G draws images of categories chosen at
random, and the category asked for is the label (InfoGAN's own categories,
found without labels: Chen et al. 2016, Sec. 5.1; not a human label). A
small convolutional classifier trains on the stream, then is scored on a
held-out generated batch, and its reading is compared with the export's own
Q on the same images.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence

import keras
import numpy as np
import tensorflow as tf

import infogan_tf as ig


def labelled_images(model: ig.Model, batch_size: int, seed: int) -> tf.data.Dataset:
    """An endless dataset of (float32 images in [0, 1], int32 category of the first code) batches."""
    classes = model.latent.categorical[0]

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng(seed)
        while True:
            labels = rng.integers(0, classes, batch_size).astype(np.int32)
            # Other categorical codes, the continuous codes and z: drawn from the priors.
            yield model.generate(categorical=labels, seed=int(rng.integers(2**31))), labels

    if model.latent.n_categorical != 1:
        raise ig.UsageError(f"this example labels by one categorical code; the model has {model.latent.n_categorical}")
    spec = (tf.TensorSpec([None, *model.image_shape], tf.float32), tf.TensorSpec([None], tf.int32))
    return tf.data.Dataset.from_generator(batches, output_signature=spec).prefetch(2)


def classifier(image_shape: tuple[int, int, int], classes: int) -> keras.Model:
    """Two convolutions and a softmax: enough for 28x28 digits."""
    return keras.Sequential(
        [
            keras.Input(image_shape),
            keras.layers.Conv2D(16, 3, strides=2, activation="relu"),
            keras.layers.Conv2D(32, 3, strides=2, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(classes, activation="softmax"),
        ]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saved_model", required=True, help="an export (its base or version directory)")
    parser.add_argument("--steps", type=int, default=300, help="training batches")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--test_size", type=int, default=500, help="held-out generated images")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict:
    """Trains the classifier; returns its accuracy on held-out generated images and its agreement with Q."""
    args = parse_args(argv)
    model = ig.load(args.saved_model)
    keras.utils.set_random_seed(args.seed)
    net = classifier(model.image_shape, model.latent.categorical[0])
    net.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    net.fit(
        labelled_images(model, args.batch_size, args.seed),
        steps_per_epoch=args.steps,
        epochs=1,
        shuffle=False,
        verbose=2,
    )

    labels = np.random.default_rng(args.seed + 1).integers(0, model.latent.categorical[0], args.test_size)
    images = model.generate(categorical=labels, seed=args.seed + 1)  # a batch the classifier never saw
    predicted = net.predict(images, verbose=0).argmax(axis=1)
    scores = {
        "accuracy": float(np.mean(predicted == labels)),
        "agreement_with_q": float(np.mean(predicted == model.encode(images).categorical[:, 0])),
    }
    print(f"on {args.test_size} held-out generated images: {scores}")
    return scores


if __name__ == "__main__":
    main()

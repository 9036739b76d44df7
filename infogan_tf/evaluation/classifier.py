"""A small CNN classifier of the dataset's classes, the feature space of the sample-quality metrics.

The Fréchet distance and the classifier score (``infogan_tf.evaluation.metrics``) need
an image classifier. Instead of downloading Inception, the project trains
its own, once, on the training split (labels are used here, never in InfoGAN
training) and caches it outside the repository:

    infogan-classifier --manual_dir=../shared/data/mnist
    # -> ~/.cache/infogan_tf/mnist_classifier/{classifier.keras, info.json}

Architecture (Keras functional, images in [0, 1]): conv 32 3x3 ReLU, 2x2
max-pool, conv 64 3x3 ReLU, 2x2 max-pool, FC 128 ReLU (the ``features``
layer the metrics use), dropout 0.3, FC num_classes logits. Six epochs of
Adam with a cosine learning-rate decay reach 99.1 % MNIST test accuracy
(four reach 99.0 %) in about 6-15 minutes on a 2-core CPU; a
classifier below ``--min_test_accuracy`` is refused and nothing is written,
so a previous good cache survives a bad run. The cache is replaced
atomically (written beside it, then renamed). The command line is
``infogan_tf/cli/classifier.py``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from infogan_tf import fileio
from infogan_tf.config import DATASETS, DataConfig, DatasetInfo
from infogan_tf.errors import ClassifierError, UsageError

MODEL_FILENAME = "classifier.keras"
INFO_FILENAME = "info.json"
FEATURE_LAYER = "features"
CACHE_ROOT = os.path.join("~", ".cache", "infogan_tf")


def default_classifier_dir(dataset: str) -> str:
    """Where the classifier of ``dataset`` is cached by default."""
    return os.path.join(os.path.expanduser(CACHE_ROOT), f"{dataset}_classifier")


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    """How to train the classifier.

    Attributes:
      data: the dataset (its train split trains, its test split scores).
      out_dir: cache folder; None = ``default_classifier_dir(dataset)``.
      epochs: passes over the training split; None = the dataset's own
        (``DatasetInfo.classifier_epochs``: 6 for MNIST, 12 for Fashion-MNIST).
      batch_size: minibatch size.
      learning_rate: initial Adam learning rate (cosine-decayed to 0).
      seed: seeds initialisation and shuffling.
      min_test_accuracy: refuse (write nothing) below this test accuracy;
        None = the dataset's own bar (``DatasetInfo.classifier_min_accuracy``:
        0.99 for MNIST, 0.90 for Fashion-MNIST and SVHN).
    """

    data: DataConfig = DataConfig()
    out_dir: str | None = None
    epochs: int | None = None
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0
    min_test_accuracy: float | None = None

    def _or_dataset_default(self, value, field: str):
        """``value``, or the dataset's own ``DatasetInfo`` field when None (the class default for other data)."""
        return value if value is not None else getattr(DATASETS.get(self.data.dataset, DatasetInfo), field)

    @property
    def resolved_min_test_accuracy(self) -> float:
        return self._or_dataset_default(self.min_test_accuracy, "classifier_min_accuracy")

    @property
    def resolved_epochs(self) -> int:
        return self._or_dataset_default(self.epochs, "classifier_epochs")

    @property
    def resolved_out_dir(self) -> str:
        return os.path.expanduser(self.out_dir) if self.out_dir else default_classifier_dir(self.data.dataset)

    def problems(self) -> list[str]:
        out = []
        if self.data.dataset not in DATASETS:
            out.append(f"--dataset must be one of {', '.join(DATASETS)}, got {self.data.dataset!r}")
        if self.data.manual_dir is not None and not os.path.isdir(self.data.manual_dir):
            out.append(f"--manual_dir {self.data.manual_dir!r} is not a directory")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                out.append(f"--{name} must be positive, got {getattr(self, name)}")
        if not self.learning_rate > 0:
            out.append(f"--learning_rate must be > 0, got {self.learning_rate}")
        if self.min_test_accuracy is not None and not 0.0 <= self.min_test_accuracy <= 1.0:
            out.append(f"--min_test_accuracy must be in [0, 1], got {self.min_test_accuracy}")
        return out


class ClassifierOutputs(NamedTuple):
    """What the classifier says about a batch of images.

    Attributes:
      features: float32 [N, D], the penultimate (``features``) layer.
      probabilities: float32 [N, num_classes], softmax class probabilities
        (None from a feature space without classes, ``random_features``).
    """

    features: np.ndarray
    probabilities: np.ndarray | None


class Classifier(NamedTuple):
    """A loaded classifier.

    Attributes:
      predict: images float [N, H, W, C] in [0, 1] -> ClassifierOutputs.
      info: the cache's info.json (dataset, image_shape, test_accuracy, ...).
      path: the cache folder.
    """

    predict: Callable[[np.ndarray], ClassifierOutputs]
    info: dict
    path: str


class TrainedClassifier(NamedTuple):
    """The result of :func:`train_classifier`.

    Attributes:
      out_dir: where the classifier was cached.
      test_accuracy: accuracy on the test split.
      train_seconds: wall time of training.
    """

    out_dir: str
    test_accuracy: float
    train_seconds: float


def build_classifier(image_shape: tuple[int, ...], num_classes: int = 10):
    """The CNN (functional Keras model) from [0, 1] images to class logits."""
    import keras

    inputs = keras.Input(shape=tuple(image_shape), name="images")
    x = keras.layers.Conv2D(32, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(128, activation="relu", name=FEATURE_LAYER)(x)
    x = keras.layers.Dropout(0.3, name="dropout")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name="classifier")


def _write_cache(model, info: dict, out_dir: str) -> None:
    """Saves into a sibling folder, then swaps it in: a failure leaves the old cache intact."""

    def write(tmp: str) -> None:
        model.save(os.path.join(tmp, MODEL_FILENAME))
        with open(os.path.join(tmp, INFO_FILENAME), "w") as f:
            json.dump(info, f, indent=2, sort_keys=True)
            f.write("\n")

    fileio.publish_dir(out_dir, write, replace=True)


def train_classifier(config: ClassifierConfig, train, test, verbose: int = 0) -> TrainedClassifier:
    """Trains, scores and caches the classifier.

    Args:
      config: the training configuration.
      train, test: ``infogan_tf.data.datasets.LabeledSplit`` (uint8 images, int labels).
      verbose: Keras fit verbosity (2 = one line per epoch).

    Raises:
      UsageError: an invalid setting.
      ClassifierError: test accuracy below ``config.resolved_min_test_accuracy``
        (nothing is written).
    """
    import keras

    from infogan_tf.data.pixels import uint8_to_unit

    problems = config.problems()
    if problems:
        raise UsageError(problems[0])
    image_shape = tuple(int(d) for d in train.images.shape[1:])
    num_classes = int(max(train.labels.max(), test.labels.max())) + 1
    keras.utils.set_random_seed(config.seed)
    model = build_classifier(image_shape, num_classes)
    steps = config.resolved_epochs * -(-len(train.labels) // config.batch_size)
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(config.learning_rate, steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.time()
    model.fit(
        uint8_to_unit(train.images),
        np.asarray(train.labels, np.int64),
        batch_size=config.batch_size,
        epochs=config.resolved_epochs,
        shuffle=True,
        verbose=verbose,
    )
    seconds = time.time() - start
    logits = model.predict(uint8_to_unit(test.images), batch_size=1000, verbose=0)
    accuracy = float(np.mean(logits.argmax(axis=1) == np.asarray(test.labels)))
    out_dir = config.resolved_out_dir
    bar = config.resolved_min_test_accuracy
    if accuracy < bar:
        raise ClassifierError(
            f"classifier test accuracy {accuracy:.4f} is below --min_test_accuracy={bar}; "
            f"nothing written to {out_dir} (train longer with --epochs)"
        )
    info = {
        "dataset": config.data.dataset,
        "image_shape": list(image_shape),
        "num_classes": num_classes,
        "input_range": [0.0, 1.0],
        "feature_layer": FEATURE_LAYER,
        "test_accuracy": accuracy,
        "num_train": len(train.labels),
        "num_test": len(test.labels),
        "epochs": config.resolved_epochs,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "seed": config.seed,
        "train_seconds": seconds,
        "keras_version": keras.__version__,
    }
    _write_cache(model, info, out_dir)
    return TrainedClassifier(out_dir, accuracy, seconds)


def train_command(dataset: str, classifier_dir: str) -> str:
    """The command that creates a missing classifier cache (for error messages)."""
    return f"infogan-classifier --dataset={dataset} --manual_dir=<original files> --out={classifier_dir}"


def load_classifier(path: str, dataset: str = "mnist") -> Classifier:
    """Loads a cached classifier.

    Raises:
      ClassifierError: nothing (usable) cached at ``path``; the message gives
        the command that trains one.
    """
    import keras
    import tensorflow as tf

    from infogan_tf.data.pixels import uint8_to_unit

    path = os.path.expanduser(path)
    model_path, info_path = os.path.join(path, MODEL_FILENAME), os.path.join(path, INFO_FILENAME)
    if not (os.path.isfile(model_path) and os.path.isfile(info_path)):
        raise ClassifierError(
            f"no classifier cached at {path} (expected {MODEL_FILENAME} and {INFO_FILENAME}); "
            f"train one with: {train_command(dataset, path)}"
        )
    try:
        with open(info_path) as f:
            info = json.load(f)
        model = keras.models.load_model(model_path, compile=False)
        both = keras.Model(model.inputs, [model.get_layer(info["feature_layer"]).output, model.outputs[0]])
    except Exception as e:  # corrupt zip, wrong JSON, foreign model: all unusable.
        raise ClassifierError(f"cannot load the classifier in {path}: {type(e).__name__}: {e}") from e

    @tf.function(input_signature=[tf.TensorSpec([None, *info["image_shape"]], tf.float32)])
    def _forward(images):
        features, logits = both(images, training=False)
        return features, tf.nn.softmax(logits)

    def predict(images: np.ndarray) -> ClassifierOutputs:
        images = uint8_to_unit(images)
        feats, probs = [], []
        for i in range(0, len(images), 1000):
            f_, p_ = _forward(images[i : i + 1000])
            feats.append(f_.numpy())
            probs.append(p_.numpy())
        return ClassifierOutputs(np.concatenate(feats), np.concatenate(probs))

    return Classifier(predict=predict, info=info, path=path)

"""``infogan-classifier`` / ``python -m infogan_tf.cli.classifier``: trains and caches the sample-quality classifier.

    infogan-classifier --manual_dir=../shared/data/mnist
    # -> ~/.cache/infogan_tf/mnist_classifier/{classifier.keras, info.json}

A small CNN of the dataset's classes, trained on its training split and
scored on its test split (``infogan_tf.evaluation.classifier``); its
feature space is where ``infogan-evaluate`` measures the Fréchet distance
and classifier score. A classifier below --min_test_accuracy is refused and
nothing is written, so a previous good cache survives a bad run. Prints the
result as JSON.

Exit status: 2 for a bad flag, 1 when the data cannot be loaded or the
classifier is not good enough.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from absl import flags

from infogan_tf.cli import common as cli
from infogan_tf.config import DATASETS, DataConfig
from infogan_tf.errors import UsageError
from infogan_tf.evaluation import classifier as classifier_lib

PROG = "infogan-classifier"


def define_flags(values: flags.FlagValues) -> None:
    """Defines the classifier flags on ``values``."""
    d = classifier_lib.ClassifierConfig()
    flags.DEFINE_string("dataset", d.data.dataset, f"TFDS dataset: {', '.join(DATASETS)}.", flag_values=values)
    flags.DEFINE_string("data_dir", None, "TFDS data directory (default: TFDS's own).", flag_values=values)
    flags.DEFINE_string(
        "manual_dir", None, "Folder with the dataset's original files; prepares offline.", flag_values=values
    )
    flags.DEFINE_string(
        "out", None, "Cache folder (default ~/.cache/infogan_tf/<dataset>_classifier).", flag_values=values
    )
    flags.DEFINE_integer(
        "epochs",
        d.epochs,
        "Passes over the training split (default: the dataset's, 6 for mnist and svhn_cropped, 12 for fashion_mnist).",
        flag_values=values,
    )
    flags.DEFINE_integer("batch_size", d.batch_size, "Minibatch size.", flag_values=values)
    flags.DEFINE_float("learning_rate", d.learning_rate, "Adam learning rate.", flag_values=values)
    flags.DEFINE_integer("seed", d.seed, "Seed of initialisation and shuffling.", flag_values=values)
    flags.DEFINE_float(
        "min_test_accuracy",
        d.min_test_accuracy,
        "Refuse to cache a classifier below this test accuracy (default: the dataset's bar, "
        "0.99 for mnist, 0.90 for fashion_mnist and svhn_cropped).",
        flag_values=values,
    )


def config_from_flags(values: flags.FlagValues) -> classifier_lib.ClassifierConfig:
    """The validated ClassifierConfig of the parsed flags."""
    config = classifier_lib.ClassifierConfig(
        data=DataConfig(dataset=values.dataset, data_dir=values.data_dir, manual_dir=values.manual_dir),
        out_dir=values.out,
        epochs=values.epochs,
        batch_size=values.batch_size,
        learning_rate=values.learning_rate,
        seed=values.seed,
        min_test_accuracy=values.min_test_accuracy,
    )
    problems = config.problems()
    if problems:
        raise UsageError(problems[0])
    return config


def _train(config: classifier_lib.ClassifierConfig, splits) -> int:
    if splits is None:
        from infogan_tf.data import datasets

        datasets.check_manual_dir(config.data)
        splits = (
            datasets.load_labeled_split(config.data, config.data.info.train_split),
            datasets.load_labeled_split(config.data, config.data.info.test_split),
        )
    train, test = splits
    result = classifier_lib.train_classifier(config, train, test, verbose=2)
    print(json.dumps(result._asdict(), indent=2))
    return 0


def main(argv: Sequence[str], splits=None) -> int:
    """Runs ``infogan-classifier`` on ``argv`` (``argv[0]``: the program name); returns the exit status.

    Args:
      argv: the command line.
      splits: a (train, test) pair of ``data.datasets.LabeledSplit`` replacing the TFDS splits.
    """
    return cli.run_main(PROG, __doc__, define_flags, argv, lambda values: _train(config_from_flags(values), splits))


def run() -> None:
    """Console-script entry point."""
    cli.init_logging()
    sys.exit(main(sys.argv))


if __name__ == "__main__":
    run()

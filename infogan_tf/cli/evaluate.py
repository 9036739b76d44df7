"""``infogan-evaluate`` / ``python -m infogan_tf.cli.evaluate``: what a trained InfoGAN learned, and its figures.

    infogan-evaluate --model_dir=runs/mnist --manual_dir=../shared/data/mnist

prints a JSON report on stdout (and a table of its headline numbers on
stderr: ``cli.summary.evaluation_table``) and writes it, with figures, to
``<model_dir>/eval/<step>/`` (or --out_dir): report.json (unsupervised test
accuracy of the categorical code, the lower bound L_I next to H(c), Q's code
recovery, Fréchet distance and classifier score, what each continuous code
controls and ``code_factors``: whether each moves one factor monotonically,
no two the same, and Q reads it on the real test images), traversal_c<j>.png,
categories.png and info_curve.png. See
``infogan_tf.evaluation.evaluate`` for what each number means.

Thin: the flags are the settings of ``ig.evaluate`` (``api.run.evaluate``).
Exit status: 2 for a bad flag, 1 when the run, its checkpoint, the
classifier or the data cannot be used; nothing is written then. The sample
quality needs the cached classifier (``infogan-classifier``) unless
--nosample_quality.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any

from absl import flags

from infogan_tf.api import run as api_run
from infogan_tf.cli import common as cli
from infogan_tf.cli import summary
from infogan_tf.evaluation import evaluate as evaluate_lib

PROG = "infogan-evaluate"


def define_flags(values: flags.FlagValues) -> None:
    """Defines the evaluation flags on ``values``; each is the EvalConfig field of the same name."""
    d = evaluate_lib.EvalConfig(model_dir="")
    flags.DEFINE_string(
        "model_dir", None, "The training run to evaluate (holds config.json and checkpoints/).", flag_values=values
    )
    flags.DEFINE_string(
        "checkpoint", None, "A checkpoint path prefix (default: the latest in --model_dir).", flag_values=values
    )
    # The name infogan-train and every refusal of a damaged checkpoint use.
    flags.DEFINE_alias("restore_checkpoint", "checkpoint", flag_values=values)
    flags.DEFINE_string(
        "manual_dir", None, "The dataset's original files (default: the run's --manual_dir).", flag_values=values
    )
    flags.DEFINE_string("data_dir", None, "TFDS data directory (default: the run's --data_dir).", flag_values=values)
    flags.DEFINE_string(
        "classifier_dir",
        None,
        "Cached classifier for sample quality (default ~/.cache/infogan_tf/<dataset>_classifier; "
        "make it with infogan-classifier).",
        flag_values=values,
    )
    flags.DEFINE_bool(
        "sample_quality", d.sample_quality, "Compute Fréchet distance and classifier score.", flag_values=values
    )
    flags.DEFINE_enum(
        "feature_space",
        d.feature_space,
        list(evaluate_lib.FEATURE_SPACES),
        "Feature space of the Fréchet distance: classifier (the cached classifier of the run's dataset), "
        "random (a fixed random-init CNN, any image shape, no labels) or auto (the classifier for a labelled "
        "dataset of its size, or with --classifier_dir; else random).",
        flag_values=values,
    )
    flags.DEFINE_integer(
        "num_samples",
        d.num_samples,
        "Fresh (z, c) samples for L_I, code recovery and sample quality.",
        flag_values=values,
    )
    flags.DEFINE_integer(
        "num_reference", d.num_reference, "Training images in the Fréchet reference set.", flag_values=values
    )
    flags.DEFINE_integer("sweep_samples", d.sweep_samples, "Base inputs per continuous-code sweep.", flag_values=values)
    flags.DEFINE_integer("sweep_values", d.sweep_values, "Values per continuous-code sweep.", flag_values=values)
    flags.DEFINE_float("sweep_lo", d.sweep_lo, "Lowest value of the continuous-code sweep.", flag_values=values)
    flags.DEFINE_float("sweep_hi", d.sweep_hi, "Highest value of the continuous-code sweep.", flag_values=values)
    flags.DEFINE_integer("batch_size", d.batch_size, "Images per forward pass.", flag_values=values)
    flags.DEFINE_integer("seed", d.seed, "Seed of samples, sweeps and figures.", flag_values=values)
    flags.DEFINE_integer(
        "consistency_views",
        d.consistency_views,
        "Moved copies of each held-out image for the label-free check (rotations to 25 degrees, "
        "15% scale, 3 px shifts).",
        flag_values=values,
    )
    flags.DEFINE_string(
        "out_dir", None, "Where report.json and figures go (default <model_dir>/eval/<step>).", flag_values=values
    )


def settings_from_flags(values: flags.FlagValues) -> dict[str, Any]:
    """The ``EvalConfig`` settings of the parsed flags, by name."""
    return {field.name: values[field.name].value for field in dataclasses.fields(evaluate_lib.EvalConfig)}


def _evaluate(settings: dict[str, Any], data, classifier) -> int:
    result = api_run.evaluate(data=data, classifier=classifier, **settings)
    print(json.dumps(result.report, indent=2), flush=True)
    sys.stderr.write(summary.evaluation_table(result.report))
    print(f"{PROG}: report and figures in {result.out_dir}", file=sys.stderr)
    return 0


def main(argv: Sequence[str], data: evaluate_lib.EvalData | None = None, classifier=None) -> int:
    """Runs ``infogan-evaluate`` on ``argv`` (``argv[0]``: the program name); returns the exit status.

    Args:
      argv: the command line.
      data: real images (``EvalData``) replacing the TFDS test and reference sets.
      classifier: a loaded ``evaluation.classifier.Classifier`` replacing the cached one.
    """
    return cli.run_main(
        PROG, __doc__, define_flags, argv, lambda values: _evaluate(settings_from_flags(values), data, classifier)
    )


def run() -> None:
    """Console-script entry point."""
    cli.init_logging()
    sys.exit(main(sys.argv))


if __name__ == "__main__":
    run()

"""``infogan-train`` / ``python -m infogan_tf.cli.train``: the training command line.

Intentionally thin: the flags given explicitly become one validated
TrainConfig through ``api.configure.build_config`` (the rules ``ig.preset``
shares), handed to ``ig.train`` (``api.run.train``). Every flag but the preset,
the latent codes and --restore_checkpoint is generated from the config field of the same name (its
help is the field's ``metadata["help"]`` in ``infogan_tf/config.py``); only
flags given explicitly override --preset. A bad value is reported as one line
naming the flag, with exit status 2, before TensorFlow is imported and before
anything is written. Runtime failures (data, checkpoints, non-finite values,
a lost worker) exit 1 with one line. SIGTERM (preemption) saves a checkpoint
at the current step and exits 143; rerunning the same command resumes there.
A damaged latest checkpoint is refused with a line naming the newest intact
one; --restore_checkpoint=<it> resumes there (``training.rundir``).
Exit 0 means the run reached --train_steps.

Examples:
  infogan-train --model_dir=runs/mnist --train_steps=5000
  infogan-train --manual_dir=../shared/data/mnist --model_dir=runs/mnist
  infogan-train --image_dir=~/my_images --image_size=64 --eval_fraction=0.05 --model_dir=runs/mine
  infogan-train --dataset=cifar10 --model_dir=runs/cifar10
  infogan-train --flagfile=my_run.flags
  infogan-train --model_dir=runs/mnist --restore_checkpoint=runs/mnist/checkpoints/ckpt-500
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import typing
from collections.abc import Sequence
from typing import Any

from absl import flags

from infogan_tf import config as config_lib
from infogan_tf import errors, presets
from infogan_tf.api import configure
from infogan_tf.api import run as api_run
from infogan_tf.cli import common as cli
from infogan_tf.latent import LatentSpec

PROG = "infogan-train"

# The config parts whose fields are flags of the same name.
PARTS = config_lib.PARTS


def _is_int_tuple(kind: Any) -> bool:
    return typing.get_origin(kind) is tuple and all(a in (int, Ellipsis) for a in typing.get_args(kind))


def flag_fields(part: type) -> list[tuple[dataclasses.Field, Any]]:
    """The fields of a config part that are flags, each with its type (``X | None`` as ``X``)."""
    hints = typing.get_type_hints(part)
    return [
        (field, config_lib.without_none(hints[field.name]))
        for field in dataclasses.fields(part)
        if field.metadata.get("flag", True)
    ]


def _define_field_flag(values: flags.FlagValues, part: type, field: dataclasses.Field, kind: Any) -> None:
    name, help_ = field.name, field.metadata["help"]
    default: Any = field.default
    if "choices" in field.metadata:
        flags.DEFINE_enum(name, default, list(field.metadata["choices"]), help_, flag_values=values)
    elif kind is bool:
        flags.DEFINE_boolean(name, default, help_, flag_values=values)
    elif kind is int:
        flags.DEFINE_integer(name, default, help_, flag_values=values)
    elif kind is float:
        flags.DEFINE_float(name, default, help_, flag_values=values)
    elif kind is str:
        flags.DEFINE_string(name, default, help_, flag_values=values)
    elif _is_int_tuple(kind):
        flags.DEFINE_list(name, [str(x) for x in default], help_ + " Comma-separated integers.", flag_values=values)
    else:
        raise TypeError(f"{part.__name__}.{name}: no flag type for {kind!r}; mark it metadata={{'flag': False}}")


def define_flags(values: flags.FlagValues) -> None:
    """Defines the training flags on ``values``: --preset, the latent codes, and one per config field."""
    flags.DEFINE_enum(
        "preset",
        "mnist",
        sorted(presets.PRESETS),
        "Base configuration; other flags given override it. Without it, data other than MNIST gets the "
        "mnist preset with affine views (see --real_info_view).",
        flag_values=values,
    )
    lat = LatentSpec()
    flags.DEFINE_string(
        "categorical_codes",
        ",".join(map(str, lat.categorical)),
        "Comma-separated cardinalities of the categorical codes ('10', '10,4'; '' for none).",
        flag_values=values,
    )
    flags.DEFINE_integer(
        "continuous_codes", lat.continuous, "Number of Uniform(-r, r) continuous codes.", flag_values=values
    )
    flags.DEFINE_float(
        "continuous_range", lat.continuous_range, "Half width r of the continuous codes' prior.", flag_values=values
    )
    flags.DEFINE_integer("noise_dim", lat.noise_dim, "Dimension of the incompressible noise z.", flag_values=values)
    flags.DEFINE_string(
        "restore_checkpoint",
        None,
        "Resume from this checkpoint prefix (e.g. <model_dir>/checkpoints/ckpt-500) instead of the latest, e.g. "
        "when the latest is damaged; later checkpoints are moved to <model_dir>/set_aside/, never deleted.",
        flag_values=values,
    )
    for part in PARTS.values():
        for field, kind in flag_fields(part):
            _define_field_flag(values, part, field, kind)


def _flag_value(values: flags.FlagValues, name: str, kind: Any) -> Any:
    value = values[name].value
    if _is_int_tuple(kind) and value is not None:
        try:
            return tuple(int(x) for x in value)
        except ValueError:
            raise errors.ConfigError(f"--{name} must be comma-separated integers, got {','.join(value)!r}") from None
    return value


def config_from_flags(values: flags.FlagValues) -> config_lib.TrainConfig:
    """Builds and validates the TrainConfig: the preset, then every flag given explicitly (``api.configure``)."""
    given = {
        field.name: _flag_value(values, field.name, kind)
        for part in PARTS.values()
        for field, kind in flag_fields(part)
        if values[field.name].present
    }
    given.update({name: values[name].value for name in config_lib.LATENT_FLAGS if values[name].present})
    return configure.build_config(values.preset if values["preset"].present else None, given)


def _classifier_ready(dataset: str) -> bool:
    """Whether infogan-evaluate finds its sample-quality classifier in the default cache."""
    from infogan_tf.evaluation import classifier

    return os.path.isfile(os.path.join(classifier.default_classifier_dir(dataset), "info.json"))


def _train(
    config: config_lib.TrainConfig, argv: Sequence[str], images, strategy, input_fn, restore_checkpoint: str | None
) -> int:
    # Only now pay for TensorFlow.
    from infogan_tf.cli import summary
    from infogan_tf.training import console

    reporter = console.for_stream(sys.stderr, config.latent.categorical_entropy(), PROG)
    result = api_run.train(
        config,
        images=images,
        strategy=strategy,
        input_fn=input_fn,
        reporter=reporter,
        restore_checkpoint=restore_checkpoint,
    )
    if result.preempted:
        sys.stderr.write(summary.stopped_summary(PROG, result, reporter, config, argv))
        interrupted = result.stopped_by == signal.SIGINT
        return errors.INTERRUPTED_EXIT_CODE if interrupted else errors.PREEMPTED_EXIT_CODE
    if result.checkpoint:
        sys.stdout.write(summary.train_summary(PROG, result, reporter, config, _classifier_ready(config.data.dataset)))
    return 0


def main(argv: Sequence[str], images=None, strategy=None, input_fn=None) -> int:
    """Runs ``infogan-train`` on ``argv`` (``argv[0]``: the program name); returns the exit status.

    Args:
      argv: the command line.
      images: uint8 [N, H, W, C] training images replacing the TFDS dataset.
      strategy: a ``tf.distribute.Strategy`` replacing the one --strategy names.
      input_fn: a ``tf.distribute`` input function replacing the input pipeline
        (passed to ``training.loop.train``).
    """
    return cli.run_main(
        PROG,
        __doc__,
        define_flags,
        argv,
        lambda values: _train(config_from_flags(values), argv, images, strategy, input_fn, values.restore_checkpoint),
    )


def run() -> None:
    """Console-script entry point."""
    cli.init_logging()
    sys.exit(main(sys.argv))


if __name__ == "__main__":
    run()

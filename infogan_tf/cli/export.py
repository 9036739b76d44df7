"""``infogan-export`` / ``python -m infogan_tf.cli.export``: export a trained run for TF Serving.

Thin: the flags are the arguments of ``ig.export`` (``api.run.export``).
Writes ``<export_dir>/<version>/`` (saved_model.pb, variables/, assets/ with
the JSON metadata, assets.extra/ with TF Serving warmup requests) atomically.
The version is the checkpoint's training step unless ``--version`` is given;
an existing version is never overwritten.

Exit status: 2 for a bad flag, 1 when the export fails (missing or corrupt
checkpoint, existing version, ...), each with one line on stderr.

Examples:
  infogan-export --model_dir=runs/mnist --export_dir=export/models/infogan_mnist
  infogan-export --model_dir=runs/mnist --export_dir=export/models/infogan_mnist \
      --checkpoint=runs/mnist/checkpoints/ckpt-1500 --version=1500
  infogan-export --model_dir=runs/mnist --export_dir=export/models/infogan_mnist_xla --jit_compile
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from absl import flags

from infogan_tf.api import run as api_run
from infogan_tf.cli import common as cli

PROG = "infogan-export"


def define_flags(values: flags.FlagValues) -> None:
    """Defines the export flags on ``values``."""
    flags.DEFINE_string(
        "model_dir", None, "The infogan-train --model_dir to export (config.json + checkpoints/).", flag_values=values
    )
    flags.DEFINE_string(
        "export_dir",
        None,
        "Model base path for TF Serving; the version directory is created below it.",
        flag_values=values,
    )
    flags.DEFINE_string(
        "checkpoint",
        None,
        "Checkpoint prefix (e.g. runs/mnist/checkpoints/ckpt-3000) or directory; default: the latest in model_dir.",
        flag_values=values,
    )
    # The name infogan-train and every refusal of a damaged checkpoint use.
    flags.DEFINE_alias("restore_checkpoint", "checkpoint", flag_values=values)
    flags.DEFINE_integer(
        "version", None, "Version directory number; default: the checkpoint's training step.", flag_values=values
    )
    flags.DEFINE_string(
        "model_name",
        None,
        "Model name in the warmup requests; default: the last component of --export_dir.",
        flag_values=values,
    )
    flags.DEFINE_boolean(
        "jit_compile",
        False,
        "Compile the signatures' network math with XLA (faster on a CPU; TF Serving then needs "
        "--xla_cpu_compilation_enabled=true).",
        flag_values=values,
    )


def _export(values: flags.FlagValues) -> int:
    result = api_run.export(
        values.model_dir,
        values.export_dir,
        checkpoint=values.checkpoint,
        version=values.version,
        model_name=values.model_name,
        jit_compile=values.jit_compile,
    )
    print(
        f"{PROG}: wrote version {result.version} (step {result.step}, {result.checkpoint}) to {result.path}; "
        f"variables/ {result.variables_bytes} bytes for {result.exported_parameter_bytes} bytes of weights "
        f"(generator {result.generator_parameter_bytes} + Q encoder {result.encoder_parameter_bytes})"
    )
    return 0


def main(argv: Sequence[str]) -> int:
    """Runs ``infogan-export`` on ``argv`` (``argv[0]``: the program name); returns the exit status."""
    return cli.run_main(PROG, __doc__, define_flags, argv, _export)


def run() -> None:
    """Console-script entry point."""
    cli.init_logging()
    sys.exit(main(sys.argv))


if __name__ == "__main__":
    run()

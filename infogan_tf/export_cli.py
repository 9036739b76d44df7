"""``infogan-export`` / ``python -m infogan_tf.export_cli``: export a trained run for TF Serving.

Thin: flags become one validated ExportConfig handed to ``export.export``.
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

from absl import flags

from infogan_tf import cli

from infogan_tf.config import ConfigError

PROG = "infogan-export"


def define_flags() -> None:
    """Defines the export flags (idempotent)."""
    if "export_dir" in flags.FLAGS:
        return
    flags.DEFINE_string("model_dir", None, "The infogan-train --model_dir to export (config.json + checkpoints/).")
    flags.DEFINE_string("export_dir", None, "Model base path for TF Serving; the version directory is created below it.")
    flags.DEFINE_string(
        "checkpoint", None,
        "Checkpoint prefix (e.g. runs/mnist/checkpoints/ckpt-3000) or directory; default: the latest in model_dir.",
    )
    flags.DEFINE_integer("version", None, "Version directory number; default: the checkpoint's training step.")
    flags.DEFINE_string(
        "model_name", None, "Model name in the warmup requests; default: the last component of --export_dir."
    )
    flags.DEFINE_boolean(
        "jit_compile", False,
        "Compile the signatures' network math with XLA (faster on a CPU; TF Serving then needs "
        "--xla_cpu_compilation_enabled=true).",
    )



def main(argv) -> None:
    cli.reject_positional(PROG, argv)
    values = flags.FLAGS
    for name in ("model_dir", "export_dir"):
        if not values[name].value:
            cli.fail(PROG, f"--{name} is required", 2)
    # Imported here so that a bad flag is reported before TensorFlow loads.
    from infogan_tf import export as export_lib

    try:
        config = export_lib.ExportConfig(
            model_dir=values.model_dir,
            export_dir=values.export_dir,
            checkpoint=values.checkpoint,
            version=values.version,
            model_name=values.model_name,
            jit_compile=values.jit_compile,
        ).validate()
    except ConfigError as e:
        cli.fail(PROG, str(e), 2)
    try:
        result = export_lib.export(config)
    except export_lib.ExportError as e:
        cli.fail(PROG, str(e), 1)
    print(
        f"infogan-export: wrote version {result.version} (step {result.step}, {result.checkpoint}) to {result.path}; "
        f"variables/ {result.variables_bytes} bytes for {result.exported_parameter_bytes} bytes of weights "
        f"(generator {result.generator_parameter_bytes} + Q encoder {result.encoder_parameter_bytes})"
    )


def run() -> None:
    """Console-script entry point."""
    cli.run_app(PROG, define_flags, main)


if __name__ == "__main__":
    run()

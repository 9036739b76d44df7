"""``infogan-train`` / ``python -m infogan_tf.train``: the training command line.

Intentionally thin: flags are turned into one validated TrainConfig here, at
the edge, and handed to ``trainer.train``. Every flag maps to the config
field of the same name. A bad value is reported as one line naming the flag,
with exit status 2, before TensorFlow is imported and before anything is
written. Runtime failures (data, checkpoints, non-finite values, a lost
worker) exit 1 with one line. SIGTERM (preemption) saves a checkpoint at the
current step and exits 143 (``trainer.PREEMPTED_EXIT_CODE``); rerunning the
same command resumes there. Exit 0 means the run reached --train_steps.

Examples:
  infogan-train --model_dir=runs/mnist --train_steps=5000
  infogan-train --manual_dir=../shared/data/mnist --model_dir=runs/mnist
  infogan-train --flagfile=my_run.flags
"""

from __future__ import annotations

import dataclasses
import os
import sys

from absl import flags

from infogan_tf import cli
from infogan_tf import config as config_lib
from infogan_tf.latent import LatentSpec, parse_categorical_codes

_D = config_lib.TrainConfig()


def define_flags() -> None:
    """Defines the training flags (idempotent; tests import without defining)."""
    if "train_steps" in flags.FLAGS:
        return
    d, lat, m, o, r = _D.data, _D.latent, _D.model, _D.optim, _D.runtime
    flags.DEFINE_enum("preset", "mnist", sorted(config_lib.PRESETS), "Base configuration; other flags override it.")
    # Data.
    flags.DEFINE_string("dataset", d.dataset, f"TFDS dataset: {', '.join(config_lib.DATASETS)}.")
    flags.DEFINE_string("data_dir", d.data_dir, "TFDS data directory (default: TFDS's own, ~/tensorflow_datasets).")
    flags.DEFINE_string(
        "manual_dir", d.manual_dir,
        "Folder with the dataset's original files (MNIST: the four official IDX .gz files); prepares offline.",
    )
    # Latent codes.
    flags.DEFINE_string(
        "categorical_codes", ",".join(map(str, lat.categorical)),
        "Comma-separated cardinalities of the categorical codes ('10', '10,4'; '' for none).",
    )
    flags.DEFINE_integer("continuous_codes", lat.continuous, "Number of Uniform(-r, r) continuous codes.")
    flags.DEFINE_float("continuous_range", lat.continuous_range, "Half width r of the continuous codes' prior.")
    flags.DEFINE_integer("noise_dim", lat.noise_dim, "Dimension of the incompressible noise z.")
    # Model.
    flags.DEFINE_enum("continuous_std", m.continuous_std, ["learned", "fixed"], "Q's std for continuous codes.")
    flags.DEFINE_integer("g_fc_units", m.g_fc_units, "Generator's first FC width.")
    flags.DEFINE_integer("g_base_filters", m.g_base_filters, "Generator channels at 1/4 resolution.")
    flags.DEFINE_list("d_filters", [str(x) for x in m.d_filters], "Channels of D's two strided convolutions.")
    flags.DEFINE_integer("d_fc_units", m.d_fc_units, "Discriminator FC width.")
    flags.DEFINE_integer("q_fc_units", m.q_fc_units, "Q head hidden width.")
    flags.DEFINE_float("leaky_slope", m.leaky_slope, "Leaky ReLU slope in D and Q.")
    # Optimisation.
    flags.DEFINE_integer("train_steps", o.train_steps, "Total training steps (a resumed run continues to it).")
    flags.DEFINE_integer("batch_size", o.batch_size, "Global batch size, split across replicas.")
    flags.DEFINE_float("d_learning_rate", o.d_learning_rate, "Adam learning rate of D and Q.")
    flags.DEFINE_float("g_learning_rate", o.g_learning_rate, "Adam learning rate of G.")
    flags.DEFINE_float("beta1", o.beta1, "Adam beta_1.")
    flags.DEFINE_float("beta2", o.beta2, "Adam beta_2.")
    flags.DEFINE_float("lambda_cat", o.lambda_cat, "Weight of the categorical mutual-information term.")
    flags.DEFINE_float("lambda_cont", o.lambda_cont, "Weight of the continuous mutual-information term.")
    flags.DEFINE_float(
        "lambda_real_info", o.lambda_real_info,
        "Weight of Q's information about the categories of real images (see --real_info_view) in the D/Q "
        "objective (not in the paper; no labels; 0 = the paper's objective).",
    )
    flags.DEFINE_string(
        "real_info_view", o.real_info_view,
        f"{' or '.join(config_lib.REAL_INFO_VIEWS)}: pair Q's categories of a real image with those of the "
        "image itself or of a slightly rotated/scaled/shifted copy, in the --lambda_real_info term.",
    )
    flags.DEFINE_string(
        "update", o.update,
        f"{' or '.join(config_lib.UPDATES)}: alternate a D/Q step and a G step on fresh codes (the authors' "
        "reference procedure), or update both from one joint forward pass.",
    )
    # Runtime.
    flags.DEFINE_string("model_dir", r.model_dir, "Checkpoints, summaries and config.json are written here.")
    flags.DEFINE_string("strategy", r.strategy, f"tf.distribute strategy: {', '.join(config_lib.STRATEGIES)}.")
    flags.DEFINE_integer(
        "num_devices", r.num_devices,
        "Devices for --strategy=mirrored: 0 = all GPUs; on a CPU-only host, N > 1 splits the CPU into N logical devices.",
    )
    flags.DEFINE_string("device", r.device, "Device for --strategy=one_device.")
    flags.DEFINE_integer("seed", r.seed, "Seed of data order, noise, codes and initial weights.")
    flags.DEFINE_integer("checkpoint_every", r.checkpoint_every, "Steps between checkpoints (one is also saved at the end).")
    flags.DEFINE_integer("summary_every", r.summary_every, "Steps between TensorBoard summaries and traversal images.")
    flags.DEFINE_integer("log_every", r.log_every, "Steps between progress lines.")
    flags.DEFINE_integer("keep_checkpoints", r.keep_checkpoints, "How many recent checkpoints to keep.")
    flags.DEFINE_enum(
        "mixed_precision", r.mixed_precision, ["float32", "bfloat16"],
        "Compute dtype of the layers; bfloat16 keeps variables and losses in float32.",
    )
    flags.DEFINE_boolean(
        "jit_compile", r.jit_compile,
        "Compile the train step with XLA (default: on with a single replica, off with several; XLA cannot "
        "compile a multi-replica step).",
    )
    flags.DEFINE_integer(
        "inject_nan_step", r.inject_nan_step,
        "TEST ONLY: make the real images of this step NaN to exercise the non-finite guard (0 = off).",
    )


# flag name -> (config part, field). Names are identical to field names.
_FIELDS = {
    "data": ("dataset", "data_dir", "manual_dir"),
    "model": (
        "continuous_std", "g_fc_units", "g_base_filters", "d_filters", "d_fc_units", "q_fc_units", "leaky_slope",
    ),
    "optim": (
        "train_steps", "batch_size", "d_learning_rate", "g_learning_rate", "beta1", "beta2", "lambda_cat",
        "lambda_cont", "lambda_real_info", "real_info_view", "update",
    ),
    "runtime": (
        "model_dir", "strategy", "num_devices", "device", "seed", "checkpoint_every", "summary_every",
        "log_every", "keep_checkpoints", "mixed_precision", "jit_compile", "inject_nan_step",
    ),
}


def config_from_flags(values=None) -> config_lib.TrainConfig:
    """Builds and validates the TrainConfig: the preset, then every flag given explicitly."""
    values = values or flags.FLAGS
    base = config_lib.PRESETS[values.preset](config_lib.TrainConfig())
    parts = {}
    for part, names in _FIELDS.items():
        overrides = {}
        for name in names:
            if values[name].present:
                value = values[name].value
                if name == "d_filters":
                    try:
                        value = tuple(int(x) for x in value)
                    except ValueError:
                        raise config_lib.ConfigError(f"--d_filters must be integers, got {value}") from None
                overrides[name] = value
        parts[part] = dataclasses.replace(getattr(base, part), **overrides)
    # The image shape follows the dataset.
    dataset = parts["data"].dataset
    if dataset not in config_lib.DATASETS:
        raise config_lib.ConfigError(f"--dataset must be one of {', '.join(config_lib.DATASETS)}, got {dataset!r}")
    parts["model"] = dataclasses.replace(parts["model"], image_shape=config_lib.DATASETS[dataset].image_shape)
    lat = base.latent
    try:
        latent = LatentSpec(
            noise_dim=values.noise_dim if values["noise_dim"].present else lat.noise_dim,
            categorical=(
                parse_categorical_codes(values.categorical_codes)
                if values["categorical_codes"].present
                else lat.categorical
            ),
            continuous=values.continuous_codes if values["continuous_codes"].present else lat.continuous,
            continuous_range=(
                values.continuous_range if values["continuous_range"].present else lat.continuous_range
            ),
        )
    except ValueError as e:
        raise config_lib.ConfigError(str(e)) from None
    return config_lib.TrainConfig(latent=latent, **parts).validate()


PROG = "infogan-train"


def _fail(message: str, code: int) -> None:
    cli.fail(PROG, message, code)


def main(argv) -> None:
    cli.reject_positional(PROG, argv)
    try:
        cfg = config_from_flags()  # also checks --manual_dir holds the dataset's files
    except (config_lib.ConfigError, ValueError) as e:
        _fail(str(e), 2)

    # Only now pay for TensorFlow.
    from infogan_tf import trainer
    from infogan_tf.data import DataError
    from infogan_tf.distribute import get_strategy

    try:
        rt = cfg.runtime
        strategy = get_strategy(rt.strategy, rt.num_devices, rt.device)
        result = trainer.train(cfg, strategy=strategy)
    except (
        config_lib.ConfigError, DataError, trainer.CheckpointError, trainer.NonFiniteError, trainer.ClusterError
    ) as e:
        _fail(str(e), 1 if not isinstance(e, config_lib.ConfigError) else 2)
    if result.preempted:
        saved = f"checkpoint {result.checkpoint}" if result.checkpoint else "the chief saved the checkpoint"
        print(
            f"infogan-train: preempted (SIGTERM) at step {result.step}; {saved}; rerun the same command to resume",
            file=sys.stderr,
        )
        sys.exit(trainer.PREEMPTED_EXIT_CODE)
    if result.checkpoint:
        print(
            f"infogan-train: step {result.step}; checkpoint {result.checkpoint}; "
            f"summaries: tensorboard --logdir {os.path.dirname(result.summary_dir)}"
        )


def run() -> None:
    """Console-script entry point."""
    cli.run_app(PROG, define_flags, main)


if __name__ == "__main__":
    run()

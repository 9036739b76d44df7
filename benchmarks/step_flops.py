"""Conv/matmul FLOPs of the traced train step, default configuration against the joint paper step.

    python benchmarks/step_flops.py [--batch_size=64]

Traces (does not run) ``InfoGANTrainer``'s step for each configuration and
counts 2 x the MACs of its MatMul/Conv2D* ops (``benchmark.traced_train_step_macs``).
The joint update of the paper's objective is what ``flops.py`` counts and
the speed benchmark times; the default alternating update with the
real-image term also runs D on the affine views and G and D again in the
G step.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchmark

from infogan_tf import config as config_lib

flags.DEFINE_integer("batch_size", 64, "Global batch size of the traced step.")


def _default_config(model_dir: str) -> config_lib.TrainConfig:
    base = config_lib.TrainConfig()
    return dataclasses.replace(
        base,
        optim=dataclasses.replace(base.optim, batch_size=flags.FLAGS.batch_size),
        runtime=dataclasses.replace(base.runtime, model_dir=model_dir, jit_compile=False),
    ).validate()


# The default configuration, and the step the speed benchmark times (benchmark.train_config).
VARIANTS = {
    "default": _default_config,
    "joint_paper_objective": lambda model_dir: benchmark.train_config(
        {"batch_size": flags.FLAGS.batch_size}, model_dir
    ).validate(),
}


def main(argv) -> None:
    del argv
    out = {}
    for name, make_config in VARIANTS.items():
        with tempfile.TemporaryDirectory() as model_dir:
            macs = benchmark.traced_train_step_macs(make_config(model_dir))
        out[name] = {"gflop_per_step": 2 * sum(macs.values()) / 1e9, "macs_by_op": macs}
    out["ratio"] = out["default"]["gflop_per_step"] / out["joint_paper_objective"]["gflop_per_step"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    app.run(main)

"""Train InfoGAN and export it from Python: the first cell of a notebook, as a script.

    python examples/train_and_export.py --manual_dir=../shared/data/mnist --train_steps=500

trains the mnist preset (Chen et al. 2016, Sec. 5.1: one 10-way categorical
code, two continuous codes) into --model_dir, exports the last checkpoint to
<--export_dir>/<step>/ and draws from the export. Running it again resumes
the run up to --train_steps; an existing export version is never overwritten.
--small trains the tiny networks the tests use (a smoke run, not a result).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

import infogan_tf as ig

# Networks small enough to train a few steps on a CPU in seconds (the tests' size), float32, no XLA.
SMALL = dict(
    g_fc_units=32,
    g_filters=(16, 8),
    d_filters=(8, 16),
    d_fc_units=32,
    q_fc_units=16,
    jit_compile=False,
    mixed_precision="float32",
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="mnist", choices=sorted(ig.PRESETS))
    parser.add_argument("--train_steps", type=int, default=500)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--manual_dir", help="the dataset's original files (MNIST: the four IDX .gz files)")
    parser.add_argument("--model_dir", default="runs/example")
    parser.add_argument("--export_dir", default="export/models/example")
    parser.add_argument("--small", action="store_true", help="tiny networks: a smoke run")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, images: np.ndarray | None = None) -> ig.Model:
    """Trains, exports and loads the model; ``images`` (uint8 [N, H, W, C]) replaces the dataset."""
    args = parse_args(argv)
    settings = {"train_steps": args.train_steps, "batch_size": args.batch_size}
    if args.manual_dir:
        settings["manual_dir"] = args.manual_dir
    if args.small:
        settings.update(SMALL)
    config = ig.preset(args.preset, **settings)  # any infogan-train flag, by name
    result = ig.train(config, args.model_dir, images=images)
    exported = ig.export(args.model_dir, args.export_dir)
    model = ig.load(exported.path)
    codes = model.encode(model.generate(categorical=np.arange(model.latent.categorical[0]), seed=0))
    print(f"trained to step {result.step}, exported to {exported.path}: {model}")
    print(f"Q reads the categories 0..9 of ten generated images as {codes.categorical[:, 0].tolist()}")
    return model


if __name__ == "__main__":
    main()

"""Does a refactor change what training computes? Ten steps at two revisions, weights and metrics compared bit for bit.

A change that only moves code (the objective as declared terms, the
real-image settings as their own config part) must train the same weights.
This trains a few steps of each variant below with ``infogan-train`` at a
base git revision (checked out into a temporary worktree) and at the working
tree, reads every variable of each run's last checkpoint and every row of its
``metrics.jsonl`` (timings left out), and reports any difference. Same
machine, same process settings; TF's CPU kernels are deterministic here for a
given build, so "identical" is the expected answer, not a tolerance:

    python -m experiments.bit_identity --base=HEAD~5 --manual_dir=../shared/data/mnist \
        --fashion_manual_dir=../shared/data/fashion_mnist --out=/tmp/bits

Exit status 0 when every variant is identical, 1 otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import NamedTuple

import numpy as np
from absl import app, flags

# Variant -> extra infogan-train flags; None for the dataset means MNIST.
VARIANTS: dict[str, tuple[str, ...]] = {
    "default": (),
    "float32": ("--mixed_precision=float32",),
    "paper": ("--mixed_precision=float32", "--lambda_real_info=0"),
    "joint": ("--update=joint",),
    "overcluster": ("--q_overcluster=30", "--real_info_view=affine", "--real_info_shear=0.3"),
    "fashion": ("--preset=fashion_mnist", "--dataset=fashion_mnist"),
    # infogan-train has these flags since the term got its config part: compare with a base that has them.
    "factor_views": ("--factor_views=1",),
}


class Difference(NamedTuple):
    """What differs between the two runs of one variant (empty lists: identical)."""

    variables: list[str]  # present in one run only, or with other values
    metrics: list[str]  # "step N: name" rows that differ


def compare(before: dict[str, np.ndarray], after: dict[str, np.ndarray], rows_before: list, rows_after: list):
    """The variables and metric rows that differ (timings and rates are not compared)."""
    variables = sorted(set(before) ^ set(after))
    variables += sorted(k for k in set(before) & set(after) if not np.array_equal(before[k], after[k]))

    def kept(row: dict) -> dict:
        return {k: v for k, v in row.items() if "elapsed" not in k and "per_sec" not in k}

    metrics = [] if len(rows_before) == len(rows_after) else [f"{len(rows_before)} rows against {len(rows_after)}"]
    for a, b in zip(rows_before, rows_after):
        a, b = kept(a), kept(b)
        metrics += [f"step {a.get('step')}: {k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return Difference(variables, metrics)


def _train(source: str, model_dir: str, extra: tuple[str, ...], manual_dir: str, steps: int) -> None:
    cmd = [sys.executable, "-m", "infogan_tf.cli.train", f"--manual_dir={manual_dir}", f"--model_dir={model_dir}"]
    cmd += [f"--train_steps={steps}", "--log_every=1", "--steps_per_loop=1", f"--checkpoint_every={steps}"]
    cmd += [f"--summary_every={steps}", *extra]
    env = {**os.environ, "PYTHONPATH": source}
    subprocess.run(cmd, cwd=source, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _read_run(model_dir: str) -> tuple[dict[str, np.ndarray], list]:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints")))
    variables = {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}
    with open(os.path.join(model_dir, "metrics.jsonl")) as f:
        return variables, [json.loads(line) for line in f]


FLAGS = flags.FLAGS
flags.DEFINE_string("base", "HEAD", "The git revision to compare the working tree with.")
flags.DEFINE_string("manual_dir", "../shared/data/mnist", "MNIST's IDX files.")
flags.DEFINE_string("fashion_manual_dir", "../shared/data/fashion_mnist", "Fashion-MNIST's IDX files.")
flags.DEFINE_list("variants", list(VARIANTS), f"Which of {', '.join(VARIANTS)}.")
flags.DEFINE_integer("steps", 10, "Training steps per run.")
flags.DEFINE_string("out", None, "Folder for the runs (default: a temporary one).")


def main(argv: list[str]) -> int:
    del argv
    unknown = sorted(set(FLAGS.variants) - set(VARIANTS))
    if unknown:
        raise app.UsageError(f"--variants: unknown {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    repo = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True)
    here = repo.stdout.strip()
    out = FLAGS.out or tempfile.mkdtemp(prefix="bit_identity_")
    base = os.path.join(out, "base_tree")
    if not os.path.isdir(base):
        subprocess.run(["git", "worktree", "add", "--detach", base, FLAGS.base], cwd=here, check=True)
    mnist, fashion = os.path.abspath(FLAGS.manual_dir), os.path.abspath(FLAGS.fashion_manual_dir)
    same = True
    for name in FLAGS.variants:
        runs = {}
        for side, source in (("before", base), ("after", here)):
            model_dir = os.path.join(out, side, name)
            if not os.path.exists(os.path.join(model_dir, "metrics.jsonl")):
                _train(source, model_dir, VARIANTS[name], fashion if name == "fashion" else mnist, FLAGS.steps)
            runs[side] = _read_run(model_dir)
        diff = compare(runs["before"][0], runs["after"][0], runs["before"][1], runs["after"][1])
        same &= not diff.variables and not diff.metrics
        verdict = "identical" if not diff.variables and not diff.metrics else "DIFFERENT"
        print(f"{name}: {verdict}; variables differ: {diff.variables[:5]}; metrics differ: {diff.metrics[:5]}")
    print("BIT-IDENTICAL" if same else "DIFFERENT", f"({FLAGS.base} against the working tree, {FLAGS.steps} steps)")
    return 0 if same else 1


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))

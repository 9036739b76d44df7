"""The folder path on real images: the same training run from PNG files (``--image_dir``) and from TFDS.

    python -m experiments.folder_vs_tfds --preset=fashion_mnist \\
        --manual_dir=../shared/data/fashion_mnist --runs_dir=runs/folder_vs_tfds --seeds=0,1,2
    # -> runs/folder_vs_tfds/png/          the 60,000 training images, one PNG each (no labels)
    #    runs/folder_vs_tfds/{tfds,folder}/seed_<s>/   normal model_dirs, with eval/<step>/
    #    runs/folder_vs_tfds/results.json, results.md

1. Writes every image of the TFDS training split (``--dataset``, prepared
   from ``--manual_dir`` as usual) as ``png/<index>.png``; the labels are not
   written. Skipped if the folder already holds that many files.
2. Trains each seed twice with the same flags (every ``infogan-train`` flag
   is accepted, as in ``reproduce.py``): on the TFDS split, and with
   ``--image_dir=<runs_dir>/png`` (``--cache`` as given).
3. Evaluates both runs on the same data: the dataset's labelled TFDS test
   split (accuracy; a folder carries no labels) and its training images as
   the Fréchet reference. The folder run holds nothing out (the comparison
   needs the same 60,000 training images); its held-out machinery is
   measured by the tests, not here.

The PNGs are written in the split's order and decode to the same pixels,
and both paths shuffle indices the same way, so the two runs see the same
batches: ``same_metrics_log`` says whether their logged losses are equal
(the folder path adds nothing but reading files). The table compares
accuracy, L_I and Fréchet distance per seed, and the training wall time.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

from absl import app, flags

from experiments import reproduce
from infogan_tf.cli import train as train_cli

flags.DEFINE_integer("max_images", 0, "Write only the first N training images (a smoke test; 0: all).")
SOURCES = ("tfds", "folder")


def write_pngs(images, root: str) -> int:
    """Writes uint8 [N, H, W, C] images as ``root/<index>.png`` (index zero-padded: sorted = split order)."""
    from PIL import Image

    existing = len([n for n in os.listdir(root) if n.endswith(".png")]) if os.path.isdir(root) else 0
    if existing == len(images):
        print(f"{root} already holds {existing} PNG files", flush=True)
        return existing
    os.makedirs(root, exist_ok=True)
    width = len(str(len(images) - 1))
    for i, image in enumerate(images):
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(os.path.join(root, f"{i:0{width}d}.png"))
    print(f"wrote {len(images)} PNG files to {root}", flush=True)
    return len(images)


def _metrics(model_dir: str) -> list[dict]:
    keep = ("step", "d_loss", "g_loss", "mi_loss")
    with open(os.path.join(model_dir, "metrics.jsonl")) as fh:
        return [{k: r.get(k) for k in keep} for r in map(json.loads, fh)]


def main(argv) -> None:
    if len(argv) > 1:
        sys.exit(f"folder_vs_tfds: error: unexpected arguments: {' '.join(argv[1:])}")
    f = flags.FLAGS
    try:
        base = train_cli.config_from_flags(f)
        seeds = [int(s) for s in f.seeds]
    except ValueError as e:  # errors.ConfigError is one
        sys.exit(f"folder_vs_tfds: error: {e}")
    if base.data.image_dir is not None:
        sys.exit(
            "folder_vs_tfds: error: give --dataset (and --manual_dir), not --image_dir: the folder is written here"
        )

    from infogan_tf.data.datasets import load_train_images

    png_dir = os.path.join(f.runs_dir, "png")
    train = load_train_images(base.data, base.model.image_shape)
    write_pngs(train[: f.max_images] if f.max_images else train, png_dir)
    # The same labelled test split and Fréchet reference for both sources (the TFDS run's data).
    eval_config, classifier, eval_data = reproduce.evaluation_setup(base, f, "folder_vs_tfds")
    rows = []
    for seed in seeds:
        for name in SOURCES:
            data = base.data if name == "tfds" else dataclasses.replace(base.data, image_dir=png_dir)
            config = dataclasses.replace(
                base,
                data=data,
                runtime=dataclasses.replace(base.runtime, model_dir=os.path.join(f.runs_dir, name, f"seed_{seed}")),
            )
            config = dataclasses.replace(config, runtime=dataclasses.replace(config.runtime, seed=seed)).validate()
            row = reproduce.run_seed(config, eval_config, eval_data, classifier)
            row["source"] = name
            rows.append(row)
        tfds_row, folder_row = rows[-2], rows[-1]
        if "error" not in tfds_row and "error" not in folder_row:
            same = _metrics(tfds_row["model_dir"]) == _metrics(folder_row["model_dir"])
            tfds_row["same_metrics_log"] = folder_row["same_metrics_log"] = same
        by_source = {name: [r for r in rows if r["source"] == name] for name in SOURCES}
        summary = {name: reproduce.summarise(by_source[name], f.target_accuracy) for name in SOURCES}
        with open(os.path.join(f.runs_dir, "results.json"), "w") as fh:
            json.dump(
                {"command": sys.argv, "config": json.loads(base.to_json()), "rows": rows, **summary}, fh, indent=2
            )
        tables = [f"## {name}\n\n" + reproduce.markdown_table(by_source[name], summary[name]) for name in SOURCES]
        same_logs = [r.get("same_metrics_log") for r in rows if r["source"] == "folder"]
        text = "\n".join(tables) + f"\nsame logged losses (folder vs TFDS), per seed: {same_logs}\n"
        with open(os.path.join(f.runs_dir, "results.md"), "w") as fh:
            fh.write(text)
    print(text)


if __name__ == "__main__":
    reproduce.define_flags()
    app.run(main)

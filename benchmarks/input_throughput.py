"""Images/s of the ``--image_dir`` input pipeline, cached and streamed, against the train step's images/s.

    python -m benchmarks.input_throughput --synthetic=200000 --source_size=218x178 \\
        --shapes=64x64x3,28x28x1 --output=runs/input_throughput.json
    python -m benchmarks.input_throughput --image_dir=~/img_align_celeba --shapes=64x64x3

For each training shape (H x W x C) and each ``--modes`` (memory, stream):

* ``prepare_s``: the first start's cost of ``data.source.load_training_data``
  -- the header pass over every file, then one decode of every file (the
  cache is its output; when streaming its pixels are dropped);
* ``images_per_sec``: batches of ``data.pipeline.make_input_fn`` over the
  result, distributed by the default strategy as in training, after a
  warm-up (autotuning, prefetch), at ``--batch_size``;
* against ``train_images_per_sec``: the compiled train step of
  ``training.loop.Trainer`` at that shape (default configuration,
  ``--batch_size``, XLA as by default), timed as ``benchmark.py`` does; the
  ``ratio`` pipeline / step must be > 1 for the step never to wait for data.

``--synthetic=N`` writes N random JPEG (colour) or PNG (grey) files of
``--source_size`` (H x W; CelebA's aligned faces are 218 x 178) into a
temporary folder, removed at the end; ``--image_dir`` measures a folder of
your own. This is a benchmark, not a test: nothing is asserted.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time

import numpy as np
from absl import app, flags

from infogan_tf import config as config_lib

flags.DEFINE_string("image_dir", None, "Folder to measure (default: a synthetic one, see --synthetic).")
flags.DEFINE_integer("synthetic", 2000, "Files of the synthetic folder written when --image_dir is not given.")
flags.DEFINE_string("source_size", "218x178", "H x W of the synthetic files.")
flags.DEFINE_list("shapes", ["64x64x3", "28x28x1"], "Training shapes H x W x C to measure.")
flags.DEFINE_list("modes", ["memory", "stream"], "--cache modes to measure.")
flags.DEFINE_integer("batch_size", 64, "Global batch size.")
flags.DEFINE_integer("batches", 200, "Timed batches of the pipeline.")
flags.DEFINE_integer("steps", 30, "Timed train steps (after 5 warm-up steps); 0 skips the train step.")
flags.DEFINE_string("output", None, "Also write the JSON report here.")


def _shape(text: str, n: int) -> tuple[int, ...]:
    parts = tuple(int(x) for x in text.lower().split("x"))
    if len(parts) != n:
        raise app.UsageError(f"{text!r} is not {'x'.join(['N'] * n)}")
    return parts


def write_synthetic(root: str, n: int, size: tuple[int, ...], channels: int) -> str:
    """``n`` random smooth images (JPEG for colour, PNG for grey), 1000 per subfolder."""
    from PIL import Image

    rng = np.random.default_rng(0)
    height, width = size
    for i in range(n):
        coarse = rng.integers(0, 256, size=(height // 8 + 1, width // 8 + 1, channels), dtype=np.uint8)
        image = np.kron(coarse, np.ones((8, 8, 1), np.uint8))[:height, :width]
        path = os.path.join(root, f"{i // 1000:04d}", f"{i:07d}." + ("jpg" if channels == 3 else "png"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Image.fromarray(image if channels == 3 else image[..., 0]).save(path, quality=90)
    return root


def pipeline_rate(images, batch_size: int, batches: int) -> float:
    """Images/s of the training input pipeline over ``images`` (array or streamed files)."""
    import tensorflow as tf

    from infogan_tf.data.pipeline import make_input_fn

    strategy = tf.distribute.get_strategy()
    iterator = iter(strategy.distribute_datasets_from_function(make_input_fn(images, batch_size, seed=0)))
    for _ in range(20):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        batch = next(iterator)
    batch.numpy()
    return batches * batch_size / (time.perf_counter() - start)


def train_rate(shape: tuple[int, ...], batch_size: int, steps: int) -> float:
    """Images/s of the compiled train step at ``shape`` (the default configuration otherwise)."""
    import dataclasses

    import tensorflow as tf

    from infogan_tf.training import loop

    base = config_lib.TrainConfig()
    with tempfile.TemporaryDirectory(prefix="infogan_bench_input_") as model_dir:
        cfg = dataclasses.replace(
            base,
            model=dataclasses.replace(base.model, image_shape=shape),
            optim=dataclasses.replace(base.optim, batch_size=batch_size, train_steps=10**9),
            runtime=dataclasses.replace(base.runtime, model_dir=model_dir),
        ).validate()
        images = np.zeros([batch_size, *shape], np.uint8)
        trainer = loop.Trainer(cfg, tf.distribute.get_strategy(), images=images)
        iterator = trainer.input_iterator()
        for _ in range(5):
            float(trainer.step_fn(iterator)["d_loss"])
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            float(trainer.step_fn(iterator)["d_loss"])
            times.append(time.perf_counter() - start)
    return batch_size / statistics.median(times)


def main(argv) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from infogan_tf.data.source import load_training_data

    f = flags.FLAGS
    shapes = [_shape(s, 3) for s in f.shapes]
    scratch = None
    report: dict = {"batch_size": f.batch_size, "results": []}
    try:
        for shape in shapes:
            root = f.image_dir
            if root is None:
                scratch = tempfile.mkdtemp(prefix="infogan_synthetic_")
                start = time.perf_counter()
                root = write_synthetic(scratch, f.synthetic, _shape(f.source_size, 2), shape[2])
                print(f"wrote {f.synthetic} files in {time.perf_counter() - start:.1f} s", flush=True)
            step = train_rate(shape, f.batch_size, f.steps) if f.steps else None
            for mode in f.modes:
                data = config_lib.DataConfig(image_dir=os.path.expanduser(root), cache=mode, upscale=True)
                start = time.perf_counter()
                loaded = load_training_data(data, shape)
                prepare = time.perf_counter() - start
                rate = pipeline_rate(loaded.images, f.batch_size, f.batches)
                row = {
                    "shape": "x".join(map(str, shape)),
                    "mode": mode,
                    "files": len(loaded.images),
                    "prepare_s": prepare,
                    "images_per_sec": rate,
                    "train_images_per_sec": step,
                    "ratio": rate / step if step else None,
                }
                report["results"].append(row)
                print(json.dumps(row), flush=True)
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
                scratch = None
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    text = json.dumps(report, indent=2)
    print(text)
    if f.output:
        os.makedirs(os.path.dirname(os.path.abspath(f.output)), exist_ok=True)
        with open(f.output, "w") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    app.run(main)

"""Test helper: one worker of a local cluster, running the real ``infogan-train``.

Runs ``infogan_tf.cli.train`` -- its flags, strategy creation, messages and exit
codes -- with the dataset replaced by 64 fixed random 28x28x1 images (the same
in every process; no TFDS, no download), so a test can start it once per
TF_CONFIG task.
When training returns or raises, the worker writes a report next to
REPORT_PREFIX:

  REPORT_PREFIX.npz   every variable of G, D/Q and both optimisers (by path);
  REPORT_PREFIX.json  step, whether it was the chief, and the directory it wrote to.

Test-only; production code knows nothing about it.

usage: python tests/cluster_worker.py REPORT_PREFIX [infogan-train flags...]
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FAKE_IMAGES = 64


def _report(prefix: str, trainer) -> None:
    import numpy as np

    values = {}
    state = trainer.state
    for owner in (state.generator, state.discriminator, state.g_optimizer, state.d_optimizer):
        for v in owner.variables:
            values[f"{type(owner).__name__}/{v.path}"] = np.asarray(v.numpy())
    np.savez(prefix + ".npz", **values)
    with open(prefix + ".json", "w") as f:
        json.dump({"step": int(state.step.numpy()), "chief": trainer.chief, "write_dir": trainer.write_dir.path}, f)


def main() -> None:
    prefix, sys.argv = sys.argv[1], [sys.argv[0], *sys.argv[2:]]
    import numpy as np

    from infogan_tf.cli import train
    from infogan_tf.training import loop

    images = np.random.default_rng(0).integers(0, 256, size=(FAKE_IMAGES, 28, 28, 1), dtype=np.uint8)
    original = loop.Trainer.train

    def train_and_report(self, *args, **kwargs):
        try:
            return original(self, *args, **kwargs)
        finally:
            _report(prefix, self)

    loop.Trainer.train = train_and_report
    sys.exit(train.main(sys.argv, images=images))


if __name__ == "__main__":
    main()

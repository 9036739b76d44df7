"""Compares SavedModel export methods on one trained run; prints JSON.

For the networks restored from ``--model_dir`` (latest checkpoint or
``--checkpoint``) it measures:

  * infogan_tf.serving.export (the method used by ``infogan-export``): bytes of
    variables/ against the bytes of the exported weights (generator + Q
    encoder), and whether the TF1 session loader (TF Serving's path) runs it;
  * keras.export.ExportArchive tracking the generator, with the same
    generator endpoint;
  * a plain tf.saved_model.save of a tf.Module that tracks the Keras models.

Usage (writes only to a temporary directory, removed at the end):
  python export/measure_export_size.py --model_dir=runs/mnist
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile

from absl import app, flags

flags.DEFINE_string("model_dir", None, "An infogan-train --model_dir.", required=True)
flags.DEFINE_string("checkpoint", None, "Checkpoint prefix; default: the latest.")


def _bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, files in os.walk(path) for f in files)


def _session_loader_runs(path: str, signature: str, feeds: dict) -> str:
    """'ok' if the TF1 loader restores and runs ``signature``, else the error's first line."""
    import tensorflow as tf

    try:
        with tf.compat.v1.Session(graph=tf.Graph()) as sess:
            meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)
            sig = meta.signature_def[signature]
            sess.run([t.name for t in sig.outputs.values()], {sig.inputs[k].name: v for k, v in feeds.items()})
        return "ok"
    except Exception as e:  # report, do not stop the comparison
        return f"{type(e).__name__}: {str(e).strip().splitlines()[0][:160]}"


def main(argv) -> None:
    del argv
    import keras
    import numpy as np
    import tensorflow as tf

    from infogan_tf.serving import export

    restored = export.restore(flags.FLAGS.model_dir, flags.FLAGS.checkpoint)
    g, d = restored.generator, restored.discriminator
    lat = restored.config.latent
    z = np.zeros([2, lat.noise_dim], np.float32)
    c = np.zeros([2, lat.code_dim], np.float32)
    c[:, 0] = 1.0
    g_bytes = sum(v.numpy().nbytes for v in g.variables)
    d_bytes = sum(v.numpy().nbytes for v in d.variables)
    work = tempfile.mkdtemp(prefix="infogan_export_size_")
    report = {
        "checkpoint": restored.checkpoint,
        "generator_parameter_bytes": int(g_bytes),
        "discriminator_parameter_bytes (trunk + D head + Q head)": int(d_bytes),
    }
    try:
        # 1. infogan_tf.serving.export.
        result = export.export(
            export.ExportConfig(flags.FLAGS.model_dir, os.path.join(work, "ours"), checkpoint=restored.checkpoint)
        )
        report["infogan_tf.serving.export"] = {
            "variables_bytes": result.variables_bytes,
            "saved_model_bytes": result.saved_model_bytes,
            "exported_parameter_bytes": result.exported_parameter_bytes,
            "variables_bytes / exported_parameter_bytes": round(
                result.variables_bytes / result.exported_parameter_bytes, 4
            ),
            "session_loader": _session_loader_runs(result.path, "serving_default", {"z": z, "c": c}),
        }
        # 2. keras.export.ExportArchive of the generator alone, same endpoint.
        archive = keras.export.ExportArchive()
        archive.track(g)
        archive.add_endpoint(
            "serving_default",
            lambda z, c: {"images": g(z, c, training=False)},
            input_signature=[
                tf.TensorSpec([None, lat.noise_dim], tf.float32, name="z"),
                tf.TensorSpec([None, lat.code_dim], tf.float32, name="c"),
            ],
        )
        path = os.path.join(work, "archive")
        with contextlib.redirect_stdout(sys.stderr):  # write_out prints a summary
            archive.write_out(path)
        report["keras.export.ExportArchive"] = {
            "variables_bytes": _bytes(os.path.join(path, "variables")),
            "saved_model_bytes": _bytes(path),
            "variables_bytes / generator_parameter_bytes": round(_bytes(os.path.join(path, "variables")) / g_bytes, 4),
            "session_loader": _session_loader_runs(path, "serving_default", {"z": z, "c": c}),
        }

        # 3. Plain tf.saved_model.save of a tf.Module tracking the Keras models.
        class Tracking(tf.Module):
            def __init__(self):
                super().__init__()
                self.generator, self.discriminator = g, d

            @tf.function(
                input_signature=[
                    tf.TensorSpec([None, lat.noise_dim], tf.float32),
                    tf.TensorSpec([None, lat.code_dim], tf.float32),
                ]
            )
            def serve(self, z, c):
                return {"images": self.generator(z, c, training=False)}

        module = Tracking()
        path = os.path.join(work, "plain")
        try:
            tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
            report["plain tf.saved_model.save"] = {
                "variables_bytes": _bytes(os.path.join(path, "variables")),
                "session_loader": _session_loader_runs(path, "serving_default", {"z": z, "c": c}),
            }
        except Exception as e:
            lines = [line for line in str(e).strip().splitlines() if line.strip()]
            last = lines[-1].strip()[:160]
            report["plain tf.saved_model.save"] = {
                "error": last if last.startswith(type(e).__name__) else f"{type(e).__name__}: {last}"
            }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    app.run(main)

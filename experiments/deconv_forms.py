"""How fast is the generator's first transposed convolution, and would another form of it be faster?

    python -m experiments.deconv_forms [--batches=1,64,1024]

The paper's MNIST generator upsamples 7x7x128 to 14x14x64 with a 4x4,
stride-2 transposed convolution (``upconv1``). At large serving batches it
dominates the generator's time on a CPU. This script times, for each batch
size, with and without XLA:

* ``generator``: the whole default generator in inference mode, for scale;
* ``conv2d_transpose``: ``tf.nn.conv2d_transpose``, what the Keras layer runs;
* ``subpixel``: the same map as one 3x3, stride-1 convolution to 4 x 64
  channels, whose four channel groups are the four output phases
  (row parity, column parity) interleaved into the 14x14 grid. Exact for
  stride 2, kernel 4 and "same" padding (output row 2i + t - 1 takes kernel
  row t from input row i); it multiplies 9/4 as many weights per output as
  the useful 4, some of them zeros.

Checks the two forms agree (max abs difference) and prints JSON. Median of
``--repeats`` calls after one warm-up call; a benchmark, not a test.
"""

from __future__ import annotations

import json
import time

import numpy as np
from absl import app, flags

flags.DEFINE_list("batches", ["1", "64", "1024"], "Batch sizes.")
flags.DEFINE_integer("repeats", 20, "Timed calls per measurement (the median is reported).")
FLAGS = flags.FLAGS


def subpixel_kernel(kernel: np.ndarray) -> np.ndarray:
    """[4, 4, out, in] transposed-conv kernel -> [3, 3, in, 4 * out] conv kernel (phase-major channels)."""
    kh, kw, out_ch, in_ch = kernel.shape
    assert (kh, kw) == (4, 4), "the phase decomposition below is for 4x4 kernels with stride 2"
    result = np.zeros([3, 3, in_ch, 2, 2, out_ch], kernel.dtype)
    for a in range(2):  # output row parity
        for b in range(2):  # output column parity
            for ei, e in enumerate((-1, 0, 1)):  # input row offset from the output's half position
                for fi, f in enumerate((-1, 0, 1)):
                    t, u = a + 1 - 2 * e, b + 1 - 2 * f
                    if 0 <= t < 4 and 0 <= u < 4:
                        result[ei, fi, :, a, b, :] = kernel[t, u].T
    return result.reshape(3, 3, in_ch, 4 * out_ch)


def _median_ms(fn, x, repeats: int) -> float:
    fn(x).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x).numpy()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main(argv) -> None:
    del argv
    import tensorflow as tf

    from infogan_tf import config as config_lib
    from infogan_tf.model.networks import build_networks

    cfg = config_lib.TrainConfig()
    generator = build_networks(cfg.latent, cfg.model).generator
    layer = generator.get_layer("upconv1")
    kernel = layer.kernel.numpy()  # [4, 4, out, in]
    out_ch, in_ch = kernel.shape[2], kernel.shape[3]
    side = cfg.model.image_shape[0] // 4
    conv_kernel = tf.constant(subpixel_kernel(kernel))
    kernel_t = tf.constant(kernel)

    def transposed(x):
        shape = [tf.shape(x)[0], 2 * side, 2 * side, out_ch]
        return tf.nn.conv2d_transpose(x, kernel_t, shape, strides=2, padding="SAME")

    def subpixel(x):
        y = tf.nn.conv2d(x, conv_kernel, strides=1, padding="SAME")
        y = tf.reshape(y, [tf.shape(x)[0], side, side, 2, 2, out_ch])
        return tf.reshape(tf.transpose(y, [0, 1, 3, 2, 4, 5]), [tf.shape(x)[0], 2 * side, 2 * side, out_ch])

    rng = np.random.default_rng(0)
    probe = tf.constant(rng.normal(size=[4, side, side, in_ch]).astype(np.float32))
    report = {
        "layer": {"input": [side, side, in_ch], "output": [2 * side, 2 * side, out_ch], "kernel": [4, 4], "stride": 2},
        "max_abs_difference": float(tf.reduce_max(tf.abs(transposed(probe) - subpixel(probe)))),
        # ... and conv2d_transpose is what the Keras layer computes (it has no bias or activation).
        "keras_layer_max_abs_difference": float(tf.reduce_max(tf.abs(layer(probe) - transposed(probe)))),
        "flops_per_image": 2 * side * side * in_ch * 16 * out_ch,
        "ms": {},
    }
    for batch in (int(b) for b in FLAGS.batches):
        x = tf.constant(rng.normal(size=[batch, side, side, in_ch]).astype(np.float32))
        z = tf.constant(rng.uniform(-1, 1, [batch, cfg.latent.noise_dim]).astype(np.float32))
        c = cfg.latent.flatten(
            np.zeros([batch, cfg.latent.n_categorical], np.int32), np.zeros([batch, cfg.latent.continuous], np.float32)
        )
        for jit in (False, True):
            key = f"batch_{batch}_{'xla' if jit else 'plain'}"
            gen = tf.function(lambda _, z=z, c=c: generator(z, c, training=False), jit_compile=jit)
            report["ms"][key] = {
                "generator": _median_ms(gen, None, FLAGS.repeats),
                "conv2d_transpose": _median_ms(tf.function(transposed, jit_compile=jit), x, FLAGS.repeats),
                "subpixel": _median_ms(tf.function(subpixel, jit_compile=jit), x, FLAGS.repeats),
            }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    app.run(main)

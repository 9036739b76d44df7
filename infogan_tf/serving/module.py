"""The exported object: InfoGAN's generator and Q encoder as a tf.Module with three signatures.

``InfoGANExportModule`` holds plain ``tf.Variable`` copies of the weights the
outputs need -- the generator G(z, c), and the discriminator's shared trunk
with the Q head (Chen et al. 2016, Sec. 5); not the real/fake D head -- and
does NOT track the Keras models. Its functions run the Keras layers' own math
through ``Layer.stateless_call``, which reads every weight from those copies,
in inference mode (``training=False``: BatchNormalization uses its moving
statistics). ``tf.saved_model.save`` refuses a function that captures an
untracked variable, so a successful save shows that the graph reads only the
copies and that each weight is stored once.

Signatures (names, inputs, outputs: ``infogan_tf.serving.signatures``) and the
one-dict functions of the same names (for ``keras.layers.TFSMLayer``) check
their inputs inside the graph (see the comment above ``_assert``).

With ``jit_compile=True`` the networks' math of each signature (not the input
checks: XLA compiles ``tf.debugging.Assert`` to nothing) is a nested
``tf.function(jit_compile=True)``, compiled by XLA once per input batch size.
TensorFlow loads and runs such a SavedModel anywhere; TF Serving runs it only
with ``--xla_cpu_compilation_enabled=true`` (see export/README.md).

Writing, versioning and warmup records are in ``infogan_tf.serving.export``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import tensorflow as tf

from infogan_tf.data.pixels import to_unit_range, unit_to_model_range
from infogan_tf.latent import LatentSpec
from infogan_tf.model.networks import Discriminator, Generator
from infogan_tf.serving import signatures as sig
from infogan_tf.serving import upsampling

# --------------------------------------------------------------------------
# Shapes of the signatures.


def signature_shapes(latent: LatentSpec, image_shape) -> dict[str, dict[str, dict[str, list[int]]]]:
    """{signature: {"inputs"|"outputs": {name: shape}}} with -1 for the batch."""
    image = [-1, *[int(d) for d in image_shape]]
    return {
        "serving_default": {
            "inputs": {"z": [-1, latent.noise_dim], "c": [-1, latent.code_dim]},
            "outputs": {"images": image},
        },
        "generate": {
            "inputs": {
                "z": [-1, latent.noise_dim],
                "categorical": [-1, latent.n_categorical],
                "continuous": [-1, latent.continuous],
            },
            "outputs": {"images": image, "images_uint8": image},
        },
        "encode": {
            "inputs": {"images": image},
            "outputs": {
                "categorical_probs": [-1, latent.categorical_dim],
                "continuous_mean": [-1, latent.continuous],
                "continuous_std": [-1, latent.continuous],
            },
        },
    }


def _tensor_specs(latent: LatentSpec, image_shape, name: str) -> dict[str, tf.TensorSpec]:
    shapes = signature_shapes(latent, image_shape)[name]["inputs"]
    return {
        t.name: tf.TensorSpec([None, *shapes[t.name][1:]], tf.as_dtype(t.dtype), name=t.name)
        for t in sig.SIGNATURES[name].inputs
    }


# --------------------------------------------------------------------------
# In-graph input checks. Each is a tf.debugging.Assert: stateful, so a
# tf.function runs them in program order and the first failing check is the
# one reported.
#
# Shapes are checked at run time because callers can feed tensors that do not
# match the signature: TF Serving's C++ session and the TF2 signature wrappers
# of tf.saved_model.load do not validate shapes before running the graph. The
# runtime shape must also be hidden from the optimisers: Python folds
# tf.rank/tf.shape from static shapes, and Grappler folds Rank/Shape from the
# function's declared argument shapes, which would turn a rank check into
# "true". The shape vector is therefore passed through SerializeTensor +
# ParseTensor, whose output shape is unknown to every shape inference.


def _assert(condition, *message):
    return tf.debugging.Assert(condition, list(message), summarize=6)


class _RuntimeShape(NamedTuple):
    rank: tf.Tensor  # int32 scalar
    dims: tf.Tensor  # int32 [rank + 4]: the shape padded with -1, so dims[i] exists for i < 4


def _runtime_shape(x: tf.Tensor) -> _RuntimeShape:
    shape = tf.raw_ops.Shape(input=x, out_type=tf.int32)
    opaque = tf.raw_ops.ParseTensor(serialized=tf.raw_ops.SerializeTensor(tensor=shape), out_type=tf.int32)
    return _RuntimeShape(tf.size(opaque), tf.concat([tf.reshape(opaque, [-1]), tf.constant([-1, -1, -1, -1])], 0))


def _check_matrix(x: tf.Tensor, name: str, width: int, what: str) -> list:
    shape = _runtime_shape(x)
    return [
        _assert(tf.equal(shape.rank, 2), f"{name} must be a matrix [batch, {width}]; got rank", shape.rank),
        _assert(tf.equal(shape.dims[1], width), f"{name} must have {width} columns ({what}); got", shape.dims[1]),
    ]


def _check_same_batch(a: tf.Tensor, b: tf.Tensor, a_name: str, b_name: str) -> tf.Operation:
    rows_a, rows_b = _runtime_shape(a).dims[0], _runtime_shape(b).dims[0]
    return _assert(
        tf.equal(rows_a, rows_b), f"{a_name} and {b_name} must have the same number of rows; got", rows_a, rows_b
    )


def _all(x: tf.Tensor) -> tf.Tensor:
    """reduce_all over every element, whatever the (runtime) rank."""
    return tf.reduce_all(tf.reshape(x, [-1]))


def _check_finite(x: tf.Tensor, name: str) -> tf.Operation:
    return _assert(_all(tf.math.is_finite(x)), f"{name} contains NaN or Inf values")


def _after(checks: list, *tensors: tf.Tensor):
    """The tensors, made to depend on every check."""
    with tf.control_dependencies(checks):
        out = tuple(tf.identity(t) for t in tensors)
    return out if len(out) > 1 else out[0]


class _KerasNetworks:
    """Holds the Keras networks without tf.Module tracking them (see module docstring)."""

    def __init__(self, generator: Generator, discriminator: Discriminator):
        self.generator = generator
        self.discriminator = discriminator


class InfoGANExportModule(tf.Module):
    """The exported object: weight copies, the JSON asset and the three functions.

    Attributes (as seen after ``tf.saved_model.load``):
      weights: dict of the exported tf.Variables, keyed by Keras variable path.
      export_metadata: tf.saved_model.Asset of the JSON metadata.
      serving_default, generate, encode: tf.functions taking ONE dict with the
        signature's input names (the form ``keras.layers.TFSMLayer`` passes)
        and returning the same dict of outputs as the signature of that name.
    """

    def __init__(
        self, generator: Generator, discriminator: Discriminator, metadata_path: str, jit_compile: bool = False
    ):
        super().__init__(name="infogan")
        self.latent: LatentSpec = generator.latent
        self.image_shape = tuple(generator.model_config.image_shape)
        self._networks = _KerasNetworks(generator, discriminator)
        # The real/fake D head is not needed by any signature: it is neither
        # exported nor read (stateless_call gets zeros for it, its output is dropped).
        self._unexported = {id(v) for v in discriminator.d_head.variables}
        self.weights: dict[str, tf.Variable] = {}
        for network in (generator, discriminator):
            for v in network.variables:
                if id(v) in self._unexported:
                    continue
                if v.path in self.weights:
                    raise ValueError(f"two variables share the path {v.path}; cannot name the export's weights")
                self.weights[v.path] = tf.Variable(
                    v.numpy(), trainable=v.trainable, name=v.path.replace("/", "."), dtype=v.dtype
                )
        self.export_metadata = tf.saved_model.Asset(metadata_path)
        # G's upconvolutions: without XLA, TF's transposed convolution is most of G's time at batch >= 64
        # and the sub-pixel form of the same map is ~1.5x faster there (slower below ~8 images: "auto"
        # picks by batch size); XLA's own transposed convolution beats its sub-pixel form at batch 1 and
        # 64 (benchmarks/deconv_forms.py, BUILD_NOTES "Export").
        self._upsample = None if jit_compile else upsampling.auto
        self._generator_fn: Callable = self._generator_math
        self._encoder_fn: Callable = self._encoder_math
        if jit_compile:
            self._generator_fn = tf.function(self._generator_math, jit_compile=True, autograph=False)
            self._encoder_fn = tf.function(self._encoder_math, jit_compile=True, autograph=False)

        specs = {name: _tensor_specs(self.latent, self.image_shape, name) for name in sig.SIGNATURES}
        self.serving_default = tf.function(
            lambda inputs: self._serving_default(inputs["z"], inputs["c"]), input_signature=[specs["serving_default"]]
        )
        self.generate = tf.function(
            lambda inputs: self._generate(inputs["z"], inputs["categorical"], inputs["continuous"]),
            input_signature=[specs["generate"]],
        )
        self.encode = tf.function(lambda inputs: self._encode(inputs["images"]), input_signature=[specs["encode"]])

    # ------------------------------------------------------------ signatures
    def signature_functions(self) -> dict[str, Callable]:
        """Keyword-argument functions for ``tf.saved_model.save(signatures=...)``."""
        s = {name: _tensor_specs(self.latent, self.image_shape, name) for name in sig.SIGNATURES}
        serving_default = tf.function(
            lambda z, c: self._serving_default(z, c),
            input_signature=[s["serving_default"]["z"], s["serving_default"]["c"]],
        )
        generate = tf.function(
            lambda z, categorical, continuous: self._generate(z, categorical, continuous),
            input_signature=[s["generate"][t.name] for t in sig.SIGNATURES["generate"].inputs],
        )
        encode = tf.function(lambda images: self._encode(images), input_signature=[s["encode"]["images"]])
        return {"serving_default": serving_default, "generate": generate, "encode": encode}

    # ---------------------------------------------------------- computations
    def _values(self, variables) -> list:
        return [tf.zeros(v.shape, v.dtype) if id(v) in self._unexported else self.weights[v.path] for v in variables]

    def _generator_math(self, z: tf.Tensor, c: tf.Tensor) -> tf.Tensor:
        """G(z, c) in inference mode, mapped from [-1, 1] to [0, 1] (inputs already checked)."""
        g = self._networks.generator
        images, _ = g.stateless_call(
            self._values(g.trainable_variables),
            self._values(g.non_trainable_variables),
            z,
            c,
            training=False,
            upsample=self._upsample,
        )
        return to_unit_range(images)

    # Checks come in two stages: shapes first, then values computed from the
    # shape-checked tensors, so that no value check runs on a tensor of the
    # wrong rank (which would fail with an unrelated message).
    def _checked_matrix(self, x, name: str, width: int, what: str) -> tf.Tensor:
        return _after(_check_matrix(x, name, width, what), x)

    def _one_hot_checks(self, c: tf.Tensor) -> list:
        checks = []
        for i, (k, s) in enumerate(zip(self.latent.categorical, self.latent.categorical_slices())):
            block = c[:, s]
            binary = _all(tf.logical_or(tf.equal(block, 0.0), tf.equal(block, 1.0)))
            one_per_row = _all(tf.equal(tf.reduce_sum(block, axis=1), 1.0))
            checks.append(
                _assert(
                    tf.logical_and(binary, one_per_row),
                    f"c columns {s.start}..{s.stop - 1} (categorical code {i}, {k} categories) must be one-hot: "
                    "entries 0 or 1 with exactly one 1 per row",
                )
            )
        return checks

    def _serving_default(self, z, c) -> dict:
        lat = self.latent
        z = self._checked_matrix(z, "z", lat.noise_dim, "noise_dim")
        c = self._checked_matrix(c, "c", lat.code_dim, "code_dim: one-hot blocks, then continuous values")
        checks = [_check_same_batch(z, c, "z", "c"), _check_finite(z, "z"), _check_finite(c, "c")]
        checks += self._one_hot_checks(c)
        z, c = _after(checks, z, c)
        return {"images": self._generator_fn(z, c)}

    def _generate(self, z, categorical, continuous) -> dict:
        lat = self.latent
        z = self._checked_matrix(z, "z", lat.noise_dim, "noise_dim")
        categorical = self._checked_matrix(
            categorical, "categorical", lat.n_categorical, "one index per categorical code"
        )
        continuous = self._checked_matrix(continuous, "continuous", lat.continuous, "one value per continuous code")
        checks = [
            _check_same_batch(z, categorical, "z", "categorical"),
            _check_same_batch(z, continuous, "z", "continuous"),
            _check_finite(z, "z"),
            _check_finite(continuous, "continuous"),
        ]
        for i, k in enumerate(lat.categorical):
            column = categorical[:, i]
            checks.append(
                _assert(
                    _all(tf.logical_and(column >= 0, column < k)),
                    f"categorical[:, {i}] must be a category index in [0, {k - 1}]; got min/max",
                    tf.reduce_min(column),
                    tf.reduce_max(column),
                )
            )
        z, categorical, continuous = _after(checks, z, categorical, continuous)
        images = self._generator_fn(z, lat.flatten(categorical, continuous))
        return {"images": images, "images_uint8": tf.cast(tf.round(images * 255.0), tf.uint8)}

    def _encode(self, images) -> dict:
        h, w, ch = self.image_shape
        shape = _runtime_shape(images)
        images = _after(
            [
                _assert(tf.equal(shape.rank, 4), f"images must be [batch, {h}, {w}, {ch}]; got rank", shape.rank),
                _assert(
                    _all(tf.equal(shape.dims[1:4], [h, w, ch])),
                    f"images must be [batch, {h}, {w}, {ch}]; got",
                    shape.dims[:4],
                ),
            ],
            images,
        )
        images = _after(
            [
                _check_finite(images, "images"),
                _assert(
                    _all(tf.logical_and(images >= 0.0, images <= 1.0)),
                    "images must be in [0, 1] (divide uint8 pixels by 255); got min/max",
                    tf.reduce_min(images),
                    tf.reduce_max(images),
                ),
            ],
            images,
        )
        return self._encoder_fn(images)

    def _encoder_math(self, images: tf.Tensor) -> dict:
        """Q's outputs for images in [0, 1] (inputs already checked)."""
        d = self._networks.discriminator
        out, _ = d.stateless_call(
            self._values(d.trainable_variables),
            self._values(d.non_trainable_variables),
            unit_to_model_range(images),
            training=False,
        )
        batch = tf.shape(images)[0]
        if out.categorical_logits:
            probs = tf.concat([tf.nn.softmax(logits, axis=-1) for logits in out.categorical_logits], axis=-1)
        else:
            probs = tf.zeros([batch, 0], tf.float32)
        return {
            "categorical_probs": probs,
            "continuous_mean": out.continuous_mean,
            "continuous_std": tf.exp(out.continuous_log_std),
        }

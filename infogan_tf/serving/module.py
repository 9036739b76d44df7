"""The exported object: InfoGAN's generator and Q encoder as a tf.Module, one function per declared signature.

``InfoGANExportModule`` holds plain ``tf.Variable`` copies of the weights the
outputs need -- the generator G(z, c), and the discriminator's shared trunk
with the Q head (Chen et al. 2016, Sec. 5); not the real/fake D head -- and
does NOT track the Keras models. Its functions run the Keras layers' own math
through ``Layer.stateless_call``, which reads every weight from those copies,
in inference mode (``training=False``: BatchNormalization uses its moving
statistics). ``tf.saved_model.save`` refuses a function that captures an
untracked variable, so a successful save shows that the graph reads only the
copies and that each weight is stored once.

The signatures are declared in ``infogan_tf.serving.signatures`` (names,
inputs with their shapes and checks, outputs); this module writes only the
networks' math of each (``InfoGANExportModule._serving_default`` and its
siblings) and builds the rest from the declaration: one ``tf.function`` per
signature taking ONE dict (the form ``keras.layers.TFSMLayer`` passes), whose
concrete function is also the SavedModel signature of that name; the input
checks inside the graph (see the comment above ``_assert``); and the answer to
an empty batch (empty outputs of the declared shapes, without running the
networks: see ``InfoGANExportModule._signature``).

With ``jit_compile=True`` the networks' math of each signature (not the input
checks: XLA compiles ``tf.debugging.Assert`` to nothing) is a nested
``tf.function(jit_compile=True)``, compiled by XLA once per input batch size.
TensorFlow loads and runs such a SavedModel anywhere; TF Serving runs it only
with ``--xla_cpu_compilation_enabled=true`` (see export/README.md).

Writing, versioning and warmup records are in ``infogan_tf.serving.export``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import NamedTuple

import tensorflow as tf

from infogan_tf.data.pixels import to_unit_range, unit_to_model_range
from infogan_tf.latent import LatentSpec
from infogan_tf.model.networks import Discriminator, Generator
from infogan_tf.serving import signatures as sig
from infogan_tf.serving import upsampling


def _input_specs(contract: sig.SignatureContract, latent: LatentSpec, image_shape) -> dict[str, tf.TensorSpec]:
    """The TensorSpecs of a signature's inputs, any batch size."""
    return {
        t.name: tf.TensorSpec([None, *t.shape(latent, image_shape)[1:]], tf.as_dtype(t.dtype), name=t.name)
        for t in contract.inputs
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


def _check_image(x: tf.Tensor, name: str, image_shape: tuple) -> list:
    h, w, ch = image_shape
    shape = _runtime_shape(x)
    return [
        _assert(tf.equal(shape.rank, 4), f"{name} must be [batch, {h}, {w}, {ch}]; got rank", shape.rank),
        _assert(
            _all(tf.equal(shape.dims[1:4], [h, w, ch])), f"{name} must be [batch, {h}, {w}, {ch}]; got", shape.dims[:4]
        ),
    ]


def _shape_checks(t: sig.TensorInfo, x: tf.Tensor, latent: LatentSpec, image_shape: tuple) -> list:
    if t.row == sig.IMAGE:
        return _check_image(x, t.name, image_shape)
    return _check_matrix(x, t.name, t.shape(latent, image_shape)[1], t.what)


def _check_same_batch(a: tf.Tensor, b: tf.Tensor, a_name: str, b_name: str) -> tf.Operation:
    rows_a, rows_b = _runtime_shape(a).dims[0], _runtime_shape(b).dims[0]
    return _assert(
        tf.equal(rows_a, rows_b), f"{a_name} and {b_name} must have the same number of rows; got", rows_a, rows_b
    )


def _all(x: tf.Tensor) -> tf.Tensor:
    """reduce_all over every element, whatever the (runtime) rank."""
    return tf.reduce_all(tf.reshape(x, [-1]))


# The value checks of ``signatures.VALUE_CHECKS``: (shape-checked input, its name, latent) -> checks.


def _check_finite(x: tf.Tensor, name: str, _latent: LatentSpec | None = None) -> list:
    return [_assert(_all(tf.math.is_finite(x)), f"{name} contains NaN or Inf values")]


def _check_one_hot(c: tf.Tensor, name: str, latent: LatentSpec) -> list:
    checks = []
    for i, (k, s) in enumerate(zip(latent.categorical, latent.categorical_slices())):
        block = c[:, s]
        binary = _all(tf.logical_or(tf.equal(block, 0.0), tf.equal(block, 1.0)))
        one_per_row = _all(tf.equal(tf.reduce_sum(block, axis=1), 1.0))
        checks.append(
            _assert(
                tf.logical_and(binary, one_per_row),
                f"{name} columns {s.start}..{s.stop - 1} (categorical code {i}, {k} categories) must be one-hot: "
                "entries 0 or 1 with exactly one 1 per row",
            )
        )
    return checks


def _check_category(categorical: tf.Tensor, name: str, latent: LatentSpec) -> list:
    checks = []
    for i, k in enumerate(latent.categorical):
        column = categorical[:, i]
        checks.append(
            _assert(
                _all(tf.logical_and(column >= 0, column < k)),
                f"{name}[:, {i}] must be a category index in [0, {k - 1}]; got min/max",
                tf.reduce_min(column),
                tf.reduce_max(column),
            )
        )
    return checks


def _check_unit_range(x: tf.Tensor, name: str, _latent: LatentSpec) -> list:
    return [
        _assert(
            _all(tf.logical_and(x >= 0.0, x <= 1.0)),
            f"{name} must be in [0, 1] (divide uint8 pixels by 255); got min/max",
            tf.reduce_min(x),
            tf.reduce_max(x),
        )
    ]


_VALUE_CHECKS: dict[str, Callable[[tf.Tensor, str, LatentSpec], list]] = {
    sig.FINITE: _check_finite,
    sig.ONE_HOT: _check_one_hot,
    sig.CATEGORY: _check_category,
    sig.UNIT_RANGE: _check_unit_range,
}


def _after(checks: list, *tensors: tf.Tensor) -> tuple:
    """The tensors, made to depend on every check."""
    with tf.control_dependencies(checks):
        return tuple(tf.identity(t) for t in tensors)


def checked_inputs(contract: sig.SignatureContract, inputs: dict, latent: LatentSpec, image_shape: tuple) -> dict:
    """The signature's inputs, made to depend on the checks ``contract`` declares (InvalidArgumentError if one fails).

    Checks come in two stages: shapes first, then the batch sizes and values
    of the shape-checked tensors, so that no value check runs on a tensor of
    the wrong rank (which would fail with an unrelated message). In the second
    stage every input's finite check comes before the other value checks.
    """
    x = {
        t.name: _after(_shape_checks(t, inputs[t.name], latent, image_shape), inputs[t.name])[0]
        for t in contract.inputs
    }
    first, *others = contract.inputs
    checks = [_check_same_batch(x[first.name], x[t.name], first.name, t.name) for t in others]
    checks += [c for t in contract.inputs if sig.FINITE in t.checks for c in _check_finite(x[t.name], t.name)]
    for t in contract.inputs:
        for kind in t.checks:
            if kind != sig.FINITE:
                checks += _VALUE_CHECKS[kind](x[t.name], t.name, latent)
    return dict(zip(x, _after(checks, *x.values())))


def empty_outputs(contract: sig.SignatureContract, latent: LatentSpec, image_shape: tuple) -> dict:
    """The signature's answer to an empty batch: every output with 0 rows."""
    return {t.name: tf.zeros([0, *t.shape(latent, image_shape)[1:]], tf.as_dtype(t.dtype)) for t in contract.outputs}


def _by_name(signature: inspect.Signature, one_dict: Callable[[dict], dict]) -> Callable[..., dict]:
    """``one_dict`` taking its inputs as the arguments of ``signature`` (a lambda: see ``_signature``)."""
    by_name = lambda *args, **kwargs: one_dict(dict(signature.bind(*args, **kwargs).arguments))
    by_name.__signature__ = signature  # type: ignore[attr-defined]  # tf.function reads the argument names here
    return by_name


class _KerasNetworks:
    """Holds the Keras networks without tf.Module tracking them (see module docstring)."""

    def __init__(self, generator: Generator, discriminator: Discriminator):
        self.generator = generator
        self.discriminator = discriminator


class InfoGANExportModule(tf.Module):
    """The exported object: weight copies, the JSON asset and one function per declared signature.

    Attributes (as seen after ``tf.saved_model.load``):
      weights: dict of the exported tf.Variables, keyed by Keras variable path.
      export_metadata: tf.saved_model.Asset of the JSON metadata.
      serving_default, generate, encode (every name of ``signatures.SIGNATURES``):
        tf.functions taking ONE dict with the signature's input names (the
        form ``keras.layers.TFSMLayer`` passes) and returning the same dict of
        outputs as the signature of that name.
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
        # 64 (experiments/deconv_forms.py, BUILD_NOTES "Export").
        self._upsample = None if jit_compile else upsampling.auto
        self._generator_fn: Callable = self._generator_math
        self._encoder_fn: Callable = self._encoder_math
        if jit_compile:
            self._generator_fn = tf.function(self._generator_math, jit_compile=True, autograph=False)
            self._encoder_fn = tf.function(self._encoder_math, jit_compile=True, autograph=False)

        # The networks' math of each declared signature, on checked inputs; everything else comes from the declaration.
        computations: dict[str, Callable[..., dict]] = {
            "serving_default": self._serving_default,
            "generate": self._generate,
            "encode": self._encode,
        }
        if set(computations) != set(sig.SIGNATURES):
            raise ValueError(
                f"serving.signatures declares {sorted(sig.SIGNATURES)}; the export computes {sorted(computations)}"
            )
        self._computations = computations
        for name, contract in sig.SIGNATURES.items():
            function = tf.function(
                self._signature(contract, computations[name]),
                input_signature=[_input_specs(contract, self.latent, self.image_shape)],
            )
            setattr(self, name, function)

    # ------------------------------------------------------------ signatures
    def _signature(self, contract: sig.SignatureContract, compute: Callable[..., dict]) -> Callable[[dict], dict]:
        """The one-dict function of a signature (to wrap in ``tf.function``).

        It is a lambda because TensorFlow names the traced function after it:
        with "<lambda>" in its name, which TF's Python error interpolation
        cannot parse, a failed input check reaches the caller as the kernel's
        own one-line message, "{{function_node __inference_..._<lambda>_N}}
        assertion failed: [<the check's message>]", as it always has; under
        any other name the caller reads "Graph execution error:" first and the
        check's message four lines further down.
        """
        return lambda inputs: self._answer(contract, compute, inputs)

    def _answer(self, contract: sig.SignatureContract, compute: Callable[..., dict], inputs: dict) -> dict:
        """Checked inputs, the math, the declared outputs.

        An empty batch is answered with empty outputs without running the
        networks: oneDNN's Conv2D kernel (TF 2.21's default on x86 CPUs)
        returns its input unchanged for an input with 0 rows, so the encoder's
        next convolution failed with "input depth must be evenly divisible by
        filter depth: 1 vs 64" (``TF_ENABLE_ONEDNN_OPTS=0`` gives the right
        shape, but a SavedModel cannot choose its runtime's kernels).
        """
        x = checked_inputs(contract, inputs, self.latent, self.image_shape)
        names = [t.name for t in contract.outputs]

        def outputs() -> dict:
            out = compute(**x)
            if list(out) != names:
                raise ValueError(f"the signature's math returns {list(out)}, its declaration {names}")
            return out

        batch = tf.shape(x[contract.inputs[0].name])[0]
        return tf.cond(batch > 0, outputs, lambda: empty_outputs(contract, self.latent, self.image_shape))

    def signature_functions(self) -> dict[str, Callable]:
        """Functions for ``tf.saved_model.save(signatures=...)``: one keyword argument per declared input.

        Each is the one-dict function's lambda taking the inputs by name (the
        SavedModel signature's input keys), traced on its own: the signature
        then calls a "<lambda>" function, and a failed check reads as it always
        has (see ``_signature``).
        """
        functions = {}
        for name, contract in sig.SIGNATURES.items():
            specs = _input_specs(contract, self.latent, self.image_shape)
            one_dict = self._signature(contract, self._computations[name])
            parameters = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in specs]
            by_name = _by_name(inspect.Signature(parameters), one_dict)
            functions[name] = tf.function(by_name, input_signature=list(specs.values()))
        return functions

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

    def _serving_default(self, z: tf.Tensor, c: tf.Tensor) -> dict:
        return {"images": self._generator_fn(z, c)}

    def _generate(self, z: tf.Tensor, categorical: tf.Tensor, continuous: tf.Tensor) -> dict:
        images = self._generator_fn(z, self.latent.flatten(categorical, continuous))
        return {"images": images, "images_uint8": tf.cast(tf.round(images * 255.0), tf.uint8)}

    def _encode(self, images: tf.Tensor) -> dict:
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

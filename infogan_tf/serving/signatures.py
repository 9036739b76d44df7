"""The serving contract of an exported InfoGAN: every signature declared once, in ``SIGNATURES``.

A signature's declaration says its name, its inputs (dtype, the row shape they
take from the exported LatentSpec or image shape, what their columns hold and
which value checks the graph runs on them), its outputs, and a valid example
request (the TF Serving warmup record). Everything else follows from it:
``infogan_tf.serving.module`` builds the signature functions, the one-dict
functions of the same names (for ``keras.layers.TFSMLayer``), their input
checks and their empty-batch answers; ``infogan_tf.serving.export`` writes the
warmup records and the ``signatures`` section of the JSON asset
``assets/infogan_tf_export.json``; the clients (``infogan_tf.serving.client``,
``infogan_tf.serving.sample``, the explorer, ``export/``) read names and dtypes
here. Only the networks' math of each signature is written in ``module``.

Nothing here imports TensorFlow, so a REST client stays light.

Every tensor has the batch first (B: any size, 0 included; -1 in the shapes).
The Q network of the paper (Chen et al. 2016, Sec. 5) is exported as an
encoder; ``c`` is the flat code of ``infogan_tf.latent`` (one-hot blocks of
the categorical codes first, then the continuous values).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from infogan_tf.latent import LatentSpec

# Name of the JSON asset (latent spec, image shape/range, training config).
METADATA_ASSET = "infogan_tf_export.json"
# TF Serving reads warmup requests from this file (a TFRecord of PredictionLog).
WARMUP_FILE = "tf_serving_warmup_requests"
WARMUP_DIR = "assets.extra"
# Version of the layout of the JSON asset, bumped on incompatible changes.
METADATA_FORMAT_VERSION = 1

# A tensor's row: the image shape [H, W, C], or a LatentSpec attribute giving the width of a matrix.
IMAGE = "image"

# Value checks an input may declare. The graph runs them after every input's shape check
# (``infogan_tf.serving.module``): the finite checks of all inputs first, then the others.
FINITE = "finite"  # no NaN or Inf
ONE_HOT = "one_hot"  # the categorical blocks of a flat c are one-hot
CATEGORY = "category"  # column i is a category index of categorical code i
UNIT_RANGE = "unit_range"  # every value in [0, 1]
VALUE_CHECKS = (FINITE, ONE_HOT, CATEGORY, UNIT_RANGE)


class TensorInfo(NamedTuple):
    """One named input or output of a signature.

    Attributes:
      name: the key in requests/responses.
      dtype: numpy dtype name ("float32", "int32", "uint8").
      row: ``IMAGE`` or the LatentSpec attribute that gives the row's width
        ("noise_dim", "code_dim", ...).
      what: what the columns hold (inputs; said when the width is wrong).
      checks: the value checks the graph runs on this input (``VALUE_CHECKS``).
    """

    name: str
    dtype: str
    row: str
    what: str = ""
    checks: tuple[str, ...] = ()

    def shape(self, latent: LatentSpec, image_shape) -> list[int]:
        """The tensor's shape with -1 for the batch."""
        if self.row == IMAGE:
            return [-1, *(int(d) for d in image_shape)]
        return [-1, int(getattr(latent, self.row))]


Example = Callable[[LatentSpec, tuple, int], dict[str, np.ndarray]]


class SignatureContract(NamedTuple):
    """One signature: its inputs and outputs, in the order clients send/read them, and a valid request.

    Attributes:
      doc: what the signature computes.
      inputs, outputs: the tensors.
      example: ``example(latent, image_shape, batch)`` -> a valid input of
        ``batch`` rows (the warmup request TF Serving runs at load time).
    """

    doc: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    example: Example

    def shapes(self, latent: LatentSpec, image_shape) -> dict[str, dict[str, list[int]]]:
        """{"inputs"|"outputs": {name: shape}} with -1 for the batch."""
        return {
            "inputs": {t.name: t.shape(latent, image_shape) for t in self.inputs},
            "outputs": {t.name: t.shape(latent, image_shape) for t in self.outputs},
        }


def _zero_codes(latent: LatentSpec, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Zero noise, category 0 of every code and continuous values 0."""
    z = np.zeros([batch, latent.noise_dim], np.float32)
    return z, np.zeros([batch, latent.n_categorical], np.int32), np.zeros([batch, latent.continuous], np.float32)


def _serving_default_example(latent: LatentSpec, _image_shape: tuple, batch: int) -> dict[str, np.ndarray]:
    z, categorical, continuous = _zero_codes(latent, batch)
    return {"z": z, "c": latent.flatten_numpy(categorical, continuous)}


def _generate_example(latent: LatentSpec, _image_shape: tuple, batch: int) -> dict[str, np.ndarray]:
    z, categorical, continuous = _zero_codes(latent, batch)
    return {"z": z, "categorical": categorical, "continuous": continuous}


def _encode_example(_latent: LatentSpec, image_shape: tuple, batch: int) -> dict[str, np.ndarray]:
    return {"images": np.full([batch, *image_shape], 0.5, np.float32)}  # grey images


_Z = TensorInfo("z", "float32", "noise_dim", "noise_dim", (FINITE,))
_IMAGES = TensorInfo("images", "float32", IMAGE)

SIGNATURES: dict[str, SignatureContract] = {
    "serving_default": SignatureContract(
        doc="G(z, c) from noise and the flat code c -> images in [0, 1]",
        inputs=(
            _Z,
            TensorInfo(
                "c", "float32", "code_dim", "code_dim: one-hot blocks, then continuous values", (FINITE, ONE_HOT)
            ),
        ),
        outputs=(_IMAGES,),
        example=_serving_default_example,
    ),
    "generate": SignatureContract(
        doc="G(z, c) from noise, category indices and continuous values -> images in [0, 1] and "
        "images_uint8 = round(255 * images)",
        inputs=(
            _Z,
            TensorInfo("categorical", "int32", "n_categorical", "one index per categorical code", (CATEGORY,)),
            TensorInfo("continuous", "float32", "continuous", "one value per continuous code", (FINITE,)),
        ),
        outputs=(_IMAGES, TensorInfo("images_uint8", "uint8", IMAGE)),
        example=_generate_example,
    ),
    "encode": SignatureContract(
        doc="Q(c | x) of images in [0, 1] -> a softmax per categorical code (blocks in the layout of c) "
        "and the continuous codes' mean and std",
        inputs=(_IMAGES._replace(checks=(FINITE, UNIT_RANGE)),),
        outputs=(
            TensorInfo("categorical_probs", "float32", "categorical_dim"),
            TensorInfo("continuous_mean", "float32", "continuous"),
            TensorInfo("continuous_std", "float32", "continuous"),
        ),
        example=_encode_example,
    ),
}


def signature_shapes(latent: LatentSpec, image_shape) -> dict[str, dict[str, dict[str, list[int]]]]:
    """{signature: {"inputs"|"outputs": {name: shape}}} with -1 for the batch."""
    return {name: contract.shapes(latent, image_shape) for name, contract in SIGNATURES.items()}


def signatures_metadata(latent: LatentSpec, image_shape) -> dict:
    """The ``signatures`` section of the JSON asset: {signature: {"inputs"|"outputs": {name: {dtype, shape}}}}."""
    return {
        name: {
            part: {t.name: {"dtype": t.dtype, "shape": t.shape(latent, image_shape)} for t in getattr(contract, part)}
            for part in ("inputs", "outputs")
        }
        for name, contract in SIGNATURES.items()
    }


def examples(latent: LatentSpec, image_shape, batch: int) -> dict[str, dict[str, np.ndarray]]:
    """A valid request of ``batch`` rows for every signature (category 0, continuous 0, zero noise, grey images)."""
    return {name: contract.example(latent, tuple(image_shape), batch) for name, contract in SIGNATURES.items()}

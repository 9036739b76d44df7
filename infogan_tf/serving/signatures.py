"""The serving contract of an exported InfoGAN: signature names, inputs, outputs.

One place that says what ``infogan_tf.serving.export`` writes and what the clients
(``infogan_tf.serving.client``, ``infogan_tf.serving.sample``, ``export/``) may
rely on. Nothing here imports TensorFlow, so a REST client stays light.

Signatures (B = batch, any size; shapes come from the exported LatentSpec and
image shape, see the JSON asset ``assets/infogan_tf_export.json``):

  serving_default(z: float32[B, noise_dim], c: float32[B, code_dim])
      -> images: float32[B, H, W, C] in [0, 1]
      ``c`` is the flat code of ``infogan_tf.latent`` (one-hot blocks of the
      categorical codes first, then the continuous values).
  generate(z: float32[B, noise_dim], categorical: int32[B, n_categorical],
           continuous: float32[B, n_continuous])
      -> images: float32[B, H, W, C] in [0, 1],
         images_uint8: uint8[B, H, W, C] = round(255 * images)
  encode(images: float32[B, H, W, C] in [0, 1])
      -> categorical_probs: float32[B, sum_i K_i] (a softmax per code, blocks
         in the layout of ``c``), continuous_mean: float32[B, n_continuous],
         continuous_std: float32[B, n_continuous]
      The Q network of the paper (Chen et al. 2016, Sec. 5) as an encoder.
"""

from __future__ import annotations

from typing import NamedTuple

# Name of the JSON asset (latent spec, image shape/range, training config).
METADATA_ASSET = "infogan_tf_export.json"
# TF Serving reads warmup requests from this file (a TFRecord of PredictionLog).
WARMUP_FILE = "tf_serving_warmup_requests"
WARMUP_DIR = "assets.extra"
# Version of the layout of the JSON asset, bumped on incompatible changes.
METADATA_FORMAT_VERSION = 1


class TensorInfo(NamedTuple):
    """One named input or output of a signature.

    Attributes:
      name: the key in requests/responses.
      dtype: numpy dtype name ("float32", "int32", "uint8").
    """

    name: str
    dtype: str


class SignatureContract(NamedTuple):
    """Inputs and outputs of one signature, in the order clients send/read them."""

    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]


SIGNATURES: dict[str, SignatureContract] = {
    "serving_default": SignatureContract(
        inputs=(TensorInfo("z", "float32"), TensorInfo("c", "float32")),
        outputs=(TensorInfo("images", "float32"),),
    ),
    "generate": SignatureContract(
        inputs=(
            TensorInfo("z", "float32"),
            TensorInfo("categorical", "int32"),
            TensorInfo("continuous", "float32"),
        ),
        outputs=(TensorInfo("images", "float32"), TensorInfo("images_uint8", "uint8")),
    ),
    "encode": SignatureContract(
        inputs=(TensorInfo("images", "float32"),),
        outputs=(
            TensorInfo("categorical_probs", "float32"),
            TensorInfo("continuous_mean", "float32"),
            TensorInfo("continuous_std", "float32"),
        ),
    ),
}

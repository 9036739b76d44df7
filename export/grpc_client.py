"""Example gRPC client for an InfoGAN served by TF Serving (port 8500).

Self-contained: needs tensorflow, tensorflow-serving-api and grpcio, not
infogan_tf. It asks the server for the model's signatures
(GetModelMetadata), generates one image per category with ``generate``,
re-encodes them with ``encode`` (Q's categorical prediction should give the
category back on a trained model) and calls ``serving_default`` with the flat
code ``c`` (one-hot blocks first, then continuous values).

  python export/grpc_client.py --server=localhost:8500 --model_name=infogan_mnist
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

import numpy as np


def build_request(model_name: str, signature_name: str, inputs: Mapping[str, np.ndarray], version: int | None = None):
    """A PredictRequest for one signature (inputs: name -> array, batch first)."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = version
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


def response_arrays(response) -> dict[str, np.ndarray]:
    """The outputs of a PredictResponse as numpy arrays."""
    import tensorflow as tf

    return {key: tf.make_ndarray(proto) for key, proto in response.outputs.items()}


def signature_widths(metadata_response) -> dict[str, int]:
    """noise_dim, code_dim, n_categorical, n_continuous from a GetModelMetadataResponse."""
    from tensorflow_serving.apis import get_model_metadata_pb2

    defs = get_model_metadata_pb2.SignatureDefMap()
    metadata_response.metadata["signature_def"].Unpack(defs)
    gen = defs.signature_def["generate"].inputs
    return {
        "noise_dim": gen["z"].tensor_shape.dim[1].size,
        "code_dim": defs.signature_def["serving_default"].inputs["c"].tensor_shape.dim[1].size,
        "n_categorical": gen["categorical"].tensor_shape.dim[1].size,
        "n_continuous": gen["continuous"].tensor_shape.dim[1].size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="localhost:8500", help="host:port of TF Serving's gRPC API")
    parser.add_argument("--model_name", default="infogan_mnist")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()

    import grpc
    from tensorflow_serving.apis import get_model_metadata_pb2, prediction_service_pb2_grpc

    channel = grpc.insecure_channel(args.server)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    meta_request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    meta_request.model_spec.name = args.model_name
    widths = signature_widths(stub.GetModelMetadata(meta_request, args.timeout))
    print("model:", widths)

    if widths["n_categorical"] != 1:
        raise SystemExit(
            "this example expects one categorical code (the MNIST default); for other layouts "
            "read the cardinalities from the export's assets/infogan_tf_export.json"
        )
    # generate: one image per category, noise fixed.
    k = widths["code_dim"] - widths["n_continuous"]
    rng = np.random.default_rng(0)
    z = np.repeat(rng.uniform(-1, 1, size=(1, widths["noise_dim"])), k, axis=0).astype(np.float32)
    categorical = np.zeros([k, widths["n_categorical"]], np.int32)
    categorical[:, 0] = np.arange(k)
    continuous = np.zeros([k, widths["n_continuous"]], np.float32)
    generated = response_arrays(
        stub.Predict(
            build_request(args.model_name, "generate", {"z": z, "categorical": categorical, "continuous": continuous}),
            args.timeout,
        )
    )
    print("generate: images", generated["images"].shape, "images_uint8", generated["images_uint8"].dtype)

    # encode: Q's view of the generated images.
    encoded = response_arrays(
        stub.Predict(build_request(args.model_name, "encode", {"images": generated["images"]}), args.timeout)
    )
    print("encode: predicted category of each row:", encoded["categorical_probs"][:, :k].argmax(axis=1).tolist())

    # serving_default: the same codes as a flat c (one-hot first, then continuous).
    c = np.zeros([k, widths["code_dim"]], np.float32)
    c[np.arange(k), categorical[:, 0]] = 1.0
    images = response_arrays(
        stub.Predict(build_request(args.model_name, "serving_default", {"z": z, "c": c}), args.timeout)
    )["images"]
    print("serving_default: max |difference| to generate:", float(np.abs(images - generated["images"]).max()))


if __name__ == "__main__":
    main()

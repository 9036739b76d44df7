"""Tests of infogan_tf.serving.client: REST request bodies, response parsing, metadata, HTTP.

TF Serving itself cannot be installed here. Each request the client builds is
decoded and run on the exported SavedModel in this process, and the answer is
encoded in TF Serving's documented JSON format (tests/tf_serving_json.py);
the client must parse it back to the same arrays. The HTTP tests use a local
stand-in server on 127.0.0.1 -- not TF Serving -- answering the same way.
"""

import json

import numpy as np
import pytest
import tensorflow as tf
from tf_serving_json import StandInServer, answer_predict, metadata_response

from infogan_tf.serving import client as serving_client
from infogan_tf.serving import signatures
from infogan_tf.serving.sample import info_from_server_metadata


@pytest.fixture(scope="module")
def loaded(exported_model):
    return tf.saved_model.load(exported_model.path)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(3)
    categorical = np.array([[2], [7], [0]], np.int32)
    continuous = rng.uniform(-1, 1, size=(3, 2)).astype(np.float32)
    c = np.concatenate([np.eye(10, dtype=np.float32)[categorical[:, 0]], continuous], axis=1)
    return {
        "serving_default": {"z": rng.uniform(-1, 1, size=(3, 62)).astype(np.float32), "c": c},
        "generate": {
            "z": rng.uniform(-1, 1, size=(3, 62)).astype(np.float32),
            "categorical": categorical,
            "continuous": continuous,
        },
        "encode": {"images": rng.uniform(0, 1, size=(3, 28, 28, 1)).astype(np.float32)},
    }


def direct(loaded, name, inputs):
    return {k: v.numpy() for k, v in loaded.signatures[name](**{k: tf.constant(v) for k, v in inputs.items()}).items()}


def test_request_bodies_follow_the_documented_forms(batch):
    cols = serving_client.build_predict_request("generate", batch["generate"], form="inputs")
    assert cols["signature_name"] == "generate"
    assert set(cols["inputs"]) == {"z", "categorical", "continuous"}
    assert np.array(cols["inputs"]["z"]).shape == (3, 62) and cols["inputs"]["categorical"] == [[2], [7], [0]]
    rows = serving_client.build_predict_request("generate", batch["generate"], form="instances")
    assert len(rows["instances"]) == 3 and rows["instances"][1]["categorical"] == [7]
    assert len(rows["instances"][0]["z"]) == 62
    # A single named input: the instances are the rows themselves.
    single = serving_client.build_predict_request("encode", batch["encode"], form="instances")
    assert np.array(single["instances"]).shape == (3, 28, 28, 1)
    # Bodies are plain JSON.
    json.dumps(rows), json.dumps(cols)


def test_request_builder_rejects_wrong_inputs(batch):
    with pytest.raises(ValueError, match=r"takes inputs z, c; missing: c; unexpected: images"):
        serving_client.build_predict_request("serving_default", {"z": batch["serving_default"]["z"], "images": 1})
    with pytest.raises(ValueError, match=r"unknown signature 'predict'"):
        serving_client.build_predict_request("predict", {})
    with pytest.raises(ValueError, match=r"same number of rows"):
        serving_client.build_predict_request(
            "serving_default", {"z": np.zeros([2, 62]), "c": np.zeros([3, 12])}, form="instances"
        )


@pytest.mark.parametrize("form", ["instances", "inputs"])
@pytest.mark.parametrize("name", ["serving_default", "generate", "encode"])
def test_round_trip_through_the_saved_model(loaded, batch, name, form):
    body = serving_client.build_predict_request(name, batch[name], form=form)
    # What goes over the wire is JSON text both ways.
    answer = json.loads(json.dumps(answer_predict(loaded, json.loads(json.dumps(body)))))
    assert ("predictions" if form == "instances" else "outputs") in answer
    if len(signatures.SIGNATURES[name].outputs) == 1:
        # TF Serving omits the name of a signature's only output.
        assert not isinstance(answer.get("predictions", answer.get("outputs")), dict)
    parsed = serving_client.parse_predict_response(name, answer)
    want = direct(loaded, name, batch[name])
    assert set(parsed) == set(want)
    for key, value in want.items():
        assert parsed[key].dtype == value.dtype and parsed[key].shape == value.shape
        np.testing.assert_allclose(parsed[key], value, rtol=1e-6, atol=1e-7, err_msg=key)


def test_error_bodies_raise_with_the_servers_message(loaded, batch):
    bad = dict(batch["generate"], categorical=np.array([[2], [11], [0]], np.int32))
    answer = answer_predict(loaded, serving_client.build_predict_request("generate", bad))
    with pytest.raises(serving_client.ServingError, match=r"categorical\[:, 0\] must be a category index in \[0, 9\]"):
        serving_client.parse_predict_response("generate", answer)
    with pytest.raises(serving_client.ServingError, match="malformed response"):
        serving_client.parse_predict_response("generate", {"result": []})


def test_model_metadata_gives_the_latent_layout(exported_model):
    body = json.loads(json.dumps(metadata_response(exported_model.path, "infogan_test", exported_model.version)))
    sigs = serving_client.parse_model_metadata(body)
    assert set(sigs) == set(signatures.SIGNATURES)
    assert sigs["generate"].inputs["categorical"] == serving_client.TensorMetadata("int32", (-1, 1))
    assert sigs["generate"].outputs["images_uint8"] == serving_client.TensorMetadata("uint8", (-1, 28, 28, 1))
    info = info_from_server_metadata(sigs)
    assert (info.latent.noise_dim, info.latent.categorical, info.latent.continuous) == (62, (10,), 2)
    assert info.image_shape == (28, 28, 1)
    # The lowerCamelCase spelling of proto3 JSON is read the same way.
    from google.protobuf import json_format
    from tensorflow_serving.apis import get_model_metadata_pb2

    proto = json_format.ParseDict(body, get_model_metadata_pb2.GetModelMetadataResponse())
    assert serving_client.parse_model_metadata(json_format.MessageToDict(proto)) == sigs


def test_the_served_signatures_are_the_declared_ones_and_the_explorer_describes_them(exported_model):
    """The SavedModel's signature defs, the export's JSON asset and the explorer's metadata follow the declaration."""
    from infogan_tf.serving.explorer.backend import ServingBackend

    sigs = serving_client.parse_model_metadata(
        metadata_response(exported_model.path, "infogan_test", exported_model.version)
    )
    info = info_from_server_metadata(sigs)
    declared = signatures.signatures_metadata(info.latent, info.image_shape)
    assert set(sigs) == set(declared)
    for name, parts in declared.items():
        for part, tensors in parts.items():
            want = {k: serving_client.TensorMetadata(v["dtype"], tuple(v["shape"])) for k, v in tensors.items()}
            assert getattr(sigs[name], part) == want, (name, part)
    with open(f"{exported_model.path}/assets/{signatures.METADATA_ASSET}") as f:
        assert json.load(f)["signatures"] == declared
    # The explorer on TF Serving without --spec_json: its metadata says the same.
    with StandInServer(exported_model.path, "infogan_test", exported_model.version) as server:
        backend = ServingBackend(serving_client.RestClient(server.url, "infogan_test"))
    assert backend.metadata["signatures"] == declared


def test_models_config_parses_as_a_model_server_config():
    import os

    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "export", "models.config")
    with open(path) as f:
        config = text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())
    (model,) = config.model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == (
        "infogan_mnist",
        "/models/infogan_mnist",
        "tensorflow",
    )
    assert model.model_version_policy.latest.num_versions == 1


def test_rest_client_over_http_to_a_local_stand_in(exported_model, loaded, batch):
    """End to end over HTTP, against tests/tf_serving_json.StandInServer -- NOT TF Serving."""
    with StandInServer(exported_model.path, "infogan_test", exported_model.version) as server:
        for version in (None, exported_model.version):
            client = serving_client.RestClient(server.url, "infogan_test", version=version)
            assert set(client.metadata()) == set(signatures.SIGNATURES)
            for form in ("inputs", "instances"):
                out = client.predict("generate", batch["generate"], form=form)
                np.testing.assert_array_equal(
                    out["images_uint8"], direct(loaded, "generate", batch["generate"])["images_uint8"]
                )
        assert server.requests[-1]["signature_name"] == "generate" and "instances" in server.requests[-1]
        client = serving_client.RestClient(server.url, "infogan_test")
        bad = dict(batch["serving_default"], c=batch["serving_default"]["c"] * 2)
        with pytest.raises(serving_client.ServingError, match=r"HTTP 400: .*must be one-hot"):
            client.predict("serving_default", bad)
        with pytest.raises(serving_client.ServingError, match=r"HTTP 404"):
            serving_client.RestClient(server.url, "other_model").predict("encode", batch["encode"])
    with pytest.raises(serving_client.ServingError, match=r"cannot reach"):
        serving_client.RestClient(server.url, "infogan_test", timeout=5).predict("encode", batch["encode"])
    with pytest.raises(ValueError, match=r"--server must be an http\(s\) URL"):
        serving_client.RestClient("localhost:8501", "infogan_test")


def test_grpc_example_requests_run_on_the_saved_model(exported_model, loaded, batch):
    """export/grpc_client.py builds PredictRequests the SavedModel accepts and reads responses back."""
    import importlib.util
    import os

    from google.protobuf import json_format
    from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2

    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "export", "grpc_client.py")
    spec = importlib.util.spec_from_file_location("grpc_client_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)

    metadata = get_model_metadata_pb2.GetModelMetadataResponse()
    json_format.ParseDict(metadata_response(exported_model.path, "infogan_test", exported_model.version), metadata)
    assert example.signature_widths(metadata) == {
        "noise_dim": 62,
        "code_dim": 12,
        "n_categorical": 1,
        "n_continuous": 2,
    }
    for name, inputs in batch.items():
        request = example.build_request("infogan_test", name, inputs, version=exported_model.version)
        assert (request.model_spec.name, request.model_spec.signature_name) == ("infogan_test", name)
        decoded = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        outputs = loaded.signatures[name](**{k: tf.constant(v) for k, v in decoded.items()})
        response = predict_pb2.PredictResponse()
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
        arrays = example.response_arrays(response)
        want = direct(loaded, name, inputs)
        for key, value in want.items():
            np.testing.assert_array_equal(arrays[key], value)

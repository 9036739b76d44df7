"""Test helper: answers REST bodies the way TF Serving's documented JSON API does.

This is NOT TF Serving (the model server cannot be installed on these
machines). It decodes a predict request body independently of
``infogan_tf.serving.client``, runs the requested signature of a real
SavedModel in this process, and encodes the result following the documented
REST response format (https://www.tensorflow.org/tfx/serving/api_rest):
``predictions`` for row requests, ``outputs`` for columnar ones, the output
name omitted when a signature has one output, ``{"error": ...}`` on failure.
Model metadata is the JSON form of TF Serving's own GetModelMetadataResponse
proto built from the SavedModel's signature defs.

``StandInServer`` serves those answers over HTTP on 127.0.0.1 so that the
client's networking code runs end to end; it is a stand-in, not TF Serving.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import threading

import numpy as np
import tensorflow as tf
from google.protobuf import json_format


def decode_predict_request(loaded, body: dict) -> tuple[str, dict[str, np.ndarray], str]:
    """(signature name, input arrays, form) from a predict request body."""
    name = body.get("signature_name", "serving_default")
    specs = loaded.signatures[name].structured_input_signature[1]
    if ("instances" in body) == ("inputs" in body):
        raise ValueError("a request needs exactly one of 'instances' and 'inputs'")
    if "instances" in body:
        rows = body["instances"]
        if rows and isinstance(rows[0], dict):
            raw = {key: [row[key] for row in rows] for key in specs}
        else:
            (only,) = specs
            raw = {only: rows}
        form = "instances"
    else:
        value = body["inputs"]
        raw = value if isinstance(value, dict) else {next(iter(specs)): value}
        form = "inputs"
    return name, {key: np.asarray(raw[key], spec.dtype.as_numpy_dtype) for key, spec in specs.items()}, form


def encode_predict_response(outputs: dict[str, np.ndarray], form: str) -> dict:
    """The documented response body for these outputs."""
    lists = {key: np.asarray(value).tolist() for key, value in outputs.items()}
    if form == "instances":
        if len(lists) == 1:
            return {"predictions": next(iter(lists.values()))}
        n = len(next(iter(lists.values())))
        return {"predictions": [{key: value[i] for key, value in lists.items()} for i in range(n)]}
    return {"outputs": next(iter(lists.values())) if len(lists) == 1 else lists}


def answer_predict(loaded, body: dict) -> dict:
    """Runs the request on the SavedModel; errors become {"error": message}."""
    try:
        name, inputs, form = decode_predict_request(loaded, body)
        result = loaded.signatures[name](**{k: tf.constant(v) for k, v in inputs.items()})
    except (tf.errors.OpError, ValueError, KeyError, TypeError) as e:
        return {"error": str(getattr(e, "message", e)).strip().splitlines()[0]}
    return encode_predict_response({k: v.numpy() for k, v in result.items()}, form)


def metadata_response(saved_model_dir: str, model_name: str, version: int) -> dict:
    """GetModelMetadataResponse (signature_def) as JSON, built with TF Serving's protos."""
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow_serving.apis import get_model_metadata_pb2

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    (meta_graph,) = [m for m in saved.meta_graphs if "serve" in m.meta_info_def.tags]
    defs = get_model_metadata_pb2.SignatureDefMap()
    for key, value in meta_graph.signature_def.items():
        defs.signature_def[key].CopyFrom(value)
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = model_name
    response.model_spec.version.value = version
    response.metadata["signature_def"].Pack(defs)
    # TF Serving writes proto field names as they are (snake_case).
    return json_format.MessageToDict(response, preserving_proto_field_name=True)


class StandInServer:
    """HTTP on 127.0.0.1 answering /v1/models/<name>[:predict|/metadata] from a SavedModel (not TF Serving)."""

    def __init__(self, saved_model_dir: str, model_name: str, version: int):
        loaded = tf.saved_model.load(saved_model_dir)
        metadata = metadata_response(saved_model_dir, model_name, version)
        pattern = re.compile(rf"^/v1/models/{re.escape(model_name)}(/versions/{version})?(:predict|/metadata)$")
        self.requests: list[dict] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                match = pattern.match(self.path)
                if match and match.group(2) == "/metadata":
                    self._reply(200, metadata)
                else:
                    self._reply(404, {"error": f"Servable not found for request: {self.path}"})

            def do_POST(self):
                match = pattern.match(self.path)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                if not match or match.group(2) != ":predict":
                    self._reply(404, {"error": f"Servable not found for request: {self.path}"})
                    return
                answer = answer_predict(loaded, body)
                self._reply(400 if "error" in answer else 200, answer)

            def log_message(self, *args):  # keep test output quiet
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> StandInServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

"""A small REST client for an InfoGAN served by TF Serving (standard library + numpy).

TF Serving's REST API (port 8501) takes ``POST /v1/models/<name>[/versions/<v>]:predict``
with a JSON body naming the signature and its inputs in one of two forms:

  row ("instances"):   {"signature_name": "generate",
                        "instances": [{"z": [...], "categorical": [3], "continuous": [0.5, 0]}, ...]}
  columnar ("inputs"): {"signature_name": "generate",
                        "inputs": {"z": [[...], ...], "categorical": [[3], ...], "continuous": [[0.5, 0], ...]}}

and answers ``{"predictions": [...]}`` (row) or ``{"outputs": ...}`` (columnar).
When a signature has ONE output, TF Serving omits its name: ``predictions`` is
then the list of per-row values and ``outputs`` the value itself; with several
outputs ``predictions`` is a list of {name: value} objects and ``outputs`` a
{name: batch} object. Errors come back as ``{"error": "..."}`` with an HTTP
error status. ``GET /v1/models/<name>[/versions/<v>]/metadata`` returns the
signature definitions (used here to learn the latent layout).

Signature names, inputs and outputs are those of ``infogan_tf.serving.signatures``.
This module imports neither TensorFlow nor TF Serving.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from infogan_tf.errors import ServingError
from infogan_tf.serving import signatures as sig

FORMS = ("instances", "inputs")

# TF Serving's JSON names of the dtypes used by the signatures.
_DT_NAMES = {
    "DT_FLOAT": "float32",
    "DT_INT32": "int32",
    "DT_UINT8": "uint8",
    "DT_INT64": "int64",
    "DT_DOUBLE": "float64",
}


class TensorMetadata(NamedTuple):
    """An input or output as the server describes it: dtype name and shape (-1 = any)."""

    dtype: str
    shape: tuple[int, ...]


class SignatureMetadata(NamedTuple):
    inputs: dict[str, TensorMetadata]
    outputs: dict[str, TensorMetadata]


def _check_signature(signature_name: str) -> sig.SignatureContract:
    if signature_name not in sig.SIGNATURES:
        raise ValueError(f"unknown signature {signature_name!r}; expected one of {', '.join(sig.SIGNATURES)}")
    return sig.SIGNATURES[signature_name]


def build_predict_request(signature_name: str, inputs: Mapping[str, np.ndarray], form: str = "inputs") -> dict:
    """The JSON body (as a dict) of a predict request.

    Args:
      signature_name: one of ``infogan_tf.serving.signatures.SIGNATURES``.
      inputs: every input of that signature, as arrays with the batch first.
      form: "inputs" (columnar) or "instances" (row).
    """
    contract = _check_signature(signature_name)
    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    names = [t.name for t in contract.inputs]
    missing = [n for n in names if n not in inputs]
    extra = [n for n in inputs if n not in names]
    if missing or extra:
        raise ValueError(
            f"signature {signature_name} takes inputs {', '.join(names)}; "
            f"missing: {', '.join(missing) or 'none'}; unexpected: {', '.join(extra) or 'none'}"
        )
    arrays = {t.name: np.asarray(inputs[t.name]).astype(t.dtype) for t in contract.inputs}
    body: dict = {"signature_name": signature_name}
    if form == "inputs":
        body["inputs"] = {name: a.tolist() for name, a in arrays.items()}
        return body
    rows = {a.shape[0] if a.ndim else -1 for a in arrays.values()}
    if len(rows) != 1 or -1 in rows:
        raise ValueError(f"the 'instances' form needs every input to have the same number of rows; got {sorted(rows)}")
    if len(arrays) == 1:
        # A single named input: instances are the rows themselves.
        body["instances"] = next(iter(arrays.values())).tolist()
    else:
        n = rows.pop()
        body["instances"] = [{name: a[i].tolist() for name, a in arrays.items()} for i in range(n)]
    return body


def parse_predict_response(signature_name: str, body: Mapping) -> dict[str, np.ndarray]:
    """The signature's outputs, as arrays of the contract's dtypes, from a response body."""
    contract = _check_signature(signature_name)
    if "error" in body:
        raise ServingError(f"the server answered an error: {body['error']}")
    outputs = contract.outputs
    if "predictions" in body:
        rows = body["predictions"]
        if len(outputs) == 1:
            values = {outputs[0].name: rows}
        else:
            if not all(isinstance(r, Mapping) for r in rows):
                raise ServingError(f"malformed response: 'predictions' of {signature_name} must be a list of objects")
            values = {t.name: [r[t.name] for r in rows] if rows else [] for t in outputs}
    elif "outputs" in body:
        out = body["outputs"]
        values = {outputs[0].name: out} if len(outputs) == 1 and not isinstance(out, Mapping) else out
    else:
        raise ServingError(f"malformed response: neither 'predictions' nor 'outputs' in keys {sorted(body)}")
    missing = [t.name for t in outputs if t.name not in values]
    if missing:
        raise ServingError(f"response of {signature_name} lacks outputs {', '.join(missing)}")
    return {t.name: np.asarray(values[t.name], dtype=t.dtype) for t in outputs}


def parse_model_metadata(body: Mapping) -> dict[str, SignatureMetadata]:
    """Signature shapes/dtypes from a ``/metadata`` response (GetModelMetadataResponse JSON)."""

    # TF Serving writes snake_case proto field names; lowerCamelCase (the
    # other proto3 JSON spelling) is accepted too.
    def field(d: Mapping, name: str):
        camel = name.split("_")[0] + "".join(p.title() for p in name.split("_")[1:])
        return d[name] if name in d else d[camel]

    try:
        defs = field(field(body, "metadata")["signature_def"], "signature_def")
    except (KeyError, TypeError):
        raise ServingError("malformed metadata response: no metadata.signature_def.signature_def") from None

    def tensors(d: Mapping) -> dict[str, TensorMetadata]:
        out = {}
        for name, info in d.items():
            shape_info = info.get("tensor_shape", info.get("tensorShape", {}))
            dims = tuple(int(dim.get("size", -1)) for dim in shape_info.get("dim", []))
            out[name] = TensorMetadata(_DT_NAMES.get(info.get("dtype"), str(info.get("dtype"))), dims)
        return out

    return {
        name: SignatureMetadata(tensors(d.get("inputs", {})), tensors(d.get("outputs", {})))
        for name, d in defs.items()
        if not name.startswith("__")
    }


class RestClient:
    """Calls one model on a TF Serving REST endpoint.

    Args:
      server: base URL such as ``http://localhost:8501``.
      model_name: the served model's name (``MODEL_NAME`` / models.config).
      version: a specific version, or None for the latest.
      timeout: seconds per HTTP request.
    """

    def __init__(self, server: str, model_name: str, version: int | None = None, timeout: float = 60.0):
        parsed = urllib.parse.urlparse(server)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"--server must be an http(s) URL such as http://localhost:8501, got {server!r}")
        if not model_name:
            raise ValueError("--model_name must be set")
        self.base = server.rstrip("/")
        self.model_name = model_name
        self.version = version
        self.timeout = timeout

    @property
    def model_url(self) -> str:
        url = f"{self.base}/v1/models/{urllib.parse.quote(self.model_name)}"
        return url if self.version is None else f"{url}/versions/{self.version}"

    def _request(self, url: str, payload: dict | None = None) -> dict:
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(
            url, data=data, headers={"Content-Type": "application/json"}, method="GET" if data is None else "POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")
            with contextlib.suppress(json.JSONDecodeError, AttributeError):
                detail = json.loads(detail).get("error", detail)
            raise ServingError(f"{url}: HTTP {e.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ServingError(f"cannot reach {url}: {reason}") from None

    def metadata(self) -> dict[str, SignatureMetadata]:
        return parse_model_metadata(self._request(f"{self.model_url}/metadata"))

    def predict(
        self, signature_name: str, inputs: Mapping[str, np.ndarray], form: str = "inputs"
    ) -> dict[str, np.ndarray]:
        body = build_predict_request(signature_name, inputs, form)
        return parse_predict_response(signature_name, self._request(f"{self.model_url}:predict", body))

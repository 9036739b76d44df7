"""The explorer's HTTP API: requests in TF Serving's REST predict format, checked, and their answers.

``POST /v1/models/<name>:predict`` takes the body TF Serving takes (see
``infogan_tf.serving.client``): ``{"signature_name": ..., "instances": [...]}``
(row form) or ``{"signature_name": ..., "inputs": {...}}`` (columnar form), for
the export's signatures ``serving_default``, ``generate`` and ``encode``
(``infogan_tf.serving.signatures``), and answers ``{"predictions": [...]}`` or
``{"outputs": ...}`` by TF Serving's rules (one output: its name left out).
Without additions the answer is TF Serving's own. The additions, each in TF
Serving's idiom:

  * ``output_filter``: the outputs to return (gRPC's PredictRequest field),
    from the signature's own and the explorer's extras; default: the
    signature's own outputs;
  * the extra output ``images_png`` of ``generate`` and ``serving_default``:
    each image as a PNG file ``{"b64": "<base64 PNG>"}`` (TF Serving's JSON
    form of binary values);
  * ``encode`` also takes image files: an instance ``{"b64": "<PNG or JPEG>"}``
    of any size, resized to the model's input; its extra outputs are
    ``categorical`` (Q's most likely category per code) and ``input_png``
    (the image Q saw).

``POST /v1/models/<name>:traverse`` has no TF Serving counterpart: one PNG of
the traversal grid of the paper's Figure 2 (Chen et al. 2016; rows = the
categories of one categorical code, columns = one continuous code swept over
``lo..hi``), around the codes and noise the request gives.

Every value is checked before the model runs, so a bad request is a 400 whose
``{"error": ...}`` names the input, the row or column and the allowed range:
category indices within their code, continuous values within the explorer's
range (``Limits``), noise within its prior Uniform(-1, 1), finite numbers,
rectangular arrays of the signature's widths. This module holds no
TensorFlow; image files are decoded by the function the caller passes.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from infogan_tf import errors, visualize
from infogan_tf.latent import LatentSpec
from infogan_tf.serving import signatures as sig
from infogan_tf.serving.sample import ModelInfo

MAX_BATCH = 1024  # rows in one predict request
MAX_COLS = 25  # columns of a traversal grid
# Outputs the explorer adds to each signature's own.
EXTRA_OUTPUTS = {
    "serving_default": ("images_png",),
    "generate": ("images_png",),
    "encode": ("categorical", "input_png"),
}


class RequestError(errors.UsageError):
    """A request the explorer refuses; ``status`` is its HTTP status (4xx)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class Limits(NamedTuple):
    """The values the explorer accepts: continuous codes in [-continuous, continuous], noise in [-z, z]."""

    continuous: float
    z: float = 1.0


def limits_for(latent: LatentSpec) -> Limits:
    """The sliders' range: -2..2 (the paper's figures) or twice the prior's half width if that is wider."""
    return Limits(continuous=max(2.0, 2.0 * latent.continuous_range))


class PredictRequest(NamedTuple):
    """A checked predict request: the signature, its input arrays, the response form and the outputs wanted."""

    signature: str
    inputs: dict[str, np.ndarray]
    form: str
    outputs: tuple[str, ...]


class TraverseRequest(NamedTuple):
    """A checked traversal request: one row of codes and noise, the codes to vary and the sweep."""

    z: np.ndarray  # float32 [1, noise_dim]
    categorical: np.ndarray  # int32 [1, n_categorical]
    continuous: np.ndarray  # float32 [1, n_continuous]
    categorical_code: int | None
    continuous_code: int | None
    cols: int
    lo: float
    hi: float


def _no_constant(name: str):
    raise RequestError(f"the request body contains {name}, which is not a JSON number; send finite numbers")


def parse_json(data: bytes) -> Any:
    """The request body as JSON (NaN and Infinity refused)."""
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RequestError(f"the request body is not JSON ({errors.first_line(e)})") from None


def _object(body: Any, what: str) -> Mapping:
    if not isinstance(body, Mapping):
        raise RequestError(f"{what} must be a JSON object, got {type(body).__name__}")
    return body


# ---------------------------------------------------------------- value checks


def _matrix(value: Any, name: str, width: int) -> np.ndarray:
    """A [rows, width] float64 array of ``value`` (the rows of one input)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError):
        raise RequestError(f"{name} must be a rectangular array of numbers") from None
    if array.ndim != 2 or array.shape[1] != width:
        raise RequestError(f"{name} must have {width} values per row; got an array of shape {list(array.shape)}")
    return array


def _within(array: np.ndarray, name: str, bound: float, why: str) -> None:
    if not np.all(np.isfinite(array)):
        raise RequestError(f"{name} must be finite numbers")
    if array.size and np.max(np.abs(array)) > bound:
        raise RequestError(f"{name} must be in [-{bound:g}, {bound:g}] ({why}); got {_extreme(array):g}")


def _extreme(array: np.ndarray) -> float:
    flat = array.reshape(-1)
    return float(flat[np.argmax(np.abs(flat))])


def check_z(array: np.ndarray, latent: LatentSpec, limits: Limits) -> np.ndarray:
    _within(array, "z", limits.z, "its prior is Uniform(-1, 1)")
    return array.astype(np.float32).reshape(-1, latent.noise_dim)


def check_continuous(array: np.ndarray, latent: LatentSpec, limits: Limits, name: str = "continuous") -> np.ndarray:
    for j in range(latent.continuous):
        _within(array[:, j], f"{name}[:, {j}] (continuous code {j})", limits.continuous, "the explorer's range")
    return array.astype(np.float32).reshape(-1, latent.continuous)


def check_categorical(array: np.ndarray, latent: LatentSpec) -> np.ndarray:
    for i, k in enumerate(latent.categorical):
        column = array[:, i]
        bad = ~np.isfinite(column) | (column != np.round(column)) | (column < 0) | (column >= k)
        if np.any(bad):
            raise RequestError(
                f"categorical[:, {i}] must be a category index in 0..{k - 1} (code {i} has {k} categories); "
                f"got {column[np.argmax(bad)]:g}"
            )
    return array.astype(np.int32).reshape(-1, latent.n_categorical)


def check_c(array: np.ndarray, latent: LatentSpec, limits: Limits) -> np.ndarray:
    for i, (k, s) in enumerate(zip(latent.categorical, latent.categorical_slices())):
        block = array[:, s]
        if not (np.all((block == 0) | (block == 1)) and np.all(block.sum(axis=1) == 1)):
            raise RequestError(
                f"c columns {s.start}..{s.stop - 1} (categorical code {i}, {k} categories) must be one-hot: "
                "entries 0 or 1 with exactly one 1 per row"
            )
    check_continuous(array[:, latent.continuous_slice], latent, limits, name="c continuous part")
    return array.astype(np.float32)


def check_images(array: np.ndarray, image_shape: Sequence[int]) -> np.ndarray:
    if array.ndim != 4 or tuple(array.shape[1:]) != tuple(image_shape):
        raise RequestError(f"images must be [batch, {', '.join(map(str, image_shape))}]; got {list(array.shape)}")
    if not np.all(np.isfinite(array)) or (array.size and (array.min() < 0.0 or array.max() > 1.0)):
        raise RequestError("images must be finite values in [0, 1] (divide uint8 pixels by 255)")
    return array.astype(np.float32)


# ---------------------------------------------------------------- predict


def _rows_by_input(body: Mapping, names: Sequence[str]) -> tuple[dict[str, list], str]:
    """{input name: its rows} and the form of ``body`` ("instances" or "inputs")."""
    if ("instances" in body) == ("inputs" in body):
        raise RequestError("a predict request needs exactly one of 'instances' (rows) and 'inputs' (columns)")
    form = "instances" if "instances" in body else "inputs"
    value = body[form]
    if form == "instances":
        if not isinstance(value, list) or not value:
            raise RequestError("'instances' must be a non-empty list of rows")
        if len(names) == 1 and not all(isinstance(r, Mapping) and names[0] in r for r in value):
            return {names[0]: value}, form  # a single input: the instances are its rows
        for i, row in enumerate(value):
            if not isinstance(row, Mapping) or sorted(row) != sorted(names):
                got = sorted(row) if isinstance(row, Mapping) else type(row).__name__
                raise RequestError(f"instances[{i}] must be an object with the inputs {', '.join(names)}; got {got}")
        return {n: [row[n] for row in value] for n in names}, form
    if isinstance(value, Mapping) and not (len(names) == 1 and "b64" in value):
        if sorted(value) != sorted(names):
            raise RequestError(f"'inputs' must name the inputs {', '.join(names)}; got {', '.join(sorted(value))}")
        columns = dict(value)
    elif len(names) == 1:
        columns = {names[0]: value}
    else:
        raise RequestError(f"'inputs' must be an object with the inputs {', '.join(names)}")
    for n, rows in columns.items():
        if not isinstance(rows, list) or not rows:
            raise RequestError(f"inputs.{n} must be a non-empty list of rows")
    return columns, form


def _b64(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise RequestError(f"{where}: 'b64' must be a string of base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(f"{where}: 'b64' is not valid base64") from None


def _images(rows: list, info: ModelInfo, decode_image: Callable[[bytes], np.ndarray]) -> np.ndarray:
    files = [isinstance(r, Mapping) and "b64" in r for r in rows]
    if any(files) and not all(files):
        raise RequestError("images: give every row as an image file {'b64': ...} or every row as pixels, not both")
    if all(files):
        return np.stack([decode_image(_b64(r["b64"], f"images[{i}]")) for i, r in enumerate(rows)]).astype(np.float32)
    try:
        array = np.asarray(rows, dtype=np.float64)
    except (ValueError, TypeError):
        raise RequestError("images must be a rectangular array of numbers, or image files {'b64': ...}") from None
    return check_images(array, info.image_shape)


def _outputs(body: Mapping, signature: str) -> tuple[str, ...]:
    own = tuple(t.name for t in sig.SIGNATURES[signature].outputs)
    available = own + EXTRA_OUTPUTS[signature]
    wanted = body.get("output_filter")
    if wanted is None:
        return own  # exactly TF Serving's answer
    if not isinstance(wanted, list) or not wanted or not all(isinstance(w, str) for w in wanted):
        raise RequestError("'output_filter' must be a non-empty list of output names")
    unknown = [w for w in wanted if w not in available]
    if unknown:
        raise RequestError(f"{signature} has no output {unknown[0]!r}; its outputs are {', '.join(available)}")
    return tuple(dict.fromkeys(wanted))


def parse_predict(
    body: Any, info: ModelInfo, limits: Limits, decode_image: Callable[[bytes], np.ndarray]
) -> PredictRequest:
    """Checks a predict request body against the model; raises RequestError naming the first problem."""
    body = _object(body, "the request body")
    signature = body.get("signature_name", "serving_default")
    if signature not in sig.SIGNATURES:
        raise RequestError(f"unknown signature_name {signature!r}; the model has {', '.join(sig.SIGNATURES)}")
    names = [t.name for t in sig.SIGNATURES[signature].inputs]
    rows, form = _rows_by_input(body, names)
    sizes = {len(r) for r in rows.values()}
    if len(sizes) != 1:
        raise RequestError(f"every input needs the same number of rows; got {', '.join(map(str, sorted(sizes)))}")
    if sizes.pop() > MAX_BATCH:
        raise RequestError(f"at most {MAX_BATCH} rows per request")
    lat = info.latent
    if signature == "encode":
        inputs = {"images": _images(rows["images"], info, decode_image)}
    elif signature == "generate":
        inputs = {
            "z": check_z(_matrix(rows["z"], "z", lat.noise_dim), lat, limits),
            "categorical": check_categorical(_matrix(rows["categorical"], "categorical", lat.n_categorical), lat),
            "continuous": check_continuous(_matrix(rows["continuous"], "continuous", lat.continuous), lat, limits),
        }
    else:
        inputs = {
            "z": check_z(_matrix(rows["z"], "z", lat.noise_dim), lat, limits),
            "c": check_c(_matrix(rows["c"], "c", lat.code_dim), lat, limits),
        }
    return PredictRequest(signature, inputs, form, _outputs(body, signature))


def png_value(data: bytes) -> dict:
    """A PNG file in TF Serving's JSON form of binary values."""
    return {"b64": base64.b64encode(data).decode("ascii")}


def predict_response(outputs: Mapping[str, Any], form: str) -> dict:
    """The response body by TF Serving's rules; ``outputs`` maps names to batches (arrays or lists)."""
    lists = {k: v.tolist() if isinstance(v, np.ndarray) else list(v) for k, v in outputs.items()}
    if form == "instances":
        if len(lists) == 1:
            return {"predictions": next(iter(lists.values()))}
        n = len(next(iter(lists.values())))
        return {"predictions": [{k: v[i] for k, v in lists.items()} for i in range(n)]}
    return {"outputs": next(iter(lists.values())) if len(lists) == 1 else lists}


# ---------------------------------------------------------------- traverse


def _code_index(value: Any, name: str, count: int) -> int | None:
    if value is None or count == 0:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < count:
        raise RequestError(f"{name} must be an index in 0..{count - 1}, got {value!r}")
    return value


def _number(body: Mapping, key: str, default: float) -> float:
    value = body.get(key, default)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise RequestError(f"{key} must be a finite number, got {value!r}")
    return float(value)


def parse_traverse(body: Any, info: ModelInfo, limits: Limits) -> TraverseRequest:
    """Checks a traversal request: {"z", "categorical", "continuous", "categorical_code", "continuous_code", ...}."""
    body = _object(body, "the request body")
    lat = info.latent
    for key in ("z", "categorical", "continuous"):
        if key not in body:
            raise RequestError(f"a traverse request needs {key!r} (one row)")
    cols = body.get("cols", 10)
    if not isinstance(cols, int) or isinstance(cols, bool) or not 2 <= cols <= MAX_COLS:
        raise RequestError(f"cols must be an integer in 2..{MAX_COLS}, got {cols!r}")
    lo, hi = _number(body, "lo", -limits.continuous), _number(body, "hi", limits.continuous)
    if not -limits.continuous <= lo < hi <= limits.continuous:
        raise RequestError(f"lo and hi must satisfy -{limits.continuous:g} <= lo < hi <= {limits.continuous:g}")
    return TraverseRequest(
        z=check_z(_matrix([body["z"]], "z", lat.noise_dim), lat, limits),
        categorical=check_categorical(_matrix([body["categorical"]], "categorical", lat.n_categorical), lat),
        continuous=check_continuous(_matrix([body["continuous"]], "continuous", lat.continuous), lat, limits),
        categorical_code=_code_index(body.get("categorical_code"), "categorical_code", lat.n_categorical),
        continuous_code=_code_index(body.get("continuous_code"), "continuous_code", lat.continuous),
        cols=cols,
        lo=lo,
        hi=hi,
    )


def traverse_inputs(request: TraverseRequest, latent: LatentSpec) -> visualize.TraversalInputs:
    """Generator inputs of the grid, row-major: the request's row, varied along the two chosen codes."""
    i, j = request.categorical_code, request.continuous_code
    rows = latent.categorical[i] if i is not None else 1
    cols = request.cols if j is not None else 1
    n = rows * cols
    categorical = np.repeat(request.categorical, n, axis=0)
    continuous = np.repeat(request.continuous, n, axis=0)
    if i is not None:
        categorical[:, i] = np.repeat(np.arange(rows), cols)
    if j is not None:
        continuous[:, j] = np.tile(np.linspace(request.lo, request.hi, cols), rows)
    return visualize.TraversalInputs(np.repeat(request.z, n, axis=0), categorical, continuous, rows, cols)

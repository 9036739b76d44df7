"""Tests of the explorer's API (``serving.explorer``) without a browser: answers, errors, concurrency, the CLI.

The answers are checked against the exported SavedModel's signatures called
directly, and through the project's own TF Serving client
(``serving.client.RestClient``), which must read the explorer's answers as it
reads TF Serving's. The browser is tests/test_explorer_browser.py's.
"""

import ast
import base64
import fnmatch
import io
import json
import pathlib
import re
import socket
import threading
import urllib.error
import urllib.request
import zlib

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO
from PIL import Image
from tf_serving_json import StandInServer

from infogan_tf import visualize
from infogan_tf.cli import explore as explore_cli
from infogan_tf.errors import ServingError
from infogan_tf.latent import LatentSpec
from infogan_tf.serving import signatures
from infogan_tf.serving.client import RestClient
from infogan_tf.serving.explorer import api, policy
from infogan_tf.serving.explorer.app import MAX_BODY_BYTES, ExplorerServer, create_app
from infogan_tf.serving.explorer.backend import SavedModelBackend, ServingBackend
from infogan_tf.serving.explorer.policy import ServeOptions
from infogan_tf.serving.sample import ModelInfo

NAME = "infogan_test"  # the exported_model fixture's base path name


@pytest.fixture(scope="module")
def backend(exported_model):
    return SavedModelBackend(exported_model.path)


@pytest.fixture(scope="module")
def client(backend):
    return create_app(backend).test_client()


@pytest.fixture(scope="module")
def signature(exported_model):
    loaded = tf.saved_model.load(exported_model.path)

    def call(name, **inputs):
        return {
            k: v.numpy() for k, v in loaded.signatures[name](**{k: tf.constant(v) for k, v in inputs.items()}).items()
        }

    return call


def codes(rows=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "z": rng.uniform(-1, 1, size=(rows, 62)).astype(np.float32),
        "categorical": rng.integers(0, 10, size=(rows, 1)).astype(np.int32),
        "continuous": rng.uniform(-2, 2, size=(rows, 2)).astype(np.float32),
    }


def post(client, body, verb="predict", name=NAME):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = client.post(f"/v1/models/{name}:{verb}", data=data, content_type="application/json")
    return response.status_code, response.get_json()


def png(value):
    return tf.io.decode_png(base64.b64decode(value["b64"])).numpy()


def image_file(pixels, kind="PNG"):
    encode = tf.io.encode_png if kind == "PNG" else lambda x: tf.io.encode_jpeg(x, quality=95)
    return encode(np.asarray(pixels, np.uint8)).numpy()


def b64(data):
    return base64.b64encode(data).decode()


def test_the_page_and_the_metadata_come_from_the_export(client, exported_model):
    page = client.get("/")
    assert page.status_code == 200 and b'src="static/explorer.js"' in page.data
    for name in ("explorer.js", "explorer.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert client.get("/v1/models").get_json()["models"][0]["name"] == NAME
    meta = client.get(f"/v1/models/{NAME}/metadata").get_json()
    assert meta["model_spec"] == {"name": NAME, "version": "4"}
    with open(f"{exported_model.path}/assets/{signatures.METADATA_ASSET}") as f:
        asset = json.load(f)
    # no absolute path on disk unless --show_paths: the export's, its checkpoint's, the training data's
    assert meta["metadata"]["export"] == policy.without_paths(asset) and asset["checkpoint"].startswith("/")
    assert meta["metadata"]["export"]["checkpoint"] == ".../checkpoints/ckpt-4"
    assert exported_model.path not in json.dumps(meta) and exported_model.path not in client.get("/v1/models").text
    assert client.get("/v1/models").get_json()["models"][0]["source"] == "SavedModel .../infogan_test/4"
    shown = create_app(SavedModelBackend(exported_model.path), ServeOptions(show_paths=True)).test_client()
    assert shown.get(f"/v1/models/{NAME}/metadata").get_json()["metadata"]["export"] == asset
    assert shown.get("/v1/models").get_json()["models"][0]["source"] == f"SavedModel {exported_model.path}"
    explorer = meta["metadata"]["explorer"]
    assert explorer["latent"] == asset["latent"] and explorer["image_shape"] == [28, 28, 1]
    assert explorer["prior_range"] == [-1.0, 1.0] and explorer["limits"]["continuous"] == [-2.0, 2.0]
    assert client.get(f"/v1/models/{NAME}/versions/4/metadata").status_code == 200


@pytest.mark.parametrize("form", ["instances", "inputs"])
def test_every_signature_answers_like_tf_serving(backend, signature, form):
    """The project's TF Serving client reads the explorer's answers to the same arrays as the SavedModel's."""
    inputs = codes()
    images = signature("generate", **inputs)["images"]
    c = LatentSpec().flatten_numpy(inputs["categorical"], inputs["continuous"])
    cases = {
        "generate": inputs,
        "serving_default": {"z": inputs["z"], "c": c},
        "encode": {"images": images},
    }
    with ExplorerServer(backend) as server:
        rest = RestClient(server.url, NAME)
        for name, feed in cases.items():
            got = rest.predict(name, feed, form=form)
            want = signature(name, **feed)
            for key in want:
                np.testing.assert_allclose(got[key], want[key], atol=1e-6, err_msg=f"{name}.{key}")


def test_generated_pngs_are_the_signatures_uint8_images(client, signature):
    inputs = codes(seed=1)
    body = {"signature_name": "generate", "inputs": {k: v.tolist() for k, v in inputs.items()}}
    status, answer = post(client, {**body, "output_filter": ["images_png"]})
    assert status == 200 and list(answer) == ["outputs"]
    want = signature("generate", **inputs)["images_uint8"]
    assert len(answer["outputs"]) == 3
    for i, value in enumerate(answer["outputs"]):  # one output: TF Serving's rule leaves out its name
        np.testing.assert_array_equal(png(value), want[i])
    # serving_default's float images become the same PNGs
    c = LatentSpec().flatten_numpy(inputs["categorical"], inputs["continuous"])
    rows = [{"z": z.tolist(), "c": cc.tolist()} for z, cc in zip(inputs["z"], c)]
    status, answer = post(client, {"signature_name": "serving_default", "instances": rows})
    assert status == 200 and np.asarray(answer["predictions"]).shape == (3, 28, 28, 1)  # TF Serving's answer
    status, answer = post(
        client, {"signature_name": "serving_default", "instances": rows, "output_filter": ["images", "images_png"]}
    )
    assert status == 200 and set(answer["predictions"][0]) == {"images", "images_png"}
    np.testing.assert_array_equal(png(answer["predictions"][2]["images_png"]), want[2])


@pytest.mark.parametrize("kind", ["PNG", "JPEG"])
def test_encode_reads_an_image_file_of_any_size(client, signature, kind):
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, size=(50, 41, 3), dtype=np.uint8)  # colour, not 28x28: converted and resized
    data = image_file(pixels, kind)
    extras = ["categorical_probs", "continuous_mean", "categorical", "input_png"]
    status, answer = post(
        client, {"signature_name": "encode", "instances": [{"b64": b64(data)}], "output_filter": extras}
    )
    assert status == 200, answer
    (row,) = answer["predictions"]
    decoded = tf.image.convert_image_dtype(tf.io.decode_image(data), tf.float32)
    expected = tf.clip_by_value(tf.image.resize(tf.image.rgb_to_grayscale(decoded), (28, 28), antialias=True), 0, 1)
    want = signature("encode", images=expected.numpy()[None])
    np.testing.assert_allclose(row["categorical_probs"], want["categorical_probs"][0], atol=1e-5)
    np.testing.assert_allclose(row["continuous_mean"], want["continuous_mean"][0], atol=1e-5)
    assert row["categorical"] == [int(np.argmax(want["categorical_probs"][0]))]
    np.testing.assert_array_equal(png(row["input_png"]), visualize.to_uint8(expected.numpy()))


def test_traverse_is_the_generate_signature_tiled(client, signature):
    inputs = codes(rows=1, seed=4)
    body = {
        "z": inputs["z"][0].tolist(),
        "categorical": [3],
        "continuous": [0.25, 0.5],
        "categorical_code": 0,
        "continuous_code": 1,
        "cols": 5,
    }
    status, answer = post(client, body, verb="traverse")
    assert status == 200, answer
    assert (answer["rows"], answer["cols"]) == (10, 5) and answer["col_values"] == [-2.0, -1.0, 0.0, 1.0, 2.0]
    categorical = np.repeat(np.arange(10, dtype=np.int32), 5)[:, None]  # rows: every category of code 0
    continuous = np.stack([np.full(50, 0.25), np.tile(np.linspace(-2, 2, 5), 10)], axis=1).astype(np.float32)
    want = signature("generate", z=np.repeat(inputs["z"], 50, axis=0), categorical=categorical, continuous=continuous)
    np.testing.assert_array_equal(png(answer["grid_png"]), visualize.tile_grid(want["images_uint8"], 10, 5))


GOOD = {"z": [0.0] * 62, "categorical": [1], "continuous": [0.0, 0.0]}


def generate_body(**row):
    return {"signature_name": "generate", "instances": [{**GOOD, **row}]}


def encode_body(data, *extras):
    body = {"signature_name": "encode", "instances": [{"b64": b64(data)}]}
    return {**body, "output_filter": ["categorical_probs", *extras]} if extras else body


BAD_REQUESTS = {
    "not_json": (b"garbage{", 400, r"the request body is not JSON"),
    "not_an_object": (b"[1, 2]", 400, r"the request body must be a JSON object, got list"),
    "nan": (b'{"signature_name": "generate", "instances": [{"z": [NaN]}]}', 400, r"NaN, which is not a JSON number"),
    "unknown_signature": ({"signature_name": "predict", "instances": [1]}, 400, r"unknown signature_name 'predict'"),
    "both_forms": ({"instances": [1], "inputs": {}}, 400, r"exactly one of 'instances' \(rows\) and 'inputs'"),
    "missing_input": (
        {"signature_name": "generate", "instances": [{"z": [0.0] * 62}]},
        400,
        r"instances\[0\] must be an object with the inputs z, categorical, continuous",
    ),
    "category_out_of_range": (
        generate_body(categorical=[12]),
        400,
        r"categorical\[:, 0\] must be a category index in 0..9 \(code 0 has 10 categories\); got 12",
    ),
    "category_not_an_integer": (generate_body(categorical=[2.5]), 400, r"category index in 0..9 .*got 2.5"),
    "continuous_out_of_range": (
        generate_body(continuous=[0.0, 2.5]),
        400,
        r"continuous\[:, 1\] \(continuous code 1\) must be in \[-2, 2\] \(the explorer's range\); got 2.5",
    ),
    "noise_out_of_range": (generate_body(z=[3.0] + [0.0] * 61), 400, r"z must be in \[-1, 1\] .*got 3"),
    "noise_width": (generate_body(z=[0.0] * 5), 400, r"z must have 62 values per row; got an array of shape \[1, 5\]"),
    "ragged": (generate_body(continuous=[0.0, [1.0]]), 400, r"continuous must be a rectangular array of numbers"),
    "not_one_hot": (
        {"signature_name": "serving_default", "instances": [{"z": [0.0] * 62, "c": [0.5] * 10 + [0, 0]}]},
        400,
        r"c columns 0..9 \(categorical code 0, 10 categories\) must be one-hot",
    ),
    "too_many_rows": (
        {"signature_name": "generate", "instances": [GOOD] * (api.MAX_BATCH + 1)},
        400,
        r"at most 1024 rows per request",
    ),
    "unknown_output": (
        {**generate_body(), "output_filter": ["logits"]},
        400,
        r"generate has no output 'logits'; its outputs are images, images_uint8, images_png",
    ),
    "text_upload": (encode_body(b"hello, not an image"), 400, r"the upload is not a PNG or JPEG image"),
    "bad_base64": ({"signature_name": "encode", "instances": [{"b64": "%%%"}]}, 400, r"'b64' is not valid base64"),
    "truncated_png": (
        encode_body(image_file(np.zeros([30, 30, 1]))[:40]),
        400,
        r"cannot decode the uploaded PNG",
    ),
    "pixels_out_of_range": (
        {"signature_name": "encode", "inputs": {"images": np.full([1, 28, 28, 1], 255.0).tolist()}},
        400,
        r"images must be finite values in \[0, 1\]",
    ),
    "images_shape": (
        {"signature_name": "encode", "inputs": [np.zeros([4, 4, 1]).tolist()]},
        400,
        r"images must be \[batch, 28, 28, 1\]; got \[1, 4, 4, 1\]",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_a_bad_predict_request_is_a_json_error_naming_the_problem(client, case):
    body, status, message = BAD_REQUESTS[case]
    got_status, answer = post(client, body)
    assert got_status == status and set(answer) == {"error"}
    assert answer["error"].count("\n") == 0
    assert re.search(message, answer["error"]), answer["error"]
    assert post(client, generate_body())[0] == 200  # and the next request is answered


def test_bad_traversals_routes_and_methods_are_json_errors(client):
    row = {"z": GOOD["z"], "categorical": [0], "continuous": [0.0, 0.0]}
    cases = [
        (post(client, {**row, "cols": 40}, verb="traverse"), 400, "cols must be an integer in 2..25, got 40"),
        (
            post(client, {**row, "categorical_code": 3}, verb="traverse"),
            400,
            "categorical_code must be an index in 0..0",
        ),
        (post(client, {**row, "lo": 1, "hi": -1}, verb="traverse"), 400, "lo and hi must satisfy -2 <= lo < hi <= 2"),
        (post(client, {"z": GOOD["z"]}, verb="traverse"), 400, "a traverse request needs 'categorical'"),
        (post(client, generate_body(), name="other"), 404, "Servable not found for request: other"),
        (post(client, generate_body(), verb="classify"), 404, "unknown method :classify"),
        (post(client, b"x" * (MAX_BODY_BYTES + 1)), 413, "the request body is larger than 16 MB"),
    ]
    for (status, answer), want_status, message in cases:
        assert (status, set(answer)) == (want_status, {"error"}) and message in answer["error"], answer
    for response, want_status in [(client.get(f"/v1/models/{NAME}:predict"), 405), (client.get("/nope"), 404)]:
        assert response.status_code == want_status and set(response.get_json()) == {"error"}


class FakeBackend:
    """Any export: colour 8x6 images, two categorical codes, a wider prior; images computed from the codes."""

    def __init__(self, fail=None):
        self.info = ModelInfo(
            LatentSpec(noise_dim=3, categorical=(3, 4), continuous=1, continuous_range=1.5), (8, 6, 3)
        )
        self.metadata = {"latent": self.info.latent.to_dict(), "image": {"shape": [8, 6, 3]}}
        self.name, self.version, self.source = "colour", "7", "a fake backend"
        self.fail = fail
        self.calls = []

    def run(self, signature, inputs):
        self.calls.append((signature, {k: np.array(v) for k, v in inputs.items()}))
        if self.fail is not None:
            raise self.fail
        if signature == "encode":
            n = len(inputs["images"])
            probs = np.tile(np.array([[0.2, 0.7, 0.1, 0.1, 0.1, 0.2, 0.6]], np.float32), (n, 1))
            return {
                "categorical_probs": probs,
                "continuous_mean": np.full([n, 1], 0.5),
                "continuous_std": np.ones([n, 1]),
            }
        cat, cont = inputs["categorical"], inputs["continuous"]
        pixels = np.zeros([len(cat), 8, 6, 3], np.uint8)
        pixels[..., 0] = (cat[:, 0] * 80)[:, None, None]
        pixels[..., 1] = (cat[:, 1] * 60)[:, None, None]
        pixels[..., 2] = np.round((cont[:, 0] + 3) * 40).astype(np.uint8)[:, None, None]
        return {"images": pixels / 255.0, "images_uint8": pixels}


def test_any_export_works_colour_images_and_several_codes():
    fake = FakeBackend()
    client = create_app(fake).test_client()
    meta = client.get("/v1/models/colour/metadata").get_json()["metadata"]["explorer"]
    assert meta["latent"]["categorical"] == [3, 4] and meta["image_shape"] == [8, 6, 3]
    assert meta["limits"]["continuous"] == [-3.0, 3.0] and meta["prior_range"] == [-1.5, 1.5]  # twice the prior
    row = {"z": [0.1, 0.2, 0.3], "categorical": [2, 3], "continuous": [2.5]}
    status, answer = post(
        client, {"signature_name": "generate", "instances": [row], "output_filter": ["images_png"]}, name="colour"
    )
    assert status == 200
    image = png(answer["predictions"][0])
    assert image.shape == (8, 6, 3) and tuple(image[0, 0]) == (160, 180, 220)
    assert post(client, {"signature_name": "generate", "instances": [{**row, "categorical": [2, 4]}]}, name="colour")[
        1
    ]["error"].startswith("categorical[:, 1] must be a category index in 0..3")
    status, answer = post(client, {**row, "categorical_code": 1, "continuous_code": 0, "cols": 3}, "traverse", "colour")
    grid = png(answer["grid_png"])
    assert (answer["rows"], answer["cols"]) == (4, 3) and grid.shape == (4 * 9 + 1, 3 * 7 + 1, 3)
    assert [tuple(grid[1 + 9 * r, 1, :2]) for r in range(4)] == [(160, 0), (160, 60), (160, 120), (160, 180)]
    grey = image_file(np.full([20, 30, 1], 200))  # a grey upload for a colour model
    status, answer = post(client, encode_body(grey, "categorical"), name="colour")
    assert status == 200 and answer["predictions"][0]["categorical"] == [1, 3]
    seen = fake.calls[-1][1]["images"]
    assert seen.shape == (1, 8, 6, 3) and np.allclose(seen, 200 / 255, atol=1e-3)


def test_a_down_or_failing_tf_serving_backend_is_a_5xx_json_error(exported_model, signature):
    asset = f"{exported_model.path}/assets/{signatures.METADATA_ASSET}"
    with StandInServer(exported_model.path, NAME, 4) as stand_in:
        backend = ServingBackend(RestClient(stand_in.url, NAME))  # layout read from the server's metadata
        client = create_app(backend).test_client()
        inputs = codes(rows=1, seed=5)
        row = {k: v[0].tolist() for k, v in inputs.items()}
        status, answer = post(
            client, {"signature_name": "generate", "instances": [row], "output_filter": ["images_png"]}
        )
        assert status == 200
        want = signature("generate", **inputs)["images_uint8"][0]
        np.testing.assert_array_equal(png(answer["predictions"][0]), want)
    # the server is gone now: the explorer still answers, with a 503 naming it
    status, answer = post(client, generate_body())
    assert status == 503 and answer["error"].startswith(f"TF Serving backend: cannot reach {stand_in.url}")
    with_spec = create_app(ServingBackend(RestClient(stand_in.url, NAME), spec_json=asset)).test_client()
    assert with_spec.get(f"/v1/models/{NAME}/metadata").status_code == 200  # starts without the server
    assert post(with_spec, generate_body())[0] == 503

    class Failing:
        model_url, model_name, version = "http://127.0.0.1:9/v1/models/m", "m", None

        def predict(self, *args, **kwargs):
            raise ServingError("http://127.0.0.1:9/v1/models/m:predict: HTTP 500: out of memory")

    failing = create_app(ServingBackend(Failing(), spec_json=asset)).test_client()
    status, answer = post(failing, generate_body(), name="m")
    assert status == 502 and answer["error"].endswith("HTTP 500: out of memory")


def test_a_bug_is_a_500_json_error_and_the_server_goes_on():
    fake = FakeBackend(fail=RuntimeError("boom"))
    client = create_app(fake).test_client()
    row = {"z": [0.0] * 3, "categorical": [0, 0], "continuous": [0.0]}
    status, answer = post(client, {"signature_name": "generate", "instances": [row]}, name="colour")
    assert status == 500 and answer == {"error": "internal error: RuntimeError: boom"}
    fake.fail = None
    assert post(client, {"signature_name": "generate", "instances": [row]}, name="colour")[0] == 200


def _http(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_concurrent_requests_are_all_answered(backend, signature):
    """8 threads x 10 requests (generate, encode, garbage) on the threaded server: every one answered right."""
    inputs = codes(rows=8, seed=6)
    want = signature("generate", **inputs)["images_uint8"]
    upload = b64(image_file(want[0]))
    results, lock = [], threading.Lock()
    with ExplorerServer(backend) as server:
        url = f"{server.url}v1/models/{NAME}:predict"

        def worker(t):
            row = {k: v[t].tolist() for k, v in inputs.items()}
            for i in range(10):
                if i % 5 == 4:
                    body, kind = {"signature_name": "generate", "instances": [{**row, "categorical": [99]}]}, "bad"
                elif i % 5 == 3:
                    body, kind = {"signature_name": "encode", "instances": [{"b64": upload}]}, "encode"
                else:
                    body, kind = (
                        {"signature_name": "generate", "instances": [row], "output_filter": ["images_png"]},
                        "gen",
                    )
                status, answer = _http(url, body)
                with lock:
                    results.append((t, kind, status, answer))

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert len(results) == 80
    for t, kind, status, answer in results:
        if kind == "gen":
            assert status == 200
            np.testing.assert_array_equal(png(answer["predictions"][0]), want[t])
        elif kind == "encode":
            assert status == 200 and len(answer["predictions"][0]["categorical_probs"]) == 10
        else:
            assert status == 400 and "must be a category index" in answer["error"]


def test_cli_refuses_bad_flags_and_serves_until_told(exported_model, capsys):
    bad = {
        (): "give exactly one of --saved_model and --server",
        ("--server=http://localhost:8501",): "--server needs --model_name",
        ("--saved_model=/x", "--port=70000"): "--port must be in 0..65535, got 70000",
        ("--saved_model=/x", "--model_version=3"): "--model_version is for --server",
        ("--server=localhost:8501", "--model_name=m"): "--server must be an http(s) URL",
        ("--saved_model=/nonexistent/1",): "--saved_model /nonexistent/1 has no saved_model.pb",
    }
    for args, message in bad.items():
        status = explore_cli.main(["infogan-explore", *args])
        err = capsys.readouterr().err.strip().splitlines()
        assert status == (1 if "saved_model.pb" in message else 2) and len(err) == 1 and message in err[0], err
    seen = {}

    def serve(server):
        server.start()
        with urllib.request.urlopen(server.url, timeout=30) as page:
            seen["page"] = page.read()
        seen["port"] = server.port
        # a second explorer on the same port: refused in one line, exit 2
        seen["taken"] = explore_cli.main(
            ["infogan-explore", f"--saved_model={exported_model.path}", f"--port={server.port}"]
        )
        raise KeyboardInterrupt  # Ctrl-C

    assert explore_cli.main(["infogan-explore", f"--saved_model={exported_model.path}", "--port=0"], serve=serve) == 0
    out, err = capsys.readouterr()
    assert b"explorer.js" in seen["page"] and seen["taken"] == 2
    url = f"http://127.0.0.1:{seen['port']}/"
    assert out.splitlines() == [
        f"infogan-explore: exploring SavedModel {exported_model.path} at {url} (Ctrl-C stops)",
        "infogan-explore: stopped",
    ]
    assert (
        err.strip()
        == f"infogan-explore: error: cannot listen on 127.0.0.1:{seen['port']} (--host/--port): Address already in use"
    )


def test_upload_size_is_read_before_decoding():
    from infogan_tf.serving.explorer import images

    def with_size(width, height):  # a 2x2 PNG whose IHDR claims another size
        data = bytearray(image_file(np.zeros([2, 2, 1])))
        data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
        data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")  # the IHDR's CRC
        return bytes(data)

    with pytest.raises(api.RequestError, match=r"is 8000x6000 pixels; at most 40,000,000 pixels are taken"):
        images.decode_upload(with_size(8000, 6000), (28, 28, 1))
    with pytest.raises(api.RequestError, match=r"^the upload is over 40,000,000 pixels, the most taken \(Image size"):
        images.decode_upload(with_size(50_000, 40_000), (28, 28, 1))  # past Pillow's own bomb limit
    gif = io.BytesIO()
    Image.new("L", (4, 4)).save(gif, format="GIF")
    with pytest.raises(api.RequestError, match=r"^the upload is not a PNG or JPEG image \(it is a GIF file\)$"):
        images.decode_upload(gif.getvalue(), (28, 28, 1))
    with pytest.raises(api.RequestError, match=r"^cannot decode the uploaded PNG: "):
        images.decode_upload(image_file(np.zeros([2, 2, 1]))[:20], (28, 28, 1))  # the signature, half an IHDR
    rgba = np.zeros([4, 4, 4], np.uint8)
    rgba[..., :3], rgba[..., 3] = 255, 128  # white at half opacity: grey on black
    grey = images.decode_upload(image_file(rgba), (4, 4, 1))
    assert grey.shape == (4, 4, 1) and np.allclose(grey, 128 / 255, atol=2e-3)
    assert images.header(images.encode_png(np.zeros([3, 5, 1], np.uint8))) == ("PNG", 3, 5)
    assert images.header(image_file(np.zeros([3, 5, 3]), "JPEG")) == ("JPEG", 3, 5)


def test_the_load_benchmark_counts_every_request(backend):
    from benchmarks import explorer_load

    with ExplorerServer(backend) as server:
        report = explorer_load.measure(server.url, concurrency=3, requests=12, seconds=60, kind="mix", warmup=2, seed=0)
    assert report["requests"] == 12 and report["statuses"] == {"200": 12} and report["batch"] == 1
    assert 0 < report["latency_ms"]["p50"] <= report["latency_ms"]["p95"] and report["requests_per_s"] > 0
    with ExplorerServer(backend) as server:  # --readme: generate at concurrency 1 and 8, the page with idle ones
        readme = explorer_load.readme_report(server.url, 8, 60, 1, 0, idle=20, loads=3)
    assert [r["statuses"] for r in readme["generate_batch_1"].values()] == [{"200": 8}, {"200": 8}]
    assert readme["generate_batch_1"]["concurrency_8"]["concurrency"] == 8
    page = readme["page_with_idle_connections"]
    assert page["statuses"] == {"200": 3} and page["idle_connections"] == 20 and page["page_ms"]["p99"] > 0
    with pytest.raises(SystemExit, match="not a loopback address"):
        explorer_load.measure("http://192.0.2.1:8080/", 1, 1, 1, "generate", 0, 0)


def test_setup_ships_every_file_of_the_page():
    """A non-editable install has the page: setup.py's package_data names every file of static/."""
    tree = ast.parse(pathlib.Path(REPO, "setup.py").read_text())
    (call,) = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup"]
    package_data = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "package_data"))
    patterns = package_data["infogan_tf.serving.explorer"]
    static = pathlib.Path(REPO, "infogan_tf", "serving", "explorer", "static")
    files = sorted(p.name for p in static.iterdir())
    assert {"index.html", "explorer.js", "explorer.css"} <= set(files)
    for name in files:
        assert any(fnmatch.fnmatch(f"static/{name}", p) for p in patterns), f"setup.py does not ship static/{name}"


def test_a_request_that_is_not_http_gets_a_json_error_too(backend):
    from infogan_tf.serving.explorer.app import MAX_HEADER_BYTES

    garbage = {
        "not_http": (b'\x00\x01 garbage "quoted"\r\n\r\n', b"400"),
        "body_too_large": (
            f"POST /v1/models/{NAME}:predict HTTP/1.1\r\nContent-Length: {2 * MAX_BODY_BYTES}\r\n\r\n".encode(),
            b"413",
        ),
    }
    with ExplorerServer(backend) as server:
        for kind, (data, status) in garbage.items():
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
                conn.sendall(data)
                reply = b""
                while chunk := conn.recv(65536):
                    reply += chunk
            head, _, body = reply.partition(b"\r\n\r\n")
            assert head.split(b" ")[1] == status and b"Content-Type: application/json" in head, (kind, head)
            assert set(json.loads(body)) == {"error"}, reply
        # Headers over MAX_HEADER_BYTES: answered 431 and closed; the client may see a reset instead, as
        # the server closes with the rest of its headers unread. Either way the server goes on.
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
            try:
                conn.sendall(b"GET / HTTP/1.1\r\nX-A: " + b"b" * MAX_HEADER_BYTES + b"\r\n\r\n")
                assert conn.recv(65536).split(b" ")[1] == b"431"
            except ConnectionResetError:
                pass
        with urllib.request.urlopen(f"{server.url}v1/models", timeout=30) as response:  # still serving
            assert response.status == 200

"""The explorer answers only its own page and holds under load (``serving.explorer.policy``, ``admission``).

Each test runs the real server (waitress, in a thread) on 127.0.0.1 and
speaks HTTP to it: a forged Host (DNS rebinding) and a foreign Origin are
refused with 403, a non-JSON POST from a browser with 415, CORS headers come
only for ``--cors_origins``; 200 idle connections do not stop the page from
loading, silent ones are closed after ``idle_timeout``; requests beyond the
model-call slots and the queue get 503 with Retry-After at once, and 40
concurrent 1024-row requests are all answered (200 or 503) by a server that
is still alive after. Liveness timeouts are generous (never a speed claim).
"""

import http.client
import json
import socket
import threading
import time

import numpy as np
import pytest

from infogan_tf.cli import explore as explore_cli
from infogan_tf.latent import LatentSpec
from infogan_tf.serving.explorer import policy
from infogan_tf.serving.explorer.admission import Admission, Busy
from infogan_tf.serving.explorer.app import ExplorerServer
from infogan_tf.serving.explorer.backend import SavedModelBackend
from infogan_tf.serving.explorer.policy import ServeOptions
from infogan_tf.serving.sample import ModelInfo

LIVE = 10  # seconds: a liveness bound, not a speed claim
ROW = {"z": [0.0] * 3, "categorical": [1], "continuous": [0.0]}
GENERATE = json.dumps({"signature_name": "generate", "instances": [ROW]}).encode()
JSON = {"Content-Type": "application/json"}


class TinyBackend:
    """A model of 2x2 grey images; ``run`` can be held (``hold``) to keep a model call in flight."""

    def __init__(self):
        self.info = ModelInfo(LatentSpec(noise_dim=3, categorical=(4,), continuous=1), (2, 2, 1))
        self.metadata = {"latent": self.info.latent.to_dict(), "image": {"shape": [2, 2, 1]}}
        self.name, self.version, self.source = "tiny", "1", "SavedModel /home/someone/exports/tiny/1"
        self.hold: threading.Event | None = None
        self.entered = threading.Semaphore(0)

    def run(self, signature, inputs):
        self.entered.release()
        if self.hold is not None:
            assert self.hold.wait(60), "the test never released the held model call"
        n = len(inputs["z"])
        pixels = np.full([n, 2, 2, 1], 7, np.uint8)
        return {"images": pixels / 255.0, "images_uint8": pixels}


def request(server, method, path, body=None, headers=None, timeout=LIVE):
    """(status, headers, parsed JSON or raw bytes) of one request on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        kind = response.getheader("Content-Type", "")
        return response.status, dict(response.getheaders()), json.loads(data) if "json" in kind else data
    finally:
        conn.close()


def predict(server, headers, body=GENERATE):
    return request(server, "POST", "/v1/models/tiny:predict", body, headers)


@pytest.fixture
def server():
    with ExplorerServer(TinyBackend()) as running:
        yield running


def test_a_forged_host_is_refused_and_the_served_names_answered(server):
    status, _, answer = request(server, "GET", "/v1/models", headers={"Host": "attacker.example.com"})
    assert status == 403 and set(answer) == {"error"} and answer["error"].count("\n") == 0
    assert "'attacker.example.com'" in answer["error"] and "--allowed_hosts=attacker.example.com" in answer["error"]
    assert request(server, "GET", "/", headers={"Host": f"attacker.example.com:{server.port}"})[0] == 403
    for host in ("localhost", "127.0.0.1", "[::1]", "LOCALHOST.", "10.1.2.3", "[fe80::1]"):  # names, IP addresses
        assert request(server, "GET", "/v1/models", headers={"Host": f"{host}:{server.port}"})[0] == 200, host
    with ExplorerServer(TinyBackend(), options=ServeOptions(allowed_hosts=("mybox.local",))) as named:
        assert request(named, "GET", "/", headers={"Host": f"mybox.local:{named.port}"})[0] == 200
        assert request(named, "GET", "/", headers={"Host": "otherbox.local"})[0] == 403


def test_a_foreign_origin_is_refused_and_the_own_origin_answered(server):
    own = f"http://127.0.0.1:{server.port}"
    assert predict(server, JSON)[0] == 200  # no Origin: curl, the project's RestClient
    assert predict(server, {**JSON, "Origin": own})[0] == 200  # the page itself
    for origin in ("http://attacker.example.com", f"http://localhost:{server.port + 1}", "null"):
        status, headers, answer = predict(server, {**JSON, "Origin": origin})
        assert status == 403 and f"--cors_origins={origin}" in answer["error"], answer
        assert not any(k.lower().startswith("access-control-") for k in headers)
    assert request(server, "GET", "/v1/models", headers={"Origin": "http://attacker.example.com"})[0] == 403


def test_a_post_body_that_is_not_json_is_refused_from_a_browser(server):
    own = {"Origin": f"http://127.0.0.1:{server.port}"}
    refused = [
        {"Content-Type": "text/plain"},  # a "simple" cross-site request needs no preflight
        {"Content-Type": "text/plain;charset=UTF-8", **own},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {"Content-Type": "application/x-www-form-urlencoded", **own},
        {"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"},
    ]
    for headers in refused:
        status, _, answer = predict(server, headers)
        assert status == 415 and "must be sent as JSON (Content-Type: application/json)" in answer["error"], headers
    # what curl -d sends (TF Serving's own examples), and JSON with parameters, are taken
    for headers in ({"Content-Type": "application/x-www-form-urlencoded"}, {"Content-Type": "application/json; x=1"}):
        assert predict(server, headers)[0] == 200, headers


def test_cors_headers_only_for_the_listed_origins(server):
    allowed = "http://localhost:3000"
    preflight = {"Origin": allowed, "Access-Control-Request-Method": "POST"}
    status, headers, _ = request(server, "OPTIONS", "/v1/models/tiny:predict", headers=preflight)
    assert status == 403 and not any(k.lower().startswith("access-control-") for k in headers)
    options = ServeOptions(cors_origins=(allowed,))
    with ExplorerServer(TinyBackend(), options=options) as cors:
        status, headers, _ = request(cors, "OPTIONS", "/v1/models/tiny:predict", headers=preflight)
        assert status == 204 and headers["Access-Control-Allow-Origin"] == allowed
        assert "POST" in headers["Access-Control-Allow-Methods"] and headers["Access-Control-Allow-Headers"]
        status, headers, _ = predict(cors, {**JSON, "Origin": allowed})
        assert status == 200 and headers["Access-Control-Allow-Origin"] == allowed and headers["Vary"] == "Origin"
        status, headers, _ = predict(cors, {**JSON, "Origin": "http://localhost:3001"})
        assert status == 403 and "Access-Control-Allow-Origin" not in headers
        status, headers, _ = predict(cors, JSON)  # no Origin, no CORS header
        assert status == 200 and "Access-Control-Allow-Origin" not in headers


def test_the_model_list_names_no_absolute_path_unless_asked(server):
    assert request(server, "GET", "/v1/models")[2]["models"][0]["source"] == "SavedModel .../tiny/1"
    with ExplorerServer(TinyBackend(), options=ServeOptions(show_paths=True)) as shown:
        assert request(shown, "GET", "/v1/models")[2]["models"][0]["source"].endswith("/home/someone/exports/tiny/1")


def test_beyond_the_slots_and_the_queue_a_request_is_answered_503_at_once():
    backend = TinyBackend()
    backend.hold = threading.Event()
    answers = []
    with ExplorerServer(backend, options=ServeOptions(max_inflight=1, max_queue=0)) as server:
        first = threading.Thread(target=lambda: answers.append(predict(server, JSON, GENERATE)))
        first.start()
        assert backend.entered.acquire(timeout=LIVE)  # the first request holds the only slot
        status, headers, answer = predict(server, JSON)
        assert status == 503 and headers["Retry-After"] == "1" and "--max_inflight" in answer["error"]
        assert request(server, "GET", "/")[0] == 200  # the page is answered meanwhile
        backend.hold.set()
        first.join(LIVE)
        assert [a[0] for a in answers] == [200] and predict(server, JSON)[0] == 200


def test_admission_queues_up_to_max_queue_and_refuses_the_rest():
    gate = Admission(max_inflight=1, max_queue=1, queue_timeout=LIVE)
    release, queued_in, order = threading.Event(), threading.Event(), []

    def holder():
        with gate.slot():
            order.append("held")
            release.wait(LIVE)

    def queued():
        queued_in.set()
        with gate.slot():
            order.append("queued ran")

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    while gate.running < 1:
        time.sleep(0.01)
    threads.append(threading.Thread(target=queued))
    threads[1].start()
    while gate.waiting < 1:
        time.sleep(0.01)
    with pytest.raises(Busy, match=r"busy \(1 model calls running, 1 waiting\)"), gate.slot():
        pass
    release.set()
    for t in threads:
        t.join(LIVE)
    assert order == ["held", "queued ran"] and (gate.running, gate.waiting) == (0, 0)
    short = Admission(max_inflight=1, max_queue=1, queue_timeout=0.05)
    with short.slot(), pytest.raises(Busy, match=r"no model call free within 0.05 s"), short.slot():
        pass


def test_idle_connections_do_not_stop_the_page_and_silent_ones_are_closed():
    with ExplorerServer(TinyBackend(), options=ServeOptions(idle_timeout=2)) as server:
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=LIVE) for _ in range(200)]
        try:
            for conn in idle[::2]:
                conn.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # a request begun, never finished
            status, _, page = request(server, "GET", "/", timeout=LIVE)
            assert status == 200 and b"explorer.js" in page
            assert request(server, "GET", "/v1/models", timeout=LIVE)[0] == 200
            for conn in (idle[0], idle[1]):  # after idle_timeout the server closes them (recv: EOF)
                conn.settimeout(LIVE + 2)
                assert conn.recv(1024) == b""
        finally:
            for conn in idle:
                conn.close()


@pytest.fixture(scope="module")
def real_backend(exported_model):
    return SavedModelBackend(exported_model.path)


@pytest.mark.slow
def test_40_concurrent_large_requests_are_all_answered_and_the_server_lives(real_backend):
    rng = np.random.default_rng(0)
    rows = 1024
    body = json.dumps(
        {
            "signature_name": "generate",
            "inputs": {
                "z": rng.uniform(-1, 1, size=(rows, 62)).tolist(),
                "categorical": rng.integers(0, 10, size=(rows, 1)).tolist(),
                "continuous": rng.uniform(-1, 1, size=(rows, 2)).tolist(),
            },
            "output_filter": ["images_uint8"],
        }
    ).encode()
    results, start = [], threading.Barrier(40)
    lock = threading.Lock()
    with ExplorerServer(real_backend, options=ServeOptions(max_inflight=2, max_queue=2)) as server:

        def client():
            start.wait()
            try:
                status, headers, answer = request(server, "POST", "/v1/models/infogan_test:predict", body, JSON, 300)
                got = (status, headers.get("Retry-After"), len(answer["outputs"]) if status == 200 else answer)
            except OSError as e:  # a reset or lost connection
                got = ("lost", None, repr(e))
            with lock:
                results.append(got)

        threads = [threading.Thread(target=client) for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert len(results) == 40 and not [r for r in results if r[0] not in (200, 503)], results
        assert all(n == rows for s, _, n in results if s == 200) and any(s == 200 for s, _, _ in results)
        assert all(r == "1" and "busy" in a["error"] for s, r, a in results if s == 503)
        status, _, page = request(server, "GET", "/", timeout=LIVE)  # alive after
        assert status == 200 and b"explorer.js" in page


def test_cli_refuses_bad_serving_flags(capsys):
    bad = {
        ("--max_inflight=0",): "--max_inflight must be >= 1, got 0",
        ("--max_queue=-1",): "--max_queue must be >= 0, got -1",
        ("--idle_timeout=0",): "--idle_timeout must be >= 1 second, got 0",
        ("--cors_origins=localhost:3000",): "--cors_origins takes origins like http://localhost:3000",
        ("--allowed_hosts=http://x/",): "--allowed_hosts takes host names",
    }
    for args, message in bad.items():
        status = explore_cli.main(["infogan-explore", "--saved_model=/x", *args])
        err = capsys.readouterr().err.strip().splitlines()
        assert status == 2 and len(err) == 1 and message in err[0], err


@pytest.mark.parametrize(
    "origin, want",
    [
        ("http://LOCALHOST:80", "http://localhost"),
        ("https://example.com:443/", "https://example.com"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("null", None),
        ("file://", None),
        ("http://x:99999", None),
    ],
)
def test_origins_are_compared_in_normal_form(origin, want):
    assert policy.normal_origin(origin) == want

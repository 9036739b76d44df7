"""Load test of a running infogan-explore: requests/s and latency (p50/p95/p99) at batch 1.

Sends ``--requests`` predict requests (or until ``--seconds`` have passed) from
``--concurrency`` threads, each one image (batch 1) with random codes, to the
explorer's public HTTP API, and prints one JSON object: requests/s, the
latency distribution in ms, the HTTP statuses seen. ``--kind`` picks the
request: ``generate`` (one PNG, as the page asks while a slider moves),
``encode`` (one 28x28-ish PNG upload read by Q), ``traverse`` (one 10 x 10
traversal grid, 100 images) or ``mix`` (8 generate : 1 encode : 1 traverse).

Against an explorer already running (on this machine only: the target must be
a loopback address):

  infogan-explore --saved_model=export/models/infogan_mnist/3000 --port=8080 &
  python -m benchmarks.explorer_load --url=http://127.0.0.1:8080/ --concurrency=8 --requests=2000

or let the script start one (``infogan-explore`` as a child process on a free
port, stopped by its pid at the end):

  python -m benchmarks.explorer_load --saved_model=export/models/infogan_mnist/3000

A few warm-up requests come first and are not counted. Only the HTTP API is
used (``GET /v1/models``, ``/metadata``, ``POST :predict`` / ``:traverse``).

``--readme`` runs the measurements export/README.md quotes instead (run it
alone on the machine): batch-1 ``generate`` at concurrency 1 and 8 (p50/p99),
then the page's load time (``GET /``, p50/p99/max of ``--page_loads``) while
``--idle`` connections are held open and silent:

  python -m benchmarks.explorer_load --saved_model=export/models/infogan_mnist/3000 --readme
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

import numpy as np
from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("url", None, "Base URL of a running explorer, e.g. http://127.0.0.1:8080/ (loopback only).")
flags.DEFINE_string("saved_model", None, "Start infogan-explore on this export instead of --url.")
flags.DEFINE_integer("concurrency", 8, "Client threads.")
flags.DEFINE_integer("requests", 2000, "Timed requests in all (the run stops earlier after --seconds).")
flags.DEFINE_float("seconds", 60.0, "At most this many seconds of timed requests.")
flags.DEFINE_integer("warmup", 10, "Untimed requests first.")
flags.DEFINE_enum("kind", "generate", ["generate", "encode", "traverse", "mix"], "Request kind.")
flags.DEFINE_integer("seed", 0, "Seed of the random codes.")
flags.DEFINE_string("output", None, "Also write the JSON here.")
flags.DEFINE_boolean("readme", False, "The README's measurements: generate at concurrency 1 and 8, page with idle.")
flags.DEFINE_integer("idle", 200, "With --readme: connections held open while the page is loaded.")
flags.DEFINE_integer("page_loads", 20, "With --readme: page loads timed while --idle connections are open.")


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _call(url: str, body: dict | None = None, timeout: float = 60.0) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _png(pixels: np.ndarray) -> bytes:
    """A grey PNG of uint8 [H, W] pixels (zlib only, so the client needs no image library)."""
    h, w = pixels.shape
    raw = b"".join(b"\x00" + bytes(row) for row in pixels.astype(np.uint8))

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            len(payload).to_bytes(4, "big")
            + kind
            + payload
            + zlib.crc32(kind + payload).to_bytes(4, "big", signed=False)
        )

    header = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


class Target:
    """The explorer's model: its URLs and a maker of random valid request bodies."""

    def __init__(self, url: str):
        self.base = url.rstrip("/")
        status, models = _call(f"{self.base}/v1/models")
        if status != 200:
            raise SystemExit(f"explorer_load: {self.base}/v1/models answered HTTP {status}: {models}")
        name = urllib.parse.quote(models["models"][0]["name"])
        self.model = f"{self.base}/v1/models/{name}"
        meta = _call(f"{self.model}/metadata")[1]["metadata"]["explorer"]
        self.latent, self.limit = meta["latent"], meta["limits"]["continuous"][1]
        self.image_shape = meta["image_shape"]

    def body(self, kind: str, rng: np.random.Generator) -> tuple[str, dict]:
        lat = self.latent
        row = {
            "z": rng.uniform(-1, 1, lat["noise_dim"]).round(6).tolist(),
            "categorical": [int(rng.integers(k)) for k in lat["categorical"]],
            "continuous": rng.uniform(-self.limit, self.limit, lat["continuous"]).round(6).tolist(),
        }
        if kind == "traverse":
            return ":traverse", {**row, "categorical_code": 0 if lat["categorical"] else None, "continuous_code": 0}
        if kind == "encode":
            h, w = self.image_shape[:2]
            data = base64.b64encode(_png(rng.integers(0, 256, (h, w)))).decode()
            return ":predict", {"signature_name": "encode", "instances": [{"b64": data}]}
        return ":predict", {"signature_name": "generate", "instances": [row], "output_filter": ["images_png"]}


def _kinds(kind: str, n: int) -> list[str]:
    if kind != "mix":
        return [kind] * n
    cycle = ["generate"] * 8 + ["encode", "traverse"]
    return [cycle[i % len(cycle)] for i in range(n)]


def measure(url: str, concurrency: int, requests: int, seconds: float, kind: str, warmup: int, seed: int) -> dict:
    """Runs the load and returns the report (see the module docstring)."""
    if not _is_loopback(url):
        raise SystemExit(f"explorer_load: {url} is not a loopback address; load tests target this machine only")
    target = Target(url)
    rng = np.random.default_rng(seed)
    bodies = [target.body(k, rng) for k in _kinds(kind, max(requests, 1))]
    for verb, body in bodies[: min(warmup, len(bodies))]:
        _call(target.model + verb, body)
    next_index, lock = [0], threading.Lock()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        while time.perf_counter() < deadline:
            with lock:
                i = next_index[0]
                if i >= requests:
                    return
                next_index[0] += 1
            verb, body = bodies[i]
            start = time.perf_counter()
            try:
                status, _ = _call(target.model + verb, body)
            except (OSError, ValueError) as e:
                status = type(e).__name__
            elapsed = (time.perf_counter() - start) * 1000.0
            with lock:
                latencies.append(elapsed)
                statuses[str(status)] = statuses.get(str(status), 0) + 1

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 120.0)
    wall = time.perf_counter() - began
    lat = np.asarray(latencies)
    pct = {f"p{p}": round(float(np.percentile(lat, p)), 2) for p in (50, 95, 99)} if lat.size else {}
    return {
        "url": target.base,
        "kind": kind,
        "batch": 1,
        "concurrency": concurrency,
        "requests": int(lat.size),
        "wall_s": round(wall, 3),
        "requests_per_s": round(lat.size / wall, 2) if wall > 0 else None,
        "latency_ms": {**pct, "mean": round(float(lat.mean()), 2) if lat.size else None},
        "statuses": statuses,
        "load_average": os.getloadavg(),
    }


def page_load_with_idle(url: str, idle: int, loads: int) -> dict:
    """Times ``loads`` page loads (GET /) while ``idle`` connections are held open and silent."""
    if not _is_loopback(url):
        raise SystemExit(f"explorer_load: {url} is not a loopback address; load tests target this machine only")
    parts = urllib.parse.urlparse(url)
    held = [socket.create_connection((parts.hostname, parts.port or 80), timeout=30) for _ in range(idle)]
    times, statuses = [], {}
    try:
        for _ in range(loads):
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    response.read()
                    status = str(response.status)
            except (OSError, ValueError) as e:
                status = type(e).__name__
            times.append((time.perf_counter() - start) * 1000.0)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        for conn in held:
            conn.close()
    ms = np.asarray(times)
    pct = {f"p{p}": round(float(np.percentile(ms, p)), 2) for p in (50, 99)}
    return {
        "idle_connections": idle,
        "page_loads": loads,
        "page_ms": {**pct, "max": round(float(ms.max()), 2)},
        "statuses": statuses,
        "load_average": os.getloadavg(),
    }


def readme_report(url: str, requests: int, seconds: float, warmup: int, seed: int, idle: int, loads: int) -> dict:
    """The measurements export/README.md quotes (see the module docstring)."""
    generate = {f"concurrency_{c}": measure(url, c, requests, seconds, "generate", warmup, seed) for c in (1, 8)}
    return {"generate_batch_1": generate, "page_with_idle_connections": page_load_with_idle(url, idle, loads)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_explorer(saved_model: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "infogan_tf.cli.explore", f"--saved_model={saved_model}", f"--port={port}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    url = f"http://127.0.0.1:{port}/"
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"explorer_load: infogan-explore exited with status {proc.returncode}")
        try:
            if _call(f"{url}v1/models", timeout=2)[0] == 200:
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("explorer_load: infogan-explore did not answer within 60 s")


def main(argv) -> None:
    del argv
    if (FLAGS.url is None) == (FLAGS.saved_model is None):
        raise SystemExit("explorer_load: give exactly one of --url and --saved_model")
    proc = None
    url = FLAGS.url
    if FLAGS.saved_model is not None:
        proc, url = _start_explorer(FLAGS.saved_model)
    try:
        if FLAGS.readme:
            report = readme_report(
                url, FLAGS.requests, FLAGS.seconds, FLAGS.warmup, FLAGS.seed, FLAGS.idle, FLAGS.page_loads
            )
        else:
            report = measure(
                url, FLAGS.concurrency, FLAGS.requests, FLAGS.seconds, FLAGS.kind, FLAGS.warmup, FLAGS.seed
            )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
    text = json.dumps(report, indent=2)
    print(text)
    if FLAGS.output:
        with open(FLAGS.output, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    app.run(main)

"""The explorer's web application (Flask) and its server (waitress).

Routes (one model per explorer; ``<name>`` must be its name, else 404 as TF Serving answers):

  GET  /                                   the page (static/index.html; no build step)
  GET  /static/<file>                      its script and style sheet
  GET  /v1/models                          {"models": [{"name", "version", "source"}]}
  GET  /v1/models/<name>[/versions/<v>]/metadata
                                           {"model_spec": {...}, "metadata": {"export": <the export's
                                           JSON asset>, "explorer": {"limits", "image_shape", ...}}}
  POST /v1/models/<name>[/versions/<v>]:predict    TF Serving's predict (``api`` module)
  POST /v1/models/<name>[/versions/<v>]:traverse   one PNG traversal grid (``api`` module)

Before any route, ``policy`` decides whether the request is answered at all:
403 for a Host the explorer does not serve or an Origin not its own (nor in
``--cors_origins``), 415 for a POST body that is not JSON (DNS rebinding and
cross-site requests; see ``policy``). Predict and traverse requests then take
one of ``--max_inflight`` model-call slots, or wait in a queue of
``--max_queue``; beyond that they are answered 503 with ``Retry-After`` at
once (``admission``).

Every failure is a JSON ``{"error": "<one line>"}`` with its status: 400 for a
bad request (the message names the input and the allowed values), 403/415 as
above, 404/405 for an unknown route or method, 413 for a body over
MAX_BODY_BYTES, 431 for headers over MAX_HEADER_BYTES, 502/503 when TF
Serving answers an error or cannot be reached, 503 when busy, 500 for a bug
(logged with its traceback). No request can stop the server.

The server is waitress (:class:`ExplorerServer`): its I/O loop holds every
connection without a thread each (``--max_connections``; silent ones closed
after ``--idle_timeout`` s), reads whole requests before a worker sees them,
and runs them on a fixed pool of ``max_inflight + max_queue + SPARE_THREADS``
threads, so the page and refusals are answered while the model is busy.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Mapping

import numpy as np
from flask import Flask, Response, jsonify, request, send_from_directory
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import ErrorTask
from werkzeug.exceptions import HTTPException

from infogan_tf import errors, visualize
from infogan_tf.serving.explorer import api, images, policy
from infogan_tf.serving.explorer.admission import Admission, Busy
from infogan_tf.serving.explorer.backend import Backend, BackendError
from infogan_tf.serving.explorer.policy import ServeOptions

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
SPARE_THREADS = 4  # worker threads beyond the model calls' (running + queued): the page, metadata, refusals
LOOP_SECONDS = 1.0  # the I/O loop's poll timeout (stop() wakes it at once)
STATIC = "static"

log = logging.getLogger(__name__)


def _error(status: int, message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    return response


def _uint8_images(signature: str, outputs: Mapping[str, np.ndarray]) -> np.ndarray:
    if signature == "generate":
        return outputs["images_uint8"]
    return visualize.to_uint8(outputs["images"])


class Explorer:
    """The routes' logic over one backend (kept apart from Flask so each part reads on its own)."""

    def __init__(self, backend: Backend, show_paths: bool = False):
        self.backend = backend
        self.info = backend.info
        self.limits = api.limits_for(backend.info.latent)
        self._shown = (lambda value: value) if show_paths else policy.without_paths

    def check_model(self, name: str, version: str | None) -> None:
        if name != self.backend.name or (version is not None and version != self.backend.version):
            wanted = name if version is None else f"{name} version {version}"
            raise api.RequestError(
                f"Servable not found for request: {wanted} (this explorer serves {self.backend.name} "
                f"version {self.backend.version})",
                status=404,
            )

    def model_list(self) -> dict:
        b = self.backend
        return {"models": [{"name": b.name, "version": b.version, "source": self._shown(b.source)}]}

    def metadata(self) -> dict:
        lat = self.info.latent
        return {
            "model_spec": {"name": self.backend.name, "version": self.backend.version},
            "metadata": {
                "export": self._shown(self.backend.metadata),
                "explorer": {
                    "source": self._shown(self.backend.source),
                    "latent": lat.to_dict(),
                    "image_shape": list(self.info.image_shape),
                    "prior_range": [-lat.continuous_range, lat.continuous_range],
                    "limits": {"continuous": [-self.limits.continuous, self.limits.continuous], "z": [-1.0, 1.0]},
                    "max_batch": api.MAX_BATCH,
                    "max_cols": api.MAX_COLS,
                },
            },
        }

    def predict(self, body) -> dict:
        shape = self.info.image_shape
        req = api.parse_predict(body, self.info, self.limits, lambda data: images.decode_upload(data, shape))
        outputs = self.backend.run(req.signature, req.inputs)
        wanted: dict = {}
        for name in req.outputs:
            if name == "images_png":
                wanted[name] = [api.png_value(images.encode_png(im)) for im in _uint8_images(req.signature, outputs)]
            elif name == "input_png":
                pixels = visualize.to_uint8(req.inputs["images"])
                wanted[name] = [api.png_value(images.encode_png(im)) for im in pixels]
            elif name == "categorical":
                probs = outputs["categorical_probs"]
                blocks = [probs[:, s].argmax(axis=1) for s in self.info.latent.categorical_slices()]
                wanted[name] = np.stack(blocks, axis=1) if blocks else np.zeros([len(probs), 0], np.int64)
            else:
                wanted[name] = outputs[name]
        return api.predict_response(wanted, req.form)

    def traverse(self, body) -> dict:
        req = api.parse_traverse(body, self.info, self.limits)
        grid = api.traverse_inputs(req, self.info.latent)
        out = self.backend.run(
            "generate", {"z": grid.z, "categorical": grid.categorical, "continuous": grid.continuous}
        )
        tiled = visualize.tile_grid(out["images_uint8"], grid.rows, grid.cols)
        col_values: list[float] = []
        if req.continuous_code is not None:
            col_values = [round(float(v), 6) for v in grid.continuous[: grid.cols, req.continuous_code]]
        return {
            "rows": grid.rows,
            "cols": grid.cols,
            "categorical_code": req.categorical_code,
            "continuous_code": req.continuous_code,
            "col_values": col_values,
            "grid_png": api.png_value(images.encode_png(tiled)),
        }


def create_app(backend: Backend, options: ServeOptions | None = None, listen_host: str = "127.0.0.1") -> Flask:
    """The Flask application serving the page and the API for ``backend``.

    Args:
      backend: the model.
      options: what is accepted and how much work at once (default: ``ServeOptions()``).
      listen_host: the address served on; its name is answered as a Host besides the loopback names.
    """
    options = options or ServeOptions()
    explorer = Explorer(backend, options.show_paths)
    admission = Admission(options.max_inflight, options.max_queue, options.queue_timeout)
    names = policy.served_names(listen_host, options)
    cors = frozenset(o for o in map(policy.normal_origin, options.cors_origins) if o is not None)
    app = Flask(__name__, static_folder=STATIC, static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]

    def body():
        return api.parse_json(request.get_data(cache=False))

    @app.before_request
    def guard():
        env = request.environ
        host, origin = env.get("HTTP_HOST"), env.get("HTTP_ORIGIN")
        refusal = policy.host_problem(host, names) or policy.origin_problem(origin, host, request.scheme, cors)
        if refusal is None and request.method == "OPTIONS":
            return Response(status=204)  # a CORS preflight (its headers: cors_headers below)
        if refusal is None and request.method == "POST":
            from_browser = origin is not None or "HTTP_SEC_FETCH_SITE" in env
            refusal = policy.content_type_problem(request.content_type, from_browser)
        return None if refusal is None else _error(refusal.status, refusal.message)

    @app.after_request
    def cors_headers(response: Response) -> Response:
        preflight = request.method == "OPTIONS"
        private_network = request.headers.get("Access-Control-Request-Private-Network") == "true"
        response.headers.update(policy.cors_headers(request.headers.get("Origin"), cors, preflight, private_network))
        return response

    @app.get("/")
    def index():
        return send_from_directory(app.static_folder or STATIC, "index.html")

    @app.get("/v1/models")
    def models():
        return jsonify(explorer.model_list())

    @app.get("/v1/models/<name>/metadata")
    @app.get("/v1/models/<name>/versions/<version>/metadata")
    def metadata(name: str, version: str | None = None):
        explorer.check_model(name, version)
        return jsonify(explorer.metadata())

    @app.post("/v1/models/<name>:<verb>")
    @app.post("/v1/models/<name>/versions/<version>:<verb>")
    def call(name: str, verb: str, version: str | None = None):
        explorer.check_model(name, version)
        if verb not in ("predict", "traverse"):
            raise api.RequestError(f"unknown method :{verb}; this explorer answers :predict and :traverse", status=404)
        with admission.slot():  # parsing, the model call and the answer's encoding: all bounded
            answer = explorer.predict(body()) if verb == "predict" else explorer.traverse(body())
            return jsonify(answer)

    @app.errorhandler(api.RequestError)
    def refused(e: api.RequestError):
        return _error(e.status, errors.first_line(e))

    @app.errorhandler(BackendError)
    def backend_failed(e: BackendError):
        return _error(e.status, errors.first_line(e))

    @app.errorhandler(Busy)
    def busy(e: Busy):
        response = _error(503, errors.first_line(e))
        response.headers["Retry-After"] = str(e.retry_after)
        return response

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        message = e.description or e.name
        if e.code == 413:
            message = f"the request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB"
        return _error(e.code or 500, f"{e.name}: {errors.first_line(message)}")

    @app.errorhandler(Exception)
    def bug(e: Exception):
        log.exception("infogan-explore: unexpected error on %s %s", request.method, request.path)
        return _error(500, f"internal error: {errors.describe(e)}")

    return app


class _JsonErrorTask(ErrorTask):
    """Waitress's answer to a request it cannot take (not HTTP, headers or body too large), as JSON."""

    def execute(self) -> None:
        e = self.request.error
        body = json.dumps({"error": f"{e.reason}: {errors.first_line(str(e.body))}"}).encode()
        self.status = f"{e.code} {e.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _JsonErrorChannel(HTTPChannel):
    error_task_class = _JsonErrorTask


class ExplorerServer:
    """``create_app(backend)`` served by waitress on ``host:port`` (port 0: a free one).

    Raises:
      errors.UsageError: the address cannot be listened on (port taken, unknown host).
    """

    def __init__(self, backend: Backend, host: str = "127.0.0.1", port: int = 0, options: ServeOptions | None = None):
        options = options or ServeOptions()
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" lines under load
        # The socket is bound here, so a taken port is our one-line error.
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self._socket = socket.create_server((host, port), family=family, backlog=1024)
        except OSError as e:
            why = os.strerror(e.errno) if isinstance(e.errno, int) and e.errno > 0 else errors.first_line(e)
            raise errors.UsageError(f"cannot listen on {host}:{port} (--host/--port): {why}") from None
        self._map: dict = {}  # waitress's socket map: the listening socket and every connection
        self._server = create_server(
            create_app(backend, options, host),
            map=self._map,
            sockets=[self._socket],
            threads=options.max_inflight + options.max_queue + SPARE_THREADS,
            connection_limit=options.max_connections,
            channel_timeout=options.idle_timeout,
            cleanup_interval=1,
            max_request_header_size=MAX_HEADER_BYTES,
            max_request_body_size=MAX_BODY_BYTES + 64 * 1024,  # a little over: the app's own 413 is JSON
            asyncore_use_poll=True,  # poll(), not select(): no 1024-descriptor ceiling
            ident="infogan-explore",
        )
        self._server.channel_class = _JsonErrorChannel
        self.host, self.port = host, int(self._socket.getsockname()[1])
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def serve_forever(self) -> None:
        """Serves until ``stop()`` (from another thread) or Ctrl-C (KeyboardInterrupt, passed on)."""
        while self._map and not self._stopping.is_set():
            wasyncore.loop(timeout=LOOP_SECONDS, use_poll=True, map=self._map, count=1)

    def start(self) -> ExplorerServer:
        """Serves in a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, name="infogan-explore", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._server.pull_trigger()  # wakes the loop's poll()
            self._thread.join()
            self._thread = None
        self._server.task_dispatcher.shutdown()
        wasyncore.close_all(self._map)
        self._socket.close()

    def __enter__(self) -> ExplorerServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

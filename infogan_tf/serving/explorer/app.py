"""The explorer's web application (Flask) and its threaded HTTP server.

Routes (one model per explorer; ``<name>`` must be its name, else 404 as TF Serving answers):

  GET  /                                   the page (static/index.html; no build step)
  GET  /static/<file>                      its script and style sheet
  GET  /v1/models                          {"models": [{"name", "version", "source"}]}
  GET  /v1/models/<name>[/versions/<v>]/metadata
                                           {"model_spec": {...}, "metadata": {"export": <the export's
                                           JSON asset>, "explorer": {"limits", "image_shape", ...}}}
  POST /v1/models/<name>[/versions/<v>]:predict    TF Serving's predict (``api`` module)
  POST /v1/models/<name>[/versions/<v>]:traverse   one PNG traversal grid (``api`` module)

Every failure is a JSON ``{"error": "<one line>"}`` with its status: 400 for a
bad request (the message names the input and the allowed values), 404/405
for an unknown route or method, 413 for a body over MAX_BODY_BYTES, 502/503
when TF Serving answers an error or cannot be reached, 500 for a bug (logged
with its traceback). No request can stop the server: each runs in its own
thread (werkzeug's threaded server) and every exception becomes an answer.
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
from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler, make_server

from infogan_tf import errors, visualize
from infogan_tf.serving.explorer import api, images
from infogan_tf.serving.explorer.backend import Backend, BackendError

MAX_BODY_BYTES = 16 * 1024 * 1024
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

    def __init__(self, backend: Backend):
        self.backend = backend
        self.info = backend.info
        self.limits = api.limits_for(backend.info.latent)

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
        return {"models": [{"name": b.name, "version": b.version, "source": b.source}]}

    def metadata(self) -> dict:
        lat = self.info.latent
        return {
            "model_spec": {"name": self.backend.name, "version": self.backend.version},
            "metadata": {
                "export": self.backend.metadata,
                "explorer": {
                    "source": self.backend.source,
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


def create_app(backend: Backend) -> Flask:
    """The Flask application serving the page and the API for ``backend``."""
    explorer = Explorer(backend)
    app = Flask(__name__, static_folder=STATIC, static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]

    def body():
        return api.parse_json(request.get_data(cache=False))

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
        if verb == "predict":
            return jsonify(explorer.predict(body()))
        if verb == "traverse":
            return jsonify(explorer.traverse(body()))
        raise api.RequestError(f"unknown method :{verb}; this explorer answers :predict and :traverse", status=404)

    @app.errorhandler(api.RequestError)
    def refused(e: api.RequestError):
        return _error(e.status, errors.first_line(e))

    @app.errorhandler(BackendError)
    def backend_failed(e: BackendError):
        return _error(e.status, errors.first_line(e))

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


class _JsonErrorHandler(WSGIRequestHandler):
    """Werkzeug's request handler, answering even a request that is not HTTP with a JSON error (not HTML).

    (A request line that cannot be parsed is answered the HTTP/0.9 way, as the standard library does:
    the body alone, without a status line or headers.)
    """

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        del explain  # the paragraph of an HTML error page
        short = self.responses.get(code, ("error",))[0]
        body = json.dumps({"error": f"{short}: {message or short}"}).encode()
        self.send_response(code, short)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)


class ExplorerServer:
    """A threaded HTTP server of ``create_app(backend)`` on ``host:port`` (port 0: a free one).

    Raises:
      errors.UsageError: the address cannot be listened on (port taken, unknown host).
    """

    def __init__(self, backend: Backend, host: str = "127.0.0.1", port: int = 0):
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        # The socket is bound here, not by werkzeug, which prints to stderr and exits on a taken port.
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self._socket = socket.create_server((host, port), family=family, backlog=128)
        except OSError as e:
            why = os.strerror(e.errno) if isinstance(e.errno, int) and e.errno > 0 else errors.first_line(e)
            raise errors.UsageError(f"cannot listen on {host}:{port} (--host/--port): {why}") from None
        self._server = make_server(
            host, port, create_app(backend), threaded=True, request_handler=_JsonErrorHandler, fd=self._socket.fileno()
        )
        self.host, self.port = host, int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def start(self) -> ExplorerServer:
        """Serves in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="infogan-explore", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        self._socket.close()

    def __enter__(self) -> ExplorerServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

"""Which requests the explorer answers: its Host names, its own origin, JSON bodies, and how much work at once.

A server on 127.0.0.1 is still reachable from every web page the user
visits. Two attacks follow, and the checks here are the ones Jupyter, Vite
(``server.allowedHosts``) and webpack-dev-server (``allowedHosts``,
CVE-2018-14732) added to their local servers:

* **DNS rebinding**: a page on ``attacker.example`` re-points its own name at
  127.0.0.1 and reads the API as same-origin. Its requests carry
  ``Host: attacker.example``, so :func:`host_problem` answers only the names
  the explorer serves (localhost, 127.0.0.1, [::1], ``--host``,
  ``--allowed_hosts``). An IP address in Host is always accepted: rebinding
  needs a name, and a page at a bare IP address is that address's own origin.
* **Cross-site requests**: a page may POST to any address without asking
  first when the body is a "simple" content type (text/plain, a form). So
  :func:`origin_problem` refuses a request whose ``Origin`` is neither the
  server's own (``http://<its Host>``) nor listed in ``--cors_origins``, and
  :func:`content_type_problem` takes a POST body only as JSON -- except
  ``application/x-www-form-urlencoded`` (or no type) from a client that is not
  a browser (no ``Origin``, no ``Sec-Fetch-Site``): what ``curl -d`` sends, as
  TF Serving's own examples do.

No CORS header is sent unless ``--cors_origins`` lists the origin asking
(:func:`cors_headers`). The limits on work (:class:`ServeOptions`) are
enforced by ``admission`` (model calls) and the WSGI server (connections).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
# Content types a browser sends cross-site without asking first (the Fetch standard's CORS-safelisted ones).
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")


@dataclasses.dataclass(frozen=True)
class ServeOptions:
    """What the explorer's server accepts, and how much work it takes on at once.

    Attributes:
      allowed_hosts: Host names answered besides localhost, 127.0.0.1, [::1] and the listening address.
      cors_origins: origins (``scheme://host[:port]``) whose pages may call the API (CORS headers for them).
      show_paths: ``/v1/models`` and the metadata name absolute paths on disk (the export, its checkpoint).
      max_inflight: model calls (predict/traverse requests) run at once.
      max_queue: requests waiting for a model call; the next is answered 503 with Retry-After at once.
      queue_timeout: seconds a queued request waits for a model call before it is answered 503.
      max_connections: open connections; beyond it new ones wait in the listen backlog.
      idle_timeout: seconds a connection may stay silent (idle, or sending a request slowly) before it is closed.
    """

    allowed_hosts: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    show_paths: bool = False
    max_inflight: int = 2
    max_queue: int = 8
    queue_timeout: float = 30.0
    max_connections: int = 1000
    idle_timeout: int = 30

    def problems(self) -> list[str]:
        out = []
        for name, value in (("max_inflight", self.max_inflight), ("max_connections", self.max_connections)):
            if value < 1:
                out.append(f"--{name} must be >= 1, got {value}")
        if self.max_queue < 0:
            out.append(f"--max_queue must be >= 0, got {self.max_queue}")
        if self.idle_timeout < 1:
            out.append(f"--idle_timeout must be >= 1 second, got {self.idle_timeout}")
        if self.queue_timeout <= 0:
            out.append(f"queue_timeout must be > 0 seconds, got {self.queue_timeout}")
        for host in self.allowed_hosts:
            if not host or "/" in host or host != host.strip():
                out.append(f"--allowed_hosts takes host names (e.g. mybox.local), got {host!r}")
        for origin in self.cors_origins:
            if normal_origin(origin) is None:
                out.append(f"--cors_origins takes origins like http://localhost:3000, got {origin!r}")
        return out


class Refusal(NamedTuple):
    """A request the explorer does not answer: its HTTP status and one line saying why and the way on."""

    status: int
    message: str


def _hostname(host_header: str) -> str:
    """The name in a Host header value, lower case, without port, brackets or a trailing dot."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def served_names(listen_host: str, options: ServeOptions) -> frozenset[str]:
    """The Host names answered: loopback names, the listening address (unless a wildcard), --allowed_hosts."""
    names = set(LOOPBACK_NAMES) | {_hostname(h) for h in options.allowed_hosts}
    if listen_host not in WILDCARD_HOSTS:
        names.add(_hostname(f"[{listen_host}]" if ":" in listen_host else listen_host))
    return frozenset(names)


def host_problem(host_header: str | None, names: frozenset[str]) -> Refusal | None:
    """A 403 unless the request's Host is one the explorer serves (or an IP address, or absent: HTTP/1.0)."""
    if host_header is None:
        return None
    name = _hostname(host_header)
    if name in names or _is_ip(name):
        return None
    return Refusal(
        403,
        f"this explorer does not answer for Host {name!r} (a guard against DNS rebinding); "
        f"to serve it under that name, start it with --allowed_hosts={name}",
    )


def normal_origin(origin: str) -> str | None:
    """``scheme://host[:port]`` in lower case with the default port left out; None if not an http(s) origin."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = 80 if parts.scheme == "http" else 443
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def origin_problem(origin: str | None, host_header: str | None, scheme: str, cors: frozenset[str]) -> Refusal | None:
    """A 403 unless the request has no Origin, comes from the server's own origin, or from a --cors_origins one."""
    if origin is None:
        return None
    own = normal_origin(f"{scheme}://{host_header}") if host_header else None
    got = normal_origin(origin)
    if got is not None and (got == own or got in cors):
        return None
    return Refusal(
        403,
        f"requests from pages at {origin.strip()!r} are refused (a guard against cross-site use); "
        f"to let that origin call the API, start the explorer with --cors_origins={origin.strip()}",
    )


def content_type_problem(content_type: str | None, from_browser: bool) -> Refusal | None:
    """A 415 unless a POST body is JSON (or, from a client that is not a browser, a form or untyped: ``curl -d``)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return None
    if not from_browser and media in ("", "application/x-www-form-urlencoded"):
        return None
    return Refusal(
        415,
        f"the request body must be sent as JSON (Content-Type: application/json), not {media or 'untyped'}",
    )


def cors_headers(origin: str | None, cors: frozenset[str], preflight: bool, private_network: bool = False) -> dict:
    """The CORS headers for a --cors_origins origin (none for any other).

    Args:
      origin: the request's Origin header.
      cors: the normalised --cors_origins.
      preflight: an OPTIONS request (a browser asking before a JSON POST).
      private_network: the preflight asks for a private-network request (Chrome: a public page, a local server).
    """
    got = normal_origin(origin) if origin else None
    if got is None or got not in cors:
        return {}
    out = {"Access-Control-Allow-Origin": origin.strip() if origin else "", "Vary": "Origin"}
    if preflight:
        out["Access-Control-Allow-Methods"] = "GET, POST"
        out["Access-Control-Allow-Headers"] = "Content-Type"
        out["Access-Control-Max-Age"] = "600"
        if private_network:
            out["Access-Control-Allow-Private-Network"] = "true"
    return out


def without_paths(value: Any) -> Any:
    """``value`` (JSON) with every absolute path shortened to its last two parts (``.../checkpoints/ckpt-3000``).

    A string is shortened when it is an absolute path or a one-word label and one (a backend's
    ``source``: ``SavedModel /home/me/export/mnist/3000`` -> ``SavedModel .../mnist/3000``).
    """
    if isinstance(value, Mapping):
        return {k: without_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_paths(v) for v in value]
    if isinstance(value, str):
        label, _, rest = value.partition(" ")  # a path, or "<label> <path>" (a backend's source)
        if os.path.isabs(value):
            label, rest = "", value
        if os.path.isabs(rest):
            short = "/".join(["...", *[p for p in rest.split(os.sep) if p][-2:]])
            return f"{label} {short}" if label else short
    return value

"""``infogan-explore`` / ``python -m infogan_tf.cli.explore``: steer an exported InfoGAN's codes in the browser.

Starts a local web page (http://127.0.0.1:8080/ by default) showing the model:
a category picker per categorical code, a slider per continuous code (the
prior's range marked), the noise re-drawn or locked, a traversal grid of the
chosen code (the paper's Figure 2) with PNG downloads, and "encode": an image
dropped on the page is read by Q and its codes can be regenerated.

Two sources of the model, as for ``infogan-sample``:

  --saved_model=DIR   a version directory written by infogan-export, run in this process;
  --server=URL        a model behind TF Serving's REST API (``--model_name``); the latent
                      layout comes from the server's metadata or ``--spec_json``.

The page's API mirrors TF Serving's (``POST /v1/models/<name>:predict``);
export/README.md, "Explore a model in the browser", lists it. Only the
explorer's own Host names and its own page's origin are answered (DNS
rebinding and cross-site pages are refused: ``--allowed_hosts``,
``--cors_origins``); at most ``--max_inflight`` model calls run and
``--max_queue`` wait, the rest get 503 with Retry-After. Ctrl-C stops the
server (exit 0). Exit status: 2 for a bad flag or an address that cannot be
listened on, 1 when the model cannot be loaded or reached.

Thin: flags become one validated ``serving.explorer.backend.ExploreConfig``;
the backend and the server are ``infogan_tf.serving.explorer``'s.

Examples:
  infogan-explore --saved_model=export/models/infogan_mnist/3000
  infogan-explore --server=http://localhost:8501 --model_name=infogan_mnist --port=8088
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from absl import flags

from infogan_tf.cli import common as cli
from infogan_tf.serving.explorer.backend import ExploreConfig
from infogan_tf.serving.explorer.policy import ServeOptions

PROG = "infogan-explore"


def define_flags(values: flags.FlagValues) -> None:
    """Defines the explorer's flags on ``values``."""
    d = ExploreConfig()
    cli.define_model_source_flags(values, "with --server; needed for several categorical codes")
    flags.DEFINE_string("host", d.host, "Address to serve the page on (0.0.0.0: every interface).", flag_values=values)
    flags.DEFINE_integer("port", d.port, "Port to serve the page on (0: any free port).", flag_values=values)
    s = d.serve
    flags.DEFINE_list(
        "allowed_hosts",
        list(s.allowed_hosts),
        "Host names answered besides localhost, 127.0.0.1, [::1], IP addresses and --host (a guard against "
        "DNS rebinding), e.g. mybox.local.",
        flag_values=values,
    )
    flags.DEFINE_list(
        "cors_origins",
        list(s.cors_origins),
        "Origins of other pages allowed to call the API (CORS), e.g. http://localhost:3000; none by default.",
        flag_values=values,
    )
    flags.DEFINE_boolean(
        "show_paths", s.show_paths, "Name absolute paths on disk in /v1/models and the metadata.", flag_values=values
    )
    flags.DEFINE_integer("max_inflight", s.max_inflight, "Model calls run at once.", flag_values=values)
    flags.DEFINE_integer(
        "max_queue", s.max_queue, "Requests waiting for a model call; more get 503 + Retry-After.", flag_values=values
    )
    flags.DEFINE_integer("max_connections", s.max_connections, "Open connections held at once.", flag_values=values)
    flags.DEFINE_integer(
        "idle_timeout", s.idle_timeout, "Seconds before a silent connection is closed.", flag_values=values
    )


def config_from_flags(values: flags.FlagValues) -> ExploreConfig:
    """The validated ExploreConfig of the parsed flags."""
    return ExploreConfig(
        saved_model=values.saved_model,
        server=values.server,
        model_name=values.model_name,
        model_version=values.model_version,
        spec_json=values.spec_json,
        host=values.host,
        port=values.port,
        serve=ServeOptions(
            allowed_hosts=tuple(values.allowed_hosts),
            cors_origins=tuple(values.cors_origins),
            show_paths=values.show_paths,
            max_inflight=values.max_inflight,
            max_queue=values.max_queue,
            max_connections=values.max_connections,
            idle_timeout=values.idle_timeout,
        ),
    ).validate()


def _explore(values: flags.FlagValues, serve: Callable | None) -> int:
    config = config_from_flags(values)  # before TensorFlow is imported: a bad flag fails in milliseconds
    from infogan_tf.serving.explorer.app import ExplorerServer
    from infogan_tf.serving.explorer.backend import open_backend

    backend = open_backend(config)
    server = ExplorerServer(backend, config.host, config.port, config.serve)
    print(f"{PROG}: exploring {backend.source} at {server.url} (Ctrl-C stops)", flush=True)
    try:
        (serve or ExplorerServer.serve_forever)(server)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a user stops the server
    finally:
        server.stop()
    print(f"{PROG}: stopped", flush=True)
    return 0


def main(argv: Sequence[str], serve: Callable | None = None) -> int:
    """Runs ``infogan-explore`` on ``argv`` (``argv[0]``: the program name); returns the exit status.

    Args:
      argv: the command line.
      serve: called with the started ``ExplorerServer`` instead of serving until Ctrl-C (a test seam).
    """
    return cli.run_main(PROG, __doc__, define_flags, argv, lambda values: _explore(values, serve))


def run() -> None:
    """Console-script entry point."""
    cli.init_logging()
    sys.exit(main(sys.argv))


if __name__ == "__main__":
    run()

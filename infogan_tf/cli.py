"""What every infogan_tf command line shares: one-line errors and the absl entry point.

Each CLI (``infogan-train``, ``-export``, ``-sample``, ``-evaluate``,
``-classifier``) reports a bad flag or a failure as a single line
``<prog>: error: <message>`` on stderr and exits with 2 (bad usage, nothing
was done) or 1 (the work failed). absl's own flag-parsing errors (unknown
flag, malformed number, value outside an enum) are folded into that form.
"""

from __future__ import annotations

import sys
from typing import Callable, NoReturn, Sequence

from absl import app, flags

USAGE_EXIT_CODE = 2
FAILURE_EXIT_CODE = 1


def fail(prog: str, message: str, code: int = USAGE_EXIT_CODE) -> NoReturn:
    """Prints ``<prog>: error: <message>`` (first line only) and exits with ``code``."""
    first_line = str(message).strip().splitlines()[0] if str(message).strip() else "unknown error"
    print(f"{prog}: error: {first_line}", file=sys.stderr)
    sys.exit(code)


def reject_positional(prog: str, argv: Sequence[str]) -> None:
    """The commands take flags only."""
    if len(argv) > 1:
        fail(prog, f"unexpected arguments: {' '.join(argv[1:])}")


def run_app(prog: str, define_flags: Callable[[], None], main: Callable[[list], None]) -> None:
    """Defines the flags and runs ``main`` under absl, with one-line flag errors."""

    def parse(argv):
        try:
            return flags.FLAGS(argv)
        except flags.Error as e:
            fail(prog, str(e))

    define_flags()
    app.run(main, flags_parser=parse)

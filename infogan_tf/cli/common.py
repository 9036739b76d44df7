"""What every infogan_tf command line shares: flag parsing, one-line errors, exit codes.

Each CLI (``infogan-train``, ``-export``, ``-sample``, ``-evaluate``,
``-classifier``) is a module with ``define_flags(values)``, ``main(argv,
**seams) -> int`` and ``run()``, its console-script entry point.
``main`` hands :func:`run_main` its flags and a command; :func:`run_main`
parses ``argv`` into a fresh ``FlagValues`` (``--flagfile`` included),
answers ``--help``/``--helpfull`` on stdout, and reports any failure as the
single line ``<prog>: error: <message>`` on stderr with the exit status of
its :class:`~infogan_tf.errors.InfoGANError` kind: 2 for bad usage (also
absl's own flag errors: unknown flag, malformed number, value outside an
enum; stray positional arguments), 1 when the work failed. Every command
takes ``--verbosity`` (absl's levels; 0 shows info lines and TensorFlow's
start-up lines, which ``cli.quiet`` hides by default).

Nothing here imports TensorFlow, so a bad flag is reported in milliseconds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from absl import flags, logging

from infogan_tf import errors
from infogan_tf.cli import quiet

HELP_FLAGS = ("--help", "-help", "-h", "-?", "--helpfull", "-helpfull", "--helpshort", "-helpshort")


def report(prog: str, error: errors.InfoGANError) -> int:
    """Prints ``<prog>: error: <first line>`` on stderr; returns the error's exit status."""
    print(f"{prog}: error: {errors.first_line(error) or type(error).__name__}", file=sys.stderr)
    return error.exit_code


def _wants_help(args: Sequence[str]) -> bool:
    for arg in args:
        if arg == "--":
            return False
        if arg in HELP_FLAGS:
            return True
    return False


def print_help(doc: str | None, values: flags.FlagValues) -> None:
    """The command's docstring and every flag's help, on stdout."""
    sys.stdout.write((doc or "").strip() + "\n\nflags:\n" + values.get_help() + "\n")


def define_common_flags(values: flags.FlagValues) -> None:
    """The flags every command takes: ``--verbosity`` (``-v``)."""
    flags.DEFINE_integer(
        "verbosity",
        -1,
        "Logging level: -1 warnings (default), 0 also info lines and TensorFlow's C++ start-up lines, 1 debug. "
        "INFOGAN_TF_VERBOSE=1 does the same for TensorFlow's lines.",
        short_name="v",
        flag_values=values,
    )


def define_model_source_flags(values: flags.FlagValues, spec_json_when: str) -> None:
    """``--saved_model`` or ``--server``/``--model_name``/``--model_version``/``--spec_json``: where a model is.

    Shared by the CLIs that call an exported model (infogan-sample, infogan-explore).
    """
    from infogan_tf.serving import signatures as sig

    flags.DEFINE_string(
        "saved_model", None, "A SavedModel version directory written by infogan-export.", flag_values=values
    )
    flags.DEFINE_string("server", None, "TF Serving REST base URL, e.g. http://localhost:8501.", flag_values=values)
    flags.DEFINE_string("model_name", None, "Name of the served model (with --server).", flag_values=values)
    flags.DEFINE_integer(
        "model_version", None, "Served version to call (with --server); default: the latest.", flag_values=values
    )
    flags.DEFINE_string(
        "spec_json", None, f"The export's assets/{sig.METADATA_ASSET} ({spec_json_when}).", flag_values=values
    )


def apply_common_flags(values: flags.FlagValues) -> None:
    """Applies ``--verbosity`` when given: absl's logging level, and TensorFlow's start-up lines back."""
    if values["verbosity"].present:
        logging.set_verbosity(values.verbosity)
        quiet.set_verbosity(values.verbosity)


def parse_flags(define_flags: Callable[[flags.FlagValues], None], argv: Sequence[str]) -> flags.FlagValues:
    """A fresh FlagValues with the command's flags, parsed from ``argv`` (``argv[0]``: the program).

    Raises:
      errors.UsageError: an absl flag error, or positional arguments.
    """
    values = flags.FlagValues()
    define_flags(values)
    define_common_flags(values)
    try:
        rest = values(list(argv))
    except flags.Error as e:
        raise errors.UsageError(errors.first_line(e)) from None
    if len(rest) > 1:
        raise errors.UsageError(f"unexpected arguments: {' '.join(rest[1:])}")
    return values


def run_main(
    prog: str,
    doc: str | None,
    define_flags: Callable[[flags.FlagValues], None],
    argv: Sequence[str],
    command: Callable[[flags.FlagValues], int],
) -> int:
    """Parses ``argv`` and runs ``command(values)``; returns the exit status (never exits).

    ``--help`` (or ``--helpfull``) prints ``doc`` and the flags' help and
    returns 0. Any :class:`~infogan_tf.errors.InfoGANError`, from parsing or
    from the command, becomes one line on stderr and its ``exit_code``; a
    Ctrl-C outside the training loop (which handles its own) one line and
    130; other exceptions are bugs and propagate.
    """
    try:
        if _wants_help(argv[1:]):
            values = flags.FlagValues()
            define_flags(values)
            define_common_flags(values)
            print_help(doc, values)
            return 0
        values = parse_flags(define_flags, argv)
        apply_common_flags(values)
        return command(values)
    except errors.InfoGANError as e:
        return report(prog, e)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted (Ctrl-C)", file=sys.stderr)
        return errors.INTERRUPTED_EXIT_CODE


def init_logging() -> None:
    """For a console entry point: absl warnings on stderr in absl's format, as under ``app.run``.

    Also hides TensorFlow's C++ start-up noise (``cli.quiet``); it must run
    before TensorFlow is imported, so every ``run()`` calls this first.

    The command's own flags live in a private FlagValues, so the global one
    (holding absl's logging flags) is marked parsed with its defaults:
    warnings and errors go to stderr, info lines do not.
    """
    quiet.install()
    logging.use_absl_handler()
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()

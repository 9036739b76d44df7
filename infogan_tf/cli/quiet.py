"""TensorFlow's C++ start-up noise, hidden from the console scripts unless asked for.

A bare ``import tensorflow`` on a machine without a GPU prints, before any
line of ours: absl's "All log messages before absl::InitializeLog()" warning,
the oneDNN and CUDA-stub notes (twice, once per TF shared library), the CPU
feature guard, and ``failed call to cuInit`` (an error-level line although
nothing is wrong); tracing a step then adds grappler's "Ignoring Assert
operator" warnings and XLA's service lines. :func:`install` -- called by
every console script's ``run()`` through ``common.init_logging``, before
TensorFlow is imported (no CLI module imports it at load) -- hides them:

1. ``TF_CPP_MIN_LOG_LEVEL=2``: TF's C++ info and warning lines are dropped
   from the moment TF reads the setting; its errors still show.
2. What is printed before that (the shared libraries' static initialisers
   log before any setting applies) and the cuInit error: the first
   ``import tensorflow`` runs with file descriptor 2 redirected to a
   temporary file, and initialises the platforms inside that window
   (``tf.config.list_physical_devices``; devices can still be configured
   afterwards). Then the captured output goes back to stderr without the
   known start-up lines; anything else -- another C++ error, a Python
   warning, the traceback of a failed import -- is written back as it was.

Why not the documented setting alone: with ``TF_CPP_MIN_LOG_LEVEL=2`` (or 3)
set before the import, TF 2.21 still prints seven lines on a CPU machine --
absl's pre-init warning, the oneDNN and ``cudart_stub`` notes (each twice),
and ``failed call to cuInit`` (hidden by 3, which would hide real errors too)
-- because the static initialisers log before TF reads the setting
(absl's pre-init logging: tensorflow/tensorflow#102212, abseil/abseil-cpp#1957). ``TF_ENABLE_ONEDNN_OPTS=0`` would drop
one note by changing the computation, so it is not used.

Everything shows again with ``--verbosity=0`` (absl's levels: 0 info,
1 debug; every CLI takes it), with ``INFOGAN_TF_VERBOSE=1``, or with your own
``TF_CPP_MIN_LOG_LEVEL`` (never overridden; the window stays off below 2).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Iterator, MutableMapping

VERBOSE_ENV = "INFOGAN_TF_VERBOSE"
LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
QUIET_LEVEL = "2"  # drop INFO and WARNING lines of TF's C++ logging, keep ERROR and FATAL

# I0000 00:00:1796172394.346208   30653 port.cc:153] oneDNN custom operations are on. ...
# (absl's format: level, MMDD, time -- here seconds since the epoch --, thread, file:line.)
_CPP_LINE = re.compile(r"^([IWEF])\d{4} [\d:.]+\s+\d+ [^\]\s]+:\d+\] (.*)$")
_ABSL_BEFORE_INIT = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# The second line of the CPU feature guard's note.
_CONTINUATION = "To enable the following instructions:"
# Error-level lines that are not errors: no CUDA driver on a CPU machine.
_NOISY_ERRORS = ("failed call to cuInit",)


def without_startup_noise(text: str) -> str:
    """``text`` without TF's C++ info/warning lines, absl's pre-init note and the cuInit error."""
    kept = []
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        match = _CPP_LINE.match(bare)
        if match:
            level, message = match.groups()
            if level in "IW" or any(s in message for s in _NOISY_ERRORS):
                continue
        elif bare == _ABSL_BEFORE_INIT or bare.startswith(_CONTINUATION):
            continue
        kept.append(line)
    return "".join(kept)


def wants_quiet(environ: MutableMapping[str, str], verbosity: int | None = None) -> bool:
    """Whether to hide the start-up noise: not asked for verbose, and no lower C++ level of the user's own."""
    if environ.get(VERBOSE_ENV, "").strip() not in ("", "0"):
        return False
    if verbosity is not None and verbosity >= 0:
        return False
    level = environ.get(LEVEL_ENV)
    return level is None or not level.strip().isdigit() or int(level) >= int(QUIET_LEVEL)


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """Runs the block with file descriptor 2 captured; writes it back without the start-up noise."""
    try:
        os.fstat(2)
    except OSError:  # no stderr at all (a daemon): nothing to filter
        yield
        return
    if sys.stderr is not None:
        sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            if sys.stderr is not None:
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = without_startup_noise(capture.read().decode("utf-8", errors="replace"))
            if kept and sys.stderr is not None:
                sys.stderr.write(kept)
                sys.stderr.flush()


class _QuietLoader(importlib.abc.Loader):
    """Executes the ``tensorflow`` package inside :func:`filtered_stderr`, then steps aside."""

    def __init__(self, loader: importlib.abc.Loader):
        self._loader = loader

    def __getattr__(self, name: str):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        try:
            with filtered_stderr():
                self._loader.exec_module(module)
                module.config.list_physical_devices()  # the platforms' start-up lines (cuInit) inside the window
        finally:
            module.__loader__ = self._loader
            if module.__spec__ is not None:
                module.__spec__.loader = self._loader


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` the usual way (once) and hands it to :class:`_QuietLoader`."""

    def find_spec(self, name, path, target=None):  # noqa: ARG002 (the finder protocol)
        if name != "tensorflow":
            return None
        uninstall()
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _QuietLoader(spec.loader)
        return spec


_FINDER = _QuietImport()
_SET_BY_US: list[str] = []  # the environment variables install() set, for set_verbosity() to undo


def install(environ: MutableMapping[str, str] | None = None) -> bool:
    """Hides TF's start-up noise from this process (before TensorFlow is imported); True if it will."""
    environ = os.environ if environ is None else environ
    if "tensorflow" in sys.modules or not wants_quiet(environ):
        return False
    if LEVEL_ENV not in environ:
        environ[LEVEL_ENV] = QUIET_LEVEL
        _SET_BY_US.append(LEVEL_ENV)
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    return True


def uninstall() -> None:
    """Removes the import hook (the environment stays as it is)."""
    with contextlib.suppress(ValueError):
        sys.meta_path.remove(_FINDER)


def installed() -> bool:
    """Whether the next ``import tensorflow`` will be filtered."""
    return _FINDER in sys.meta_path


def set_verbosity(verbosity: int, environ: MutableMapping[str, str] | None = None) -> None:
    """Applies ``--verbosity``: 0 (info) or more shows TF's start-up lines again, if TF is not loaded yet."""
    environ = os.environ if environ is None else environ
    if wants_quiet(environ, verbosity):
        return
    uninstall()
    while _SET_BY_US:
        environ.pop(_SET_BY_US.pop(), None)

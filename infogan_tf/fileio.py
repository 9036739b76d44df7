"""Atomic writes: a file or a folder appears complete or not at all, and what it replaces survives a failure.

Every writer of user-visible output (config.json, PNGs, the evaluation
folder, the classifier cache, an export version) goes through these two
helpers. Each writes into a hidden sibling of the destination (same file
system, so the final ``os.replace``/``os.rename`` is atomic) and removes it if
the write fails or is interrupted.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable


def _sibling(path: str, tag: str) -> str:
    directory, name = os.path.split(os.path.abspath(path.rstrip(os.sep)))
    return os.path.join(directory, f".{name}.{tag}-{uuid.uuid4().hex[:12]}")


def write_file(path: str, write: Callable[[str], None]) -> str:
    """Calls ``write(tmp_path)``, then renames the finished file onto ``path``; returns ``path``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = _sibling(path, "tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def write_text(path: str, text: str) -> str:
    """Writes ``text`` to ``path`` atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(text)

    return write_file(path, write)


def publish_dir(
    path: str,
    write: Callable[[str], None],
    replace: bool = False,
    before_rename: Callable[[], None] | None = None,
) -> str:
    """Calls ``write(tmp_dir)``, then moves the finished folder to ``path``; returns ``path``.

    Args:
      path: the destination folder.
      write: fills the (empty, existing) temporary folder.
      replace: an existing ``path`` is replaced (it is moved aside first and
        removed only once the new folder is in place); without it an
        existing ``path`` makes the final rename fail.
      before_rename: called just before the rename (e.g. to re-check that
        nothing else published the same destination meanwhile); an exception
        from it aborts the publication.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path.rstrip(os.sep))), exist_ok=True)
    tmp = _sibling(path, "incomplete")
    os.mkdir(tmp)
    try:
        write(tmp)
        if before_rename is not None:
            before_rename()
        if replace and os.path.exists(path):
            old = _sibling(path, "old")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path

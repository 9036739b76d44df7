"""Atomic writes: a file or a folder appears complete or not at all, and what it replaces survives a failure.

Every writer of user-visible output (config.json, PNGs, the evaluation
folder, the classifier cache, an export version) goes through
:func:`write_file` / :func:`write_text` or :func:`publish_dir`. Each writes
into a hidden sibling of the destination (same file system, so the final
``os.replace``/``os.rename`` is atomic) and removes it if the write fails or
is interrupted -- also when the disk is full. :func:`append_line` appends one
line to a log and never leaves half of it behind.

A full disk: these helpers raise the ``OSError`` they met (after cleaning
up); the caller, who knows what it was writing and how big it is, turns it
into the one-line :class:`~infogan_tf.errors.DiskFullError` with
:func:`no_space_error`.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from collections.abc import Callable

from infogan_tf import errors

# How a lack of space reads in a message: TensorFlow's file system layer
# reports it as an OpError (ResourceExhaustedError) "<file>; No space left on
# device", i.e. with the OS's text for the errno but no errno attribute.
_NO_SPACE_TEXT = {
    errno.ENOSPC: (os.strerror(errno.ENOSPC), "no space left on device"),
    errno.EDQUOT: (os.strerror(errno.EDQUOT), "disk quota exceeded"),
}


def _sibling(path: str, tag: str) -> str:
    directory, name = os.path.split(os.path.abspath(path.rstrip(os.sep)))
    return os.path.join(directory, f".{name}.{tag}-{uuid.uuid4().hex[:12]}")


def _remove_quietly(path: str) -> None:
    # Cleanup after a failure must not replace the failure's own exception.
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError:
        shutil.rmtree(path, ignore_errors=True)  # ``write`` made a folder there


def write_file(path: str, write: Callable[[str], None]) -> str:
    """Calls ``write(tmp_path)``, then renames the finished file onto ``path``; returns ``path``.

    If ``write`` fails (a full disk included) the temporary file is removed
    and an existing ``path`` is left as it was; the exception propagates.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = _sibling(path, "tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        _remove_quietly(tmp)
        raise
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

    If anything fails (a full disk included) the temporary folder is removed
    and an existing ``path`` is left as it was; the exception propagates.

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
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old, path)  # put the one the user had back
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def append_line(path: str, line: str) -> None:
    """Appends ``line`` and a newline to the file ``path`` (created if missing), all of it or nothing.

    For logs read line by line (``metrics.jsonl``): if the write fails part-way
    -- a full disk accepts the first bytes and refuses the rest -- the file is
    truncated back to its previous size before the error propagates, so it
    never ends in half a line. (One writer at a time: the run directory's lock
    sees to that.)

    Raises:
      ValueError: ``line`` holds a newline (other than one at its end).
      OSError: the line could not be written; the file is as it was.
    """
    text = line[:-1] if line.endswith("\n") else line
    if "\n" in text:
        raise ValueError(f"append_line appends one line; got {len(text.splitlines())} lines for {path}")
    data = memoryview((text + "\n").encode("utf-8"))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    size = -1
    try:
        size = os.fstat(fd).st_size
        while data:
            data = data[os.write(fd, data) :]  # a short write on a full disk: the next one raises ENOSPC
        os.close(fd)
        fd = -1
    except BaseException:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
        if size >= 0:
            os.truncate(path, size)
        raise


# --------------------------------------------------------------------------
# A full disk.


def _no_space_reason(error: BaseException) -> str | None:
    """ "no space left on device" / "disk quota exceeded" if ``error`` (or what caused it) says so."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _NO_SPACE_TEXT:
            return _NO_SPACE_TEXT[current.errno][1]
        message = str(current)
        for os_text, reason in _NO_SPACE_TEXT.values():
            if os_text in message:
                return reason
        current = current.__cause__
    return None


def is_no_space(error: BaseException) -> bool:
    """Whether ``error`` is a write that failed for lack of space.

    That is an ``OSError`` with errno ENOSPC or EDQUOT, or any exception
    (TensorFlow's ``OpError``: ``ResourceExhaustedError``) whose message holds
    the OS's text for them ("No space left on device", "Disk quota
    exceeded"); also when such an error is the ``__cause__`` of ``error``.
    """
    return _no_space_reason(error) is not None


def free_bytes(path: str) -> int:
    """Bytes free (for this user) on the file system of ``path``, or of its nearest existing parent."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    return shutil.disk_usage(probe).free


def megabytes(n: int) -> str:
    """``n`` bytes in MB (10**6 bytes, as ``df -H`` counts), to two decimals below 10 MB."""
    mb = n / 1e6
    return f"{mb:.0f}" if mb >= 10 else f"{mb:.2f}"


def no_space_error(what: str, path: str, needed_bytes: int, error: BaseException) -> errors.DiskFullError | None:
    """The one-line DiskFullError for ``error`` if it is a lack of space (:func:`is_no_space`), else None.

    ``cannot write {what} to {directory}: no space left on device (it needs
    about {X} MB, {Y} MB free there)`` -- ``directory`` is the folder ``path``
    goes into, ``Y`` is measured now (after the failed write cleaned up) on
    the nearest existing parent of ``path``. For EDQUOT the reason reads "disk
    quota exceeded" (the device may have room; the user's quota has not).

    Args:
      what: what could not be written, for the user ("export version 4").
      path: the file or folder that could not be written.
      needed_bytes: about how many bytes it needs (less than 0.01 MB is shown as 0.01 MB).
      error: the exception the write raised.
    """
    reason = _no_space_reason(error)
    if reason is None:
        return None
    directory = os.path.dirname(os.path.abspath(path.rstrip(os.sep) or os.sep))
    try:
        free = f"{megabytes(free_bytes(directory))} MB free there"
    except OSError:
        free = "free space unknown"
    needed = megabytes(max(int(needed_bytes), 10_000))
    return errors.DiskFullError(f"cannot write {what} to {directory}: {reason} (it needs about {needed} MB, {free})")

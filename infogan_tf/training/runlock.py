"""The one-writer lock of a run directory: ``<model_dir>/.lock``, held by the process that trains in it.

A second ``infogan-train`` on the same directory is refused with one line
naming the holder (pid, host, since when, its command); a lock left by a
process that died (SIGKILL, power loss, a lost machine) is taken over with
one warning. ``training.rundir.RunDir.lock`` hands it out; readers (export,
evaluation, sampling) never take it. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import json
import os
import socket
import sys
import time
from typing import Any

from absl import logging

from infogan_tf.errors import RunDirBusyError, RunDirError, describe

LOCK_FILENAME = ".lock"

# flock's answers: another open file holds the lock / this filesystem has no flock.
_HELD_ERRNOS = frozenset({errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES})
_NO_FLOCK_ERRNOS = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS})
_MAX_RECORD_BYTES = 1 << 16


class RunLock:
    """The exclusive lock of one run directory, held by the process that writes it.

    On enter it creates the directory if needed and takes an exclusive,
    non-blocking ``flock`` on ``<model_dir>/.lock``, then writes there, as
    JSON, who holds it (pid, host, since, command). On exit, normal or by an
    exception, it removes the file while still holding the lock and closes it.
    Each ``with`` takes and releases it, so one process may train twice in a
    row; entering it again while it is held (in any process, this one
    included) is refused.

    - Held by another open file: :class:`~infogan_tf.errors.RunDirBusyError`
      naming the holder from its record; nothing is written.
    - Left by a process that died: the kernel released its flock, so it is
      taken, with one warning naming the dead holder. A record that cannot
      be read is taken over likewise.
    - A filesystem without flock (``ENOLCK``/``EOPNOTSUPP``, some NFS set-ups):
      only the record guards the directory. It is refused if the recorded pid
      is alive on this host (``os.kill(pid, 0)``), taken over otherwise, also
      when the record names another host, whose processes cannot be checked
      from here; nor are two processes starting at the same moment kept apart.

    The descriptor is not inherited by child processes (``os.open`` makes it
    non-inheritable); a ``fork`` without ``exec`` shares it, and the lock with it.
    """

    def __init__(self, directory: str, lock_path: str):
        self.directory = directory
        self.lock_path = lock_path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def acquire(self) -> None:
        """Takes the lock and records this process in it (see the class docstring)."""
        if self._fd is not None:
            raise RuntimeError(f"the lock of {self.directory} is already held by this RunLock")
        try:
            self._fd = self._acquire()
        except OSError as e:  # an unwritable or full --model_dir
            raise RunDirError(
                f"--model_dir {self.directory}: cannot take its lock {self.lock_path} ({describe(e)})"
            ) from e

    def _acquire(self) -> int:
        os.makedirs(self.directory, exist_ok=True)
        path = self.lock_path
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                have_flock = _try_flock(fd, self)
                if _same_file(fd, path):
                    break
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # replaced or removed by its last holder meanwhile: lock the file now there
        try:
            previous = _read_record(fd)
            if previous:
                self._take_over(previous, have_flock)
            _write_record(fd, self._record())
        except BaseException:
            os.close(fd)
            raise
        return fd

    def release(self) -> None:
        """Removes the record, then closes (and so unlocks) it; nothing if not held."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if _same_file(fd, self.lock_path):
                os.unlink(self.lock_path)
        except OSError as e:
            logging.warning("could not remove %s: %s", self.lock_path, describe(e))
        finally:
            os.close(fd)

    # --------------------------------------------------------------- helpers
    @staticmethod
    def _record() -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
        }

    def _take_over(self, text: str, have_flock: bool) -> None:
        """Takes a record left behind (flock was granted) or, without flock, refuses a live one."""
        holder = _parse_record(text)
        where = f"--model_dir {self.directory}"
        if holder is None:
            logging.warning(
                "taking over the lock of %s: its %s holds no readable record (%r)",
                where,
                LOCK_FILENAME,
                _one_line(text)[:80],
            )
            return
        here = holder["host"] == socket.gethostname()
        if not have_flock and here and holder["pid"] != os.getpid() and _alive(holder["pid"]):
            raise RunDirBusyError(self._busy_message(holder))
        if here and holder["pid"] == os.getpid():
            state = "which no longer holds it (this process has its pid now)"
        elif have_flock or here:
            state = "which is no longer running"
        else:
            state = "on another host, which cannot be checked here (this filesystem has no flock)"
        logging.warning(
            "taking over the lock of %s left by pid %s on host %s (since %s), %s",
            where,
            holder["pid"],
            holder["host"],
            holder["since"],
            state,
        )

    def _busy_message(self, holder: dict[str, Any] | None) -> str:
        where = f"--model_dir {self.directory}"
        if holder is None:
            return (
                f"{where} is being written by another infogan-train (its {self.lock_path} "
                "names no holder yet); wait for it to finish or stop it"
            )
        command = f": {holder['command']}" if holder["command"] else ""
        who = f"pid {holder['pid']} on host {holder['host']}, since {holder['since']}{command}"
        if holder["pid"] == os.getpid() and holder["host"] == socket.gethostname():
            return f"{where} is already being written by this process ({who}); release its lock first"
        return f"{where} is being written by another infogan-train ({who}); wait for it to finish or stop it"


def _try_flock(fd: int, lock: RunLock) -> bool:
    """flock(LOCK_EX | LOCK_NB): True if taken, False if the filesystem has no flock; raises if held."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in _NO_FLOCK_ERRNOS:
            logging.info(
                "%s does not support flock (%s); only the pid recorded in it guards --model_dir %s",
                lock.lock_path,
                errno.errorcode.get(e.errno or 0, e.errno),
                lock.directory,
            )
            return False
        if e.errno not in _HELD_ERRNOS:
            raise
        if not _same_file(fd, lock.lock_path):
            return True  # a releasing holder's removed file: the caller retries on the new one
        raise RunDirBusyError(lock._busy_message(_parse_record(_read_record(fd, wait=True)))) from None
    return True


def _same_file(fd: int, path: str) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (not removed or replaced)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (own.st_dev, own.st_ino) == (st.st_dev, st.st_ino)


def _read_record(fd: int, wait: bool = False) -> str:
    """The lock file's text ('' if empty); ``wait``: give a holder that just locked it 0.5 s to write."""
    deadline = time.monotonic() + (0.5 if wait else 0.0)
    while True:
        text = os.pread(fd, _MAX_RECORD_BYTES, 0).decode("utf-8", errors="replace")
        if not wait or _parse_record(text) is not None or time.monotonic() >= deadline:
            return text
        time.sleep(0.05)


def _parse_record(text: str) -> dict[str, Any] | None:
    """The holder's record (pid, host, since, command), None if there is none or it is garbage."""
    try:
        record = json.loads(text)
        pid = record["pid"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    return {
        "pid": pid,
        "host": _one_line(record.get("host", "?")),
        "since": _one_line(record.get("since", "?")),
        "command": _one_line(record.get("command", "")),
    }


def _one_line(value: Any) -> str:
    return " ".join(str(value).split())


def _write_record(fd: int, record: dict[str, Any]) -> None:
    data = (json.dumps(record) + "\n").encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    os.fsync(fd)  # seen by other hosts too (NFS)


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True

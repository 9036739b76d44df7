"""One writer per run directory: ``RunDir.lock()`` (``infogan_tf/training/rundir.py``).

The holder is a real process where the process is the point (a live holder
refuses a second writer; a SIGKILLed one leaves a lock that is taken over);
the rest runs in the test process. Holders are stopped by their pid only.
"""

import errno
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import REPO
from local_cluster import TINY_FLAGS

from infogan_tf import errors
from infogan_tf.training import runlock
from infogan_tf.training.rundir import LOCK_FILENAME, RunDir

HOLDER = """
import sys, time
from infogan_tf.training.rundir import RunDir
with RunDir(sys.argv[1]).lock():
    print("locked", flush=True)
    time.sleep(600)
"""


def _start_holder(directory) -> subprocess.Popen:
    """A process holding ``directory``'s lock (returns once it said so)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(directory)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            line = proc.stdout.readline()
            if line.strip() == "locked":
                return proc
            if not line:
                break  # it exited
    _kill(proc)
    raise AssertionError(f"the holder did not lock {directory} (exit status {proc.returncode})")


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()


@pytest.fixture
def holder(tmp_path):
    """A run directory ``tmp_path/run`` and a live process holding its lock."""
    directory = tmp_path / "run"
    proc = _start_holder(directory)
    yield directory, proc
    _kill(proc)


@pytest.fixture
def warnings(monkeypatch):
    """The absl warnings rundir logs, formatted."""
    logged: list[str] = []
    monkeypatch.setattr(runlock.logging, "warning", lambda fmt, *args: logged.append(fmt % args))
    return logged


def _snapshot(directory) -> dict:
    """Every file's bytes and mtime, and every directory's mtime."""
    out = {}
    for root, _dirs, files in os.walk(directory):
        out[root] = os.stat(root).st_mtime_ns
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[path] = (f.read(), os.stat(path).st_mtime_ns)
    return out


def _record(directory) -> dict:
    with open(directory / LOCK_FILENAME) as f:
        return json.load(f)


def test_a_live_holder_refuses_a_second_writer_with_one_line_and_nothing_is_written(holder, warnings):
    directory, proc = holder
    (directory / "config.json").write_text("{}\n")
    before = _snapshot(directory)
    held = _record(directory)
    assert held["pid"] == proc.pid and held["host"] == socket.gethostname()
    assert held["command"] == "-c " + str(directory)

    with pytest.raises(errors.RunDirBusyError) as raised, RunDir(str(directory)).lock():
        raise AssertionError("the lock was granted while another process holds it")

    message = str(raised.value)
    assert message == (
        f"--model_dir {directory} is being written by another infogan-train (pid {proc.pid} on host "
        f"{socket.gethostname()}, since {held['since']}: -c {directory}); wait for it to finish or stop it"
    )
    assert "\n" not in message and raised.value.exit_code == errors.USAGE_EXIT_CODE
    assert _snapshot(directory) == before and warnings == []


def test_the_lock_of_a_killed_holder_is_taken_over_with_one_warning(holder, warnings):
    directory, proc = holder
    _kill(proc)  # SIGKILL: the record stays, the kernel drops the flock
    since = _record(directory)["since"]

    with RunDir(str(directory)).lock():
        assert warnings == [
            f"taking over the lock of --model_dir {directory} left by pid {proc.pid} on host "
            f"{socket.gethostname()} (since {since}), which is no longer running"
        ]
        record = _record(directory)
        assert record["pid"] == os.getpid() and record["host"] == socket.gethostname()
        assert record["command"] == " ".join(sys.argv)
    assert not (directory / LOCK_FILENAME).exists()


@pytest.mark.unit
@pytest.mark.parametrize("content", [b"\x00\xffnot json{", b'{"pid": "x"}', b"[1, 2]"])
def test_garbage_in_the_lock_file_is_taken_over(tmp_path, warnings, content):
    (tmp_path / LOCK_FILENAME).write_bytes(content)
    with RunDir(str(tmp_path)).lock():
        assert len(warnings) == 1 and warnings[0].startswith(
            f"taking over the lock of --model_dir {tmp_path}: its .lock holds no readable record"
        )
        assert _record(tmp_path)["pid"] == os.getpid()


@pytest.mark.unit
def test_each_with_takes_and_releases_the_lock_and_removes_its_file(tmp_path, warnings):
    run = RunDir(str(tmp_path / "new" / "run"))
    with run.lock() as lock:  # creates the directory
        assert lock.held and _record(tmp_path / "new" / "run")["pid"] == os.getpid()
    assert not lock.held and os.listdir(run.path) == []

    with pytest.raises(KeyboardInterrupt), run.lock():
        raise KeyboardInterrupt
    assert os.listdir(run.path) == []

    lock = run.lock()
    for _ in range(2):  # one RunLock, two sequential runs
        with lock:
            busy = pytest.raises(errors.RunDirBusyError, match="is already being written by this process")
            with busy, RunDir(run.path).lock():
                pass
            assert os.listdir(run.path) == [LOCK_FILENAME]
    assert os.listdir(run.path) == [] and warnings == []


def _write_record(directory, pid: int, host: str) -> None:
    record = {"pid": pid, "host": host, "since": "2026-12-01T22:00:00+00:00", "command": "infogan-train"}
    (directory / LOCK_FILENAME).write_text(json.dumps(record))


def test_without_flock_a_live_pid_on_this_host_refuses_and_others_are_taken_over(tmp_path, monkeypatch, warnings):
    def no_flock(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(runlock.fcntl, "flock", no_flock)
    host = socket.gethostname()
    live = os.getppid()  # pytest's parent: alive, and not this process
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()

    _write_record(tmp_path, live, host)
    before = _snapshot(tmp_path)
    busy = pytest.raises(errors.RunDirBusyError, match=f"another infogan-train \\(pid {live} on host ")
    with busy, RunDir(str(tmp_path)).lock():
        pass
    assert _snapshot(tmp_path) == before and warnings == []

    _write_record(tmp_path, dead.pid, host)
    with RunDir(str(tmp_path)).lock():
        assert _record(tmp_path)["pid"] == os.getpid()
    assert warnings == [
        f"taking over the lock of --model_dir {tmp_path} left by pid {dead.pid} on host {host} "
        "(since 2026-12-01T22:00:00+00:00), which is no longer running"
    ]

    _write_record(tmp_path, live, "elsewhere")
    with RunDir(str(tmp_path)).lock():
        pass
    assert warnings[1].endswith("on another host, which cannot be checked here (this filesystem has no flock)")
    assert not (tmp_path / LOCK_FILENAME).exists()


def test_infogan_train_on_a_held_model_dir_exits_2_with_one_line_and_changes_nothing(holder, capsys, fake_images):
    from infogan_tf.cli import train as train_cli

    directory, proc = holder
    before = _snapshot(directory)
    argv = ["infogan-train", f"--model_dir={directory}", *TINY_FLAGS, "--train_steps=2"]
    assert train_cli.main(argv, images=fake_images) == 2
    err = capsys.readouterr().err
    line = (
        f"infogan-train: error: --model_dir {directory} is being written by another infogan-train "
        f"(pid {proc.pid} on host {socket.gethostname()}, since "
    )
    assert err.startswith(line) and err.count("\n") == 1, err
    assert _snapshot(directory) == before
    assert proc.poll() is None  # the holder is untouched


@pytest.mark.unit
def test_a_model_dir_that_cannot_be_created_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    refused = pytest.raises(errors.RunDirError, match=r"^--model_dir .*/file/run: cannot take its lock .*\.lock \(")
    with refused, RunDir(str(tmp_path / "file" / "run")).lock():
        pass

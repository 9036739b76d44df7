"""A full disk loses nothing: fileio's atomic writers and append_line, and infogan-export (``cli.export.main``).

Each test mounts a tmpfs of its own, small enough to fill (``small_fs``:
needs root, as in CI; the tests skip where mounting fails), and fills it with
a ballast file. What is asserted: the write fails with one line naming what
could not be written and the space it needed (exit status 1 from the CLI),
no temporary file or folder is left behind, and whatever was there before
(an older export version, a config file, a folder, the lines of a log) is
byte-identical afterwards.
"""

import errno
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest
import tensorflow as tf

from infogan_tf import errors, fileio
from infogan_tf.cli import export as export_cli
from infogan_tf.serving import export

MESSAGE = re.compile(
    r"cannot write (?P<what>.+) to (?P<directory>\S+): no space left on device "
    r"\(it needs about (?P<needed>[\d.]+) MB, (?P<free>[\d.]+) MB free there\)"
)


@pytest.fixture
def small_fs(tmp_path):
    """``mount(size)`` mounts a fresh tmpfs of ``size`` (e.g. "2m") below tmp_path and returns its path.

    Unmounted at teardown. Skips the test where mounting fails (not root).
    """
    mounted = []

    def mount(size: str):
        point = tmp_path / f"fs{len(mounted)}"
        point.mkdir()
        if shutil.which("mount") is None:
            pytest.skip("no mount command here: the full-disk tests need a tmpfs of their own")
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], capture_output=True, text=True
        )
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs (the full-disk tests need root): {result.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        if subprocess.run(["umount", str(point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(point)], check=True)


def fill(directory, leave: int = 0) -> str:
    """Writes ``directory/ballast`` until the file system is full (or has only about ``leave`` bytes free)."""
    path = os.path.join(directory, "ballast")
    todo = None if leave == 0 else shutil.disk_usage(directory).free - leave
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while todo is None or todo > 0:
            chunk = 1 << 16 if todo is None else min(1 << 16, todo)
            try:
                written = os.write(fd, b"\0" * chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC
                break
            if todo is not None:
                todo -= written
    finally:
        os.close(fd)
    return path


def tree(path) -> dict[str, bytes]:
    """{relative path: content} of every file below ``path``."""
    out = {}
    for root, _, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            with open(full, "rb") as f:
                out[os.path.relpath(full, path)] = f.read()
    return out


def megabytes(path) -> float:
    return shutil.disk_usage(path).free / 1e6


# ------------------------------------------------------------ infogan-export


@pytest.mark.slow
def test_export_onto_a_full_disk_exits_1_keeps_the_old_version_and_leaves_nothing(trained_model_dir, small_fs, capsys):
    fs = small_fs("2m")
    base = fs / "models" / "infogan"
    argv = ["infogan-export", f"--model_dir={trained_model_dir}", f"--export_dir={base}"]
    assert export_cli.main(argv) == 0, capsys.readouterr().err[-3000:]
    old = tree(base / "4")
    old_bytes = sum(len(b) for b in old.values())
    fill(fs, leave=200_000)  # less than a version (~0.65 MB) needs
    capsys.readouterr()

    assert export_cli.main([*argv, "--version=5"]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("infogan-export: error: cannot write export version 5 to "), last
    match = MESSAGE.fullmatch(last.removeprefix("infogan-export: error: "))
    assert match, last
    assert match["directory"] == str(base)
    # The estimate is what version 4 occupies (version 5 differs only in its metadata) ...
    assert float(match["needed"]) == pytest.approx(old_bytes / 1e6, rel=0.05), (last, old_bytes)
    # ... and the free space is measured after the partial version was removed.
    assert float(match["free"]) == pytest.approx(megabytes(base), abs=0.011), last
    assert float(match["free"]) < float(match["needed"])

    assert os.listdir(base) == ["4"]  # no version 5, no .5.incomplete-* either
    assert tree(base / "4") == old

    # With room again, the same command writes version 5: the failure left nothing in the way.
    os.remove(fs / "ballast")
    assert export_cli.main([*argv, "--version=5"]) == 0, capsys.readouterr().err[-3000:]
    assert sorted(os.listdir(base)) == ["4", "5"] and tree(base / "4") == old


def test_disk_filling_while_the_warmup_records_are_written(trained_model_dir, small_fs, monkeypatch):
    """The SavedModel is written, then the disk fills: the TFRecordWriter's error is the one DiskFullError."""
    fs = small_fs("2m")
    base = fs / "models"
    (base / "3").mkdir(parents=True)
    (base / "3" / "saved_model.pb").write_bytes(b"an older version")
    write_warmup = export.write_warmup
    seen = {}

    def fill_then_write_warmup(version_dir, logs):
        seen["had_saved_model"] = os.path.exists(os.path.join(version_dir, "saved_model.pb"))
        fill(fs)
        return write_warmup(version_dir, logs)

    monkeypatch.setattr(export, "write_warmup", fill_then_write_warmup)
    with pytest.raises(errors.DiskFullError) as caught:
        export.export(export.ExportConfig(model_dir=trained_model_dir, export_dir=str(base)))
    assert seen["had_saved_model"]
    assert isinstance(caught.value.__cause__, tf.errors.ResourceExhaustedError)  # TF's own ENOSPC
    match = MESSAGE.fullmatch(str(caught.value))
    assert match and match["what"] == "export version 4" and match["directory"] == str(base), str(caught.value)
    assert 0.3 < float(match["needed"]) < 1.5  # ~0.65 MB: weights 0.25 MB + graph 0.38 MB + assets
    assert os.listdir(base) == ["3"]
    assert tree(base / "3") == {"saved_model.pb": b"an older version"}


def test_full_temporary_directory_for_the_json_asset(trained_model_dir, small_fs, monkeypatch, tmp_path):
    """The metadata asset is staged in the temporary directory: a full one is reported as such."""
    fs = small_fs("64k")
    fill(fs)
    monkeypatch.setattr(tempfile, "tempdir", str(fs))
    base = tmp_path / "models"
    with pytest.raises(errors.DiskFullError) as caught:
        export.export(export.ExportConfig(model_dir=trained_model_dir, export_dir=str(base)))
    assert str(caught.value) == (
        f"cannot write export version 4 to {fs}: no space left on device (it needs about 0.01 MB, 0.00 MB free there)"
    )
    assert os.listdir(fs) == ["ballast"]  # the staging folder is removed
    assert not base.exists()


# ------------------------------------------------------------ fileio


@pytest.fixture
def full_fs(small_fs):
    """A 64 KB tmpfs holding ``config.json`` ("old"), a folder ``evaluation/`` and a ballast that fills it."""
    fs = small_fs("64k")
    (fs / "config.json").write_text("old")
    (fs / "evaluation").mkdir()
    (fs / "evaluation" / "report.json").write_text('{"accuracy": 0.9}')
    fill(fs)
    return fs


def assert_untouched(fs):
    assert sorted(os.listdir(fs)) == ["ballast", "config.json", "evaluation"]  # no .*.tmp-*, .*.incomplete-*
    assert (fs / "config.json").read_text() == "old"
    assert os.listdir(fs / "evaluation") == ["report.json"]
    assert (fs / "evaluation" / "report.json").read_text() == '{"accuracy": 0.9}'


def write_bytes(n: int):
    def write(tmp_path: str) -> None:
        with open(tmp_path, "wb") as f:
            f.write(b"x" * n)

    return write


def test_write_text_on_a_full_disk_raises_oserror_and_keeps_the_old_file(full_fs):
    with pytest.raises(OSError) as caught:
        fileio.write_text(str(full_fs / "config.json"), "new" * 30_000)
    assert caught.value.errno == errno.ENOSPC and not isinstance(caught.value, errors.InfoGANError)
    assert_untouched(full_fs)
    full = fileio.no_space_error("the run's config", str(full_fs / "config.json"), 90_000, caught.value)
    assert isinstance(full, errors.DiskFullError) and full.exit_code == 1
    assert str(full) == (
        f"cannot write the run's config to {full_fs}: no space left on device "
        "(it needs about 0.09 MB, 0.00 MB free there)"
    )


def test_write_file_on_a_full_disk_removes_its_temporary_file(full_fs):
    with pytest.raises(OSError) as caught:
        fileio.write_file(str(full_fs / "config.json"), write_bytes(200_000))
    assert caught.value.errno == errno.ENOSPC
    assert_untouched(full_fs)
    with pytest.raises(OSError):  # a new file: not created
        fileio.write_file(str(full_fs / "grid.png"), write_bytes(10))
    assert_untouched(full_fs)


@pytest.mark.parametrize("replace", [True, False])
def test_publish_dir_on_a_full_disk_removes_its_temporary_folder(full_fs, replace):
    def write(tmp_dir: str) -> None:
        write_bytes(100)(os.path.join(tmp_dir, "small.json"))
        write_bytes(200_000)(os.path.join(tmp_dir, "big.npz"))

    target = "evaluation" if replace else "classifier"
    with pytest.raises(OSError) as caught:
        fileio.publish_dir(str(full_fs / target), write, replace=replace)
    assert caught.value.errno == errno.ENOSPC
    assert_untouched(full_fs)


def test_publish_dir_puts_the_old_folder_back_if_the_final_rename_fails(tmp_path, monkeypatch):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep me")
    real_replace = os.replace

    def replace(src, dst):
        if ".incomplete-" in os.path.basename(src):
            raise OSError(errno.ENOSPC, "No space left on device (simulated)")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="simulated"):
        fileio.publish_dir(
            str(tmp_path / "out"), lambda tmp: write_bytes(1)(os.path.join(tmp, "new.txt")), replace=True
        )
    assert os.listdir(tmp_path) == ["out"] and (tmp_path / "out" / "mine.txt").read_text() == "keep me"


def test_no_space_error_maps_only_a_lack_of_space(tmp_path):
    path = str(tmp_path / "not" / "yet" / "there.json")  # free space: of the nearest existing parent
    enospc = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
    full = fileio.no_space_error("the metrics log", path, 2_500_000, enospc)
    assert isinstance(full, errors.DiskFullError)
    match = MESSAGE.fullmatch(str(full))
    assert match and match["directory"] == str(tmp_path / "not" / "yet") and match["needed"] == "2.50"
    assert float(match["free"]) == pytest.approx(megabytes(tmp_path), rel=0.01, abs=1)
    # TensorFlow's file system reports it as an OpError without an errno, only its text.
    tf_error = tf.errors.ResourceExhaustedError(None, None, f"{path}.tmp1234; No space left on device")
    assert MESSAGE.fullmatch(str(fileio.no_space_error("export version 3", path, 10**7, tf_error)))
    # A wrapper whose cause is a full disk is one too.
    try:
        raise RuntimeError("could not save") from enospc
    except RuntimeError as wrapped:
        assert fileio.is_no_space(wrapped)
    # A quota says so.
    quota = fileio.no_space_error("x", path, 1, OSError(errno.EDQUOT, os.strerror(errno.EDQUOT)))
    assert quota is not None and ": disk quota exceeded (it needs about 0.01 MB, " in str(quota)
    # Anything else is not a lack of space.
    for other in (
        PermissionError(errno.EACCES, "Permission denied", path),
        FileNotFoundError(errno.ENOENT, "No such file or directory", path),
        OSError(errno.EIO, "Input/output error"),
        ValueError("no space left on device is not the OS's text"),
        tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor"),
    ):
        assert fileio.no_space_error("x", path, 1, other) is None, other
        assert not fileio.is_no_space(other)


# ------------------------------------------------------------ append_line


def test_append_line_on_a_full_disk_leaves_no_half_line(small_fs):
    fs = small_fs("64k")
    log = fs / "metrics.jsonl"
    fileio.append_line(str(log), json.dumps({"step": 1}))
    fileio.append_line(str(log), json.dumps({"step": 2}) + "\n")  # a trailing newline is not doubled
    fill(fs)
    before = log.read_bytes()
    assert before == b'{"step": 1}\n{"step": 2}\n'
    big = json.dumps({"step": 3, "pad": "x" * 10_000})

    # The control: a plain append on this disk writes what fits (the rest of the file's last page),
    # then fails -- half a line, what append_line must never leave.
    with pytest.raises(OSError) as caught, open(log, "a") as f:
        f.write(big + "\n")
    assert caught.value.errno == errno.ENOSPC
    assert len(before) < len(log.read_bytes()) < len(before) + len(big)
    os.truncate(log, len(before))

    with pytest.raises(OSError) as caught:
        fileio.append_line(str(log), big)
    assert caught.value.errno == errno.ENOSPC
    assert log.read_bytes() == before
    assert sorted(os.listdir(fs)) == ["ballast", "metrics.jsonl"]
    full = fileio.no_space_error("the metrics log", str(log), len(big) + 1, caught.value)
    assert str(full) == (
        f"cannot write the metrics log to {fs}: no space left on device (it needs about 0.01 MB, 0.00 MB free there)"
    )
    # A line that fits (in the page the file already has) is still appended whole.
    fileio.append_line(str(log), json.dumps({"step": 3}))
    assert log.read_bytes() == before + b'{"step": 3}\n'
    os.remove(fs / "ballast")
    fileio.append_line(str(log), big)
    assert log.read_bytes().splitlines()[-1] == big.encode()
    assert [json.loads(line)["step"] for line in log.read_text().splitlines()] == [1, 2, 3, 3]


def test_append_line_refuses_more_than_one_line(tmp_path):
    with pytest.raises(ValueError, match="one line"):
        fileio.append_line(str(tmp_path / "log"), "a\nb")
    assert not (tmp_path / "log").exists()


def test_training_onto_a_full_disk_stops_with_one_line_and_keeps_the_last_complete_checkpoint(
    small_fs, fake_images, capsys
):
    """--model_dir on a tmpfs with room for one tiny checkpoint: the second save fails cleanly."""
    from local_cluster import TINY_FLAGS

    from infogan_tf.cli import train as train_cli
    from infogan_tf.training.rundir import latest_checkpoint

    model_dir = os.path.join(small_fs("1200k"), "run")
    flags = [*TINY_FLAGS, f"--model_dir={model_dir}", "--train_steps=6", "--checkpoint_every=2", "--log_every=1"]
    code = train_cli.main(["infogan-train", *flags, "--keep_checkpoints=1"], images=fake_images)
    err = capsys.readouterr().err
    assert code == 1, err[-3000:]
    line = err.strip().splitlines()[-1]
    assert line.startswith("infogan-train: error: "), err[-3000:]
    m = MESSAGE.search(line)
    assert m and m.group("what") == "checkpoint ckpt-4", line
    assert m.group("directory") == os.path.join(model_dir, "checkpoints"), line
    assert float(m.group("needed")) > float(m.group("free"))
    assert "Traceback" not in err
    checkpoints = os.path.join(model_dir, "checkpoints")
    latest = latest_checkpoint(checkpoints)
    assert latest == os.path.join(checkpoints, "ckpt-2")
    reader = tf.train.load_checkpoint(latest)
    for name in reader.get_variable_to_shape_map():
        reader.get_tensor(name)  # every tensor reads back (checksummed)
    assert not [n for n in os.listdir(checkpoints) if "temp" in n or n.startswith("ckpt-4")]
    # The log holds whole lines only, each step once.
    with open(os.path.join(model_dir, "metrics.jsonl")) as f:
        steps = [json.loads(x)["step"] for x in f.read().splitlines()]
    assert steps == sorted(set(steps)) and steps[:2] == [1, 2]


def test_training_logs_onto_a_full_disk_stop_with_one_line(small_fs, fake_images, capsys):
    """No checkpoint is due: the TensorBoard log (an image every step) or metrics.jsonl fills the disk first."""
    from local_cluster import TINY_FLAGS

    from infogan_tf.cli import train as train_cli

    model_dir = os.path.join(small_fs("600k"), "run")
    flags = [*TINY_FLAGS, f"--model_dir={model_dir}", "--train_steps=1000", "--checkpoint_every=1000", "--log_every=1"]
    code = train_cli.main(["infogan-train", *flags, "--summary_every=1"], images=fake_images)
    err = capsys.readouterr().err
    assert code == 1, err[-3000:]
    line = err.strip().splitlines()[-1]
    m = MESSAGE.search(line)
    assert line.startswith("infogan-train: error: ") and m, line
    assert m.group("what") in ("the TensorBoard log", "metrics.jsonl") or "metrics.jsonl" in m.group("what"), line
    assert "Traceback" not in err
    with open(os.path.join(model_dir, "metrics.jsonl")) as f:
        steps = [json.loads(x)["step"] for x in f.read().splitlines()]  # whole lines only
    assert steps == list(range(1, len(steps) + 1))

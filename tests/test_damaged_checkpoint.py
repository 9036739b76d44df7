"""A damaged newest checkpoint: every reader names the newest intact one, and --restore_checkpoint goes on from it.

A tiny run (checkpoints at steps 2 and 4, ``conftest.trained_model_dir``) is
copied and its ckpt-4 damaged three ways -- one byte in a thousand of the data
file flipped (TF: "Checksum does not match"), the data file cut in half (TF:
"Read less bytes than requested"), the index file cut short. ``infogan-train``,
``-export`` and ``-evaluate`` each exit 1 with one line naming the damage, the
newest intact checkpoint (ckpt-2) and the flag that continues from it, and
change nothing. With that flag, each succeeds from ckpt-2; training keeps the
damaged files (moved to ``set_aside/``, byte for byte) and records the restore
in config.json's history. Bad ``--restore_checkpoint`` values are one line each.
"""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY_MODEL, random_images, snapshot, tiny_config
from local_cluster import TINY_FLAGS

from infogan_tf import errors
from infogan_tf.cli import evaluate as evaluate_cli
from infogan_tf.cli import export as export_cli
from infogan_tf.cli import train as train_cli
from infogan_tf.evaluation.eval_data import EvalData
from infogan_tf.training import loop, rundir

DATA = "ckpt-4.data-00000-of-00001"


def _read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def _flip_bytes(run):
    """One byte in a thousand of ckpt-4's data file inverted (at least one)."""
    path = os.path.join(run, "checkpoints", DATA)
    data = bytearray(_read(path, "rb"))
    rng = np.random.default_rng(0)
    for i in rng.choice(len(data), max(1, len(data) // 1000), replace=False):
        data[i] ^= 0xFF
    with open(path, "wb") as f:
        f.write(bytes(data))


def _truncate_data(run):
    path = os.path.join(run, "checkpoints", DATA)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def _truncate_index(run):
    path = os.path.join(run, "checkpoints", "ckpt-4.index")
    with open(path, "r+b") as f:
        f.truncate(40)


DAMAGE = {
    "flipped_bytes": (_flip_bytes, "checksum does not match"),
    "truncated_data": (_truncate_data, "its data file is truncated"),
    "truncated_index": (_truncate_index, "its index file is unreadable: "),
}


def _eval_data():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(40, 28, 28, 1), dtype=np.uint8)
    return EvalData(images, rng.integers(0, 10, size=40), None)


def _run(prog, run_dir, images, *extra):
    """The CLI ``prog`` in-process on ``run_dir`` (train goes to step 6); its exit status."""
    if prog == "infogan-train":
        flags = [*TINY_FLAGS, f"--model_dir={run_dir}", "--train_steps=6", "--checkpoint_every=2", "--log_every=1"]
        return train_cli.main([prog, *flags, *extra], images=images)
    if prog == "infogan-export":
        return export_cli.main([prog, f"--model_dir={run_dir}", f"--export_dir={run_dir}/export", *extra])
    return evaluate_cli.main(
        [prog, f"--model_dir={run_dir}", "--nosample_quality", "--num_samples=10", "--sweep_samples=2", *extra],
        data=_eval_data(),
    )


def _error_line(prog, capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err, err[-3000:]
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"{prog}: error: "), err[-3000:]
    return line[len(f"{prog}: error: ") :]


PROGS = ["infogan-train", "infogan-export", "infogan-evaluate"]


@pytest.mark.parametrize("prog", PROGS)
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_every_cli_names_the_newest_intact_checkpoint_and_the_flag(run_dir, fake_images, capsys, prog, damage):
    mutate, reason = DAMAGE[damage]
    mutate(run_dir)
    before = snapshot(run_dir)
    capsys.readouterr()
    assert _run(prog, run_dir, fake_images) == 1
    message = _error_line(prog, capsys)
    damaged, intact = (os.path.join(run_dir, "checkpoints", f"ckpt-{s}") for s in (4, 2))
    assert message.startswith(f"cannot restore checkpoint {damaged}: it is damaged ({reason}")
    assert message.endswith(f"); the newest intact checkpoint is {intact}: rerun with --restore_checkpoint={intact}"), (
        message
    )
    assert snapshot(run_dir) == before  # nothing deleted, nothing written


@pytest.mark.parametrize("damage", ["flipped_bytes", "truncated_data"])
def test_train_resumes_from_the_named_checkpoint_and_keeps_the_damaged_files(run_dir, fake_images, capsys, damage):
    DAMAGE[damage][0](run_dir)
    checkpoints = os.path.join(run_dir, "checkpoints")
    damaged = {n: _read(os.path.join(checkpoints, n), "rb") for n in ("ckpt-4.index", DATA)}
    metrics_before = _read(os.path.join(run_dir, "metrics.jsonl"))
    intact = os.path.join(checkpoints, "ckpt-2")
    capsys.readouterr()

    assert _run("infogan-train", run_dir, fake_images, f"--restore_checkpoint={intact}") == 0
    err = capsys.readouterr().err
    assert f"resumed from {intact} at step 2 (explicit --restore_checkpoint)" in err, err[-3000:]
    # The damaged files, the state file and the logs as they were: in set_aside/<time>/, byte for byte.
    (kept,) = os.listdir(os.path.join(run_dir, "set_aside"))
    kept = os.path.join(run_dir, "set_aside", kept)
    assert f"kept in {kept}" in err
    for name, content in damaged.items():
        assert _read(os.path.join(kept, "checkpoints", name), "rb") == content
    assert _read(os.path.join(kept, "metrics.jsonl")) == metrics_before
    assert os.path.isfile(os.path.join(kept, "checkpoints", "checkpoint"))
    # Training went on from step 2: the new ckpt-4 and ckpt-6 read back intact, ckpt-6 is the latest.
    assert rundir.latest_checkpoint(checkpoints) == os.path.join(checkpoints, "ckpt-6")
    for step in (2, 4, 6):
        assert rundir.checkpoint_damage(os.path.join(checkpoints, f"ckpt-{step}")) is None
    steps = [json.loads(line)["step"] for line in _read(os.path.join(run_dir, "metrics.jsonl")).splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]  # each step logged once
    history = json.loads(_read(os.path.join(run_dir, "config.json")))["history"]
    assert history[-1]["step"] == 2 and history[-1]["restored_from"] == intact and history[-1]["set_aside"] == kept
    # The run is whole again: a plain export reads the new latest.
    assert _run("infogan-export", run_dir, fake_images) == 0
    assert os.path.isdir(os.path.join(run_dir, "export", "6"))


def test_a_resume_from_an_older_checkpoint_keeps_the_rotation_and_state_of_the_ones_left(tmp_path, fake_images):
    """Checkpoints 2..8 (keep 5): restoring ckpt-4 sets 6 and 8 aside; the state lists 2 and 4, then the new saves."""
    model_dir = str(tmp_path / "run")

    def config(steps):
        c = tiny_config(model_dir, train_steps=steps)
        return dataclasses.replace(c, runtime=dataclasses.replace(c.runtime, keep_checkpoints=5))

    loop.train(config(8), images=fake_images, progress=lambda _: None)
    checkpoints = os.path.join(model_dir, "checkpoints")
    result = loop.train(
        config(6),
        images=fake_images,
        progress=lambda _: None,
        restore_checkpoint=os.path.join(checkpoints, "ckpt-4"),
    )
    assert result.step == 6
    state = tf.train.get_checkpoint_state(checkpoints)
    assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == ["ckpt-2", "ckpt-4", "ckpt-6"]
    (kept,) = os.listdir(os.path.join(model_dir, "set_aside"))
    assert sorted(os.listdir(os.path.join(model_dir, "set_aside", kept, "checkpoints"))) == [
        "checkpoint",
        "ckpt-6.data-00000-of-00001",
        "ckpt-6.index",
        "ckpt-8.data-00000-of-00001",
        "ckpt-8.index",
    ]


def test_an_unreadable_state_file_is_set_aside_when_training_goes_on_from_the_named_checkpoint(
    run_dir, fake_images, capsys
):
    checkpoints = os.path.join(run_dir, "checkpoints")
    garbage = "model_checkpoint_path: ckpt-4 {{{\n"
    with open(os.path.join(checkpoints, "checkpoint"), "w") as f:
        f.write(garbage)
    capsys.readouterr()
    assert _run("infogan-train", run_dir, fake_images) == 1
    intact = os.path.join(checkpoints, "ckpt-4")
    assert _error_line("infogan-train", capsys).endswith(
        f"is not a readable checkpoint state; nothing was changed; the newest intact checkpoint is {intact}: "
        f"rerun with --restore_checkpoint={intact}"
    )
    assert _run("infogan-train", run_dir, fake_images, f"--restore_checkpoint={intact}") == 0
    (kept,) = os.listdir(os.path.join(run_dir, "set_aside"))
    kept = os.path.join(run_dir, "set_aside", kept, "checkpoints")
    assert os.listdir(kept) == ["checkpoint"] and _read(os.path.join(kept, "checkpoint")) == garbage
    assert rundir.latest_checkpoint(checkpoints) == os.path.join(checkpoints, "ckpt-6")


def test_a_run_dir_in_use_is_refused_before_anything_is_set_aside(run_dir, fake_images, capsys):
    """Setting aside happens under the run directory's lock: a second writer is refused with the directory as it was."""
    _flip_bytes(run_dir)
    before = snapshot(run_dir)
    intact = os.path.join(run_dir, "checkpoints", "ckpt-2")
    with rundir.RunDir(run_dir).lock():
        held = snapshot(run_dir)
        capsys.readouterr()
        code = _run("infogan-train", run_dir, fake_images, f"--restore_checkpoint={intact}")
        assert code == errors.USAGE_EXIT_CODE
        assert "is already being written by this process" in _error_line("infogan-train", capsys)
        assert snapshot(run_dir) == held
    assert snapshot(run_dir) == before


@pytest.mark.parametrize("prog", ["infogan-export", "infogan-evaluate"])
def test_export_and_evaluate_read_the_named_checkpoint(run_dir, fake_images, capsys, prog):
    _flip_bytes(run_dir)
    intact = os.path.join(run_dir, "checkpoints", "ckpt-2")
    checkpoints_before = snapshot(os.path.join(run_dir, "checkpoints"))
    assert _run(prog, run_dir, fake_images, f"--restore_checkpoint={intact}") == 0, capsys.readouterr().err[-3000:]
    if prog == "infogan-export":
        assert os.path.isdir(os.path.join(run_dir, "export", "2"))
    else:
        report = json.loads(_read(os.path.join(run_dir, "eval", "2", "report.json")))
        assert report["model"]["source"] == intact and report["model"]["step"] == 2
    assert snapshot(os.path.join(run_dir, "checkpoints")) == checkpoints_before


@pytest.fixture(scope="module")
def other_run(tmp_path_factory):
    """A tiny run of networks of other shapes (wider filters), one checkpoint at step 2."""
    model_dir = str(tmp_path_factory.mktemp("other") / "run")
    config = tiny_config(model_dir, train_steps=2)
    config = dataclasses.replace(config, model=dataclasses.replace(TINY_MODEL, d_filters=(16, 32)))
    images = random_images()
    loop.train(config.validate(), images=images, progress=lambda _: None)
    return model_dir


@pytest.mark.parametrize("prog", PROGS)
@pytest.mark.parametrize("bad", ["missing", "damaged", "other_shapes"])
def test_a_bad_restore_checkpoint_is_one_line(run_dir, other_run, fake_images, capsys, prog, bad):
    checkpoints = os.path.join(run_dir, "checkpoints")
    if bad == "damaged":
        _flip_bytes(run_dir)
    value = {
        "missing": os.path.join(checkpoints, "ckpt-99"),
        "damaged": os.path.join(checkpoints, "ckpt-4"),
        "other_shapes": os.path.join(other_run, "checkpoints", "ckpt-2"),
    }[bad]
    before = snapshot(run_dir)
    capsys.readouterr()
    assert _run(prog, run_dir, fake_images, f"--restore_checkpoint={value}") == errors.FAILURE_EXIT_CODE
    message = _error_line(prog, capsys)
    expected = {
        "missing": f"{value}: no such checkpoint (expected {value}.index)",
        "damaged": f"cannot restore checkpoint {value}: it is damaged (checksum does not match); the newest intact "
        f"checkpoint is {checkpoints}/ckpt-2: rerun with --restore_checkpoint={checkpoints}/ckpt-2",
        "other_shapes": f"cannot restore checkpoint {value}: it does not hold this run's networks (",
    }[bad]
    assert expected in message, message
    assert snapshot(run_dir) == before


def test_the_python_api_takes_the_flag_the_refusal_names(run_dir):
    """ig.export / ig.evaluate take ``restore_checkpoint=`` (the name in the refusal) as ``checkpoint=``."""
    import infogan_tf as ig

    _flip_bytes(run_dir)
    intact = os.path.join(run_dir, "checkpoints", "ckpt-2")
    with pytest.raises(ig.UsageError, match="give the checkpoint once"):
        ig.export(run_dir, os.path.join(run_dir, "api_export"), checkpoint=intact, restore_checkpoint=intact + "x")
    with pytest.raises(ig.UsageError, match="give the checkpoint once"):
        ig.evaluate(run_dir, checkpoint=intact, restore_checkpoint=intact + "x")
    ig.export(run_dir, os.path.join(run_dir, "api_export"), restore_checkpoint=intact)
    assert os.listdir(os.path.join(run_dir, "api_export")) == ["2"]

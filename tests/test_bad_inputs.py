"""Rows of README's "What happens when…" table that no other test file covers.

Each test asserts the one-line message, the exit status where a command is
run, and that nothing that existed before was modified (bytes and mtimes).
"""

import json
import os
import re
import socket

import local_cluster
import numpy as np
import pytest
import tensorflow as tf
from conftest import snapshot, tiny_config
from local_cluster import TINY_FLAGS

from infogan_tf import config as config_lib
from infogan_tf import errors
from infogan_tf.cli import evaluate as evaluate_cli
from infogan_tf.cli import export as export_cli
from infogan_tf.cli import train as train_cli
from infogan_tf.evaluation.evaluate import EvalConfig, evaluate_model_dir
from infogan_tf.serving.export import ExportConfig, export
from infogan_tf.training import loop
from infogan_tf.training.distribute import check_tf_config, get_strategy


def _zero_data(run):
    with open(os.path.join(run, "checkpoints", "ckpt-4.data-00000-of-00001"), "r+b") as f:
        f.write(b"\0" * 100)


def _truncate_index(run):
    path = os.path.join(run, "checkpoints", "ckpt-4.index")
    with open(path, "rb") as f:
        head = f.read(40)
    with open(path, "wb") as f:
        f.write(head)


def _garbage_state(run):
    with open(os.path.join(run, "checkpoints", "checkpoint"), "w") as f:
        f.write("model_checkpoint_path: ckpt-4 {{{\n")


def _empty_state(run):
    open(os.path.join(run, "checkpoints", "checkpoint"), "w").close()


def _lost_index(run):
    os.remove(os.path.join(run, "checkpoints", "ckpt-4.index"))


def _garbage_config(run):
    with open(os.path.join(run, "config.json"), "w") as f:
        f.write("{not json")


DAMAGE = [
    (_zero_data, errors.CheckpointError, r"^cannot restore checkpoint \S+/ckpt-4: \w+"),
    (_truncate_index, errors.CheckpointError, r"^cannot restore checkpoint \S+/ckpt-4: \w+"),
    (
        _garbage_state,
        errors.CheckpointError,
        r"checkpoints/checkpoint is not a readable checkpoint state; nothing was changed",
    ),
    (
        _empty_state,
        errors.CheckpointError,
        r"checkpoints/checkpoint is not a readable checkpoint state; nothing was changed",
    ),
    (
        _lost_index,
        errors.CheckpointError,
        r"checkpoints/checkpoint names \S+/ckpt-4, but \S+/ckpt-4\.index is missing; nothing was changed",
    ),
    (_garbage_config, errors.ConfigError, r"config\.json is unreadable \(.*\); it is not a valid infogan_tf config"),
]
DAMAGE_IDS = [d[0].__name__.strip("_") for d in DAMAGE]


def _train(run_dir, images):
    loop.train(tiny_config(run_dir, train_steps=6), images=images, progress=lambda _: None)


def _export(run_dir, images):
    export(ExportConfig(model_dir=run_dir, export_dir=os.path.join(run_dir, "export")))


def _evaluate(run_dir, images):
    evaluate_model_dir(EvalConfig(model_dir=run_dir, sample_quality=False, num_samples=10))


READERS = {"train": _train, "export": _export, "evaluate": _evaluate}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("damage, error, message", DAMAGE, ids=DAMAGE_IDS)
def test_a_damaged_run_is_refused_by_every_reader_and_left_as_it_was(
    run_dir, fake_images, damage, error, message, reader
):
    """Training, export and evaluation refuse the same damage with the same error and message."""
    damage(run_dir)
    before = snapshot(run_dir)
    with pytest.raises(error) as e:
        READERS[reader](run_dir, fake_images)
    assert e.type is error and "\n" not in str(e.value)
    assert re.search(message, str(e.value)), str(e.value)
    assert snapshot(run_dir) == before


CLIS = {
    "infogan-train": lambda run_dir, images: train_cli.main(
        ["infogan-train", *TINY_FLAGS, f"--model_dir={run_dir}", "--train_steps=6"], images=images
    ),
    "infogan-export": lambda run_dir, images: export_cli.main(
        ["infogan-export", f"--model_dir={run_dir}", f"--export_dir={run_dir}/export"]
    ),
    "infogan-evaluate": lambda run_dir, images: evaluate_cli.main(
        ["infogan-evaluate", f"--model_dir={run_dir}", "--nosample_quality", "--num_samples=10"]
    ),
}


@pytest.mark.parametrize("prog", sorted(CLIS))
@pytest.mark.parametrize(
    "damage", [_zero_data, _garbage_state, _lost_index], ids=["zero_data", "garbage_state", "lost_index"]
)
def test_every_cli_exits_1_with_the_same_line_on_a_damaged_checkpoint(run_dir, fake_images, capsys, prog, damage):
    damage(run_dir)
    before = snapshot(run_dir)
    capsys.readouterr()
    assert CLIS[prog](run_dir, fake_images) == 1
    err = capsys.readouterr().err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"{prog}: error: "), err[-2000:]
    message = line[len(f"{prog}: error: ") :]
    with pytest.raises(errors.CheckpointError) as e:
        _train(run_dir, fake_images)
    assert message == str(e.value)
    assert "Traceback" not in err
    assert snapshot(run_dir) == before


def test_wrong_format_data_files_exit_1_and_change_nothing(tmp_path, run_dir, capsys):
    """Files with the right names but foreign content fail TFDS's checksum; the run and data_dir stay as they were."""
    manual = tmp_path / "manual"
    manual.mkdir()
    for name in config_lib.DATASETS["mnist"].manual_files:
        (manual / name).write_bytes(b"this is not an IDX file\n" * 10)
    data_dir = tmp_path / "tfds"
    before = snapshot(run_dir)
    code = train_cli.main(
        [
            "infogan-train",
            *TINY_FLAGS,
            f"--model_dir={run_dir}",
            "--train_steps=6",
            f"--manual_dir={manual}",
            f"--data_dir={data_dir}",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1, err[-3000:]
    line = err.strip().splitlines()[-1]
    assert line.startswith(
        f"infogan-train: error: could not prepare mnist from the original files in --manual_dir '{manual}'"
    )
    assert "Traceback" not in err
    assert snapshot(run_dir) == before
    assert not list(data_dir.glob("mnist/*/dataset_info.json"))


@pytest.mark.parametrize(
    "tf_config, message",
    [
        (None, "--strategy=multi_worker needs the TF_CONFIG environment variable"),
        ("{cluster", "TF_CONFIG is not valid JSON"),
        ('{"cluster": {}}', "TF_CONFIG needs a 'cluster' with a 'worker' list of host:port"),
        (
            '{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {"type": "worker", "index": 0}}',
            "TF_CONFIG's cluster may hold 'chief' and 'worker' jobs only, not ps",
        ),
        (
            '{"cluster": {"worker": ["a:1", "b:2"]}}',
            "TF_CONFIG's 'task' must name a job of its cluster (worker), got None",
        ),
        (
            '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}',
            "TF_CONFIG's task index 2 is outside job 'worker', which has 2 task(s)",
        ),
    ],
)
def test_a_bad_tf_config_is_named(tf_config, message):
    with pytest.raises(errors.ConfigError) as e:
        check_tf_config(tf_config)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_multi_worker_after_tensorflow_started_is_a_clear_error(monkeypatch):
    tf.constant(1.0) + 1.0  # this process has run TF ops (as any library user's may have)
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}})
    )
    with pytest.raises(
        errors.ConfigError, match="--strategy=multi_worker must be created before TensorFlow runs any op"
    ):
        get_strategy("multi_worker")


@pytest.mark.slow
@pytest.mark.multiworker
def test_a_worker_whose_port_is_taken_exits_2_and_creates_nothing(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        tf_config = json.dumps({"cluster": {"worker": [address]}, "task": {"type": "worker", "index": 0}})
        model_dir = tmp_path / "run"
        run = local_cluster.start(
            str(tmp_path), "busy", ["--strategy=multi_worker", *TINY_FLAGS, f"--model_dir={model_dir}"], tf_config
        )
        assert local_cluster.finish([run], timeout=240) == [2], run.err()[-3000:]
    assert run.last_line().startswith(f"infogan-train: error: this worker cannot listen on {address} from TF_CONFIG")
    assert not model_dir.exists()


def _rotate_away(run_dir, step):
    """What a run with --keep_checkpoints=1 does at its next save: ckpt-<step> leaves the state, then the disk."""
    checkpoints = os.path.join(run_dir, "checkpoints")
    newer = os.path.join(checkpoints, "ckpt-6")
    tf.compat.v1.train.update_checkpoint_state(checkpoints, newer, all_model_checkpoint_paths=[newer])
    for name in os.listdir(checkpoints):
        if name.startswith(f"ckpt-{step}."):
            os.remove(os.path.join(checkpoints, name))


def _rotating_load(monkeypatch, run_dir, step):
    """tf.train.load_checkpoint, with the trainer deleting ckpt-<step> just as a reader opens it."""
    real_load = tf.train.load_checkpoint

    def load(path):
        _rotate_away(run_dir, step)
        return real_load(path)

    monkeypatch.setattr(tf.train, "load_checkpoint", load)


def test_a_checkpoint_deleted_by_a_training_run_while_being_read_is_a_retryable_error(run_dir, monkeypatch):
    """A reader that chose a checkpoint while it was there gets a clear 'run it again', never a half-read model."""
    from infogan_tf.training import rundir

    prefix = os.path.join(run_dir, "checkpoints", "ckpt-2")
    restored = rundir.restore_networks(run_dir, os.path.join(run_dir, "checkpoints", "ckpt-4"))
    before = [v.numpy() for v in restored.generator.weights]
    _rotating_load(monkeypatch, run_dir, 2)
    with pytest.raises(errors.CheckpointGoneError) as e:
        rundir.restore_checkpoint(tf.train.Checkpoint(generator=restored.generator), prefix, partial=True)
    assert str(e.value) == (
        f"checkpoint {prefix} was deleted while it was being read (its run is still training and keeps only its "
        "newest --keep_checkpoints); nothing was read from it: run the command again"
    )
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, restored.generator.weights))


@pytest.mark.parametrize("prog", ["infogan-export", "infogan-evaluate"])
def test_export_and_evaluate_say_so_in_one_line_when_the_latest_checkpoint_is_rotated_away(
    run_dir, monkeypatch, capsys, prog
):
    _rotating_load(monkeypatch, run_dir, 4)
    capsys.readouterr()
    assert CLIS[prog](run_dir, None) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    prefix = os.path.join(run_dir, "checkpoints", "ckpt-4")
    assert line == (
        f"{prog}: error: checkpoint {prefix} was deleted while it was being read (its run is still training and "
        "keeps only its newest --keep_checkpoints); nothing was read from it: run the command again"
    )
    assert not os.path.exists(os.path.join(run_dir, "export")) and not os.path.exists(os.path.join(run_dir, "eval"))

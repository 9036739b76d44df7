"""What a resumed run may change (recorded in config.json) or not (refused), and logs rewound to the restored step."""

import dataclasses
import json
import os

import pytest
import tensorflow as tf
from conftest import snapshot, tiny_config
from local_cluster import TINY_FLAGS

from infogan_tf.cli import train as train_cli
from infogan_tf.training import loop, records, resume


def _train(config, images):
    return loop.train(config, images=images, progress=lambda _: None)


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--seed=3", "holds a run trained with --seed=0; resuming it with --seed=3 would make it another run"),
        ("--batch_size=16", "holds a run trained with --batch_size=8; resuming it with --batch_size=16"),
        ("--update=joint", "holds a run trained with --update=alternating; resuming it with --update=joint"),
        (
            "--real_info_view=affine",
            "holds a run trained with --real_info_view=deskewed; resuming it with --real_info_view=affine",
        ),
    ],
)
def test_a_resume_that_would_make_another_run_is_refused_and_changes_nothing(
    run_dir, fake_images, capsys, flag, message
):
    # run_dir: a copy of the session's tiny run (4 steps, the defaults but the tiny model's sizes).
    before = snapshot(run_dir)
    code = train_cli.main(
        ["infogan-train", *TINY_FLAGS, f"--model_dir={run_dir}", "--train_steps=6", flag], images=fake_images
    )
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"infogan-train: error: --model_dir {run_dir} ") and message in lines[0]
    assert snapshot(run_dir) == before


def test_allowed_changes_are_recorded_with_the_step_they_took_effect_at(tmp_path, fake_images):
    cfg = tiny_config(str(tmp_path), train_steps=2)
    _train(cfg, fake_images)
    assert "history" not in json.loads((tmp_path / "config.json").read_text())
    # The same flags again (a finished run): nothing to record.
    _train(cfg, fake_images)
    assert "history" not in json.loads((tmp_path / "config.json").read_text())

    longer = dataclasses.replace(
        cfg,
        optim=dataclasses.replace(cfg.optim, train_steps=4, d_learning_rate=1e-4),
        runtime=dataclasses.replace(cfg.runtime, log_every=2),
    )
    _train(longer, fake_images)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["optim"]["train_steps"] == 4 and saved["optim"]["d_learning_rate"] == 1e-4
    (entry,) = saved["history"]
    assert entry["step"] == 2 and entry["time"]
    assert entry["changes"] == {
        "optim.d_learning_rate": {"from": 2e-4, "to": 1e-4},
        "optim.train_steps": {"from": 2, "to": 4},
        "runtime.log_every": {"from": 1, "to": 2},
    }
    # The config still reads back, and a later resume keeps the history.
    assert resume.changes(saved, longer) == {}
    _train(dataclasses.replace(longer, optim=dataclasses.replace(longer.optim, train_steps=5)), fake_images)
    history = json.loads((tmp_path / "config.json").read_text())["history"]
    assert [h["step"] for h in history] == [2, 4] and history[1]["changes"] == {
        "optim.train_steps": {"from": 4, "to": 5}
    }


def _scalar_steps(summary_dir, tag):
    steps = []
    for path in tf.io.gfile.glob(os.path.join(summary_dir, "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            steps += [event.step for v in event.summary.value if v.tag == tag]
    return sorted(steps)


def test_a_resumed_run_logs_every_step_exactly_once(tmp_path, fake_images):
    """Steps logged after the last checkpoint by a run that was killed are not logged twice."""
    cfg = tiny_config(str(tmp_path), train_steps=4)
    _train(cfg, fake_images)
    # What a run killed at step 6 after its checkpoint of step 4 leaves: later lines and events, a cut line.
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 5, "d_loss": 1.0}) + "\n" + json.dumps({"step": 6, "d_loss": 1.0}) + "\n")
        f.write('{"step": 7, "d_lo')
    writer = tf.summary.create_file_writer(str(tmp_path / "train"))
    with writer.as_default():
        for step in (5, 6):
            tf.summary.scalar("d_loss", 1.0, step=step)
    writer.close()
    assert _scalar_steps(str(tmp_path / "train"), "d_loss") == [1, 2, 3, 4, 5, 6]

    _train(dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, train_steps=7)), fake_images)
    steps = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6, 7]
    assert all(json.loads(line)["d_loss"] != 1.0 for line in (tmp_path / "metrics.jsonl").read_text().splitlines())
    assert _scalar_steps(str(tmp_path / "train"), "d_loss") == [1, 2, 3, 4, 5, 6, 7]


@pytest.mark.unit
def test_rewinding_a_truncated_event_file_keeps_the_complete_records(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        for step in range(1, 4):
            tf.summary.scalar("x", float(step), step=step)
    writer.close()
    (path,) = tf.io.gfile.glob(str(tmp_path / "events.out.tfevents.*"))
    with open(path, "ab") as f:
        f.write(b"\x10\x00\x00")  # a record cut short
    assert records.rewind_events(str(tmp_path), step=2) == 1
    assert _scalar_steps(str(tmp_path), "x") == [1, 2]
    assert records.rewind_events(str(tmp_path), step=2) == 0  # now clean: left as it is

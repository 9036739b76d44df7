"""The infogan-train command line: flags, messages and exit codes, in process (``cli.train.main``).

One smoke test runs the installed console script; the subprocess behaviour
(SIGTERM, clusters) is tested in test_fault_tolerance.py and test_multi_worker.py.
"""

import dataclasses
import json
import os
import signal

import numpy as np
import pytest
import tensorflow as tf
from absl import flags as absl_flags
from conftest import MNIST_DIR

from infogan_tf import config as config_lib
from infogan_tf import errors, presets
from infogan_tf.cli import train as train_cli
from infogan_tf.training import loop

TINY_FLAGS = [
    "--train_steps=2",
    "--batch_size=8",
    "--log_every=1",
    "--summary_every=2",
    "--checkpoint_every=2",
    "--g_fc_units=32",
    "--g_filters=16,8",
    "--d_filters=8,16",
    "--d_fc_units=32",
    "--q_fc_units=16",
]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
METRICS = {"d_loss": 1.5, "g_loss": 0.5, "mi_loss": 4.0, "info_lower_bound": 1.0, "real_info": 0.1}
METRICS.update(d_real=0.6, d_fake=0.4, steps_per_sec=10.0, elapsed_s=0.7)


def _main(*args, **seams):
    return train_cli.main(["infogan-train", *args], **seams)


def _parsed(*args):
    values = absl_flags.FlagValues()
    train_cli.define_flags(values)
    values(["infogan-train", *args])
    return values


@pytest.mark.unit
@pytest.mark.parametrize(
    "flags, message",
    [
        (["--train_steps=0"], "--train_steps must be positive, got 0"),
        (["--batch_size=-1"], "--batch_size must be positive, got -1"),
        (
            ["--batch_size=9", "--strategy=mirrored", "--num_devices=2"],
            "--batch_size 9 must be divisible by the number of replicas",
        ),
        (["--dataset=Cifar-100"], "--dataset 'Cifar-100' is not a TFDS dataset name"),
        (["--strategy=tpu"], "--strategy must be one of"),
        (["--categorical_codes=10,1"], "every cardinality must be >= 2, got 1"),
        (["--categorical_codes=ten"], "--categorical_codes must be comma-separated integers"),
        (["--lambda_cont=-0.5"], "--lambda_cont must be a finite number >= 0, got -0.5"),
        (["--noise_dim=-3"], "--noise_dim must be >= 0"),
        (["--manual_dir=/nonexistent/mnist"], "--manual_dir '/nonexistent/mnist' is not a directory"),
        (["stray_argument"], "unexpected arguments: stray_argument"),
        (["--jit_compile", "--strategy=mirrored", "--num_devices=2"], "--jit_compile works with a single replica only"),
        (["--mixed_precision=float16"], "--mixed_precision=float16: value should be one of"),
        (["--batch_size=many"], "--batch_size=many"),
        (["--no_such_flag=1"], "Unknown command line flag 'no_such_flag'"),
        (["--d_filters=8,x"], "--d_filters must be comma-separated integers, got '8,x'"),
        (["--flagfile=/nonexistent/run.flags"], "/nonexistent/run.flags"),
    ],
)
def test_bad_flags_fail_fast_with_one_line_and_create_nothing(tmp_path, capsys, flags, message):
    model_dir = tmp_path / "run"
    assert _main(f"--model_dir={model_dir}", *flags) == 2
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("infogan-train: error: ") and message in lines[0], out.err
    assert out.out == ""
    assert not model_dir.exists()


@pytest.mark.unit
def test_manual_dir_without_the_dataset_files(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _main(f"--model_dir={tmp_path / 'run'}", f"--manual_dir={empty}") == 2
    err = capsys.readouterr().err
    assert "lacks train-images-idx3-ubyte.gz" in err and "needs the original files" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.unit
@pytest.mark.parametrize("help_flag", ["--help", "--helpfull"])
def test_help_documents_every_flag(capsys, help_flag):
    assert _main(help_flag) == 0
    out = capsys.readouterr().out
    for flag in (
        "dataset",
        "data_dir",
        "manual_dir",
        "model_dir",
        "train_steps",
        "batch_size",
        "strategy",
        "categorical_codes",
        "continuous_codes",
        "noise_dim",
        "lambda_cat",
        "lambda_cont",
        "d_learning_rate",
        "g_learning_rate",
        "seed",
        "checkpoint_every",
        "summary_every",
        "keep_checkpoints",
        "flagfile",
        "lambda_real_info",
        "real_info_view",
        "update",
    ):
        assert f"--{flag}" in out, flag
    assert "--[no]jit_compile" in out
    assert "infogan-train --flagfile=my_run.flags" in out  # the module docstring's examples


@pytest.mark.unit
def test_every_config_field_is_a_flag_with_the_fields_help_and_default():
    values = _parsed()
    names = set()
    for part in train_cli.PARTS.values():
        for field in dataclasses.fields(part):
            if field.metadata.get("flag", True) is False:
                assert field.name not in values, field.name
                continue
            names.add(field.name)
            flag = values[field.name]
            assert field.metadata["help"] and field.metadata["help"] in flag.help, field.name
            default = list(map(str, field.default)) if isinstance(field.default, tuple) else field.default
            assert flag.default == default, field.name
    assert "image_shape" not in values
    # Besides the fields: the preset, the latent codes, and the checkpoint to resume from (not a setting of the run).
    assert set(values) - names == {
        "preset",
        "categorical_codes",
        "continuous_codes",
        "continuous_range",
        "noise_dim",
        "restore_checkpoint",
    }
    assert values["continuous_std"].parser.enum_values == ["learned", "fixed"]
    assert values["jit_compile"].default is None


@pytest.mark.unit
def test_flags_build_the_config_and_only_explicit_flags_override_the_preset():
    assert train_cli.config_from_flags(_parsed()) == config_lib.TrainConfig().validate()
    svhn = presets.PRESETS["svhn"](config_lib.TrainConfig())
    # A flag given with the default's value still overrides the preset (svhn: g_filters 448,256,128,64; 124 noise dims).
    cfg = train_cli.config_from_flags(
        _parsed("--preset=svhn", "--g_filters=128,64", "--noise_dim=62", "--d_filters=8,16", "--nojit_compile")
    )
    assert cfg.model.g_filters == (128, 64) and cfg.latent.noise_dim == 62 and cfg.model.d_filters == (8, 16)
    assert cfg.latent.categorical == svhn.latent.categorical and cfg.model.image_shape == (32, 32, 3)
    assert cfg.data.dataset == "svhn_cropped" and cfg.runtime.jit_compile is False
    # Flags not given keep the preset's values.
    assert train_cli.config_from_flags(_parsed("--preset=svhn")).model.g_filters == (448, 256, 128, 64)
    assert train_cli.config_from_flags(_parsed("--real_info_flip")).real_info.real_info_flip is True
    assert train_cli.config_from_flags(_parsed("--real_info_level_ink")).real_info.real_info_level_ink is True
    assert train_cli.config_from_flags(_parsed("--real_info_scale=0.25")).real_info.real_info_scale == 0.25
    assert train_cli.config_from_flags(_parsed("--real_info_balance=2")).real_info.real_info_balance == 2.0
    assert train_cli.config_from_flags(_parsed("--real_info_erase=0.15")).real_info.real_info_erase == 0.15


@pytest.mark.unit
def test_only_mnist_digits_get_upright_views_unless_the_flag_says_otherwise():
    def view(*args):
        return train_cli.config_from_flags(_parsed(*args)).real_info.real_info_view

    # The README's command: the mnist preset, whose views are made upright (presets.py).
    assert view() == view("--preset=mnist") == "deskewed"
    assert view("--dataset=mnist:3.*.*", "--image_size=28", "--channels=1") == "deskewed"  # (not read: sized)
    assert config_lib.TrainConfig().real_info.real_info_view == "deskewed"
    # Every other preset, and other data without a preset, keeps the slant of its copies.
    for preset in sorted(set(presets.PRESETS) - {"mnist"}):
        assert view(f"--preset={preset}", "--dataset=mnist") == "affine", preset
    assert view("--dataset=fashion_mnist") == view("--dataset=svhn_cropped") == "affine"
    # A flag given explicitly wins either way.
    assert view("--real_info_view=affine") == "affine"
    assert view("--preset=fashion_mnist", "--real_info_view=deskewed") == "deskewed"


@pytest.mark.unit
def test_only_the_fashion_preset_levels_the_ink_of_its_copies_unless_the_flag_says_otherwise():
    def level(*args):
        return train_cli.config_from_flags(_parsed(*args)).real_info.real_info_level_ink

    assert level("--preset=fashion_mnist") is True
    for preset in sorted(set(presets.PRESETS) - {"fashion_mnist"}):
        assert level(f"--preset={preset}", "--dataset=mnist") is False, preset
    assert level("--dataset=fashion_mnist") is False  # the preset sets it, not the dataset
    assert level("--preset=fashion_mnist", "--noreal_info_level_ink") is False


@pytest.mark.unit
@pytest.mark.parametrize(
    "field, in_preset, default, flag",
    [("real_info_scale", 0.4, 0.1, "--real_info_scale=0.1"), ("real_info_balance", 2.0, 1.0, "--real_info_balance=1")],
)
def test_only_the_fashion_preset_widens_its_copies_and_weights_their_balance_unless_the_flag_says_otherwise(
    field, in_preset, default, flag
):
    def value(*args):
        return getattr(train_cli.config_from_flags(_parsed(*args)).real_info, field)

    assert value("--preset=fashion_mnist") == in_preset
    for preset in sorted(set(presets.PRESETS) - {"fashion_mnist"}):
        assert value(f"--preset={preset}", "--dataset=mnist") == default, preset
    assert value() == value("--dataset=fashion_mnist") == getattr(config_lib.TrainConfig().real_info, field) == default
    assert value("--preset=fashion_mnist", flag) == default


@pytest.mark.unit
def test_seams_reach_the_training_library_and_exit_codes_follow_the_result(tmp_path, capsys, monkeypatch):
    calls = []
    result = loop.TrainResult(
        step=7,
        checkpoint=str(tmp_path / "checkpoints" / "ckpt-7"),
        summary_dir=str(tmp_path / "train"),
        metrics={},
    )

    def fake_train(config, strategy, images=None, input_fn=None, reporter=None, **more):
        assert more == {"restore_checkpoint": None, "terms": ()}
        calls.append((config, strategy, images, input_fn))
        reporter.say("a message")
        reporter.begin(0, 7)
        reporter.log(7, METRICS)
        reporter.end()
        return result._replace(metrics=METRICS)

    monkeypatch.setattr(loop, "train", fake_train)
    strategy, images, input_fn = object(), np.zeros([8, 28, 28, 1], np.uint8), object()
    assert _main(f"--model_dir={tmp_path}", images=images, strategy=strategy, input_fn=input_fn) == 0
    ((config, *seams),) = calls
    assert config.runtime.model_dir == str(tmp_path) and seams == [strategy, images, input_fn]
    out = capsys.readouterr()
    # capsys is no terminal: plain lines, the summary on stdout.
    err = out.err.splitlines()
    assert err[0] == "infogan-train: a message" and err[1].startswith("infogan-train: step 7/7 d_loss=1.5000 ")
    assert out.out.startswith("infogan-train: done: step 7/3000, 7 steps in 0:00:0")
    assert f"  checkpoint   {result.checkpoint}\n" in out.out
    assert f"  infogan-export --model_dir={tmp_path} --export_dir=export/models/infogan_{tmp_path.name}\n" in out.out

    calls.clear()
    monkeypatch.setattr(loop, "train", lambda *a, **k: result._replace(stopped_by=signal.SIGTERM))
    assert _main(f"--model_dir={tmp_path}", strategy=strategy) == errors.PREEMPTED_EXIT_CODE == 143
    out = capsys.readouterr()
    assert out.out == "" and out.err.strip().splitlines()[-2:] == [
        f"  resume with  infogan-train --model_dir={tmp_path}",
        f"infogan-train: preempted (SIGTERM) at step 7; checkpoint {result.checkpoint}; "
        "rerun the same command to resume",
    ]
    monkeypatch.setattr(loop, "train", lambda *a, **k: result._replace(stopped_by=signal.SIGTERM, checkpoint=None))
    assert _main(f"--model_dir={tmp_path}", strategy=strategy) == 143
    assert "at step 7; the chief saved the checkpoint; rerun" in capsys.readouterr().err
    monkeypatch.setattr(loop, "train", lambda *a, **k: result._replace(stopped_by=signal.SIGINT))
    assert _main(f"--model_dir={tmp_path}", strategy=strategy) == errors.INTERRUPTED_EXIT_CODE == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"infogan-train: interrupted (Ctrl-C) at step 7; checkpoint {result.checkpoint}; "
        "rerun the same command to resume"
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    "error, code",
    [
        (errors.NonFiniteError("non-finite d_loss at step 3\n(details)"), 1),
        (errors.DataError("no MNIST here"), 1),
        (errors.ClusterError("the cluster lost worker 1"), 1),
        (errors.ConfigError("--model_dir runs/x holds a run with a different configuration"), 2),
    ],
)
def test_library_errors_become_one_line_and_their_exit_code(tmp_path, capsys, monkeypatch, error, code):
    def failing_train(*args, **kwargs):
        raise error

    monkeypatch.setattr(loop, "train", failing_train)
    assert _main(f"--model_dir={tmp_path}", strategy=object()) == code
    assert capsys.readouterr().err == f"infogan-train: error: {errors.first_line(error)}\n"


@pytest.mark.slow
def test_trains_on_injected_images_under_an_injected_strategy(tmp_path, capsys, fake_images):
    model_dir = tmp_path / "run"
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    assert _main(*TINY_FLAGS, f"--model_dir={model_dir}", "--nojit_compile", images=fake_images, strategy=strategy) == 0
    out = capsys.readouterr()
    summary = out.out.splitlines()
    assert summary[0].startswith("infogan-train: done: step 2/2, 2 steps in ") and "steps/s" in summary[0]
    assert summary[1].startswith("  L_I          ") and "of H(c) = 2.3026" in summary[1]
    assert summary[2:5] == [
        f"  checkpoint   {model_dir}/checkpoints/ckpt-2",
        f"  TensorBoard  {model_dir}/train",
        "next:",
    ]
    export_dir = "export/models/infogan_run"
    assert f"  infogan-export --model_dir={model_dir} --export_dir={export_dir}" in summary
    assert f"  infogan-evaluate --model_dir={model_dir}" in summary
    assert f"  infogan-explore --saved_model={export_dir}/2" in summary
    assert summary[-1] == f"  tensorboard --logdir={model_dir}"
    assert "infogan-train: step 2/2" in out.err and "steps/s" in out.err
    assert json.loads((model_dir / "config.json").read_text())["optim"]["train_steps"] == 2


@pytest.mark.slow
def test_train_resume_and_refuse_a_different_config(tmp_path, capsys, mnist_data_dir):
    model_dir = tmp_path / "run"
    flagfile = tmp_path / "run.flags"
    # No XLA: compiling costs more than these steps (XLA's path: test_trainer.py).
    flags = [*TINY_FLAGS, "--nojit_compile", f"--data_dir={mnist_data_dir}", f"--model_dir={model_dir}"]
    flagfile.write_text("\n".join(flags) + "\n")

    assert _main(f"--flagfile={flagfile}", f"--manual_dir={MNIST_DIR}") == 0
    out = capsys.readouterr()
    assert f"checkpoint   {model_dir}/checkpoints/ckpt-2" in out.out
    assert "step 2/2" in out.err and "L_I=" in out.err and "steps/s" in out.err and "ETA" in out.err
    saved = json.loads((model_dir / "config.json").read_text())
    assert saved["optim"]["batch_size"] == 8 and saved["model"]["d_filters"] == [8, 16]

    # Resuming continues to the new --train_steps from the saved step.
    assert _main(f"--flagfile={flagfile}", "--train_steps=3") == 0
    out = capsys.readouterr()
    assert "at step 2" in out.err and f"checkpoint   {model_dir}/checkpoints/ckpt-3" in out.out
    assert "1 step in" in out.out and "resumed at 2" in out.out

    # A different code layout is refused; nothing in model_dir changes.
    before = {p: p.stat().st_mtime_ns for p in model_dir.rglob("*")}
    assert _main(f"--flagfile={flagfile}", "--train_steps=4", "--categorical_codes=12") == 2
    err = capsys.readouterr().err
    assert "holds a run with a different configuration" in err
    assert "latent.categorical: saved [10], now [12]" in err
    assert {p: p.stat().st_mtime_ns for p in model_dir.rglob("*")} == before


@pytest.mark.unit
def test_a_preset_of_another_size_than_its_default_dataset_needs_its_images_named():
    with pytest.raises(errors.ConfigError) as e:
        train_cli.config_from_flags(_parsed("--preset=chairs"))
    assert str(e.value) == (
        "--preset=chairs takes (64, 64, 1) images and --dataset=mnist has (28, 28, 1); "
        "give the images with --image_dir (or name a --dataset explicitly)"
    )
    # A dataset named explicitly is resized to the preset's networks.
    cfg = train_cli.config_from_flags(_parsed("--preset=faces", "--dataset=mnist"))
    assert cfg.model.image_shape == (32, 32, 1) and cfg.latent.continuous == 5

"""The infogan-train command line, run as a user runs it (subprocesses)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import MNIST_DIR

TINY_FLAGS = [
    "--train_steps=2", "--batch_size=8", "--log_every=1", "--summary_every=2", "--checkpoint_every=2",
    "--g_fc_units=32", "--g_base_filters=16", "--d_filters=8,16", "--d_fc_units=32", "--q_fc_units=16",
]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _run(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "infogan_tf.train", *args], capture_output=True, text=True, env=ENV, timeout=timeout
    )


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--train_steps=0"], "--train_steps must be positive, got 0"),
        (["--batch_size=-1"], "--batch_size must be positive, got -1"),
        (["--batch_size=9", "--strategy=mirrored", "--num_devices=2"], "--batch_size 9 must be divisible by the number of replicas"),
        (["--dataset=cifar100"], "--dataset must be one of"),
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
    ],
)
def test_bad_flags_fail_fast_with_one_line_and_create_nothing(tmp_path, flags, message):
    model_dir = tmp_path / "run"
    out = _run(f"--model_dir={model_dir}", *flags, timeout=120)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("infogan-train: error: ") and message in lines[0], out.stderr
    assert not model_dir.exists()


def test_manual_dir_without_the_dataset_files(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = _run(f"--model_dir={tmp_path / 'run'}", f"--manual_dir={empty}", timeout=120)
    assert out.returncode == 2
    assert "lacks train-images-idx3-ubyte.gz" in out.stderr and "needs the original files" in out.stderr
    assert not (tmp_path / "run").exists()


def test_help_documents_every_flag():
    out = subprocess.run(
        [sys.executable, "-m", "infogan_tf.train", "--helpfull"], capture_output=True, text=True, env=ENV
    )
    for flag in (
        "dataset", "data_dir", "manual_dir", "model_dir", "train_steps", "batch_size", "strategy",
        "categorical_codes", "continuous_codes", "noise_dim", "lambda_cat", "lambda_cont", "d_learning_rate",
        "g_learning_rate", "seed", "checkpoint_every", "summary_every", "keep_checkpoints", "flagfile",
        "lambda_real_info", "real_info_view", "update",
    ):
        assert f"--{flag}" in out.stdout, flag
    assert "--[no]jit_compile" in out.stdout


def test_console_script_is_installed():
    exe = shutil.which("infogan-train")
    assert exe, "infogan-train is not on PATH (pip install -e .)"
    out = subprocess.run([exe, "--train_steps=-5"], capture_output=True, text=True, env=ENV)
    assert out.returncode == 2 and "--train_steps must be positive" in out.stderr


def test_train_resume_and_refuse_a_different_config(tmp_path, mnist_data_dir):
    model_dir = tmp_path / "run"
    flagfile = tmp_path / "run.flags"
    flagfile.write_text("\n".join([*TINY_FLAGS, f"--data_dir={mnist_data_dir}", f"--model_dir={model_dir}"]) + "\n")

    out = _run(f"--flagfile={flagfile}", f"--manual_dir={MNIST_DIR}")
    assert out.returncode == 0, out.stderr
    assert f"checkpoint {model_dir}/checkpoints/ckpt-2" in out.stdout
    assert "step 2/2" in out.stderr and "L_I=" in out.stderr and "steps/s" in out.stderr and "ETA" in out.stderr
    saved = json.loads((model_dir / "config.json").read_text())
    assert saved["optim"]["batch_size"] == 8 and saved["model"]["d_filters"] == [8, 16]

    # Resuming continues to the new --train_steps from the saved step.
    out = _run(f"--flagfile={flagfile}", "--train_steps=3")
    assert out.returncode == 0, out.stderr
    assert "at step 2" in out.stderr and f"checkpoint {model_dir}/checkpoints/ckpt-3" in out.stdout

    # A different code layout is refused; nothing in model_dir changes.
    before = {p: p.stat().st_mtime_ns for p in model_dir.rglob("*")}
    out = _run(f"--flagfile={flagfile}", "--train_steps=4", "--categorical_codes=12")
    assert out.returncode == 2
    assert "holds a run with a different configuration" in out.stderr
    assert "latent.categorical: saved [10], now [12]" in out.stderr
    assert {p: p.stat().st_mtime_ns for p in model_dir.rglob("*")} == before

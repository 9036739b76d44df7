"""The six console scripts are installed and run as a user runs them: a bad flag, one line, exit 2, nothing written.

The only subprocess test of each CLI; everything else about the CLIs is
tested in-process through their ``main(argv, ...)``.
"""

import os
import shutil
import subprocess

import pytest

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}

CASES = {
    "infogan-train": (["--train_steps=-5"], "--train_steps must be positive, got -5"),
    "infogan-export": (["--export_dir={tmp}/models"], "--model_dir is required"),
    "infogan-sample": (["--saved_model={tmp}", "--out=grid.jpg"], "--out must be a .png path, got 'grid.jpg'"),
    "infogan-evaluate": (
        ["--model_dir=/nonexistent/run"],
        "--model_dir '/nonexistent/run' has no config.json; it is not an infogan_tf training run",
    ),
    "infogan-classifier": (["--epochs=0", "--out={tmp}/cache"], "--epochs must be positive, got 0"),
    "infogan-explore": (["--saved_model={tmp}", "--port=70000"], "--port must be in 0..65535, got 70000"),
}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(CASES))
def test_console_script_refuses_a_bad_flag_with_one_line(tmp_path, script):
    exe = shutil.which(script)
    assert exe, f"{script} is not on PATH (pip install -e .)"
    args, message = CASES[script]
    before = sorted(os.listdir(tmp_path))
    proc = subprocess.run(
        [exe, *(a.format(tmp=tmp_path) for a in args)], capture_output=True, text=True, env=ENV, timeout=120
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [f"{script}: error: {message}"]
    assert sorted(os.listdir(tmp_path)) == before  # nothing written

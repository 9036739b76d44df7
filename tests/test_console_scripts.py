"""The six console scripts are installed and run as a user runs them: a bad flag, one line, exit 2, nothing written.

The only subprocess tests of each CLI (and of TensorFlow's start-up lines,
hidden by default, shown with --verbosity=0); everything else about the
CLIs is tested in-process through their ``main(argv, ...)``.
"""

import os
import re
import shutil
import subprocess

import pytest

# As a user's shell has it: no TF_CPP_MIN_LOG_LEVEL, no INFOGAN_TF_VERBOSE.
ENV = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "INFOGAN_TF_VERBOSE")}
# A line of TensorFlow's C++ logging: "I0000 00:00:1796172394.346208   30653 port.cc:153] oneDNN custom ...".
CPP_LOG_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\] ", re.M)

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


@pytest.mark.slow
def test_tensorflow_start_up_lines_are_hidden_by_default_and_shown_with_verbosity(tmp_path):
    """infogan-export imports TensorFlow before it finds that --model_dir does not exist."""
    exe = shutil.which("infogan-export")
    assert exe
    args = [exe, "--model_dir=/nonexistent/run", f"--export_dir={tmp_path}/models"]
    error = "infogan-export: error: --model_dir /nonexistent/run is not a directory"
    quiet = subprocess.run(args, capture_output=True, text=True, env=ENV, timeout=120)
    assert quiet.stderr.splitlines() == [error], quiet.stderr[-3000:]
    loud = subprocess.run([*args, "--verbosity=0"], capture_output=True, text=True, env=ENV, timeout=120)
    assert quiet.returncode == loud.returncode == 1
    assert CPP_LOG_LINE.search(loud.stderr), loud.stderr[-3000:]
    assert loud.stderr.splitlines()[-1] == error  # the real error still shows, last

"""The soak benchmark, short: three interruptions (SIGINT, SIGTERM, SIGKILL); the run ends as if never interrupted."""

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO


@pytest.mark.slow
def test_three_interruptions_leave_the_run_as_if_never_interrupted(tmp_path):
    command = [sys.executable, "-m", "benchmarks.fault_soak", "--interruptions=3"]
    command += ["--train_steps=60", f"--runs_dir={tmp_path / 'soak'}", "--fake_images=256"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout[proc.stdout.index("{\n") :])
    assert report["interruptions_survived"] == 3
    assert report["by_signal"] == {"SIGINT": 1, "SIGTERM": 1, "SIGKILL": 1}
    assert report["all_checks_pass"] and all(report["checks"].values()), report["checks"]
    assert report["max_abs_weight_difference"] <= 1e-5 and report["tensors_compared"] > 50
    exits = {e["signal"]: e["exit"] for e in report["events"]}
    assert exits == {"SIGINT": 130, "SIGTERM": 143, "SIGKILL": -9}

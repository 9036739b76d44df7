"""The soak benchmark, short: three interruptions (SIGINT, SIGTERM, SIGKILL); the run ends as if never interrupted.

The SIGINT and SIGTERM processes are also where the suite checks a clean stop
of the single-process CLI: the one-line message naming the checkpoint saved at
the step it stopped at, that checkpoint the latest and complete, no traceback.
The SIGKILL (``--kill_in_write``) is where it checks a kill inside a
checkpoint write, the process frozen with the write's temp files on disk:
the state file names a complete checkpoint, every one it lists is complete,
two are kept, the rerun resumes from the named one, and no debris of the
write is left at the end (``benchmarks/fault_soak.py`` lists the checks).
"""

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

STOPPED = {"SIGINT": "interrupted (Ctrl-C)", "SIGTERM": "preempted (SIGTERM)"}


@pytest.mark.slow
def test_three_interruptions_leave_the_run_as_if_never_interrupted(tmp_path):
    runs_dir = tmp_path / "soak"
    command = [sys.executable, "-m", "benchmarks.fault_soak", "--interruptions=3"]
    command += ["--train_steps=60", f"--runs_dir={runs_dir}", "--fake_images=256", "--kill_in_write"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout[proc.stdout.index("{\n") :])
    assert report["interruptions_survived"] == 3
    assert report["by_signal"] == {"SIGINT": 1, "SIGTERM": 1, "SIGKILL": 1}
    assert report["all_checks_pass"] and all(report["checks"].values()), report["checks"]
    assert {
        "exit_status_per_signal",
        "clean_stops_end_with_the_one_line_message",
        "clean_stops_leave_their_checkpoint_latest_and_complete",
        "clean_stops_finish_the_step_in_flight_and_no_more",
        "clean_stops_print_no_traceback",
        "kills_aimed_at_a_write_land_inside_one",
        "kills_leave_the_latest_checkpoint_complete",
        "kills_leave_every_listed_checkpoint_complete",
        "kills_keep_the_checkpoints_asked_for",
        "kills_resume_from_that_checkpoint",
        "no_unfinished_write_debris",
    } <= set(report["checks"])
    assert report["max_abs_weight_difference"] <= 1e-5 and report["tensors_compared"] > 50
    exits = {e["signal"]: e["exit"] for e in report["events"]}
    assert exits == {"SIGINT": 130, "SIGTERM": 143, "SIGKILL": -9}

    # Each clean stop, as the process left it: one line naming ckpt-N, the latest checkpoint, with step N.
    assert report["clean_stops_checked"] == 2
    for event in report["events"]:
        if event["signal"] not in STOPPED:
            assert "last_line" not in event
            continue
        step = event["stopped_at_step"]
        saved = str(runs_dir / "soak" / "checkpoints" / f"ckpt-{step}")
        assert event["last_line"] == (
            f"infogan-train: {STOPPED[event['signal']]} at step {step}; checkpoint {saved}; "
            "rerun the same command to resume"
        )
        assert event["latest_checkpoint_at_exit"] == saved and event["checkpoint_step_variable"] == step
        # The step in flight when the signal came finished, and no step after it.
        assert event["logged_step_at_signal"] < step == event["last_logged_step"]
        assert all(event["checks"].values()), event
        with open(event["stderr"]) as f:
            err = f.read()
        assert f"infogan-train: step {step}/60 " in err and f"infogan-train: step {step + 1}/" not in err
        assert "Traceback" not in err and "KeyboardInterrupt" not in err

    # The SIGKILL, frozen inside a checkpoint write: the state file names the checkpoint before it, complete.
    assert report["kills_checked"] == report["kills_inside_a_checkpoint_write"] == 1
    assert report["unfinished_write_debris"] == []
    (kill,) = [e for e in report["events"] if e["signal"] == "SIGKILL"]
    assert kill["aimed_at_write"] and kill["moment"] == "inside a checkpoint write", kill
    assert all(kill["checks"].values()), kill
    latest = kill["latest_checkpoint_at_exit"]
    step = int(latest.rsplit("-", 1)[1])
    assert latest == str(runs_dir / "soak" / "checkpoints" / f"ckpt-{step}")
    assert kill["checkpoint_step_variable"] == step and latest in kill["kept_checkpoints"]
    assert len(kill["kept_checkpoints"]) >= (2 if step > 3 else 1)  # keep_checkpoints=2: ckpt-3 and a later one
    # The write it was frozen in was a later checkpoint's (ckpt-M_temp, M > step), never merged into ckpt-M.
    (temp,) = kill["write_in_progress"]
    assert temp.startswith("ckpt-") and temp.endswith("_temp") and int(temp[5:-5]) > step, temp
    with open(kill["rerun_stderr"]) as f:
        assert f"infogan-train: resumed from {latest} at step {step}\n" in f.read()

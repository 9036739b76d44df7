"""What a command prints when it is done: the end of a training run, and an evaluation's table.

Pure functions of what the libraries return (``training.loop.TrainResult``
and the reporter of ``training.console``; the report dict of
``evaluation.evaluate``), so they are tested on values, without a run.

* :func:`train_summary` -- steps, wall time, the final L_I against H(c) (the
  bound of Chen et al. 2016, Eq. (4), cannot exceed the entropy of c), where
  the checkpoint and the TensorBoard logs are, and the next commands with
  this run's paths filled in (export, evaluate, explore, tensorboard).
* :func:`stopped_summary` -- the same for a run stopped early (SIGTERM or
  Ctrl-C): where it stopped, what was saved, the command that resumes it.
* :func:`evaluation_table` -- the headline numbers of ``infogan-evaluate``'s
  report.json as an aligned table.
"""

from __future__ import annotations

import math
import os
import shlex
from collections.abc import Sequence

from infogan_tf.config import TrainConfig

# Where the next commands put an export: TF Serving's model base path (see export/README.md).
EXPORT_BASE = os.path.join("export", "models")


def export_dir_for(model_dir: str) -> str:
    """The export directory the summary proposes for a run: ``export/models/infogan_<run name>``."""
    name = os.path.basename(os.path.normpath(model_dir)) or "model"
    return os.path.join(EXPORT_BASE, f"infogan_{name}")


def _flag(name: str, value: str) -> str:
    return f"--{name}={shlex.quote(value)}"


def _info_bound(metrics: dict, entropy: float) -> str:
    value = metrics.get("info_lower_bound")
    if value is None or not math.isfinite(value):
        return "not logged yet"
    if entropy <= 0:
        return f"{value:.4f}"
    return f"{value:.4f} of H(c) = {entropy:.4f} ({100 * value / entropy:.0f}%)"


def _timing(reporter) -> str:
    from infogan_tf.training.records import format_eta  # here: records loads TensorFlow

    steps = reporter.step - reporter.start_step
    resumed = f", resumed at {reporter.start_step}" if reporter.start_step else ""
    rate = f"{reporter.steps_per_sec:.2f} steps/s{resumed}"
    return f"{steps} step{'' if steps == 1 else 's'} in {format_eta(reporter.wall_s)} ({rate})"


def next_commands(config: TrainConfig, step: int, classifier_ready: bool) -> list[str]:
    """The commands that follow a finished run, with its paths filled in."""
    model_dir = config.runtime.model_dir
    export_dir = export_dir_for(model_dir)
    data = config.data
    commands = [f"infogan-export {_flag('model_dir', model_dir)} {_flag('export_dir', export_dir)}"]
    if not classifier_ready:
        # infogan-evaluate measures sample quality with a cached classifier.
        parts = ["infogan-classifier", _flag("dataset", data.dataset)]
        parts += [_flag(name, v) for name, v in (("manual_dir", data.manual_dir), ("data_dir", data.data_dir)) if v]
        commands.append(" ".join(parts))
    commands += [
        f"infogan-evaluate {_flag('model_dir', model_dir)}",
        f"infogan-explore {_flag('saved_model', os.path.join(export_dir, str(step)))}",
        f"tensorboard {_flag('logdir', model_dir)}",
    ]
    return commands


def train_summary(prog: str, result, reporter, config: TrainConfig, classifier_ready: bool) -> str:
    """The lines ``infogan-train`` prints when the run reached ``--train_steps``."""
    lines = [
        f"{prog}: done: step {result.step}/{config.optim.train_steps}, {_timing(reporter)}",
        f"  L_I          {_info_bound(result.metrics, reporter.entropy)}",
        f"  checkpoint   {result.checkpoint}",
        f"  TensorBoard  {result.summary_dir}",
        "next:",
        *(f"  {c}" for c in next_commands(config, result.step, classifier_ready)),
    ]
    return "\n".join(lines) + "\n"


def stopped_summary(prog: str, result, reporter, config: TrainConfig, argv: Sequence[str]) -> str:
    """The lines ``infogan-train`` prints when SIGTERM or Ctrl-C stopped it; the last one says it all."""
    interrupted = result.stopped_by is not None and result.stopped_by.name == "SIGINT"
    what = "interrupted (Ctrl-C)" if interrupted else "preempted (SIGTERM)"
    saved = f"checkpoint {result.checkpoint}" if result.checkpoint else "the chief saved the checkpoint"
    lines = [
        f"{prog}: stopped at step {result.step}/{config.optim.train_steps}, {_timing(reporter)}",
        f"  L_I          {_info_bound(result.metrics, reporter.entropy)}",
        f"  checkpoint   {result.checkpoint or 'saved by the chief worker'}",
        f"  TensorBoard  {result.summary_dir}",
        f"  resume with  {shlex.join([prog, *argv[1:]])}",
        f"{prog}: {what} at step {result.step}; {saved}; rerun the same command to resume",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- evaluate


def _number(value, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}f}"


def _percent(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _rows(report: dict) -> list[tuple[str, str]]:
    s = report["summary"]
    rows: list[tuple[str, str]] = [("step", str(s.get("step")))]
    accuracy = report.get("unsupervised_accuracy") or []
    for i, acc in enumerate(accuracy):
        name = f"categorical code {i}" if len(accuracy) > 1 else "categorical code"
        purity = _percent(acc.get("purity"))
        rows.append((f"{name}: test accuracy", f"{_percent(acc.get('accuracy'))} (many-to-one {purity})"))
        if acc.get("nmi") is not None:
            rows.append(("  NMI / ARI with the labels", f"{_number(acc['nmi'], 3)} / {_number(acc.get('ari'), 3)}"))
    for i, code in enumerate((report.get("view_consistency") or {}).get("codes") or []):
        name = f"label-free check, code {i}" if len(accuracy) > 1 else "label-free check"
        agreement, information = _percent(code["agreement"]), _number(code["normalised_information"], 3)
        rows.append((name, f"{agreement} of moved copies keep their category; I = {information} of ln K"))
    entropy = s.get("categorical_entropy")
    bound = s.get("info_lower_bound")
    if entropy:
        rows.append(("L_I (categorical)", f"{_number(bound)} of H(c) = {_number(entropy)}"))
    if s.get("continuous_info_lower_bound") is not None and report["model"]["latent"].get("continuous"):
        rows.append(("L_I (continuous)", _number(s["continuous_info_lower_bound"])))
    for i, value in enumerate(s.get("categorical_recovery") or []):
        rows.append((f"Q recovers categorical {i}", _percent(value)))
    for j, value in enumerate(s.get("continuous_r2") or []):
        rows.append((f"Q recovers continuous {j} (R²)", _number(value, 3)))
    if "frechet_distance" in s:
        for key, name in (("frechet_distance", "Fréchet distance"), ("classifier_score", "classifier score")):
            rows.append((name, f"{_number(s.get(key), 2)} (real test images: {_number(s.get(key + '_real_test'), 2)})"))
    factors = s.get("continuous_factors")
    if factors is None:  # a report written before code_factors: what each code's sweep moves most
        controls = zip(s.get("continuous_controls") or [], s.get("continuous_controls_rho") or [])
        for j, (name, rho) in enumerate(controls):
            what = f"{name} (Spearman rho {_number(rho, 2)})" if name else "nothing measurable"
            rows.append((f"continuous code {j} controls", what))
        return rows
    for j, (name, rho, r) in enumerate(zip(factors, s["continuous_factor_rho"], s["continuous_q_r"])):
        what = f"{name} (|rho| {_number(rho, 2)}); Q reads it on test images at |r| {_number(r, 2)}"
        rows.append((f"continuous code {j} means", what if name else "no factor measurably"))
    if factors:
        problems = ((report.get("code_factors") or {}).get("verdict") or {}).get("problems") or []
        held = "one factor each, Q tracks each" if s.get("continuous_codes_hold") else "; ".join(problems) or "no"
        rows.append(("continuous codes", held))
    return rows


def evaluation_table(report: dict) -> str:
    """The headline numbers of an ``infogan-evaluate`` report, one aligned row each."""
    rows = _rows(report)
    width = max(len(name) for name, _ in rows)
    return "".join(f"{name.ljust(width)}  {value}\n" for name, value in rows)

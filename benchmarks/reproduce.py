"""Reproduces the paper's MNIST result over several seeds: train, evaluate, tabulate.

Chen et al. 2016 (Sec. 7.1) report that InfoGAN's 10-way categorical code
classifies MNIST with 5 % error without labels, and that L_I climbs to
H(c) = ln 10. This script trains the configuration given by the
``infogan-train`` flags (default: the package defaults, i.e. the reproduction
configuration of BUILD_NOTES) once per seed on the real MNIST files, evaluates each run with
``infogan_tf.evaluation.evaluate`` on the test split, and writes a results table -- one
row per seed, failures included, and the median -- as JSON and Markdown:

    python benchmarks/reproduce_mnist.py --manual_dir=../shared/data/mnist \\
        --runs_dir=runs/reproduce --seeds=0,1,2
    # -> runs/reproduce/seed_<s>/ (each a normal model_dir, with eval/<step>/)
    #    runs/reproduce/results.json, runs/reproduce/results.md

Every training flag of ``infogan-train`` is accepted (``--train_steps``,
``--lambda_cont``, ``--batch_size``, ``--continuous_std``, ...) and applies
to every seed; ``--model_dir`` and ``--seed`` are replaced by ``--runs_dir``
and ``--seeds``. A seed whose run already finished (a ``seed_result.json``
for the same configuration) is not retrained; an interrupted one resumes
from its checkpoint (its wall time then counts only the resumed part, and
the row says from which step it resumed). The results files are rewritten
after every seed, so a long benchmark can be read while it runs.

The sample-quality columns need the cached classifier
(``python -m infogan_tf.evaluation.classifier --manual_dir=...``); without it they are
left out (``--sample_quality=false`` skips them explicitly).
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import sys
import time

from absl import app, flags

from infogan_tf import config as config_lib
from infogan_tf.cli import train as train_cli

SEED_RESULT = "seed_result.json"
COLUMNS = (
    # key, header, format
    ("accuracy", "test accuracy", "{:.4f}"),
    ("purity", "purity", "{:.4f}"),
    ("info_lower_bound", "L_I eval (nats)", "{:.3f}"),
    ("train_info_lower_bound", "L_I train, last log", "{:.3f}"),
    ("categorical_recovery", "cat. recovery", "{:.4f}"),
    ("continuous_r2_mean", "cont. R^2 (mean)", "{:.3f}"),
    ("frechet_distance", "Fréchet dist.", "{:.2f}"),
    ("classifier_score", "classifier score", "{:.2f}"),
    ("steps", "steps", "{:d}"),
    ("wall_time_s", "train wall time (s)", "{:.0f}"),
    ("time_to_target_s", "time to target (s)", "{:.0f}"),
)


def define_flags() -> None:
    train_cli.define_flags(flags.FLAGS)
    flags.DEFINE_list("seeds", ["0", "1", "2"], "Training seeds; one run each.")
    flags.DEFINE_string("runs_dir", "runs/reproduce_mnist", "Each seed trains in <runs_dir>/seed_<s>.")
    flags.DEFINE_string("classifier_dir", None, "Cached classifier for sample quality (default: the dataset's cache).")
    flags.DEFINE_bool("sample_quality", True, "Report Fréchet distance and classifier score (needs the classifier).")
    flags.DEFINE_integer("eval_num_samples", 10000, "Fresh samples per evaluation (L_I, recovery, sample quality).")
    flags.DEFINE_float("target_accuracy", 0.95, "A seed 'reaches the target' at this test accuracy (paper: 0.95).")
    flags.DEFINE_bool("retrain", False, "Retrain seeds that already have a result.")
    flags.DEFINE_bool(
        "curve",
        False,
        "Also score the test accuracy of every checkpoint the run kept (set --checkpoint_every and "
        "--keep_checkpoints) against its training wall time; gives the time to --target_accuracy.",
    )


def _median(values):
    values = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(values) if values else None


def summarise(rows: list[dict], target: float) -> dict:
    """Median over the seeds that produced a value, and how many reached the target."""
    median = {key: _median([r.get(key) for r in rows]) for key, _, _ in COLUMNS}
    reached = sum(1 for r in rows if (r.get("accuracy") or 0.0) >= target)
    return {"median": median, "seeds_reaching_target": reached, "seeds": len(rows), "target_accuracy": target}


def markdown_table(rows: list[dict], summary: dict) -> str:
    """The results as a Markdown table (one row per seed, then the median)."""

    def cell(value, fmt):
        if value is None:
            return "–"
        if fmt == "{:d}":
            return str(int(value))
        return fmt.format(value)

    header = "| seed | " + " | ".join(h for _, h, _ in COLUMNS) + " | note |"
    lines = [header, "|" + "---|" * (len(COLUMNS) + 2)]
    for r in rows:
        note = r.get("error") or (f"resumed from step {r['resumed_from']}" if r.get("resumed_from") else "")
        lines.append(f"| {r['seed']} | " + " | ".join(cell(r.get(k), f) for k, _, f in COLUMNS) + f" | {note} |")
    m = summary["median"]
    lines.append("| **median** | " + " | ".join(cell(m.get(k), f) for k, _, f in COLUMNS) + " | |")
    lines.append("")
    lines.append(
        f"{summary['seeds_reaching_target']} of {summary['seeds']} seeds reach test accuracy "
        f">= {summary['target_accuracy']:.2f}."
    )
    return "\n".join(lines) + "\n"


def _last_logged_info(model_dir: str):
    from infogan_tf.evaluation.figures import read_info_curve
    from infogan_tf.training.rundir import RunDir

    path = RunDir(model_dir).metrics_log
    if not os.path.isfile(path):
        return None
    _steps, info = read_info_curve(path)
    return float(info[-1]) if len(info) else None


def logged_elapsed(metrics_path: str) -> dict[int, float]:
    """step -> elapsed_s of every line of a run's metrics log that has it."""
    out = {}
    with open(metrics_path) as fh:
        for line in fh:
            record = json.loads(line)
            if "elapsed_s" in record:
                out[record["step"]] = record["elapsed_s"]
    return out


def elapsed_at(step: int, logged: dict[int, float]) -> float | None:
    """Training seconds at ``step``: logged, or linear between the logged steps around it."""
    if step in logged:
        return logged[step]
    before = [s for s in logged if s < step]
    after = [s for s in logged if s > step]
    if not before or not after:
        return None
    lo, hi = max(before), min(after)
    return logged[lo] + (logged[hi] - logged[lo]) * (step - lo) / (hi - lo)


def accuracy_curve(model_dir: str, eval_data, batch_size: int, target: float) -> dict:
    """Test accuracy of every kept checkpoint, with the training time it took to get there.

    The time of a checkpoint is the run's ``elapsed_s`` at its step (seconds of
    training in the process that wrote it), interpolated between the logged
    steps around it when the step has no log line.
    """
    import tensorflow as tf

    from infogan_tf.data.pixels import uint8_to_unit
    from infogan_tf.evaluation import handle as handle_lib
    from infogan_tf.evaluation.metrics.unsupervised_accuracy import compute_unsupervised_accuracy
    from infogan_tf.training.rundir import RunDir

    run = RunDir(model_dir)
    elapsed = logged_elapsed(run.metrics_log)
    state = tf.train.get_checkpoint_state(run.checkpoints)
    points = []
    for path in state.all_model_checkpoint_paths if state else []:
        handle = handle_lib.handle_from_model_dir(model_dir, path)
        q = handle_lib.encode_in_batches(handle, uint8_to_unit(eval_data.test_images), batch_size)
        accuracy = compute_unsupervised_accuracy(q.categorical_probs[0], eval_data.test_labels)["accuracy"]
        points.append({"step": handle.step, "elapsed_s": elapsed_at(handle.step, elapsed), "accuracy": accuracy})
        print(f"  {model_dir} step {handle.step}: test accuracy {accuracy:.4f}", flush=True)
    reached = [p["elapsed_s"] for p in points if p["accuracy"] >= target and p["elapsed_s"] is not None]
    return {"curve": points, "time_to_target_s": min(reached) if reached else None}


def run_seed(config: config_lib.TrainConfig, eval_config, eval_data, classifier) -> dict:
    """Trains (or resumes) one seed, evaluates it, returns its table row."""
    from infogan_tf import errors
    from infogan_tf.evaluation import evaluate as evaluate_lib
    from infogan_tf.training import loop
    from infogan_tf.training.distribute import get_strategy

    model_dir = config.runtime.model_dir
    row = {"seed": config.runtime.seed, "model_dir": model_dir}
    start = time.time()
    try:
        rt = config.runtime
        t = loop.Trainer(config, get_strategy(rt.strategy, rt.num_devices, rt.device))
        resumed_from = t.restore()
        result = t.train(progress=lambda line: print(f"[seed {config.runtime.seed}] {line}", flush=True))
    except (errors.NonFiniteError, errors.CheckpointError) as e:
        row.update(error=str(e), wall_time_s=time.time() - start)
        return row
    if result.preempted:
        # SIGTERM: the checkpoint is saved; stop the whole benchmark so the
        # same command resumes this seed instead of evaluating a partial run.
        print(f"[seed {config.runtime.seed}] preempted at step {result.step}; rerun to resume", flush=True)
        sys.exit(errors.PREEMPTED_EXIT_CODE)
    row.update(steps=result.step, wall_time_s=time.time() - start, resumed_from=resumed_from or None)
    row["train_info_lower_bound"] = _last_logged_info(model_dir)
    evaluation = evaluate_lib.evaluate_model_dir(
        dataclasses.replace(eval_config, model_dir=model_dir), eval_data, classifier
    )
    s = evaluation.report["summary"]
    r2 = [v for v in s["continuous_r2"] if v is not None]
    row.update(
        accuracy=s["accuracy"],
        purity=s["purity"],
        info_lower_bound=s["info_lower_bound"],
        categorical_recovery=s["categorical_recovery"][0] if s["categorical_recovery"] else None,
        continuous_r2=s["continuous_r2"],
        continuous_r2_mean=sum(r2) / len(r2) if r2 else None,
        continuous_controls=s["continuous_controls"],
        frechet_distance=s.get("frechet_distance"),
        frechet_distance_real_test=s.get("frechet_distance_real_test"),
        classifier_score=s.get("classifier_score"),
        classifier_score_real_test=s.get("classifier_score_real_test"),
        eval_dir=evaluation.out_dir,
    )
    if flags.FLAGS.curve:
        row.update(accuracy_curve(model_dir, eval_data, eval_config.batch_size, flags.FLAGS.target_accuracy))
    return row


def evaluation_setup(base: config_lib.TrainConfig, f, prog: str):
    """(EvalConfig, classifier or None, EvalData) from the script's flags ``f``: the TFDS test split of ``base``."""
    from infogan_tf.evaluation import classifier as classifier_lib
    from infogan_tf.evaluation import evaluate as evaluate_lib

    eval_config = evaluate_lib.EvalConfig(
        model_dir="",
        manual_dir=base.data.manual_dir,
        data_dir=base.data.data_dir,
        classifier_dir=f.classifier_dir,
        sample_quality=f.sample_quality,
        num_samples=f.eval_num_samples,
    )
    classifier = None
    if f.sample_quality:
        path = f.classifier_dir or classifier_lib.default_classifier_dir(base.data.dataset)
        try:
            classifier = classifier_lib.load_classifier(path, base.data.dataset)
        except classifier_lib.ClassifierError as e:
            sys.exit(f"{prog}: error: {e} (or pass --sample_quality=false)")
    eval_data = evaluate_lib.load_eval_data(eval_config, base.data, eval_config.seed, base.model.image_shape)
    return eval_config, classifier, eval_data


def main(argv) -> None:
    if len(argv) > 1:
        sys.exit(f"reproduce_mnist: error: unexpected arguments: {' '.join(argv[1:])}")
    f = flags.FLAGS
    try:
        base = train_cli.config_from_flags(flags.FLAGS)
        seeds = [int(s) for s in f.seeds]
    except ValueError as e:  # errors.ConfigError is one
        sys.exit(f"reproduce_mnist: error: {e}")
    if not seeds:
        sys.exit("reproduce_mnist: error: --seeds is empty")

    os.makedirs(f.runs_dir, exist_ok=True)
    # The evaluation data is the same for every seed: load it once.
    eval_config, classifier, eval_data = evaluation_setup(base, f, "reproduce_mnist")

    rows = []
    results_json = os.path.join(f.runs_dir, "results.json")
    for seed in seeds:
        model_dir = os.path.join(f.runs_dir, f"seed_{seed}")
        config = dataclasses.replace(
            base, runtime=dataclasses.replace(base.runtime, model_dir=model_dir, seed=seed)
        ).validate()
        saved_path = os.path.join(model_dir, SEED_RESULT)
        row = None
        if os.path.isfile(saved_path) and not f.retrain:
            with open(saved_path) as fh:
                saved = json.load(fh)
            if saved.get("config") == json.loads(config.to_json()):
                row = saved["row"]
                print(f"[seed {seed}] already done: {saved_path}", flush=True)
        if row is None:
            row = run_seed(config, eval_config, eval_data, classifier)
            if "error" not in row:
                with open(saved_path, "w") as fh:
                    json.dump({"config": json.loads(config.to_json()), "row": row}, fh, indent=2)
        rows.append(row)
        summary = summarise(rows, f.target_accuracy)
        with open(results_json + ".tmp", "w") as fh:
            json.dump(
                {"command": sys.argv, "config": json.loads(base.to_json()), "rows": rows, **summary}, fh, indent=2
            )
        os.replace(results_json + ".tmp", results_json)
        with open(os.path.join(f.runs_dir, "results.md"), "w") as fh:
            fh.write(markdown_table(rows, summary))
    print(markdown_table(rows, summarise(rows, f.target_accuracy)))
    print(f"reproduce_mnist: results in {results_json} and {os.path.join(f.runs_dir, 'results.md')}")


if __name__ == "__main__":
    define_flags()
    app.run(main)

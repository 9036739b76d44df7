"""The seed table of a configuration on a labelled dataset: train, evaluate, tabulate.

Chen et al. 2016 (Sec. 7.1) report that InfoGAN's 10-way categorical code
classifies MNIST with 5 % error without labels, and that L_I climbs to
H(c) = ln 10; later papers report about 0.61 on Fashion-MNIST for InfoGAN
(``experiments/results/README.md``, "Moved from BUILD_NOTES": the field). This script trains the
configuration given by the ``infogan-train`` flags (default: the package
defaults) once per seed, evaluates each run with
``infogan_tf.evaluation.evaluate`` on the test split, and writes the seed
table -- one row per seed, failures included, then mean +- std and median --
as JSON and Markdown:

    python -m experiments.reproduce --manual_dir=../shared/data/mnist --runs_dir=runs/reproduce/mnist --seeds=0,1,2,3,4
    python -m experiments.reproduce --preset=fashion_mnist --manual_dir=../shared/data/fashion_mnist \
        --runs_dir=runs/reproduce/fashion_mnist --seeds=0,1,2
    # -> <runs_dir>/seed_<s>/ (each a normal model_dir, with eval/<step>/),
    #    <runs_dir>/results.json, <runs_dir>/results.md

Every training flag of ``infogan-train`` is accepted (``--preset``,
``--train_steps``, ``--lambda_real_info``, ``--batch_size``, ...) and
applies to every seed; ``--model_dir`` and ``--seed`` are replaced by
``--runs_dir`` and ``--seeds``. A seed whose run already finished (a
``seed_result.json`` for the same configuration) is not retrained
(``--reevaluate`` scores it again with the current evaluation); an
interrupted one resumes from its checkpoint (its wall time then counts only
the resumed part, and the row says from which step it resumed). The results
files are rewritten after every seed, so a long benchmark can be read while
it runs.

Below the seed table, a table of the continuous codes (Chen et al. 2016,
Figure 2; ``evaluation.metrics.code_factors``, no labels): per seed, the
factor each code moves most over -2..2 with its |Spearman rho| (monotone at
>= 0.9), Q's |Pearson r| against that factor on the real test images
(tracks at >= 0.8) and whether the run holds both halves; the same numbers
are drawn in ``<runs_dir>/code_factors.png``.

``--curve`` scores every checkpoint the run kept: its test accuracy against
the training time and step it took (the time and steps to
``--target_accuracy``), and the label-free check
(``training.label_free``) with the checkpoint it would pick
without labels and that checkpoint's accuracy.

The sample-quality columns need the cached classifier of the dataset
(``infogan-classifier --dataset=... --manual_dir=...``); ``--sample_quality=false``
leaves them out.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import statistics
import sys
import time

from absl import app, flags

from infogan_tf import config as config_lib
from infogan_tf import fileio
from infogan_tf.cli import train as train_cli

PROG = "reproduce"
SEED_RESULT = "seed_result.json"
COLUMNS = (
    # key, header, format
    ("accuracy", "test accuracy", "{:.4f}"),
    ("purity", "purity", "{:.4f}"),
    ("nmi", "NMI", "{:.3f}"),
    ("ari", "ARI", "{:.3f}"),
    ("view_agreement", "label-free: views agree", "{:.3f}"),
    ("info_lower_bound", "L_I eval (nats)", "{:.3f}"),
    ("train_info_lower_bound", "L_I train, last log", "{:.3f}"),
    ("categorical_recovery", "cat. recovery", "{:.4f}"),
    ("continuous_r2_mean", "cont. R^2 (mean)", "{:.3f}"),
    ("frechet_distance", "Fréchet dist.", "{:.2f}"),
    ("classifier_score", "classifier score", "{:.2f}"),
    ("steps", "steps", "{:d}"),
    ("seconds_per_step", "s/step", "{:.3f}"),
    ("wall_time_s", "train wall time (s)", "{:.0f}"),
    ("steps_to_target", "steps to target", "{:d}"),
    ("time_to_target_s", "time to target (s)", "{:.0f}"),
    ("picked_step", "label-free pick: step", "{:d}"),
    ("picked_accuracy", "its accuracy", "{:.4f}"),
)


def define_flags() -> None:
    train_cli.define_flags(flags.FLAGS)
    flags.DEFINE_list("seeds", ["0", "1", "2"], "Training seeds; one run each.")
    flags.DEFINE_string("runs_dir", None, "Each seed trains in <runs_dir>/seed_<s> (default runs/reproduce/<dataset>).")
    flags.DEFINE_string("classifier_dir", None, "Cached classifier for sample quality (default: the dataset's cache).")
    flags.DEFINE_bool("sample_quality", True, "Report Fréchet distance and classifier score (needs the classifier).")
    flags.DEFINE_integer("eval_num_samples", 10000, "Fresh samples per evaluation (L_I, recovery, sample quality).")
    flags.DEFINE_float("target_accuracy", 0.95, "A seed 'reaches the target' at this test accuracy (paper: 0.95).")
    flags.DEFINE_bool("retrain", False, "Retrain seeds that already have a result.")
    flags.DEFINE_bool("reevaluate", False, "Score seeds that already have a result again (no training).")
    flags.DEFINE_bool(
        "curve",
        False,
        "Also score every checkpoint the run kept (set --checkpoint_every and --keep_checkpoints): test "
        "accuracy against training time and step (the steps and time to --target_accuracy), and the "
        "label-free check with the checkpoint it would pick.",
    )


def _numbers(values) -> list[float]:
    return [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]


def summarise(rows: list[dict], target: float) -> dict:
    """Mean, standard deviation (n - 1) and median over the seeds that produced a value; who reached the target.

    A seed that failed (its row has an ``error``) counts as not reaching the
    target and as slowest for the time to it.
    """
    mean, std, median = {}, {}, {}
    for key, _, _ in COLUMNS:
        values = _numbers(r.get(key) for r in rows)
        mean[key] = statistics.mean(values) if values else None
        std[key] = statistics.stdev(values) if len(values) > 1 else None
        median[key] = statistics.median(values) if values else None
    # The median steps and time to the target count a seed that never reached it as slowest.
    for key in ("steps_to_target", "time_to_target_s"):
        ranked = sorted(math.inf if r.get(key) is None else r[key] for r in rows)
        middle = statistics.median(ranked) if ranked else math.inf
        median[key] = None if middle == math.inf else middle
    return {
        "mean": mean,
        "std": std,
        "median": median,
        "label_free_rank_correlation": label_free_correlation(rows),
        "label_free_seed_pick": label_free_seed_pick(rows),
        "seeds_reaching_target": sum(1 for r in rows if (r.get("accuracy") or 0.0) >= target),
        "failed_runs": sum(1 for r in rows if r.get("error")),
        "seeds": len(rows),
        "target_accuracy": target,
        "continuous_codes": continuous_codes_summary(rows),
    }


def label_free_correlation(rows: list[dict]) -> dict:
    """Spearman rho between each label-free score and the test accuracy, over every scored checkpoint of every seed."""
    points = [p for r in rows for p in r.get("curve", []) if p.get("view_information") is not None]
    out: dict = {"checkpoints": len(points)}
    for key in ("view_information", "view_agreement"):
        out[key] = _rank_correlation([p[key] for p in points], [p["accuracy"] for p in points])
    return out


def _rank_correlation(scores: list[float], accuracies: list[float]) -> float | None:
    """Spearman rho of a label-free score against the accuracy (None below 3 points or when undefined)."""
    from scipy.stats import spearmanr

    rho = spearmanr(scores, accuracies)[0] if len(scores) > 2 else None
    return None if rho is None or math.isnan(rho) else float(rho)


def label_free_seed_pick(rows: list[dict]) -> dict | None:
    """The seed a user with no labels would keep: the highest label-free information at its last checkpoint.

    Also Spearman rho across the seeds between each final label-free score
    and the final test accuracy (how well the check ranks whole runs). None
    with fewer than two scored seeds.
    """
    scored = [r for r in rows if r.get("view_information") is not None and r.get("accuracy") is not None]
    if len(scored) < 2:
        return None
    best = max(scored, key=lambda r: r["view_information"])
    out = {"seed": best["seed"], "accuracy": best["accuracy"], "seeds": len(scored)}
    for key in ("view_information", "view_agreement"):
        out[f"rho_{key}"] = _rank_correlation([r[key] for r in scored], [r["accuracy"] for r in scored])
    return out


def markdown_table(rows: list[dict], summary: dict) -> str:
    """The results as a Markdown table (one row per seed, then mean +- std and the median)."""

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
    mean, std, median = summary["mean"], summary["std"], summary["median"]

    def spread(key, fmt):
        if mean.get(key) is None:
            return "–"
        fmt = "{:.0f}" if fmt == "{:d}" else fmt
        return fmt.format(mean[key]) + ("" if std.get(key) is None else " ± " + fmt.format(std[key]))

    lines.append("| **mean ± std** | " + " | ".join(spread(k, f) for k, _, f in COLUMNS) + " | |")
    lines.append(
        "| **median** | "
        + " | ".join(cell(median.get(k), "{:.0f}" if f == "{:d}" else f) for k, _, f in COLUMNS)
        + " | a seed that never reached the target counts as slowest |"
    )
    lines.append("")
    lines.append(
        f"{summary['seeds_reaching_target']} of {summary['seeds']} seeds reach test accuracy "
        f">= {summary['target_accuracy']:.2f}; {summary['failed_runs']} failed to train."
    )
    rho = summary["label_free_rank_correlation"]
    if rho["checkpoints"] > 2 and rho["view_information"] is not None:
        lines.append(
            f"Label-free check against test accuracy over {rho['checkpoints']} checkpoints: Spearman rho "
            f"{rho['view_information']:.2f} (information), {rho['view_agreement']:.2f} (agreement)."
        )
    pick = summary.get("label_free_seed_pick")
    if pick:
        across = ""
        if pick["rho_view_information"] is not None and pick["rho_view_agreement"] is not None:
            across = (
                f"; across the seeds' last checkpoints Spearman rho {pick['rho_view_information']:.2f} "
                f"(information), {pick['rho_view_agreement']:.2f} (agreement)"
            )
        lines.append(
            f"Picked without labels among {pick['seeds']} seeds (highest label-free information): seed "
            f"{pick['seed']}, test accuracy {pick['accuracy']:.4f}{across}."
        )
    codes = codes_table(rows)
    return "\n".join(lines) + "\n" + ("\n" + codes if codes else "")


CODE_PARTS = (
    ("each_moves_one_factor", "each code moves one factor monotonically"),
    ("no_shared_factor", "no two codes share one"),
    ("q_tracks_each", "Q tracks each on the real test images"),
)


def continuous_codes_summary(rows: list[dict]) -> dict:
    """How many scored seeds hold the continuous-code verdict (``code_factors``), and each part of it."""
    verdicts = [r["continuous_codes_verdict"] for r in rows if r.get("continuous_codes_verdict")]
    verdicts = [v for v in verdicts if v.get("holds") is not None]
    keys = ["holds"] + [key for key, _ in CODE_PARTS]
    return {"seeds": len(verdicts), **{key: sum(bool(v[key]) for v in verdicts) for key in keys}}


def codes_table(rows: list[dict]) -> str:
    """The continuous codes per seed as Markdown: each code's factor with |rho|, Q's |r| on real images ("" if none)."""
    scored = [r for r in rows if r.get("continuous_factors")]
    if not scored:
        return ""
    n_codes = max(len(r["continuous_factors"]) for r in scored)

    def number(values, j):
        value = values[j] if values and j < len(values) else None
        return "–" if value is None else f"{value:.2f}"

    header = "| seed | " + " | ".join(f"code {j} moves (\\|ρ\\|) | Q reads it (\\|r\\|)" for j in range(n_codes))
    lines = [
        "Continuous codes (`code_factors`): the factor each code moves most over −2..2 and its |Spearman ρ| "
        "(monotone at ≥ 0.9); |Pearson r| of Q's output on the real test images against that factor (tracks at ≥ 0.8).",
        "",
        header + " | holds | problems |",
        "|" + "---|" * (2 * n_codes + 3),
    ]
    for r in scored:
        cells = []
        for j in range(n_codes):
            factor = r["continuous_factors"][j] if j < len(r["continuous_factors"]) else None
            cells += [
                f"{factor or 'none'} ({number(r.get('continuous_factor_rho'), j)})",
                number(r.get("continuous_q_r"), j),
            ]
        verdict = r.get("continuous_codes_verdict") or {}
        holds = {True: "yes", False: "no"}.get(verdict.get("holds"), "–")
        problems = "; ".join(verdict.get("problems") or []).replace("|", "\\|")
        lines.append(f"| {r['seed']} | " + " | ".join(cells) + f" | {holds} | {problems} |")
    counts = continuous_codes_summary(rows)
    if counts["seeds"]:
        parts = ", ".join(f"{text}: {counts[key]}" for key, text in CODE_PARTS)
        lines += ["", f"{counts['holds']} of {counts['seeds']} seeds hold both halves ({parts})."]
    return "\n".join(lines) + "\n"


def code_factors_figure(rows: list[dict], path: str) -> bool:
    """Draws each seed's continuous codes (|rho| of G's sweep, Q's |r| on real images) into ``path``; False if none."""
    scored = [r for r in rows if r.get("continuous_factors")]
    if not scored:
        return False
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from infogan_tf.evaluation.metrics.code_factors import FACTORS, MONOTONE_RHO, TRACKS_R

    colours = dict(zip(FACTORS, ("tab:blue", "tab:orange", "tab:green")))
    markers = "osD^v"
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.4), dpi=120, sharey=True)
    try:
        for ax, key, bar, title in (
            (axes[0], "continuous_factor_rho", MONOTONE_RHO, "G: |Spearman ρ| over −2..2"),
            (axes[1], "continuous_q_r", TRACKS_R, "Q on real test images: |Pearson r|"),
        ):
            for x, r in enumerate(scored):
                for j, factor in enumerate(r["continuous_factors"]):
                    values = r.get(key) or []
                    if factor is None or j >= len(values) or values[j] is None:
                        continue
                    offset = (j - (len(r["continuous_factors"]) - 1) / 2) * 0.15
                    ax.scatter(x + offset, values[j], color=colours.get(factor, "tab:gray"), marker=markers[j % 5])
            ax.axhline(bar, color="black", linestyle="--", linewidth=1.0)
            ax.set_xticks(range(len(scored)), [str(r["seed"]) for r in scored])
            ax.set_xlabel("seed")
            ax.set_title(title, fontsize=10)
            ax.set_ylim(0.0, 1.05)
            ax.grid(True, alpha=0.3)
        handles = [plt.Line2D([], [], color=colours[f], marker="o", linestyle="", label=f) for f in FACTORS] + [
            plt.Line2D([], [], color="gray", marker=markers[j % 5], linestyle="", label=f"code {j}")
            for j in range(max(len(r["continuous_factors"]) for r in scored))
        ]
        axes[1].legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return True


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


def accuracy_curve(model_dir: str, eval_data, batch_size: int, target: float, views: int) -> dict:
    """Every kept checkpoint scored: test accuracy, the label-free check, the training time and step.

    The time of a checkpoint is the run's ``elapsed_s`` at its step (seconds of
    training in the process that wrote it), interpolated between the logged
    steps around it when the step has no log line. The label-free pick is the
    checkpoint whose categories keep best under moved copies
    (``view_information``): chosen without labels, then scored with them.
    """
    import tensorflow as tf

    from infogan_tf.data.pixels import uint8_to_unit
    from infogan_tf.evaluation import handle as handle_lib
    from infogan_tf.evaluation.metrics.unsupervised_accuracy import compute_unsupervised_accuracy
    from infogan_tf.training.label_free import view_consistency
    from infogan_tf.training.rundir import RunDir

    run = RunDir(model_dir)
    elapsed = logged_elapsed(run.metrics_log)
    test_images = uint8_to_unit(eval_data.test_images)
    points = []
    state = tf.train.get_checkpoint_state(run.checkpoints)
    for path in state.all_model_checkpoint_paths if state else []:
        handle = handle_lib.handle_from_model_dir(model_dir, path)
        q = handle_lib.encode_in_batches(handle, test_images, batch_size)
        scores = compute_unsupervised_accuracy(q.categorical_probs[0], eval_data.test_labels)
        encode = lambda x, handle=handle: handle.encode(x).categorical_probs
        (check, *_) = view_consistency(encode, test_images, batch_size, 0, views, q.categorical_probs)["codes"]
        points.append(
            {
                "step": handle.step,
                "elapsed_s": elapsed_at(handle.step, elapsed),
                "accuracy": scores["accuracy"],
                "nmi": scores["nmi"],
                "view_agreement": check["agreement"],
                "view_information": check["normalised_information"],
            }
        )
        print(
            f"  {model_dir} step {handle.step}: test accuracy {scores['accuracy']:.4f}, "
            f"label-free: views agree {check['agreement']:.3f}, I {check['normalised_information']:.3f}",
            flush=True,
        )
    reached = [p for p in points if p["accuracy"] >= target and p["elapsed_s"] is not None]
    first = min(reached, key=lambda p: p["step"]) if reached else None
    picked = max(points, key=lambda p: p["view_information"]) if points else None
    return {
        "curve": points,
        "time_to_target_s": first["elapsed_s"] if first else None,
        "steps_to_target": first["step"] if first else None,
        "picked_step": picked["step"] if picked else None,
        "picked_accuracy": picked["accuracy"] if picked else None,
    }


def train_seed(config: config_lib.TrainConfig) -> dict:
    """Trains (or resumes) one seed; the row's training part (``error`` when it failed)."""
    from infogan_tf import errors
    from infogan_tf.training import loop
    from infogan_tf.training.distribute import get_strategy

    row = {"seed": config.runtime.seed, "model_dir": config.runtime.model_dir}
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
    return row


def evaluate_seed(row: dict, eval_config, eval_data, classifier) -> dict:
    """The row with the evaluation of its finished run (and the curve with ``--curve``)."""
    from infogan_tf.evaluation import evaluate as evaluate_lib

    model_dir = row["model_dir"]
    row = {**row, "train_info_lower_bound": _last_logged_info(model_dir)}
    row["seconds_per_step"] = seconds_per_step(model_dir)
    evaluation = evaluate_lib.evaluate_model_dir(
        dataclasses.replace(eval_config, model_dir=model_dir), eval_data, classifier
    )
    s = evaluation.report["summary"]
    r2 = [v for v in s["continuous_r2"] if v is not None]
    row.update(
        accuracy=s["accuracy"],
        purity=s["purity"],
        nmi=s.get("nmi"),
        ari=s.get("ari"),
        view_agreement=s.get("view_agreement"),
        view_information=s.get("view_information"),
        info_lower_bound=s["info_lower_bound"],
        categorical_recovery=s["categorical_recovery"][0] if s["categorical_recovery"] else None,
        continuous_r2=s["continuous_r2"],
        continuous_r2_mean=sum(r2) / len(r2) if r2 else None,
        continuous_controls=s["continuous_controls"],
        continuous_factors=s.get("continuous_factors"),
        continuous_factor_rho=s.get("continuous_factor_rho"),
        continuous_q_r=s.get("continuous_q_r"),
        continuous_codes_verdict=evaluation.report.get("code_factors", {}).get("verdict"),
        frechet_distance=s.get("frechet_distance"),
        frechet_distance_real_test=s.get("frechet_distance_real_test"),
        classifier_score=s.get("classifier_score"),
        classifier_score_real_test=s.get("classifier_score_real_test"),
        eval_dir=evaluation.out_dir,
    )
    if flags.FLAGS.curve:
        row.update(
            accuracy_curve(
                model_dir, eval_data, eval_config.batch_size, flags.FLAGS.target_accuracy, eval_config.consistency_views
            )
        )
    return row


def run_seed(config: config_lib.TrainConfig, eval_config, eval_data, classifier) -> dict:
    """Trains (or resumes) one seed, evaluates it, returns its table row."""
    row = train_seed(config)
    return row if "error" in row else evaluate_seed(row, eval_config, eval_data, classifier)


def seconds_per_step(model_dir: str) -> float | None:
    """Mean training seconds per step between the first and last log line of the last process that trained the run.

    ``elapsed_s`` restarts when a run resumes; the first line's time, which
    includes tracing and compilation, is left out.
    """
    from infogan_tf.training.rundir import RunDir

    path = RunDir(model_dir).metrics_log
    logged = logged_elapsed(path) if os.path.isfile(path) else {}
    steps = sorted(logged)
    first = steps[0] if steps else None
    for prev, step in itertools.pairwise(steps):
        if logged[step] < logged[prev]:  # a later process started here
            first = step
    if first is None or steps[-1] == first:
        return None
    return (logged[steps[-1]] - logged[first]) / (steps[-1] - first)


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


def saved_row(saved_path: str, config: config_lib.TrainConfig) -> dict | None:
    """The row a finished seed saved, if it was trained with exactly ``config``.

    The saved config is read as a resume reads config.json, so a field added
    since (at its default, which trains the same) does not count as a change.
    """
    if not os.path.isfile(saved_path):
        return None
    with open(saved_path) as fh:
        saved = json.load(fh)
    try:
        then = config_lib.TrainConfig.from_dict(saved["config"]).to_json()
    except (KeyError, TypeError, ValueError):
        return None
    return saved["row"] if then == config.to_json() else None


def main(argv) -> None:
    if len(argv) > 1:
        sys.exit(f"{PROG}: error: unexpected arguments: {' '.join(argv[1:])}")
    f = flags.FLAGS
    try:
        base = train_cli.config_from_flags(flags.FLAGS)
        seeds = [int(s) for s in f.seeds]
    except ValueError as e:  # errors.ConfigError is one
        sys.exit(f"{PROG}: error: {e}")
    if not seeds:
        sys.exit(f"{PROG}: error: --seeds is empty")
    if base.data.image_dir:
        sys.exit(
            f"{PROG}: error: the seed table needs a labelled test split: give --dataset or --preset, not --image_dir"
        )
    runs_dir = f.runs_dir or os.path.join("runs", "reproduce", base.data.dataset)
    os.makedirs(runs_dir, exist_ok=True)
    # The evaluation data is the same for every seed: load it once.
    eval_config, classifier, eval_data = evaluation_setup(base, f, PROG)

    rows = []
    for seed in seeds:
        model_dir = os.path.join(runs_dir, f"seed_{seed}")
        config = dataclasses.replace(
            base, runtime=dataclasses.replace(base.runtime, model_dir=model_dir, seed=seed)
        ).validate()
        saved_path = os.path.join(model_dir, SEED_RESULT)
        row = None if f.retrain else saved_row(saved_path, config)
        if row is not None and f.reevaluate:
            print(f"[seed {seed}] trained: scoring {model_dir} again", flush=True)
            row = evaluate_seed(row, eval_config, eval_data, classifier)
        elif row is not None:
            print(f"[seed {seed}] already done: {saved_path}", flush=True)
        else:
            row = run_seed(config, eval_config, eval_data, classifier)
        if "error" not in row:
            fileio.write_text(saved_path, json.dumps({"config": json.loads(config.to_json()), "row": row}, indent=2))
        rows.append(row)
        summary = summarise(rows, f.target_accuracy)
        report = {"command": sys.argv, "config": json.loads(base.to_json()), "rows": rows, **summary}
        fileio.write_text(os.path.join(runs_dir, "results.json"), json.dumps(report, indent=2))
        fileio.write_text(os.path.join(runs_dir, "results.md"), markdown_table(rows, summary))
        code_factors_figure(rows, os.path.join(runs_dir, "code_factors.png"))
    print(markdown_table(rows, summarise(rows, f.target_accuracy)))
    print(f"{PROG}: results in {os.path.join(runs_dir, 'results.json')} and {os.path.join(runs_dir, 'results.md')}")


if __name__ == "__main__":
    define_flags()
    app.run(main)

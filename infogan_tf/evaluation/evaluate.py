"""``infogan-evaluate``: measures what a trained InfoGAN learned, and draws the paper's figures.

    infogan-evaluate --model_dir=runs/mnist --manual_dir=../shared/data/mnist

prints a JSON report and writes it, with figures, to
``<model_dir>/eval/<step>/``:

* ``report.json`` -- unsupervised test accuracy of the categorical code
  (Hungarian and many-to-one, NMI and ARI, confusion matrix), the lower bound L_I on fresh
  samples next to H(c), Q's code recovery, Fréchet distance and classifier
  score of generated and of real test images (features of the project's
  classifier, :mod:`~infogan_tf.evaluation.classifier`, or for data without
  one a fixed random CNN, :mod:`~infogan_tf.evaluation.random_features`;
  the report names it), and what each continuous code controls (Chen et al.
  2016, Sec. 7.1 and Figures 1-2); no accuracy without labels;
* ``code_factors`` in the report: whether each continuous code moves one
  image factor (slant, width, stroke thickness) monotonically over -2..2, no
  two codes the same, and Q's continuous output tracks that factor on the
  real test images (``metrics.code_factors``; no labels);
* the label-free run check (``training.label_free``): whether Q's
  categories of the held-out real images survive stronger moves than
  training made -- a style-split run fails it, with no label needed;
* ``traversal_c<j>.png`` -- Figure 2 style: rows = categories ordered by the
  digit they were matched to, columns = continuous code j swept over -2..2;
* ``categories.png`` -- the categories (rows, same order) for 10 noise draws;
* ``info_curve.png`` -- Figure 1 style: L_I logged during training
  (``<model_dir>/metrics.jsonl``) against H(c).

Labels of the test split are used here only. CLI: ``infogan_tf/cli/evaluate.py``; library:
:func:`evaluate_model_dir` (tests inject data and a classifier through it); :func:`evaluate` takes any
:class:`~infogan_tf.evaluation.handle.ModelHandle` (a SavedModel-backed one plugs in the same way).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import NamedTuple

import numpy as np

from infogan_tf.errors import UsageError
from infogan_tf.evaluation.eval_data import EvalData, load_eval_data
from infogan_tf.training.rundir import RunDir

REPORT_FILENAME = "report.json"
FEATURE_SPACES = ("auto", "classifier", "random")


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """What to evaluate and how much.

    Attributes:
      model_dir: the training run (config.json, checkpoints/, metrics.jsonl).
      checkpoint: a checkpoint path prefix; None = the latest in model_dir.
      manual_dir: the dataset's original files (offline preparation); None =
        the run's own setting.
      data_dir: TFDS data directory; None = the run's own setting.
      classifier_dir: the cached classifier; None = the default cache of
        the run's dataset (``~/.cache/infogan_tf/<dataset>_classifier``).
      sample_quality: compute Fréchet distance and classifier score (needs
        the classifier).
      feature_space: where the Fréchet distance is measured: "classifier"
        (the project's classifier of the run's dataset; also gives the
        classifier score), "random" (a fixed random-init CNN for any image
        shape, no labels needed: ``evaluation.random_features``) or "auto"
        (the classifier for a labelled dataset of its own size, else random).
      num_samples: fresh (z, c) samples for L_I, code recovery and sample
        quality.
      num_reference: training images forming the Fréchet reference set.
      sweep_samples: base inputs per continuous-code sweep.
      sweep_values: values per sweep over [sweep_lo, sweep_hi].
      sweep_lo, sweep_hi: the sweep range (paper: -2..2).
      batch_size: images per forward pass.
      seed: seeds the samples, sweeps and figures.
      consistency_views: moved copies of each held-out image for the
        label-free check (``training.label_free``).
      out_dir: where report and figures go; None = model_dir/eval/<step>.
    """

    model_dir: str
    checkpoint: str | None = None
    manual_dir: str | None = None
    data_dir: str | None = None
    classifier_dir: str | None = None
    sample_quality: bool = True
    feature_space: str = "auto"
    num_samples: int = 10000
    num_reference: int = 10000
    sweep_samples: int = 64
    sweep_values: int = 9
    sweep_lo: float = -2.0
    sweep_hi: float = 2.0
    batch_size: int = 500
    seed: int = 0
    consistency_views: int = 4
    out_dir: str | None = None

    def problems(self) -> list[str]:
        """Every invalid value, phrased with the flag name."""
        out = []
        if not self.model_dir:
            out.append("--model_dir must be set")
        elif not os.path.isfile(RunDir(self.model_dir).config_path):
            out.append(f"--model_dir {self.model_dir!r} has no config.json; it is not an infogan_tf training run")
        if self.manual_dir is not None and not os.path.isdir(self.manual_dir):
            out.append(f"--manual_dir {self.manual_dir!r} is not a directory")
        if self.feature_space not in FEATURE_SPACES:
            out.append(f"--feature_space must be one of {', '.join(FEATURE_SPACES)}, got {self.feature_space!r}")
        if self.num_samples < 10:
            out.append(f"--num_samples must be >= 10, got {self.num_samples}")
        if self.num_reference < 2:
            out.append(f"--num_reference must be >= 2, got {self.num_reference}")
        for name in ("sweep_samples", "batch_size", "consistency_views"):
            if getattr(self, name) <= 0:
                out.append(f"--{name} must be positive, got {getattr(self, name)}")
        if self.sweep_values < 3:
            out.append(f"--sweep_values must be >= 3, got {self.sweep_values}")
        if not self.sweep_lo < self.sweep_hi:
            out.append(f"--sweep_lo must be < --sweep_hi, got {self.sweep_lo} and {self.sweep_hi}")
        return out


class EvalResult(NamedTuple):
    """What :func:`evaluate_model_dir` produced: the report and where it was written."""

    report: dict
    out_dir: str


def _finite_or_none(value):
    """JSON-ready copy: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, np.ndarray):
        return _finite_or_none(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _sample_quality(samples, data: EvalData, classifier) -> dict:
    from infogan_tf.data.pixels import uint8_to_unit
    from infogan_tf.evaluation.metrics.classifier_score import compute_classifier_score
    from infogan_tf.evaluation.metrics.frechet_distance import compute_frechet_distance

    if data.reference_images is None:
        raise ValueError("sample quality needs reference images")
    reference = classifier.predict(uint8_to_unit(data.reference_images))
    generated = classifier.predict(samples.images)
    real = classifier.predict(uint8_to_unit(data.test_images))
    splits = 10

    def scores(outputs) -> dict:
        out = compute_frechet_distance(outputs.features, reference.features)
        if outputs.probabilities is not None:  # a classifier, not the random features
            out.update(compute_classifier_score(outputs.probabilities, splits))
        return out

    return {
        "generated": scores(generated),
        # Real test images scored the same way: the floor a perfect generator
        # would reach (the Fréchet estimate is biased by sample size, so
        # compare at equal sizes: --num_samples = the 10,000 test images).
        "real_test": scores(real),
        "reference": f"{len(data.reference_images)} training images",
        "feature_space": classifier.info.get("feature_space")
        or f"penultimate layer of the project's {classifier.info.get('dataset')} classifier ({classifier.path})",
        "classifier": {"path": classifier.path, "test_accuracy": classifier.info.get("test_accuracy")},
    }


def evaluate(handle, data: EvalData, config: EvalConfig, classifier=None) -> dict:
    """Computes the full report of a model (no files written).

    Args:
      handle: the model (:class:`~infogan_tf.evaluation.handle.ModelHandle`).
      data: real test images with labels, and the Fréchet reference set.
      config: sample counts, sweep and seed.
      classifier: a loaded :class:`~infogan_tf.evaluation.classifier.Classifier`;
        required when ``config.sample_quality``.
    """
    from infogan_tf.data.pixels import uint8_to_unit
    from infogan_tf.evaluation import handle as handle_lib
    from infogan_tf.evaluation.metrics.code_factors import compute_code_factors
    from infogan_tf.evaluation.metrics.code_recovery import compute_code_recovery
    from infogan_tf.evaluation.metrics.continuous_effects import compute_continuous_effects, sweep_values
    from infogan_tf.evaluation.metrics.mutual_information import compute_mutual_information
    from infogan_tf.evaluation.metrics.unsupervised_accuracy import compute_unsupervised_accuracy
    from infogan_tf.training.label_free import view_consistency

    latent = handle.latent
    accuracy = []
    test_images = uint8_to_unit(data.test_images)
    q_test = handle_lib.encode_in_batches(handle, test_images, config.batch_size)
    if data.test_labels is not None:  # labels: the categorical codes' accuracy; without, none
        num_classes = int(np.max(data.test_labels)) + 1
        accuracy = [compute_unsupervised_accuracy(p, data.test_labels, num_classes) for p in q_test.categorical_probs]
    consistency = view_consistency(
        lambda x: handle.encode(x).categorical_probs,
        test_images,
        config.batch_size,
        config.seed,
        config.consistency_views,
        base=q_test.categorical_probs,
    )
    samples = handle_lib.draw_samples(handle, config.num_samples, config.batch_size, config.seed)
    information = compute_mutual_information(samples, latent)
    recovery = compute_code_recovery(samples)
    effects = compute_continuous_effects(
        handle,
        config.sweep_samples,
        sweep_values(config.sweep_lo, config.sweep_hi, config.sweep_values),
        config.seed,
        config.batch_size,
    )
    # Each code's factor in G's sweep, and Q's reading of it on the real test images (no labels).
    factors = compute_code_factors(handle, test_images, effects, q_test.continuous_mean, batch_size=config.batch_size)
    quality = None
    if config.sample_quality:
        if classifier is None or data.reference_images is None:
            raise ValueError("sample_quality needs a classifier and reference images")
        quality = _sample_quality(samples, data, classifier)

    summary = {
        "step": handle.step,
        "accuracy": accuracy[0]["accuracy"] if accuracy else None,
        "purity": accuracy[0]["purity"] if accuracy else None,
        "nmi": accuracy[0]["nmi"] if accuracy else None,
        "ari": accuracy[0]["ari"] if accuracy else None,
        # The label-free check of the first categorical code (None without one).
        "view_agreement": consistency["codes"][0]["agreement"] if consistency["codes"] else None,
        "view_information": consistency["codes"][0]["normalised_information"] if consistency["codes"] else None,
        "info_lower_bound": information["categorical"]["lower_bound"],
        "categorical_entropy": information["categorical"]["entropy"],
        "continuous_info_lower_bound": information["continuous"]["lower_bound"],
        "categorical_recovery": recovery["categorical_accuracy"],
        "continuous_r2": recovery["continuous_r2"],
        "continuous_controls": [e["strongest"] for e in effects],
        "continuous_controls_rho": [e["strongest_rho"] for e in effects],
        "continuous_factors": [c["factor"] for c in factors["codes"]],
        "continuous_factor_rho": [c["abs_rho"] for c in factors["codes"]],
        "continuous_q_r": [c["q_abs_r"] for c in factors["codes"]],
        "continuous_codes_hold": factors["verdict"]["holds"],
    }
    if quality:
        summary.update(
            frechet_distance=quality["generated"]["frechet_distance"],
            frechet_distance_real_test=quality["real_test"]["frechet_distance"],
            classifier_score=quality["generated"].get("classifier_score"),
            classifier_score_real_test=quality["real_test"].get("classifier_score"),
            feature_space=quality["feature_space"],
        )
    report = {
        "model": {"source": handle.source, "step": handle.step, "latent": latent.to_dict()},
        "summary": summary,
        "unsupervised_accuracy": accuracy,
        "view_consistency": consistency,
        "mutual_information": information,
        "code_recovery": recovery,
        "sample_quality": quality,
        "continuous_effects": effects,
        "code_factors": factors,
        "settings": dataclasses.asdict(config),
    }
    return _finite_or_none(report)


def write_figures(handle, report: dict, out_dir: str, metrics_path: str | None, seed: int = 0) -> dict:
    """Draws the figures into out_dir; returns {figure name: file name} and the curve summary."""
    from infogan_tf.evaluation import figures
    from infogan_tf.evaluation.metrics.unsupervised_accuracy import categories_by_label
    from infogan_tf.visualize import write_png

    latent = handle.latent
    written = {}
    order = None
    if latent.categorical and report["unsupervised_accuracy"]:
        order = categories_by_label(report["unsupervised_accuracy"][0]["assignment"], latent.categorical[0])
    for j in range(latent.continuous):
        name = f"traversal_c{j}.png"
        s = report["settings"]
        write_png(
            os.path.join(out_dir, name),
            figures.traversal_figure(handle, j, order, lo=s["sweep_lo"], hi=s["sweep_hi"], seed=seed),
        )
        written[f"traversal_continuous_{j}"] = name
    if latent.categorical:
        write_png(os.path.join(out_dir, "categories.png"), figures.category_figure(handle, order, seed=seed))
        written["categories"] = "categories.png"
    curve = None
    if metrics_path and os.path.isfile(metrics_path):
        steps, info = figures.read_info_curve(metrics_path)
        if len(steps):
            entropy = latent.categorical_entropy()
            figures.info_curve_figure(
                steps,
                info,
                entropy,
                os.path.join(out_dir, "info_curve.png"),
                title="Lower bound $L_I$ over training",
                mark_step=handle.step,
            )
            written["info_curve"] = "info_curve.png"
            curve = {
                "log": metrics_path,
                "points": len(steps),
                "final_step": int(steps[-1]),
                "final_info_lower_bound": float(info[-1]),
                "max_info_lower_bound": float(info.max()),
                "categorical_entropy": entropy,
            }
    return {"figures": written, "training_curve": curve}


def _feature_space(config: EvalConfig, run_config) -> str:
    """ "classifier" or "random": --feature_space, with "auto" resolved for the run."""
    from infogan_tf.config import DATASETS

    if config.feature_space != "auto":
        return config.feature_space
    info = DATASETS.get(run_config.data.dataset)
    labelled = info is not None and info.image_shape == tuple(run_config.model.image_shape)
    return "classifier" if labelled or config.classifier_dir else "random"


def evaluate_model_dir(config: EvalConfig, data: EvalData | None = None, classifier=None) -> EvalResult:
    """Evaluates a training run and writes report.json and the figures.

    Args:
      config: the evaluation settings (validated here).
      data: real images (default: loaded with TFDS per the run's dataset).
      classifier: the sample-quality classifier (default: loaded from
        ``config.classifier_dir`` or the dataset's default cache).

    Raises:
      UsageError: an invalid setting. RunDirError / CheckpointError /
      ClassifierError / DataError: the run, its checkpoint, the classifier or
      the data cannot be used. Nothing is written in these cases.
    """
    from infogan_tf import fileio
    from infogan_tf.evaluation import classifier as classifier_lib
    from infogan_tf.evaluation.handle import handle_from_model_dir

    problems = config.problems()
    if problems:
        raise UsageError(problems[0])
    run = RunDir(config.model_dir)
    run_config = run.load_config()
    # The checkpoint first: a damaged run is refused before anything else is read.
    handle = handle_from_model_dir(config.model_dir, config.checkpoint)
    if config.sample_quality and classifier is None and _feature_space(config, run_config) == "random":
        from infogan_tf.evaluation.random_features import random_feature_extractor

        classifier = random_feature_extractor(run_config.model.image_shape, config.batch_size)
    if config.sample_quality and classifier is None:
        path = config.classifier_dir or classifier_lib.default_classifier_dir(run_config.data.dataset)
        classifier = classifier_lib.load_classifier(path, run_config.data.dataset)
        shape = tuple(classifier.info.get("image_shape", ()))
        if classifier.info.get("dataset") != run_config.data.dataset:
            raise classifier_lib.ClassifierError(
                f"the classifier in {path} was trained on {classifier.info.get('dataset')!r}, "
                f"the model on {run_config.data.dataset!r}"
            )
        if shape != tuple(run_config.model.image_shape):
            raise classifier_lib.ClassifierError(
                f"the classifier in {path} takes images of shape {shape}, "
                f"the model makes {run_config.model.image_shape}"
            )
    if data is None:
        data = load_eval_data(config, run_config.data, config.seed, run_config.model.image_shape)
    report = evaluate(handle, data, config, classifier)
    report["model"]["model_dir"] = config.model_dir

    out_dir = config.out_dir or run.eval_dir(handle.step)

    def write(tmp: str) -> None:
        report.update(write_figures(handle, report, tmp, run.metrics_log, config.seed))
        report["out_dir"] = out_dir
        with open(os.path.join(tmp, REPORT_FILENAME), "w") as f:
            json.dump(report, f, indent=2, allow_nan=False)
            f.write("\n")

    fileio.publish_dir(out_dir, write, replace=True)
    return EvalResult(report, out_dir)

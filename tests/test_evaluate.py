"""End-to-end tests of infogan-evaluate (``evaluation.evaluate`` and ``cli.evaluate.main``) on a tiny trained model.

A tiny InfoGAN is trained for 2 steps on random images, a tiny classifier
for a few steps on an easy synthetic task; the evaluation data is injected
(numpy) or comes from ``tfds.testing.mock_data``.
"""

from __future__ import annotations

import json
import math
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from conftest import make_trainer, tiny_config

from infogan_tf.cli import evaluate as evaluate_cli
from infogan_tf.data.datasets import LabeledSplit
from infogan_tf.errors import RunDirError
from infogan_tf.evaluation import classifier as classifier_lib
from infogan_tf.evaluation import evaluate as evaluate_lib
from infogan_tf.evaluation.classifier import ClassifierConfig, ClassifierError
from infogan_tf.evaluation.evaluate import EvalConfig, EvalData
from infogan_tf.evaluation.handle import handle_from_model_dir
from infogan_tf.evaluation.metrics.image_statistics import image_statistics

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
STEP = 4  # conftest's trained_model_dir is trained 4 steps


def random_images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28, 1)).astype(np.uint8)


@pytest.fixture(scope="module")
def trained_run(trained_model_dir, tmp_path_factory):
    """A private copy of the session's tiny trained run (evaluation writes into it)."""
    model_dir = str(tmp_path_factory.mktemp("eval_run") / "run")
    shutil.copytree(trained_model_dir, model_dir)
    return model_dir


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, size=100)
    images = rng.integers(0, 255, size=(100, 28, 28, 1)).astype(np.uint8)
    split = LabeledSplit(images, labels)
    out = str(tmp_path_factory.mktemp("cls") / "mnist_classifier")
    config = ClassifierConfig(out_dir=out, epochs=1, batch_size=50, min_test_accuracy=0.0)
    classifier_lib.train_classifier(config, split, split)
    return classifier_lib.load_classifier(out)


def small_eval_config(model_dir: str, **overrides) -> EvalConfig:
    settings = dict(
        model_dir=model_dir, num_samples=100, num_reference=60, sweep_samples=3, sweep_values=5, batch_size=40
    )
    settings.update(overrides)
    return EvalConfig(**settings)


def injected_data() -> EvalData:
    labels = np.random.default_rng(1).integers(0, 10, size=120)
    return EvalData(random_images(120, 2), labels, random_images(60, 3))


def read_png(path: str) -> np.ndarray:
    return tf.io.decode_png(tf.io.read_file(path)).numpy()


def test_handle_restores_the_trained_weights(trained_run):
    model_dir = trained_run
    # The trainer's own restore (full checkpoint, optimisers included) is the reference.
    trainer = make_trainer(tiny_config(model_dir, train_steps=STEP), random_images(64, 0))
    assert trainer.restore() == STEP
    generator, discriminator = trainer.state.generator, trainer.state.discriminator
    handle = handle_from_model_dir(model_dir)
    assert handle.step == STEP
    assert handle.source.endswith(f"ckpt-{STEP}")
    earlier = handle_from_model_dir(model_dir, checkpoint=os.path.join(model_dir, "checkpoints", "ckpt-2"))
    assert earlier.step == 2
    rng = np.random.default_rng(0)
    z = rng.uniform(-1, 1, size=(5, 62)).astype(np.float32)
    c = np.concatenate([np.eye(10)[rng.integers(0, 10, 5)], rng.uniform(-1, 1, (5, 2))], 1).astype(np.float32)
    live = (generator(z, c, training=False).numpy() + 1.0) / 2.0
    np.testing.assert_allclose(handle.generate(z, c), live, atol=1e-5)
    assert not np.allclose(earlier.generate(z, c), live, atol=1e-5)  # another checkpoint, other weights
    images = handle.generate(z, c)
    assert images.min() >= 0.0 and images.max() <= 1.0
    out = discriminator(images * 2.0 - 1.0, training=False)
    q = handle.encode(images)
    np.testing.assert_allclose(q.categorical_probs[0], tf.nn.softmax(out.categorical_logits[0]).numpy(), atol=1e-5)
    np.testing.assert_allclose(q.continuous_std, np.exp(out.continuous_log_std.numpy()), rtol=1e-5)


def test_evaluate_model_dir_writes_report_and_figures(trained_run, tiny_classifier):
    model_dir = trained_run
    result = evaluate_lib.evaluate_model_dir(small_eval_config(model_dir), injected_data(), tiny_classifier)
    assert result.out_dir == os.path.join(model_dir, "eval", str(STEP))
    with open(os.path.join(result.out_dir, "report.json")) as f:
        report = json.load(f)
    assert report == json.loads(json.dumps(result.report))
    summary = report["summary"]
    assert summary["step"] == STEP
    assert 0.0 < summary["accuracy"] <= summary["purity"] <= 1.0
    accuracy = report["unsupervised_accuracy"][0]
    assert np.array(accuracy["confusion_matrix"]).shape == (10, 10)
    assert np.sum(accuracy["confusion_matrix"]) == 120
    assert summary["categorical_entropy"] == pytest.approx(math.log(10))
    assert summary["info_lower_bound"] <= math.log(10) + 1e-6
    # The label-free check, on the held-out images (4 moved copies of each by default).
    (check,) = report["view_consistency"]["codes"]
    assert report["view_consistency"]["views"] == 4
    assert summary["view_agreement"] == check["agreement"] and 0.0 <= check["agreement"] <= 1.0
    assert summary["view_information"] == check["normalised_information"] and 0.0 <= check["marginal_entropy"] <= 1.0
    assert len(summary["continuous_r2"]) == 2 and 0.0 <= summary["categorical_recovery"][0] <= 1.0
    assert 1.0 <= summary["classifier_score"] <= 10.0 and 1.0 <= summary["classifier_score_real_test"] <= 10.0
    assert summary["frechet_distance"] >= 0.0 and summary["frechet_distance_real_test"] >= 0.0
    assert report["sample_quality"]["generated"]["num_images"] == 100
    assert report["sample_quality"]["generated"]["num_reference"] == 60
    assert [e["code"] for e in report["continuous_effects"]] == [0, 1]
    assert len(report["continuous_effects"][0]["values"]) == 5
    # Figures: Figure 2 style grids (10 categories x 10 sweep values of 28 px, 1 px gaps) and the L_I curve.
    assert set(report["figures"]) == {"traversal_continuous_0", "traversal_continuous_1", "categories", "info_curve"}
    grid = read_png(os.path.join(result.out_dir, "traversal_c0.png"))
    assert grid.shape == (10 * 29 + 1, 10 * 29 + 1, 1)
    assert read_png(os.path.join(result.out_dir, "info_curve.png")).shape[-1] in (3, 4)
    assert report["training_curve"]["points"] == STEP and report["training_curve"]["final_step"] == STEP
    # The rows of the traversal follow the matched digits: category for digit 0 first.
    assignment = {int(k): v for k, v in accuracy["assignment"].items()}
    first_category = min(assignment, key=assignment.get)
    handle = handle_from_model_dir(model_dir)
    from infogan_tf.evaluation import figures

    expected = figures.traversal_figure(handle, 0, [first_category] + [k for k in range(10) if k != first_category])
    np.testing.assert_array_equal(grid[:29], expected[:29])
    # code_factors: each code's factor in the sweep, and Q's output read against it on the real test images.
    factors = report["code_factors"]
    assert factors["real_images"] == 120 and [c["code"] for c in factors["codes"]] == [0, 1]
    assert summary["continuous_factors"] == [c["factor"] for c in factors["codes"]]
    assert summary["continuous_codes_hold"] is factors["verdict"]["holds"]
    real = injected_data().test_images.astype(np.float32) / 255.0
    measured = image_statistics(real)
    q_mean = handle.encode(real).continuous_mean
    for c in factors["codes"]:
        for name, r in c["q_pearson_r"].items():
            assert r == pytest.approx(np.corrcoef(q_mean[:, c["code"]], measured[name])[0, 1], abs=1e-4)
        rhos = {name: e["spearman_rho"] for name, e in report["continuous_effects"][c["code"]]["statistics"].items()}
        if c["factor"] is None:  # an untrained G may move no factor by 0.1 real SD
            assert any(p.startswith(f"code {c['code']} moves none") for p in factors["verdict"]["problems"])
        else:
            assert c["abs_rho"] == pytest.approx(abs(rhos[c["factor"]]))

    # Evaluating again replaces the folder cleanly.
    again = evaluate_lib.evaluate_model_dir(small_eval_config(model_dir), injected_data(), tiny_classifier)
    assert again.report["summary"] == result.report["summary"]  # same seed, same numbers
    assert sorted(os.listdir(os.path.join(model_dir, "eval"))) == [str(STEP)]


def test_evaluate_loads_data_through_tfds(trained_run, tiny_classifier, tmp_path):
    import tensorflow_datasets as tfds

    model_dir = trained_run
    config = small_eval_config(model_dir, out_dir=str(tmp_path / "out"), data_dir=str(tmp_path / "tfds"))
    with tfds.testing.mock_data(num_examples=80):
        result = evaluate_lib.evaluate_model_dir(config, classifier=tiny_classifier)
    assert result.report["unsupervised_accuracy"][0]["num_examples"] == 80
    assert result.report["sample_quality"]["generated"]["num_reference"] == 60
    assert os.path.isfile(tmp_path / "out" / "report.json")


def test_sample_quality_can_be_skipped_and_classifier_shape_is_checked(trained_run, tmp_path):
    model_dir = trained_run
    no_quality = small_eval_config(model_dir, sample_quality=False, out_dir=str(tmp_path / "a"))
    data = injected_data()._replace(reference_images=None)
    report = evaluate_lib.evaluate_model_dir(no_quality, data).report
    assert report["sample_quality"] is None and "frechet_distance" not in report["summary"]

    wrong = tmp_path / "wrong_classifier"
    rng = np.random.default_rng(0)
    split = LabeledSplit(rng.integers(0, 255, size=(20, 32, 32, 3)).astype(np.uint8), np.arange(20) % 10)
    classifier_lib.train_classifier(ClassifierConfig(out_dir=str(wrong), epochs=1, min_test_accuracy=0.0), split, split)
    config = small_eval_config(model_dir, classifier_dir=str(wrong), out_dir=str(tmp_path / "b"))
    with pytest.raises(ClassifierError, match="takes images of shape"):
        evaluate_lib.evaluate_model_dir(config, injected_data())
    info_path = wrong / classifier_lib.INFO_FILENAME
    info_path.write_text(json.dumps({**json.loads(info_path.read_text()), "dataset": "fashion_mnist"}))
    with pytest.raises(ClassifierError, match="trained on 'fashion_mnist', the model on 'mnist'"):
        evaluate_lib.evaluate_model_dir(config, injected_data())
    missing = small_eval_config(model_dir, classifier_dir=str(tmp_path / "none"), out_dir=str(tmp_path / "c"))
    with pytest.raises(ClassifierError, match="train one with: infogan-classifier --dataset=mnist"):
        evaluate_lib.evaluate_model_dir(missing, injected_data())
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


@pytest.mark.unit
def test_model_dir_without_checkpoint_is_refused(tmp_path):
    model_dir = tmp_path / "empty_run"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(tiny_config(str(model_dir)).to_json() + "\n")
    with pytest.raises(RunDirError, match="no checkpoint"):
        evaluate_lib.evaluate_model_dir(small_eval_config(str(model_dir), sample_quality=False), injected_data())
    assert sorted(os.listdir(model_dir)) == ["config.json"]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--model_dir=/nonexistent/run"], "--model_dir '/nonexistent/run' has no config.json"),
        ([], "--model_dir must be set"),
        (["--num_samples=5"], "--num_samples must be >= 10"),
        (["--sweep_lo=2", "--sweep_hi=-2"], "--sweep_lo must be < --sweep_hi"),
        (["--num_samples=ten"], "flag --num_samples=ten: invalid literal for int()"),
        (["stray"], "unexpected arguments: stray"),
    ],
)
def test_cli_rejects_bad_flags_and_writes_nothing(trained_run, capsys, flags, message):
    model_dir = trained_run
    before = sorted(os.listdir(model_dir))
    if flags and not flags[0].startswith("--model_dir"):
        flags = [f"--model_dir={model_dir}", *flags]
    assert evaluate_cli.main(["infogan-evaluate", *flags]) == 2
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("infogan-evaluate: error: ") and message in lines[0], out.err
    assert out.out == "" and sorted(os.listdir(model_dir)) == before


def test_cli_prints_the_report_with_injected_data_and_classifier(trained_run, tiny_classifier, tmp_path, capsys):
    out_dir = tmp_path / "report"
    argv = [
        "infogan-evaluate",
        f"--model_dir={trained_run}",
        f"--out_dir={out_dir}",
        "--num_samples=100",
        "--num_reference=60",
        "--sweep_samples=3",
        "--sweep_values=5",
        "--batch_size=40",
    ]
    assert evaluate_cli.main(argv, data=injected_data(), classifier=tiny_classifier) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert report == json.loads((out_dir / "report.json").read_text())
    assert report["summary"]["step"] == STEP and report["settings"]["num_samples"] == 100
    assert report["sample_quality"]["classifier"]["path"] == tiny_classifier.path
    assert out.err.strip().splitlines()[-1] == f"infogan-evaluate: report and figures in {out_dir}"
    # Besides the JSON, the headline numbers as a table on stderr.
    table = out.err.splitlines()
    summary = report["summary"]
    assert table[0].split() == ["step", str(STEP)]
    accuracy = next(line for line in table if line.startswith("categorical code: test accuracy"))
    assert accuracy.split()[4] == f"{100 * summary['accuracy']:.1f}%"
    assert any(line.split()[-3:] == [f"{summary['nmi']:.3f}", "/", f"{summary['ari']:.3f}"] for line in table)
    frechet = next(line for line in table if line.startswith("Fréchet distance"))
    assert frechet.split()[2] == f"{summary['frechet_distance']:.2f}"
    assert sum(line.startswith("continuous code ") for line in table) == 2
    # A run without a checkpoint: one line, exit 1, nothing written.
    empty = tmp_path / "empty_run"
    empty.mkdir()
    (empty / "config.json").write_text(tiny_config(str(empty)).to_json() + "\n")
    argv = ["infogan-evaluate", f"--model_dir={empty}", "--nosample_quality"]
    assert evaluate_cli.main(argv, data=injected_data()) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("infogan-evaluate: error: ") and "no checkpoint" in lines[0]
    assert sorted(os.listdir(empty)) == ["config.json"]

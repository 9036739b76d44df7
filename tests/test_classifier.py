"""Tests of the sample-quality classifier: training, the cache, loading, the command line (``cli.classifier.main``).

The >= 99 % MNIST test accuracy is measured by the classifier command on the
real files (see README); here a tiny classifier learns an easy synthetic task.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import REPO

from infogan_tf.cli import classifier as classifier_cli
from infogan_tf.config import DataConfig
from infogan_tf.data.datasets import LabeledSplit
from infogan_tf.evaluation import classifier as classifier_lib
from infogan_tf.evaluation.classifier import ClassifierConfig, ClassifierError

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def patch_split(n, seed):
    """Class k = a bright 6x6 patch at the k-th cell of a 4x3 grid, on noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n)
    images = rng.integers(0, 40, size=(n, 28, 28, 1)).astype(np.uint8)
    for i, k in enumerate(labels):
        r, c = 2 + 8 * (k // 4), 2 + 7 * (k % 4)
        images[i, r : r + 6, c : c + 6] = 255
    return LabeledSplit(images, labels)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("cache") / "mnist_classifier")
    config = ClassifierConfig(out_dir=out, epochs=3, batch_size=25, min_test_accuracy=0.0, seed=1)
    result = classifier_lib.train_classifier(config, patch_split(500, 0), patch_split(200, 1))
    return result, out


@pytest.mark.unit
def test_build_classifier_shapes():
    model = classifier_lib.build_classifier((28, 28, 1), 10)
    assert model.output_shape == (None, 10)
    assert model.get_layer(classifier_lib.FEATURE_LAYER).output.shape[-1] == 128


def test_trained_classifier_is_cached_and_reloads_consistently(trained):
    result, out = trained
    assert result.out_dir == out
    assert result.test_accuracy > 0.5  # chance is 0.1
    with open(os.path.join(out, classifier_lib.INFO_FILENAME)) as f:
        info = json.load(f)
    assert info["test_accuracy"] == result.test_accuracy
    assert info["image_shape"] == [28, 28, 1] and info["num_classes"] == 10
    loaded = classifier_lib.load_classifier(out)
    test = patch_split(200, 1)
    outputs = loaded.predict(test.images)  # uint8 is scaled to [0, 1] like in training
    assert outputs.features.shape == (200, 128)
    np.testing.assert_allclose(outputs.probabilities.sum(axis=1), 1.0, rtol=1e-5)
    reloaded_accuracy = float(np.mean(outputs.probabilities.argmax(1) == test.labels))
    assert reloaded_accuracy == pytest.approx(result.test_accuracy)
    as_float = loaded.predict(test.images.astype(np.float32) / 255.0)
    np.testing.assert_allclose(as_float.features, outputs.features, rtol=1e-5, atol=1e-5)
    # No temporary folders are left beside the cache.
    assert sorted(os.listdir(os.path.dirname(out))) == ["mnist_classifier"]


def test_classifier_below_min_accuracy_writes_nothing(trained):
    _, out = trained
    info_path = os.path.join(out, classifier_lib.INFO_FILENAME)
    with open(info_path) as f:
        before = f.read()
    rng = np.random.default_rng(3)
    noise = LabeledSplit(rng.integers(0, 255, size=(60, 28, 28, 1)).astype(np.uint8), rng.integers(0, 10, size=60))
    config = ClassifierConfig(out_dir=out, epochs=1, batch_size=30, min_test_accuracy=1.0)
    with pytest.raises(ClassifierError, match="below --min_test_accuracy"):
        classifier_lib.train_classifier(config, noise, noise)
    with open(info_path) as f:
        assert f.read() == before
    assert sorted(os.listdir(os.path.dirname(out))) == ["mnist_classifier"]


def test_each_dataset_has_its_own_accuracy_bar(tmp_path):
    def bar(dataset, given=None):
        return ClassifierConfig(data=DataConfig(dataset=dataset), min_test_accuracy=given).resolved_min_test_accuracy

    assert bar("mnist") == 0.99
    assert bar("fashion_mnist") == 0.9
    assert bar("some_tfds_dataset") == 0.9
    assert bar("fashion_mnist", given=0.5) == 0.5
    # The refusal names the bar that applied: Fashion-MNIST's, not MNIST's.
    rng = np.random.default_rng(4)
    noise = LabeledSplit(rng.integers(0, 255, size=(60, 28, 28, 1)).astype(np.uint8), rng.integers(0, 10, size=60))
    config = ClassifierConfig(data=DataConfig(dataset="fashion_mnist"), out_dir=str(tmp_path / "c"), epochs=1)
    with pytest.raises(ClassifierError, match=r"below --min_test_accuracy=0\.9;"):
        classifier_lib.train_classifier(config, noise, noise)
    assert not os.path.exists(tmp_path / "c")


@pytest.mark.unit
def test_missing_or_corrupt_cache_is_a_clear_error(tmp_path):
    with pytest.raises(ClassifierError, match="train one with: infogan-classifier --dataset=mnist"):
        classifier_lib.load_classifier(str(tmp_path / "none"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / classifier_lib.MODEL_FILENAME).write_bytes(b"not a keras file")
    (broken / classifier_lib.INFO_FILENAME).write_text('{"feature_layer": "features", "image_shape": [28, 28, 1]}')
    with pytest.raises(ClassifierError, match="cannot load"):
        classifier_lib.load_classifier(str(broken))


@pytest.mark.unit
def test_default_cache_is_per_dataset_under_the_users_home_not_the_repository(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # read when asked, not at import
    paths = {name: classifier_lib.default_classifier_dir(name) for name in ("mnist", "fashion_mnist")}
    assert len(set(paths.values())) == 2
    for name, path in paths.items():
        assert path.startswith(str(tmp_path) + os.sep) and name in os.path.basename(path)
        assert not os.path.abspath(path).startswith(REPO + os.sep)
    config = ClassifierConfig(data=DataConfig(dataset="fashion_mnist"))
    assert config.resolved_out_dir == paths["fashion_mnist"]


@pytest.mark.unit
@pytest.mark.parametrize(
    "flag, message, code",
    [
        ("--epochs=0", "--epochs must be positive", 2),
        ("--min_test_accuracy=1.5", "--min_test_accuracy must be in [0, 1]", 2),
        ("--dataset=cifar", "--dataset must be one of", 2),
        ("--manual_dir=/nonexistent/mnist", "--manual_dir '/nonexistent/mnist' is not a directory", 2),
        ("--learning_rate=fast", "flag --learning_rate=fast: could not convert string to float", 2),
        ("stray", "unexpected arguments: stray", 2),
    ],
)
def test_cli_rejects_bad_flags_and_writes_nothing(tmp_path, capsys, flag, message, code):
    out = tmp_path / "cache"
    assert classifier_cli.main(["infogan-classifier", flag, f"--out={out}"]) == code
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("infogan-classifier: error: ") and message in lines[0], lines
    assert not out.exists()


def test_cli_trains_on_injected_splits_and_refuses_a_poor_classifier(tmp_path, capsys):
    out = tmp_path / "cache"
    splits = (patch_split(200, 0), patch_split(100, 1))
    argv = ["infogan-classifier", f"--out={out}", "--epochs=1", "--batch_size=50"]
    assert classifier_cli.main([*argv, "--min_test_accuracy=0"], splits=splits) == 0
    stdout = capsys.readouterr().out  # Keras' epoch lines (verbose=2), then the result as JSON
    result = json.loads(stdout[stdout.index("{") :])
    assert result["out_dir"] == str(out) and 0.0 <= result["test_accuracy"] <= 1.0
    assert json.loads((out / classifier_lib.INFO_FILENAME).read_text())["test_accuracy"] == result["test_accuracy"]
    before = (out / classifier_lib.INFO_FILENAME).read_text()
    assert classifier_cli.main([*argv, "--min_test_accuracy=1"], splits=splits) == 1
    captured = capsys.readouterr()
    assert "out_dir" not in captured.out
    assert (
        captured.err.strip().splitlines()[-1].startswith("infogan-classifier: error: classifier test accuracy")
        and "below --min_test_accuracy=1.0" in captured.err
    )
    assert (out / classifier_lib.INFO_FILENAME).read_text() == before


@pytest.mark.unit
def test_each_dataset_trains_its_classifier_long_enough_for_its_bar_unless_told():
    fashion = DataConfig(dataset="fashion_mnist")
    assert ClassifierConfig().resolved_epochs == 6
    assert ClassifierConfig(data=fashion).resolved_epochs == 12
    assert ClassifierConfig(data=fashion, epochs=2).resolved_epochs == 2

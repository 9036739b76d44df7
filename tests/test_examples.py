"""The examples/ scripts run, in process through their ``main(argv)``, on a tiny configuration.

One tiny run (the small networks, two steps, fake images through the
``images`` seam: no download) is trained and exported by
examples/train_and_export.py; the other two examples read its export.
"""

import pathlib

import numpy as np
import pytest
from conftest import random_images

import infogan_tf as ig
from examples import classify_generated, keras_layer, train_and_export


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(the loaded model, the export's base directory) of the example's tiny run."""
    root = tmp_path_factory.mktemp("examples")
    images = random_images()
    argv = ["--small", "--train_steps=2", "--batch_size=8", f"--model_dir={root}/run", f"--export_dir={root}/models"]
    return train_and_export.main(argv, images=images), str(root / "models")


def test_train_and_export_trains_exports_and_loads(exported):
    model, base = exported
    assert isinstance(model, ig.Model) and model.path == str(pathlib.Path(base, "2").resolve())
    assert model.metadata["step"] == 2
    assert model.metadata["training_config"]["model"]["g_filters"] == [16, 8]  # --small
    assert model.generate(num=2).shape == (2, 28, 28, 1)


def test_classify_generated_trains_a_classifier_on_the_stream(exported, capsys):
    scores = classify_generated.main([f"--saved_model={exported[1]}", "--steps=3", "--batch_size=16", "--test_size=20"])
    assert set(scores) == {"accuracy", "agreement_with_q"}
    assert all(0.0 <= v <= 1.0 for v in scores.values())
    assert "held-out generated images" in capsys.readouterr().out


def test_the_labelled_stream_holds_the_categories_asked_for(exported):
    model = exported[0]
    images, labels = next(iter(classify_generated.labelled_images(model, batch_size=6, seed=1)))
    assert images.shape == (6, 28, 28, 1) and labels.dtype == "int32"
    # Each image is G's for its label: the same seed regenerates it.
    again, again_labels = next(iter(classify_generated.labelled_images(model, batch_size=6, seed=1)))
    np.testing.assert_array_equal(images.numpy(), again.numpy())
    np.testing.assert_array_equal(labels.numpy(), again_labels.numpy())


def test_keras_layer_round_trip_matches_the_model(exported):
    model = exported[0]
    out = keras_layer.main([f"--saved_model={exported[1]}", "--num=4"])
    codes = out["codes"]
    expected = model.generate(codes["categorical"], codes["continuous"], codes["z"])
    np.testing.assert_allclose(out["images"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        out["categorical_probs"], model.encode(expected).categorical_probs[0], rtol=1e-4, atol=1e-5
    )

"""Training on a folder of image files (``--image_dir``): listing, pixels, cache vs stream, resume, bad input.

Folders are generated per test (a few small PNG/JPEG/GIF/BMP files); every
bad-input case of issue 13 is one test asserting the one-line message, the
exit status through ``cli.train.main``, and that --model_dir is untouched.
"""

import json
import logging
import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import cli_config, snapshot
from PIL import Image

from infogan_tf import errors
from infogan_tf.cli import train as train_cli
from infogan_tf.config import DataConfig
from infogan_tf.data import folder, source
from infogan_tf.data.decode import fit
from infogan_tf.data.pipeline import StreamedImages, make_input_fn

TINY = [
    "--batch_size=4",
    "--log_every=1",
    "--summary_every=100",
    "--checkpoint_every=2",
    "--g_fc_units=16",
    "--g_filters=8,4",
    "--d_filters=4,8",
    "--d_fc_units=16",
    "--q_fc_units=8",
    "--nojit_compile",
    "--mixed_precision=float32",
]


def _write(path, array, fmt=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.squeeze(array) if array.shape[-1] == 1 else array).save(path, format=fmt)


def _folder(root, n=12, size=(20, 24), channels=1, seed=0):
    """``n`` random images (a mix of PNG and JPEG, some in a subfolder); image i's first pixel row is i*10."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        image = rng.integers(0, 256, size=(*size, channels), dtype=np.uint8)
        image[0] = i * 10
        name = f"sub/{i:03d}.png" if i % 3 else f"{i:03d}.png"
        _write(os.path.join(root, name), image)
    return str(root)


def _take(images, batch, steps, seed=0, start_step=0):
    ds = make_input_fn(images, batch, seed, start_step=start_step)(tf.distribute.InputContext())
    return [b.numpy() for b in ds.take(steps)]


def _main(*args):
    return train_cli.main(["infogan-train", *args])


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("infogan-train: error: "), err
    return err[0]


# ------------------------------------------------------------------ listing and pixels
@pytest.mark.unit
def test_listing_is_recursive_sorted_and_skips_hidden_and_other_files(tmp_path):
    root = _folder(tmp_path / "imgs", n=4)
    _write(str(tmp_path / "imgs" / ".hidden" / "x.png"), np.zeros((20, 24, 1), np.uint8))
    _write(str(tmp_path / "imgs" / "b.JPEG"), np.zeros((20, 24, 3), np.uint8), fmt="JPEG")
    _write(str(tmp_path / "imgs" / "c.gif"), np.zeros((20, 24, 3), np.uint8))
    _write(str(tmp_path / "imgs" / "d.bmp"), np.zeros((20, 24, 3), np.uint8))
    (tmp_path / "imgs" / "labels.csv").write_text("a,b\n")
    listed, ignored = folder.list_files(root)
    assert [p for p, _ in listed] == ["000.png", "003.png", "b.JPEG", "c.gif", "d.bmp", "sub/001.png", "sub/002.png"]
    assert ignored == 1
    found = folder.scan(root)
    assert {f.path: f.channels for f in found.images}["b.JPEG"] == 3 and found.images[0].channels == 1
    assert (found.images[0].height, found.images[0].width) == (20, 24) and not found.bad


@pytest.mark.unit
def test_images_of_the_training_size_are_read_bit_exact(tmp_path):
    image = np.random.default_rng(1).integers(0, 256, size=(28, 28, 1), dtype=np.uint8)
    _write(str(tmp_path / "a.png"), image)
    loaded = source.load_training_data(DataConfig(image_dir=str(tmp_path)), (28, 28, 1))
    np.testing.assert_array_equal(loaded.images[0], image)


@pytest.mark.unit
def test_a_tfds_split_written_as_pngs_reads_back_as_the_same_array(tmp_path):
    # What experiments/folder_vs_tfds.py relies on for "the same batches" from both paths.
    import tensorflow_datasets as tfds

    from infogan_tf.data.datasets import load_train_images

    with tfds.testing.mock_data(num_examples=12):
        split = load_train_images(DataConfig(dataset="mnist"))
    for i, image in enumerate(split):
        _write(str(tmp_path / "png" / f"{i:02d}.png"), image)
    loaded = source.load_training_data(DataConfig(image_dir=str(tmp_path / "png")), (28, 28, 1))
    np.testing.assert_array_equal(loaded.images, split)


@pytest.mark.unit
def test_resize_keeps_the_centre_and_converts_channels():
    # 40 x 120: thirds red, green, blue; at 16 x 16 the centre crop is the green third.
    image = np.zeros((40, 120, 3), np.uint8)
    image[:, :40, 0], image[:, 40:80, 1], image[:, 80:, 2] = 255, 255, 255
    out = fit(tf.constant(image), (16, 16, 3)).numpy()
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, 4:12], np.broadcast_to([0, 255, 0], (16, 8, 3)))
    grey = fit(tf.constant(image), (16, 16, 1)).numpy()
    assert grey.shape == (16, 16, 1) and abs(int(grey[8, 8, 0]) - round(0.587 * 255)) <= 1  # luma of green
    rgba = np.concatenate([image, np.full((40, 120, 1), 7, np.uint8)], axis=-1)
    np.testing.assert_array_equal(fit(tf.constant(rgba), (16, 16, 3)).numpy(), out)  # alpha dropped
    colour = fit(tf.constant(np.full((8, 8, 1), 90, np.uint8)), (8, 8, 3)).numpy()
    assert (colour == 90).all() and colour.shape == (8, 8, 3)


@pytest.mark.unit
def test_cached_and_streamed_folders_give_the_same_batches_and_resume_exactly(tmp_path):
    root = _folder(tmp_path / "imgs", n=12)
    cached = source.load_training_data(DataConfig(image_dir=root, cache="memory"), (16, 16, 1)).images
    streamed = source.load_training_data(DataConfig(image_dir=root, cache="stream"), (16, 16, 1)).images
    assert isinstance(cached, np.ndarray) and isinstance(streamed, StreamedImages)
    full = _take(cached, 4, steps=7, seed=3)
    for a, b in zip(full, _take(streamed, 4, steps=7, seed=3)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(full[5:], _take(streamed, 4, steps=2, seed=3, start_step=5)):
        np.testing.assert_array_equal(a, b)
    assert full[0].shape == (4, 16, 16, 1) and full[0].min() >= -1 and full[0].max() <= 1


@pytest.mark.unit
def test_auto_cache_follows_the_memory_limit():
    assert source.cache_in_memory(DataConfig(cache_limit_mb=1), 1000, (32, 32, 1))  # 1 MB: fits
    assert not source.cache_in_memory(DataConfig(cache_limit_mb=1), 1025, (32, 32, 1))
    assert not source.cache_in_memory(DataConfig(cache="stream"), 1, (8, 8, 1))


@pytest.mark.unit
def test_eval_fraction_holds_out_a_fixed_part_that_evaluation_reads(tmp_path):
    root = _folder(tmp_path / "imgs", n=20)
    data = DataConfig(image_dir=root, eval_fraction=0.25)
    loaded = source.load_training_data(data, (16, 16, 1))
    held = [f[0] for f in loaded.manifest["held_out"]]
    assert len(held) == 5 and len(loaded.images) == 15
    assert not set(held) & {f[0] for f in loaded.manifest["train"]}
    again = source.load_training_data(DataConfig(image_dir=root, eval_fraction=0.25, cache="stream"), (16, 16, 1))
    assert [f[0] for f in again.manifest["held_out"]] == held  # no seed involved
    evaluation = source.load_eval_images(data, (16, 16, 1), loaded.manifest)
    assert evaluation.shape == (5, 16, 16, 1)
    with pytest.raises(errors.DataError, match="has no held-out images; train with --eval_fraction"):
        source.load_eval_images(DataConfig(image_dir=root), (16, 16, 1))


@pytest.mark.unit
def test_a_second_folder_is_the_held_out_part(tmp_path):
    root = _folder(tmp_path / "train", n=8)
    other = tmp_path / "eval"
    for i in range(3):
        _write(str(other / f"held_{i}.png"), np.full((16, 16, 1), 50 + i, np.uint8))
    data = DataConfig(image_dir=root, eval_image_dir=str(other))
    loaded = source.load_training_data(data, (16, 16, 1))
    assert len(loaded.images) == 8 and len(loaded.manifest["held_out"]) == 3
    held = source.load_eval_images(data, (16, 16, 1), loaded.manifest, limit=2)
    assert held.shape == (2, 16, 16, 1) and held[:, 0, 0, 0].tolist() == [50, 52]


# ------------------------------------------------------------------ the command line
@pytest.mark.unit
def test_the_shape_comes_from_the_flags_the_preset_or_the_files(tmp_path):
    root = _folder(tmp_path / "imgs", n=3, size=(41, 50))

    def shape(*args):
        return cli_config(f"--image_dir={root}", *args)

    cfg = shape()
    assert cfg.model.image_shape == (40, 40, 1) and cfg.data.channels == 0  # from the files
    assert shape("--image_size=16", "--channels=3").model.image_shape == (16, 16, 3)
    svhn = shape("--preset=svhn")
    assert svhn.model.image_shape == (32, 32, 3) and svhn.data.channels == 3  # the preset's, files converted
    # Upright views are for MNIST's digits: a folder gets them only when the mnist preset is asked for.
    assert cfg.real_info.real_info_view == "affine" and shape("--preset=mnist").real_info.real_info_view == "deskewed"


@pytest.mark.slow
def test_training_on_a_streamed_folder_records_its_files_and_resumes(tmp_path, capsys):
    root = _folder(tmp_path / "imgs", n=12)
    run = tmp_path / "run"
    args = [f"--image_dir={root}", "--image_size=16", "--cache=stream", f"--model_dir={run}", *TINY]
    assert _main(*args, "--train_steps=2") == 0
    manifest = json.loads((run / "images.json").read_text())
    assert len(manifest["train"]) == 12 and manifest["image_shape"] == [16, 16, 1]
    assert _main(*args, "--train_steps=3") == 0
    assert "resumed from" in capsys.readouterr().err
    # The folder changed: refused, the run left as it was.
    _write(os.path.join(root, "new.png"), np.zeros((20, 24, 1), np.uint8))
    before = snapshot(run)
    assert _main(*args, "--train_steps=4") == 2
    line = _one_error_line(capsys)
    assert "changed since this run started" in line and "1 added (new.png)" in line
    assert snapshot(run) == before


@pytest.mark.slow
def test_a_file_removed_while_streaming_stops_the_run_with_one_line(tmp_path):
    from conftest import make_trainer, tiny_config

    root = _folder(tmp_path / "imgs", n=12, size=(28, 28))
    paths = [os.path.join(root, p) for p, _ in folder.list_files(root)[0]]
    trainer = make_trainer(tiny_config(str(tmp_path / "run"), train_steps=6), StreamedImages(tuple(paths), (28, 28, 1)))
    os.remove(paths[5])
    with pytest.raises(errors.DataError) as e:
        trainer.train(progress=lambda _: None)
    assert str(e.value).startswith("reading the training images failed during step ")
    assert "restore --image_dir and rerun to resume from" in str(e.value) and "\n" not in str(e.value)


# ------------------------------------------------------------------ bad input (issue 13, item 5)
def _refused(tmp_path, capsys, image_dir, *flags, status=1):
    run = tmp_path / "run"
    assert _main(f"--image_dir={image_dir}", f"--model_dir={run}", "--train_steps=1", *TINY, *flags) == status
    line = _one_error_line(capsys)
    assert not run.exists()
    return line


@pytest.mark.unit
def test_an_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    line = _refused(tmp_path, capsys, tmp_path / "empty")
    assert line.endswith(f"--image_dir '{tmp_path / 'empty'}' has no files")


@pytest.mark.unit
def test_a_folder_without_images(tmp_path, capsys):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("x")
    (tmp_path / "docs" / "b.csv").write_text("y")
    line = _refused(tmp_path, capsys, tmp_path / "docs")
    assert "has no image files (.png, .jpg, .jpeg, .gif, .bmp), only 2 other files" in line


@pytest.mark.unit
def test_a_non_image_file_with_an_image_extension(tmp_path, capsys):
    root = _folder(tmp_path / "imgs", n=3)
    (tmp_path / "imgs" / "fake.jpg").write_text("<html>not a picture</html>")
    line = _refused(tmp_path, capsys, root, "--image_size=16")
    assert "1 of 4 files are not readable images: fake.jpg (not an image)" in line


@pytest.mark.unit
def test_a_truncated_image_is_named_before_training(tmp_path, capsys):
    root = _folder(tmp_path / "imgs", n=3)
    path = tmp_path / "imgs" / "sub" / "001.png"
    path.write_bytes(path.read_bytes()[:120])  # the header survives, the pixels do not
    line = _refused(tmp_path, capsys, root, "--image_size=16")
    assert "1 of 3 files are not readable images: sub/001.png (cannot decode: " in line


@pytest.mark.unit
def test_a_few_bad_files_in_a_large_folder_are_skipped_and_logged(tmp_path, caplog):
    root = _folder(tmp_path / "imgs", n=10)
    (tmp_path / "imgs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    data = DataConfig(image_dir=root, max_bad_fraction=0.1)
    with caplog.at_level(logging.WARNING):
        loaded = source.load_training_data(data, (16, 16, 1))
    assert len(loaded.images) == 10 and [s[0] for s in loaded.manifest["skipped"]] == ["broken.png"]
    assert "skipping 1 unreadable files of 11: broken.png" in caplog.text


@pytest.mark.unit
def test_mixed_grey_and_colour_files_are_refused_or_converted(tmp_path, capsys):
    root = _folder(tmp_path / "imgs", n=3)
    _write(os.path.join(root, "colour.jpg"), np.zeros((20, 24, 3), np.uint8))
    line = _refused(tmp_path, capsys, root, status=1)
    assert "mixes 3 grey images (000.png, sub/001.png, sub/002.png) and 1 colour images (colour.jpg)" in line
    assert "--channels=1 or --channels=3" in line
    loaded = source.load_training_data(DataConfig(image_dir=root, channels=3), (16, 16, 3))
    assert loaded.images.shape == (4, 16, 16, 3)


@pytest.mark.unit
def test_images_smaller_than_the_training_size(tmp_path, capsys):
    root = _folder(tmp_path / "imgs", n=2, size=(20, 24))
    _write(os.path.join(root, "tiny.png"), np.zeros((8, 10, 1), np.uint8))
    line = _refused(tmp_path, capsys, root, "--image_size=16")
    assert "1 images are smaller than the training size 16x16: tiny.png (10x8); pass --upscale" in line
    loaded = source.load_training_data(DataConfig(image_dir=root, upscale=True), (16, 16, 1))
    assert loaded.images.shape == (3, 16, 16, 1)


@pytest.mark.unit
def test_fewer_images_than_a_batch(tmp_path, capsys):
    root = _folder(tmp_path / "imgs", n=3)
    line = _refused(tmp_path, capsys, root, "--image_size=16")
    assert line.endswith("the training data has 3 images, fewer than the per-replica batch of 4")


@pytest.mark.unit
def test_a_folder_that_is_not_there(tmp_path, capsys):
    line = _refused(tmp_path, capsys, tmp_path / "missing", status=2)
    assert f"--image_dir '{tmp_path / 'missing'}' is not a directory" in line


@pytest.mark.slow
def test_a_folder_run_is_evaluated_on_its_held_out_files_without_labels(tmp_path):
    from infogan_tf.evaluation import evaluate as evaluate_lib

    root = _folder(tmp_path / "imgs", n=16)
    run = tmp_path / "run"
    args = [f"--image_dir={root}", "--image_size=16", "--eval_fraction=0.25", f"--model_dir={run}", *TINY]
    assert _main(*args, "--train_steps=1") == 0
    held_out = json.loads((run / "images.json").read_text())
    settings = dict(num_samples=20, num_reference=20, sweep_samples=2, sweep_values=3, batch_size=10)
    result = evaluate_lib.evaluate_model_dir(
        evaluate_lib.EvalConfig(model_dir=str(run), out_dir=str(tmp_path / "eval"), **settings)
    )
    summary = result.report["summary"]
    # No labels: no accuracy; the Fréchet distance is measured against the held-out files in random-CNN features.
    assert summary["accuracy"] is None and "random-init CNN" in summary["feature_space"]
    assert summary["frechet_distance"] > 0 and len(held_out["train"]) == 12

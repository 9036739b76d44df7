"""Data: the deterministic, sharded, resumable pipeline; TFDS preparation (mock and real files)."""

import functools
import gzip
import operator
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from conftest import MNIST_DIR

from infogan_tf.config import DataConfig
from infogan_tf.data import datasets as data_lib
from infogan_tf.data.pipeline import make_input_fn
from infogan_tf.data.pixels import to_model_range
from infogan_tf.training.distribute import mirrored_strategy


def _images(n=16):
    # Image i is filled with the value i, so a batch reveals which images it holds.
    return np.repeat(np.arange(n, dtype=np.uint8), 28 * 28).reshape(n, 28, 28, 1)


def _ids(batch):
    return np.rint((np.asarray(batch)[:, 0, 0, 0] + 1.0) * 127.5).astype(int).tolist()


def _take(input_fn, steps, ctx=None):
    ds = input_fn(ctx or tf.distribute.InputContext())
    return [b.numpy() for b in ds.take(steps)]


@pytest.mark.unit
def test_batches_are_scaled_images_only():
    batches = _take(make_input_fn(_images(), 4, seed=0), 2)
    assert batches[0].shape == (4, 28, 28, 1) and batches[0].dtype == np.float32
    assert batches[0].min() >= -1 and batches[0].max() <= 1
    np.testing.assert_allclose(to_model_range(tf.constant([0, 255], tf.uint8)).numpy(), [-1, 1])


@pytest.mark.unit
def test_each_epoch_is_a_fresh_permutation():
    batches = _take(make_input_fn(_images(16), 4, seed=1), 8)
    epoch1 = functools.reduce(operator.iadd, (_ids(b) for b in batches[:4]), [])
    epoch2 = functools.reduce(operator.iadd, (_ids(b) for b in batches[4:]), [])
    assert sorted(epoch1) == sorted(epoch2) == list(range(16))
    assert epoch1 != epoch2
    other_seed = functools.reduce(operator.iadd, (_ids(b) for b in _take(make_input_fn(_images(16), 4, seed=2), 4)), [])
    assert other_seed != epoch1


@pytest.mark.unit
def test_resuming_continues_the_same_stream():
    full = _take(make_input_fn(_images(), 4, seed=3), 7)
    resumed = _take(make_input_fn(_images(), 4, seed=3, start_step=5), 2)
    np.testing.assert_array_equal(resumed[0], full[5])
    np.testing.assert_array_equal(resumed[1], full[6])


@pytest.mark.unit
def test_input_pipelines_of_several_workers_split_each_global_batch():
    fn = make_input_fn(_images(), 8, seed=4)
    single = _take(fn, 3)
    workers = [
        _take(fn, 3, tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=i, num_replicas_in_sync=2))
        for i in range(2)
    ]
    for step in range(3):
        assert _ids(workers[0][step]) + _ids(workers[1][step]) == _ids(single[step])


@pytest.mark.unit
def test_mirrored_replicas_split_each_global_batch():
    strategy = mirrored_strategy(["/cpu:0", "/cpu:1"])
    fn = make_input_fn(_images(), 8, seed=5)
    single = _take(fn, 2)
    it = iter(strategy.distribute_datasets_from_function(fn))
    for step in range(2):
        parts = strategy.experimental_local_results(next(it))
        assert _ids(parts[0]) + _ids(parts[1]) == _ids(single[step])


@pytest.mark.unit
def test_a_batch_larger_than_the_dataset_is_refused():
    with pytest.raises(data_lib.DataError, match="has 16 images, fewer than the per-replica batch of 32"):
        _take(make_input_fn(_images(16), 32, seed=0), 1)


@pytest.mark.unit
def test_tfds_loading_under_mock_data():
    with tfds.testing.mock_data(num_examples=8):
        images = data_lib.load_train_images(DataConfig(dataset="mnist"))
    assert images.shape == (8, 28, 28, 1) and images.dtype == np.uint8


@pytest.mark.unit
def test_manual_dir_missing_files_named(tmp_path):
    shutil.copy(os.path.join(MNIST_DIR, "train-labels-idx1-ubyte.gz"), tmp_path) if os.path.isdir(MNIST_DIR) else None
    with pytest.raises(data_lib.DataError) as e:
        data_lib.check_manual_dir(DataConfig(dataset="mnist", manual_dir=str(tmp_path)))
    assert "lacks train-images-idx3-ubyte.gz" in str(e.value)
    assert "t10k-labels-idx1-ubyte.gz" in str(e.value)


@pytest.mark.skipif(not os.path.isdir(MNIST_DIR), reason=f"official MNIST files not at {MNIST_DIR}")
def test_truncated_file_is_rejected_and_nothing_prepared(tmp_path, capsys):
    manual = tmp_path / "manual"
    shutil.copytree(MNIST_DIR, manual)
    path = manual / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:1000])
    data_dir = tmp_path / "tfds"
    with pytest.raises(data_lib.DataError) as e:
        data_lib.load_train_images(DataConfig(dataset="mnist", data_dir=str(data_dir), manual_dir=str(manual)))
    message = str(e.value)
    assert "could not prepare mnist" in message and str(manual) in message
    assert not list(data_dir.glob("mnist/*/dataset_info.json"))
    # One line on stderr instead of TFDS's bars, nothing of TFDS's on stdout.
    out = capsys.readouterr()
    assert out.err == f"preparing mnist from {manual} into {data_dir}/mnist/3.0.1 ... failed\n"
    assert out.out == ""


@pytest.mark.slow
def test_fashion_mnist_prepared_beside_mnist_is_fashion_mnist(mnist_data_dir):
    # Both datasets' files have the same names; TFDS once reused MNIST's extracted files for Fashion-MNIST.
    fashion_dir = os.path.join(os.path.dirname(MNIST_DIR), "fashion_mnist")
    if not os.path.isdir(fashion_dir):
        pytest.skip(f"the official Fashion-MNIST files are not at {fashion_dir}")
    test = data_lib.load_labeled_split(
        DataConfig(dataset="fashion_mnist", data_dir=mnist_data_dir, manual_dir=fashion_dir)
    )
    np.testing.assert_array_equal(np.bincount(test.labels, minlength=10), [1000] * 10)  # MNIST's are uneven
    with gzip.open(os.path.join(fashion_dir, "t10k-images-idx3-ubyte.gz")) as f:
        raw = np.frombuffer(f.read()[16:], np.uint8)
    assert int(test.images.astype(np.int64).sum()) == int(raw.astype(np.int64).sum())


@pytest.mark.slow  # prepares the real 70,000 images through TFDS (about 20 s)
def test_real_mnist_files_prepare_offline(mnist_data_dir):
    images = data_lib.load_train_images(DataConfig(dataset="mnist", data_dir=mnist_data_dir))
    assert images.shape == (60000, 28, 28, 1) and images.dtype == np.uint8
    # The pixel statistics of the official training set (see shared/data/mnist/README.md).
    assert images.mean() == pytest.approx(33.3184, abs=1e-3)
    test = data_lib.load_labeled_split(DataConfig(dataset="mnist", data_dir=mnist_data_dir))
    np.testing.assert_array_equal(
        np.bincount(test.labels, minlength=10), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    )
    with gzip.open(os.path.join(MNIST_DIR, "t10k-labels-idx1-ubyte.gz")) as f:
        assert len(f.read()) == 10008

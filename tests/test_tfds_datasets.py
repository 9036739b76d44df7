"""Any TFDS image dataset by name, under ``tfds.testing.mock_data`` (nothing is downloaded).

The name is checked offline, the image feature found (or named by
``--image_key``), and the images delivered at the network's input shape.
"""

import numpy as np
import pytest
import tensorflow_datasets as tfds
from conftest import cli_config

from infogan_tf import errors
from infogan_tf.config import DataConfig
from infogan_tf.data import datasets, source

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "name, shape",
    # (celeb_a: the same code path, but its mock data take over a minute to generate.)
    [("cifar10", (32, 32, 3)), ("shapes3d", (64, 64, 3)), ("dsprites", (64, 64, 1))],
)
def test_image_datasets_are_read_at_the_network_input(name, shape):
    assert datasets.native_shape(DataConfig(dataset=name)) == shape
    with tfds.testing.mock_data(num_examples=5):
        images = source.load_training_data(DataConfig(dataset=name), (28, 28, 1)).images
        native = datasets.load_train_images(DataConfig(dataset=name))
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.uint8
    assert native.shape == (5, *shape)


def test_an_unknown_name_is_refused_offline_with_suggestions():
    with pytest.raises(errors.ConfigError) as e:
        datasets.native_shape(DataConfig(dataset="cifar11"))
    assert str(e.value).startswith("--dataset=cifar11 is not a TFDS dataset (did you mean cifar10")


def test_a_dataset_without_an_image_feature_lists_its_features():
    with pytest.raises(errors.ConfigError) as e:
        datasets.native_shape(DataConfig(dataset="iris"))
    assert str(e.value) == "--dataset=iris has no image feature (its features: features, label)"


def test_image_key_must_name_an_image_feature():
    with pytest.raises(errors.ConfigError) as e:
        datasets.native_shape(DataConfig(dataset="celeb_a", image_key="landmarks/nose_x"))
    assert str(e.value) == "--image_key=landmarks/nose_x is not an image feature of celeb_a (its image features: image)"
    assert datasets.native_shape(DataConfig(dataset="celeb_a", image_key="image")) == (218, 178, 3)


def test_labels_are_only_read_where_the_dataset_has_them():
    with tfds.testing.mock_data(num_examples=4):
        split = datasets.load_labeled_split(DataConfig(dataset="cifar10"), image_shape=(16, 16, 3))
        assert split.images.shape == (4, 16, 16, 3) and split.labels.shape == (4,)
        with pytest.raises(errors.DataError, match="dsprites has no 'label' feature"):
            datasets.load_labeled_split(DataConfig(dataset="dsprites"), split="train")


def test_the_command_line_sizes_the_network_from_the_dataset_or_the_flags():
    assert cli_config("--dataset=cifar10").model.image_shape == (32, 32, 3)
    assert cli_config("--dataset=celeb_a", "--image_size=32").model.image_shape == (32, 32, 3)
    assert cli_config("--dataset=dsprites", "--preset=svhn").model.image_shape == (32, 32, 3)
    with pytest.raises(errors.ConfigError, match="is not a TFDS dataset"):
        cli_config("--dataset=no_such_dataset")
    with pytest.raises(errors.ConfigError, match=r"celeb_a has 218x178 images, .*give --image_size \(e.g. 64\)"):
        cli_config("--dataset=celeb_a")

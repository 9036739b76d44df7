"""TFDS datasets by name: the name and image feature checked, preparation (online or offline), loading.

Any TFDS dataset with an image feature works (``--dataset=cifar10``,
``celeb_a``, ``shapes3d``, ``dsprites``, ...). The name is checked against
``tfds.list_builders()`` first -- the datasets registered in the installed
TFDS, known offline -- because ``tfds.builder`` of an unknown name looks for
it on the network. The image feature is the dataset's only ``Image``
feature, or ``image`` if it has several, or the one ``--image_key`` names.

Datasets are prepared with TFDS, online or offline from the dataset's
original files in ``--manual_dir`` (TFDS looks there for each file it would
download and verifies its checksum, so a truncated or foreign file is
rejected). A split is read once, converted to the network's input shape on
the way (``data.decode.fit``; a dataset already at that shape is read
bit-exact), and held in memory as uint8; ``data.pipeline`` gathers the
training batches from it.

Preparing shows one line on stderr (``preparing mnist ... done in 18 s``)
instead of TFDS's nested progress bars and its stdout notes (which would
mix into a command's output, e.g. ``infogan-evaluate``'s JSON).

Only images enter the training pipeline. Labels are read by
:func:`load_labeled_split`, which exists for evaluation alone.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import sys
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from infogan_tf.config import DataConfig, manual_dir_problems, tfds_base_name
from infogan_tf.errors import ConfigError, DataError, describe


class LabeledSplit(NamedTuple):
    """Images (uint8 [N, H, W, C]) and labels (int64 [N]) of one split, for evaluation."""

    images: np.ndarray
    labels: np.ndarray


def check_manual_dir(data: DataConfig) -> None:
    """Fails fast, before any TF work, if --manual_dir lacks the dataset's files."""
    if data.manual_dir is None:
        return
    problems = manual_dir_problems(data)
    if problems:
        raise DataError(problems[0])


def check_name(name: str) -> None:
    """Refuses a name that no installed TFDS builder has (offline; suggests close names)."""
    import tensorflow_datasets as tfds

    base = tfds_base_name(name)
    known = tfds.list_builders(with_community_datasets=False)
    if base not in known:
        close = difflib.get_close_matches(base, known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"--dataset={name} is not a TFDS dataset{hint}")


def _builder(data: DataConfig):
    import tensorflow_datasets as tfds

    check_name(data.dataset)
    return tfds.builder(data.dataset, data_dir=data.data_dir)


@contextlib.contextmanager
def _one_line(what: str) -> Iterator[None]:
    """TFDS's bars off and its stdout notes dropped; ``<what> ... done in N s`` on stderr."""
    import tensorflow_datasets as tfds

    tfds.disable_progress_bar()
    sys.stderr.write(f"{what} ...")
    sys.stderr.flush()
    start = time.monotonic()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    except BaseException:
        sys.stderr.write(" failed\n")
        raise
    sys.stderr.write(f" done in {time.monotonic() - start:.0f} s\n")
    sys.stderr.flush()


def _features(features, prefix: str = "") -> dict[str, Any]:
    """Every leaf feature by '/'-joined key ('attributes/Smiling')."""
    import tensorflow_datasets as tfds

    out = {}
    for key, feature in features.items():
        path = f"{prefix}{key}"
        if isinstance(feature, tfds.features.FeaturesDict):
            out.update(_features(feature, path + "/"))
        else:
            out[path] = feature
    return out


def image_feature(builder, data: DataConfig) -> tuple[str, tuple]:
    """``(key, shape)`` of the dataset's image feature (dims may be None); one-line errors otherwise."""
    import tensorflow_datasets as tfds

    features = _features(builder.info.features)
    images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    name = data.dataset
    if data.image_key is not None:
        if data.image_key not in images:
            have = f"its image features: {', '.join(images)}" if images else "it has no image feature"
            raise ConfigError(f"--image_key={data.image_key} is not an image feature of {name} ({have})")
        key = data.image_key
    elif len(images) == 1:
        key = images[0]
    elif "image" in images:
        key = "image"
    elif images:
        raise ConfigError(f"{name} has several image features ({', '.join(images)}); choose one with --image_key")
    else:
        raise ConfigError(f"--dataset={name} has no image feature (its features: {', '.join(sorted(features))})")
    feature = features[key]
    # np_dtype, not dtype: TFDS logs "`FeatureConnector.dtype` is deprecated" on every read of the latter.
    if feature.np_dtype != np.uint8:
        raise DataError(f"{name}'s image feature {key!r} is {np.dtype(feature.np_dtype).name}; only uint8 images train")
    return key, tuple(feature.shape)


def native_shape(data: DataConfig) -> tuple:
    """The (H, W, C) of the dataset's images (dims may be None: sizes vary); no data is read."""
    return image_feature(_builder(data), data)[1]


def eval_split(builder, data: DataConfig) -> str:
    """The held-out split: ``test``, else ``validation``; a dataset with neither is refused."""
    splits = set(builder.info.splits.keys()) if builder.info.splits else set()
    for split in ("test", "validation"):
        if split in splits:
            return split
    if not splits:  # not prepared yet (or mocked): the usual name
        return "test"
    raise DataError(f"{data.dataset} has no test or validation split (its splits: {', '.join(sorted(splits))})")


def _prepare(data: DataConfig):
    """Prepares the dataset if needed and returns its TFDS builder."""
    import tensorflow_datasets as tfds

    check_manual_dir(data)
    builder = _builder(data)
    # TFDS extracts a manual file to <downloads>/extracted/GZIP.<file name> and reuses what it finds
    # there: MNIST and Fashion-MNIST have the same file names, so the second dataset prepared in a
    # data_dir would be built from the first one's images. Each dataset extracts into its own folder.
    extract_dir = os.path.join(os.fspath(builder.data_dir_root), "downloads", "extracted", builder.name)
    download_config = tfds.download.DownloadConfig(manual_dir=data.manual_dir, extract_dir=extract_dir)
    where = (
        f"the original files in --manual_dir {data.manual_dir!r}"
        if data.manual_dir
        else "a download (no --manual_dir given)"
    )
    try:
        # (Not builder.is_prepared(): it warns about the folder it is about to fill.)
        if (builder.data_path / "dataset_info.json").exists():
            builder.download_and_prepare(download_config=download_config)  # only checks what is there
        else:
            source = data.manual_dir or "a download"
            with _one_line(f"preparing {data.dataset} from {source} into {builder.data_dir}"):
                builder.download_and_prepare(download_config=download_config)
    except Exception as e:  # TFDS raises many types; all mean "no usable data".
        raise DataError(f"could not prepare {data.dataset} from {where} into {builder.data_dir}: {describe(e)}") from e
    return builder


def _pick(example: dict, key: str):
    for part in key.split("/"):
        example = example[part]
    return example


def _load_split(data: DataConfig, split: str | None, image_shape, labels: bool) -> dict[str, np.ndarray]:
    """Reads the images (and labels) of a whole split into numpy arrays, images at ``image_shape``."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from infogan_tf.data.decode import as_shape, fit

    builder = _prepare(data)
    key, native = image_feature(builder, data)
    if image_shape is None and None in native:
        raise DataError(f"{data.dataset} has images of varying size {native}; give --image_size and --channels")
    shape = as_shape(image_shape if image_shape is not None else native)
    split = split or eval_split(builder, data)
    if labels and "label" not in _features(builder.info.features):
        raise DataError(f"{data.dataset} has no 'label' feature; accuracy cannot be measured on it")
    resize = tuple(native) != shape

    def select(ex):
        image = _pick(ex, key)
        out = {"image": fit(image, shape) if resize else image}
        if labels:
            out["label"] = ex["label"]
        return out

    try:
        ds = builder.as_dataset(split=split, shuffle_files=False)
        ds = ds.map(select, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).batch(8192)
        chunks = list(tfds.as_numpy(ds))
    except Exception as e:
        where = f"split {split!r} of {data.dataset} from {builder.data_dir}"
        raise DataError(f"could not read {where}: {describe(e)}") from e
    if not chunks:
        raise DataError(f"split {split!r} of {data.dataset} in {builder.data_dir} is empty")
    arrays = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    images = arrays["image"]
    if images.dtype != np.uint8 or images.shape[1:] != shape:
        got = f"{images.dtype}{list(images.shape[1:])}"
        raise DataError(f"{data.dataset} images are {got}, expected uint8{list(shape)}")
    return arrays


def load_train_images(data: DataConfig, image_shape=None) -> np.ndarray:
    """The training split's images, uint8 [N, *image_shape] (default: the dataset's own shape); no labels."""
    return _load_split(data, data.train_split, image_shape, labels=False)["image"]


def load_eval_images(data: DataConfig, image_shape=None, split: str | None = None) -> np.ndarray:
    """The held-out split's images (default: test, else validation), uint8 [N, *image_shape]."""
    return _load_split(data, split, image_shape, labels=False)["image"]


def load_labeled_split(data: DataConfig, split: str | None = None, image_shape=None) -> LabeledSplit:
    """Images and labels of a split (default: test, else validation). For evaluation only."""
    arrays = _load_split(data, split, image_shape, labels=True)
    return LabeledSplit(arrays["image"], arrays["label"])

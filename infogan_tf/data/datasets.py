"""Training and evaluation data: TFDS preparation, loading, and the input pipeline.

Datasets are prepared with TensorFlow Datasets (TFDS), online or offline from
the dataset's original files in ``--manual_dir`` (TFDS looks there for each
file it would download and verifies its checksum, so a truncated or foreign
file is rejected). They are small (MNIST: 47 MB of uint8 pixels), so the
training split is loaded into memory once; ``data.pipeline`` gathers the
training batches from it.

Preparing shows one line on stderr (``preparing mnist ... done in 18 s``)
instead of TFDS's nested progress bars and its stdout notes (which would
mix into a command's output, e.g. ``infogan-evaluate``'s JSON).

Only images enter the training pipeline. Labels are read by
:func:`load_labeled_split`, which exists for evaluation alone.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from infogan_tf.config import DataConfig, manual_dir_problems
from infogan_tf.errors import DataError


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


def _builder(data: DataConfig):
    import tensorflow_datasets as tfds

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


def _prepare(data: DataConfig):
    """Prepares the dataset if needed and returns its TFDS builder."""
    import tensorflow_datasets as tfds

    check_manual_dir(data)
    builder = _builder(data)
    download_config = tfds.download.DownloadConfig(manual_dir=data.manual_dir)
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
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(
            f"could not prepare {data.dataset} from {where} into {builder.data_dir}: {type(e).__name__}: {first_line}"
        ) from e
    return builder


def _load_split(data: DataConfig, split: str, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Reads the given features of a whole split into numpy arrays."""
    import tensorflow_datasets as tfds

    builder = _prepare(data)
    try:
        ds = builder.as_dataset(split=split, shuffle_files=False)
        ds = ds.map(lambda ex: {k: ex[k] for k in keys}).batch(8192)
        chunks = list(tfds.as_numpy(ds))
    except Exception as e:
        raise DataError(
            f"could not read split {split!r} of {data.dataset} from {builder.data_dir}: {type(e).__name__}: {e}"
        ) from e
    if not chunks:
        raise DataError(f"split {split!r} of {data.dataset} in {builder.data_dir} is empty")
    arrays = {k: np.concatenate([c[k] for c in chunks]) for k in keys}
    images = arrays["image"]
    if images.dtype != np.uint8 or images.shape[1:] != data.image_shape:
        raise DataError(
            f"{data.dataset} images are {images.dtype}{list(images.shape[1:])}, expected uint8{list(data.image_shape)}"
        )
    return arrays


def load_train_images(data: DataConfig) -> np.ndarray:
    """The training split's images, uint8 [N, H, W, C]; labels are dropped here."""
    return _load_split(data, data.info.train_split, ("image",))["image"]


def load_labeled_split(data: DataConfig, split: str | None = None) -> LabeledSplit:
    """Images and labels of a split (default: test). For evaluation only."""
    arrays = _load_split(data, split or data.info.test_split, ("image", "label"))
    return LabeledSplit(arrays["image"], arrays["label"])

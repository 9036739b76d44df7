"""Where a run's training images come from: a TFDS dataset by name, or a folder of image files.

Part of the typed configuration (``infogan_tf.config`` re-exports it; field
names are the flag names, each field's ``metadata["help"]`` is its flag's
help). Nothing here imports TensorFlow or reads an image: the files are
checked by ``infogan_tf.data.folder``, TFDS names and features by
``infogan_tf.data.datasets``.
"""

from __future__ import annotations

import dataclasses
import os
import re


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a TFDS dataset known without TFDS (so a CLI resolves it before importing TF).

    Any other TFDS image dataset works too; its facts come from its TFDS
    ``info`` (``data.datasets``).
    """

    name: str
    image_shape: tuple[int, int, int]
    train_split: str
    test_split: str
    # The original files TFDS looks for in --manual_dir (offline preparation).
    manual_files: tuple[str, ...]
    # The lowest test accuracy at which infogan-classifier caches its sample-quality classifier
    # (evaluation.classifier): what its small CNN reaches with room to spare
    # (experiments/results/README.md, classifier lengths).
    classifier_min_accuracy: float = 0.9
    # Its default training length (epochs over the train split) that clears that bar.
    classifier_epochs: int = 6


_IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("mnist", (28, 28, 1), "train", "test", _IDX_FILES, classifier_min_accuracy=0.99),
    # Six epochs reach 0.899 on Fashion-MNIST, below its bar; twelve 0.912 (experiments/results/README.md).
    "fashion_mnist": DatasetInfo("fashion_mnist", (28, 28, 1), "train", "test", _IDX_FILES, classifier_epochs=12),
    # 32x32x3 street-view digits, for the `svhn` preset.
    "svhn_cropped": DatasetInfo(
        "svhn_cropped", (32, 32, 3), "train", "test", ("train_32x32.mat", "test_32x32.mat", "extra_32x32.mat")
    ),
}


CACHE_MODES = ("auto", "memory", "stream")
# A TFDS name, optionally with a config and a version: "celeb_a", "mnist:3.*.*", "shapes3d/default:2.1.0".
_TFDS_NAME = re.compile(r"^[a-z][a-z0-9_]*(/[A-Za-z0-9_.-]+)?(:[0-9.*]+)?$")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the training images come from (each field's ``help`` says what it means).

    Either a TFDS dataset (``dataset``) or a folder of image files
    (``image_dir``, which then takes precedence); ``data.folder`` and
    ``data.datasets`` read them, both at the network's input shape
    (``ModelConfig.image_shape``).
    """

    dataset: str = dataclasses.field(
        default="mnist",
        metadata={
            "help": "TFDS image dataset by name (mnist, fashion_mnist, svhn_cropped, cifar10, celeb_a, shapes3d, "
            "dsprites, ...), resized to the network's input; unused with --image_dir."
        },
    )
    data_dir: str | None = dataclasses.field(
        default=None,
        metadata={"help": "TFDS data directory of prepared datasets (default: TFDS's own, ~/tensorflow_datasets)."},
    )
    manual_dir: str | None = dataclasses.field(
        default=None,
        metadata={
            "help": "Folder with the dataset's original files (MNIST: the four official IDX .gz files); "
            "prepares the dataset offline."
        },
    )
    image_key: str | None = dataclasses.field(
        default=None,
        metadata={"help": "The TFDS dataset's image feature (default: its only image feature, or 'image')."},
    )
    train_split: str = dataclasses.field(default="train", metadata={"help": "TFDS split to train on."})
    image_dir: str | None = dataclasses.field(
        default=None,
        metadata={
            "help": "Train on the PNG/JPEG/GIF/BMP files under this folder (recursively, sorted by path) "
            "instead of --dataset; resized and centre-cropped to the network's input."
        },
    )
    eval_image_dir: str | None = dataclasses.field(
        default=None,
        metadata={"help": "A second folder of held-out images for evaluation (with --image_dir)."},
    )
    eval_fraction: float = dataclasses.field(
        default=0.0,
        metadata={
            "help": "Fraction of --image_dir held out for evaluation (chosen by a hash of each file's "
            "relative path, so it does not depend on --seed)."
        },
    )
    image_size: int = dataclasses.field(
        default=0,
        metadata={
            "help": "Side of the (square) training images (0: the preset's if --preset is given, else the "
            "data's: a TFDS dataset's own size; a folder's smallest shorter side, a multiple of 4, at most 64)."
        },
    )
    channels: int = dataclasses.field(
        default=0,
        metadata={
            "help": "1 (grey) or 3 (colour): every image is converted to it (0: the preset's if --preset is "
            "given, else the data's; the files of an --image_dir must then be all grey or all colour)."
        },
    )
    cache: str = dataclasses.field(
        default="auto",
        metadata={
            "help": "With --image_dir: memory (decode every file once and train from memory), stream (decode "
            "from disk every epoch with tf.data), or auto (memory if the folder at training size fits in "
            "--cache_limit_mb).",
            "choices": CACHE_MODES,
        },
    )
    cache_limit_mb: int = dataclasses.field(
        default=2048, metadata={"help": "Largest folder (uint8 at training size) that --cache=auto keeps in memory."}
    )
    max_bad_fraction: float = dataclasses.field(
        default=0.001,
        metadata={
            "help": "With --image_dir: files that are not readable images are skipped (logged with a count and "
            "the first names) if at most this fraction of the folder, else refused (0: refuse any)."
        },
    )
    upscale: bool = dataclasses.field(
        default=False,
        metadata={"help": "With --image_dir: enlarge images smaller than the training size (default: refuse them)."},
    )

    @property
    def info(self) -> DatasetInfo:
        """The static facts of a dataset in :data:`DATASETS` (KeyError for any other)."""
        return DATASETS[self.dataset]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The native image shape of a dataset in :data:`DATASETS`."""
        return self.info.image_shape

    @property
    def uses_folder(self) -> bool:
        return self.image_dir is not None

    def problems(self) -> list[str]:
        """Every invalid data value, each naming its flag (the files themselves are checked by ``data``)."""
        out = []
        if self.image_dir is not None:
            for name in ("image_dir", "eval_image_dir"):
                path = getattr(self, name)
                if path is not None and not os.path.isdir(path):
                    out.append(f"--{name} {path!r} is not a directory")
            if not 0.0 <= self.eval_fraction < 1.0:
                out.append(f"--eval_fraction must be in [0, 1), got {self.eval_fraction}")
            if self.eval_fraction and self.eval_image_dir is not None:
                out.append("--eval_fraction and --eval_image_dir are two ways to hold images out: give one")
        else:
            for name in ("eval_image_dir", "eval_fraction"):
                if getattr(self, name):
                    out.append(f"--{name} needs --image_dir (a TFDS dataset holds out its test split)")
            if not _TFDS_NAME.match(self.dataset):
                out.append(f"--dataset {self.dataset!r} is not a TFDS dataset name (such as mnist or celeb_a)")
            elif self.manual_dir is not None:
                out.extend(manual_dir_problems(self))
        if self.image_size < 0 or self.image_size % 4:
            out.append(f"--image_size must be a positive multiple of 4 (or 0: automatic), got {self.image_size}")
        if self.channels not in (0, 1, 3):
            out.append(f"--channels must be 1 or 3 (or 0: from the files), got {self.channels}")
        if self.cache not in CACHE_MODES:
            out.append(f"--cache must be one of {', '.join(CACHE_MODES)}, got {self.cache!r}")
        if self.cache_limit_mb < 0:
            out.append(f"--cache_limit_mb must be >= 0, got {self.cache_limit_mb}")
        if not 0.0 <= self.max_bad_fraction < 1.0:
            out.append(f"--max_bad_fraction must be in [0, 1), got {self.max_bad_fraction}")
        return out


def tfds_base_name(name: str) -> str:
    """The builder part of a TFDS name: "mnist" for "mnist", "mnist:3.*.*" or "shapes3d/default:2.1.0"'s "shapes3d"."""
    return name.split(":")[0].split("/")[0]


def manual_dir_problems(data: DataConfig) -> list[str]:
    """What is wrong with --manual_dir for this dataset (empty list: nothing, or no --manual_dir).

    The original files are known for the datasets of :data:`DATASETS`; for
    any other, TFDS itself names what it misses when it prepares the dataset.
    """
    if data.manual_dir is None:
        return []
    if not os.path.isdir(data.manual_dir):
        return [f"--manual_dir {data.manual_dir!r} is not a directory"]
    if data.dataset not in DATASETS:
        return []
    expected = data.info.manual_files
    missing = [f for f in expected if not os.path.isfile(os.path.join(data.manual_dir, f))]
    if missing:
        return [
            f"--manual_dir {data.manual_dir!r} lacks {', '.join(missing)}; "
            f"{data.dataset} needs the original files {', '.join(expected)}"
        ]
    return []

"""A TrainConfig from a preset and flag values: the rules ``infogan-train`` and ``ig.preset`` share.

``ig.preset("fashion_mnist", train_steps=500)`` and ``infogan-train
--preset=fashion_mnist --train_steps=500`` build the same validated
:class:`~infogan_tf.config.TrainConfig` through :func:`build_config`:

1. the preset (``infogan_tf.presets``); without one, the mnist preset, whose
   deskewed views are for MNIST's digits, so any other data gets
   :func:`~infogan_tf.presets.other_images`;
2. the network's input shape: ``image_size``/``channels`` if given, else the
   preset's when one is named, else the data's own (a folder's headers, or
   the TFDS dataset's shape, read only when needed);
3. every flag given, by its flag name, latent codes included
   (``TrainConfig.override`` routes a flat name to its part of the config),
   and the shape; then one validation of the whole.

A bad value raises :class:`~infogan_tf.errors.ConfigError` with the one-line
message the command line prints. Nothing here imports TensorFlow unless the
data's shape must be read from a TFDS dataset that ``config.DATASETS`` does
not list.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from infogan_tf import config as config_lib
from infogan_tf import errors, presets

DEFAULT_PRESET = "mnist"


def preset(name: str | None = None, /, **flags: Any) -> config_lib.TrainConfig:
    """The validated TrainConfig of preset ``name`` with ``flags`` (by flag name) overriding it.

    ``name=None`` is ``infogan-train`` without ``--preset``: the mnist preset,
    with the input shape and views of the data the flags name. Flag values
    are Python values (``g_filters=(16, 8)``, ``categorical_codes=(10, 4)`` or
    ``"10,4"``).

    Raises:
      ConfigError: an unknown preset or flag, or a bad value (the CLI's message).
    """
    return build_config(name, flags)


def build_config(preset_name: str | None, flags: Mapping[str, Any]) -> config_lib.TrainConfig:
    """The validated TrainConfig: the preset, then every flag in ``flags`` (the flags given explicitly)."""
    if preset_name is not None and preset_name not in presets.PRESETS:
        raise errors.ConfigError(f"--preset must be one of {', '.join(sorted(presets.PRESETS))}, got {preset_name!r}")
    if "image_shape" in flags:
        raise errors.ConfigError("image_shape is not a setting: give image_size and channels (or a preset)")
    base = presets.PRESETS[preset_name or DEFAULT_PRESET](config_lib.TrainConfig())
    dataset, image_dir = flags.get("dataset", base.data.dataset), flags.get("image_dir")
    if preset_name is None and not _mnist_digits(str(dataset), image_dir):
        base = presets.other_images(base)  # the mnist preset is the default, its deskewed views are for digits
    # The data flags first: the input shape may have to be read from the data they name.
    data_given = {
        f.name: config_lib.typed_setting(f.name, flags[f.name])
        for f in dataclasses.fields(config_lib.DataConfig)
        if f.name in flags
    }
    data = dataclasses.replace(base.data, **data_given)
    data, image_shape = _input_shape(data, base.model.image_shape, preset_name is not None)
    named = "dataset" in flags or data.image_dir is not None
    native = config_lib.DATASETS.get(data.dataset)
    if preset_name is not None and not named and native and native.image_shape != image_shape:
        # e.g. --preset=chairs alone: its data is a folder, not the default MNIST blown up to 64 px.
        raise errors.ConfigError(
            f"--preset={preset_name} takes {image_shape} images and --dataset={data.dataset} has "
            f"{native.image_shape}; give the images with --image_dir (or name a --dataset explicitly)"
        )
    resolved = {name: getattr(data, name) for name in ("image_dir", "eval_image_dir", "channels")}
    try:
        return base.override(**{**flags, **resolved, "image_shape": image_shape})
    except errors.InfoGANError:
        raise
    except ValueError as e:  # LatentSpec refuses a bad code with a ValueError naming the flag
        raise errors.ConfigError(errors.first_line(e)) from None


def _mnist_digits(dataset: str, image_dir: str | None) -> bool:
    """Whether the images are TFDS's MNIST ("mnist", with or without a config or version), not a folder."""
    return image_dir is None and config_lib.tfds_base_name(dataset) == "mnist"


def _data_shape(data: config_lib.DataConfig) -> tuple:
    """The data's own (H, W, C): a folder's (from its headers), or a TFDS dataset's (None: it varies)."""
    if data.image_dir is not None:
        from infogan_tf.data import folder

        found = folder.scan(data.image_dir)
        if not found.images:
            folder.check_bad(found.root, list(found.bad), len(found.bad), data)
        shape = folder.shape_from_files(found.images, found.root)
        if shape[2] == 0 and not data.channels:  # grey and colour files: refused, naming some of each
            folder.check_images(found.images, found.root, data, (*shape[:2], 3), "--image_dir")
        return shape
    if data.dataset in config_lib.DATASETS:  # known without importing TensorFlow
        return config_lib.DATASETS[data.dataset].image_shape
    from infogan_tf.data import datasets

    return datasets.native_shape(data)


def _input_shape(
    data: config_lib.DataConfig, preset_shape: tuple[int, int, int], preset: bool
) -> tuple[config_lib.DataConfig, tuple[int, int, int]]:
    """The network's input (H, W, C): ``image_size``/``channels``, else the preset's if one is named, else the data's.

    With a preset and a folder, the files are converted to the preset's
    channels (recorded as ``channels``). The data is only read when a part of
    the shape comes from it.
    """
    for name in ("image_dir", "eval_image_dir"):  # "--image_dir=~/faces": the shell leaves that ~ alone
        if getattr(data, name):
            data = dataclasses.replace(data, **{name: os.path.expanduser(getattr(data, name))})
    problems = data.problems()
    if problems:  # a malformed data flag is refused before anything is read
        raise errors.ConfigError(problems[0])
    height, width, channels = preset_shape
    if data.image_size:
        height = width = data.image_size
    if data.channels:
        channels = data.channels
    elif preset and data.image_dir is not None:
        data = dataclasses.replace(data, channels=channels)
    if not preset and not (data.image_size and data.channels):
        own = _data_shape(data)
        if not data.image_size:
            height, width = own[0], own[1]
        if not data.channels:
            channels = own[2]
        if None in (height, width, channels):
            raise errors.ConfigError(
                f"--dataset={data.dataset} has images of varying size {tuple(own)}; give --image_size and --channels"
            )
        if height % 4 or width % 4:
            raise errors.ConfigError(
                f"--dataset={data.dataset} has {height}x{width} images, which the networks do not take (H and W "
                "must be multiples of 4); give --image_size (e.g. 64) or a --preset"
            )
    return data, (int(height), int(width), int(channels))

"""A folder of image files as training data: the listing, the header pass, the held-out split, the manifest.

``--image_dir=DIR`` trains on every file under DIR (recursively; hidden
files and folders are skipped, symlinked files are followed) whose name ends
in one of :data:`EXTENSIONS`, in the order of their '/'-separated relative
paths. Those are the formats ``tf.io.decode_image`` reads (a GIF's first
frame). Nothing here imports TensorFlow: a CLI can check a folder, and size
the network from it, before it pays for TF.

Validation happens before training starts, in two passes:

1. :func:`scan` (here) opens every file's header with Pillow -- a few KB
   per file, in threads -- and so finds at once what is not an image, what
   has the wrong format behind an image extension, and each image's size
   and grey/colour mode. :func:`plan` then refuses, in one line naming the
   files, an empty folder, a folder with no images, mixed grey and colour
   files without ``--channels``, and images smaller than the training size
   without ``--upscale``.
2. ``data.decode.decode_files`` decodes every file once with TF (the cache
   is that pass's output; when streaming, the pixels are dropped), which
   finds truncated or corrupt bodies that a header does not show.

Unreadable files (either pass) are skipped with a warning giving their
count and first names when they are at most ``--max_bad_fraction`` of the
folder (a few broken files among 200k), refused otherwise. The resulting
file list is recorded in the run directory (``images.json``, see
:func:`manifest` and ``training.rundir``); a resumed run rebuilds its list
from it and refuses a folder whose files changed (added, removed, or of
another size), so it sees the same batches as an uninterrupted run.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import math
import os
from typing import Any, NamedTuple

from absl import logging

from infogan_tf.dataconfig import DataConfig
from infogan_tf.errors import ConfigError, DataError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp")
# Pillow's names of the formats tf.io.decode_image reads.
FORMATS = ("PNG", "JPEG", "MPO", "GIF", "BMP")
# Pillow modes without colour; every other mode (RGB, RGBA, P, CMYK, ...) is colour.
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
SHOWN = 5  # file names shown in a message
MANIFEST_VERSION = 1


class ImageFile(NamedTuple):
    """One image file: its '/'-separated path relative to the folder, size in bytes, and header facts."""

    path: str
    size: int
    height: int
    width: int
    channels: int  # 1 (grey) or 3 (colour); an alpha channel is dropped


class Scan(NamedTuple):
    """What the header pass found under a folder."""

    root: str
    images: tuple[ImageFile, ...]  # sorted by path
    bad: tuple[tuple[str, str], ...]  # (path, why it is not a readable image)
    ignored: int  # files without an image extension


class Plan(NamedTuple):
    """The images a run trains on and holds out, at the network's input shape."""

    root: str
    train: tuple[ImageFile, ...]
    held_out: tuple[ImageFile, ...]
    skipped: tuple[tuple[str, str], ...]  # (path, reason): unreadable files left out
    held_out_root: str  # --eval_image_dir, or root (--eval_fraction)

    def train_paths(self) -> list[str]:
        return [os.path.join(self.root, f.path) for f in self.train]

    def held_out_paths(self) -> list[str]:
        return [os.path.join(self.held_out_root, f.path) for f in self.held_out]


def _shown(names: list[str]) -> str:
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


def list_files(root: str, flag: str = "--image_dir") -> tuple[list[tuple[str, int]], int]:
    """``([(relative path, bytes), ...] sorted, number of other files)`` of the image files under ``root``."""
    if not os.path.isdir(root):
        raise ConfigError(f"{flag} {root!r} is not a directory")
    found, ignored = [], 0
    for directory, dirs, files in os.walk(root, onerror=None):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            if not name.lower().endswith(EXTENSIONS):
                ignored += 1
                continue
            path = os.path.join(directory, name)
            try:
                size = os.stat(path).st_size
            except OSError as e:  # e.g. a dangling symlink
                raise DataError(f"{flag} {root!r}: cannot read {os.path.relpath(path, root)}: {e.strerror}") from None
            found.append((os.path.relpath(path, root).replace(os.sep, "/"), size))
    found.sort()
    return found, ignored


def _read_header(root: str, rel: str, size: int) -> ImageFile | tuple[str, str]:
    """The header facts of one file, or ``(path, reason)`` if it is not an image TF can decode."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(os.path.join(root, rel)) as im:
            fmt, (width, height), mode = im.format, im.size, im.mode
    except UnidentifiedImageError:
        return rel, "not an image"
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        return rel, f"unreadable ({e})"
    if fmt not in FORMATS:
        return rel, f"a {fmt} file, not PNG/JPEG/GIF/BMP"
    if width <= 0 or height <= 0:
        return rel, f"an empty {width}x{height} image"
    return ImageFile(rel, size, height, width, 1 if mode in GREY_MODES else 3)


def scan(root: str, flag: str = "--image_dir") -> Scan:
    """Lists ``root`` and reads every image file's header; refuses a folder without image files."""
    listed, ignored = list_files(root, flag)
    if not listed:
        what = f"no image files ({', '.join(EXTENSIONS)}), only {ignored} other files" if ignored else "no files"
        raise DataError(f"{flag} {root!r} has {what}")
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, (os.cpu_count() or 1) * 4)) as pool:
        results = list(pool.map(lambda item: _read_header(root, *item), listed, chunksize=64))
    images = tuple(r for r in results if isinstance(r, ImageFile))
    bad = tuple(r for r in results if not isinstance(r, ImageFile))
    return Scan(root, images, bad, ignored)


def check_bad(root: str, bad: list[tuple[str, str]], total: int, data: DataConfig, flag: str = "--image_dir") -> None:
    """Refuses unreadable files beyond ``--max_bad_fraction`` of ``total``; logs the skipped ones otherwise."""
    if not bad:
        return
    allowed = math.floor(data.max_bad_fraction * total)
    names = [f"{path} ({why})" for path, why in sorted(bad)]
    if len(bad) > allowed:
        raise DataError(
            f"{flag} {root!r}: {len(bad)} of {total} files are not readable images: {_shown(names)}; "
            f"fix or remove them (up to --max_bad_fraction={data.max_bad_fraction} of the files are skipped)"
        )
    logging.warning("%s %s: skipping %d unreadable files of %d: %s", flag, root, len(bad), total, _shown(names))


def shape_from_files(images: tuple[ImageFile, ...], root: str) -> tuple[int, int, int]:
    """The training shape the files suggest: the smallest shorter side, down to a multiple of 4, at most 64."""
    side = min(min(f.height, f.width) for f in images)
    size = min(64, side - side % 4)
    if size < 4:
        raise DataError(f"--image_dir {root!r} has images of {side} pixels; give --image_size (and --upscale)")
    channels = {f.channels for f in images}
    return size, size, (channels.pop() if len(channels) == 1 else 0)


def check_images(images: tuple[ImageFile, ...], root: str, data: DataConfig, image_shape, flag: str) -> None:
    """Refuses mixed grey/colour files (unless ``--channels`` converts them) and images too small."""
    if data.channels == 0:
        grey = [f.path for f in images if f.channels == 1]
        colour = [f.path for f in images if f.channels == 3]
        if grey and colour:
            raise DataError(
                f"{flag} {root!r} mixes {len(grey)} grey images ({_shown(grey)}) and {len(colour)} colour "
                f"images ({_shown(colour)}); pass --channels=1 or --channels=3 to convert them all"
            )
    height, width = image_shape[0], image_shape[1]
    small = [f"{f.path} ({f.width}x{f.height})" for f in images if f.height < height or f.width < width]
    if small and not data.upscale:
        raise DataError(
            f"{flag} {root!r}: {len(small)} images are smaller than the training size {width}x{height}: "
            f"{_shown(small)}; pass --upscale to enlarge them, or a smaller --image_size"
        )


def _held_out_rank(path: str) -> str:
    return hashlib.sha256(path.encode("utf-8")).hexdigest()


def plan(data: DataConfig, image_shape) -> Plan:
    """Scans and checks ``--image_dir`` (and ``--eval_image_dir``); splits off the held-out part."""
    assert data.image_dir is not None
    found = scan(data.image_dir)
    check_bad(found.root, list(found.bad), len(found.images) + len(found.bad), data)
    if not found.images:
        raise DataError(f"--image_dir {found.root!r} has no readable images")
    check_images(found.images, found.root, data, image_shape, "--image_dir")
    train = found.images
    held_out: tuple[ImageFile, ...] = ()
    if data.eval_fraction:
        n_out = round(data.eval_fraction * len(train))
        out = set(sorted((f.path for f in train), key=_held_out_rank)[:n_out])
        held_out = tuple(f for f in train if f.path in out)
        train = tuple(f for f in train if f.path not in out)
    if not train:
        raise DataError(f"--eval_fraction={data.eval_fraction} leaves no training images in {found.root!r}")
    if data.eval_image_dir is not None:
        extra = scan(data.eval_image_dir, "--eval_image_dir")
        check_bad(extra.root, list(extra.bad), len(extra.images) + len(extra.bad), data, "--eval_image_dir")
        check_images(extra.images, extra.root, data, image_shape, "--eval_image_dir")
        held_out = extra.images
    return Plan(found.root, train, held_out, found.bad, data.eval_image_dir or found.root)


def without(p: Plan, failed: list[tuple[str, str]]) -> Plan:
    """The plan without the files that failed to decode (``failed``: (path, reason)), recorded as skipped."""
    names = {path for path, _ in failed}
    return p._replace(
        train=tuple(f for f in p.train if f.path not in names),
        held_out=tuple(f for f in p.held_out if f.path not in names),
        skipped=tuple(sorted(p.skipped + tuple(failed))),
    )


# -------------------------------------------------------------- manifest
def manifest(p: Plan, image_shape) -> dict[str, Any]:
    """The record of a run's files (JSON-able), written once to the run directory."""
    return {
        "version": MANIFEST_VERSION,
        "image_dir": os.path.abspath(p.root),
        "held_out_dir": os.path.abspath(p.held_out_root),
        "image_shape": [int(d) for d in image_shape],
        "train": [list(f) for f in p.train],
        "held_out": [list(f) for f in p.held_out],
        "skipped": [list(s) for s in p.skipped],
    }


def plan_from_manifest(saved: dict[str, Any], data: DataConfig, manifest_path: str) -> Plan:
    """The saved run's plan, after checking that ``--image_dir`` still holds exactly those files.

    Compares relative paths and sizes (not modification times, which a copy
    to another machine changes); raises ConfigError naming what changed.
    """
    assert data.image_dir is not None
    try:
        train = tuple(ImageFile(*f) for f in saved["train"])
        held_out = tuple(ImageFile(*f) for f in saved["held_out"])
        skipped = tuple((str(a), str(b)) for a, b in saved["skipped"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"{manifest_path} is not an image manifest written by infogan_tf") from None
    listed, _ = list_files(data.image_dir)
    # Skipped files do not count: whether they are still there, or fixed, the run leaves them out.
    ignored = {path for path, _ in skipped}
    now = {path: size for path, size in listed if path not in ignored}
    then = {f.path: f.size for f in train + (held_out if data.eval_image_dir is None else ())}
    added = sorted(set(now) - set(then))
    removed = sorted(set(then) - set(now))
    changed = sorted(k for k in set(now) & set(then) if now[k] != then[k])
    if added or removed or changed:
        parts = [
            f"{len(names)} {what} ({_shown(names)})"
            for names, what in ((added, "added"), (removed, "removed"), (changed, "changed size"))
            if names
        ]
        raise ConfigError(
            f"--image_dir {data.image_dir!r} changed since this run started (its files are listed in "
            f"{manifest_path}): {'; '.join(parts)}; restore it, or train in a new --model_dir"
        )
    return Plan(data.image_dir, train, held_out, skipped, data.eval_image_dir or data.image_dir)

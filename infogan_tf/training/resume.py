"""What a resumed run may change, and the record of what it changed.

A run directory holds ONE run. Resuming it with other flags is either
refused or recorded (Chen et al.'s objective is unchanged either way):

* **refused** -- anything that would make the resumed run another run: the
  architecture and code layout (``data.dataset``, ``latent``, ``model``:
  the checkpoint's variables would not match, or would match with another
  meaning), what selects the images (a folder or a TFDS dataset,
  ``--image_key``, ``--train_split``, ``--eval_fraction``; a folder's files
  themselves are checked against its ``images.json`` by ``data.folder``),
  and what fixes the data order, the noise and the update itself
  (``--seed``, ``--batch_size``, ``--update``, ``--real_info_view``);
* **recorded** -- everything else (``--train_steps``, learning rates and
  loss weights, the strategy and devices, precision and XLA, how often it
  logs and saves, the data and run paths): ``config.json`` holds the config
  now in force and a ``history`` with one entry per resume that changed
  something, naming each field's old and new value and the step from which
  the new one holds.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from typing import Any

from infogan_tf.config import TrainConfig, migrate
from infogan_tf.errors import ConfigError

# Config paths that define the checkpoint's variables and their meaning.
ARCHITECTURE = (("data", "dataset"), ("latent",), ("model",), ("real_info", "q_overcluster"))
# Fields that make the run what it is: its data order, noise and update.
IDENTITY = (("runtime", "seed"), ("optim", "batch_size"), ("optim", "update"), ("real_info", "real_info_view"))
# What selects the training images, with its default (for a config.json written before the field existed).
DATA_SOURCE = {"image_key": None, "train_split": "train", "eval_fraction": 0.0}
HISTORY_KEY = "history"


def _pick(d: dict, path: tuple[str, ...]) -> Any:
    for key in path:
        d = d[key]
    return d


def _flat(d: Any, prefix: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for key in sorted(d):
        out.update(_flat(d[key], f"{prefix}.{key}" if prefix else key))
    return out


def changes(saved: dict[str, Any], new: TrainConfig) -> dict[str, dict[str, Any]]:
    """``{"optim.train_steps": {"from": 3000, "to": 5000}, ...}``: every field that differs."""
    old = {k: v for k, v in saved.items() if k != HISTORY_KEY}
    # In today's form: a field that a config.json predates reads as its default.
    with contextlib.suppress(KeyError, TypeError, ValueError):
        old = TrainConfig.from_dict(old).to_dict()
    old_flat = _flat(json.loads(json.dumps(old)), "")
    new_flat = _flat(json.loads(new.to_json()), "")
    return {
        key: {"from": old_flat.get(key), "to": new_flat.get(key)}
        for key in sorted(set(old_flat) | set(new_flat))
        if old_flat.get(key) != new_flat.get(key)
    }


def check_resume(saved: dict[str, Any], new: TrainConfig, saved_path: str) -> None:
    """Refuses a resume that would not continue the saved run (``saved`` was read from ``saved_path``)."""
    model_dir = new.runtime.model_dir
    saved = migrate(saved)
    for path in ARCHITECTURE + IDENTITY:
        try:
            _pick(saved, path)
        except (KeyError, TypeError):
            raise ConfigError(
                f"{saved_path} is not a config written by infogan_tf (missing {'.'.join(path)})"
            ) from None
    diff = changes(saved, new)
    prefixes = [".".join(p) for p in ARCHITECTURE]
    architecture = [k for k in diff if any(k == p or k.startswith(p + ".") for p in prefixes)]
    if architecture:
        shown = "; ".join(f"{k}: saved {diff[k]['from']!r}, now {diff[k]['to']!r}" for k in architecture)
        raise ConfigError(
            f"--model_dir {model_dir} holds a run with a different configuration ({shown}); "
            "use a new --model_dir or the original flags"
        )
    _check_data_source(saved.get("data", {}), new)
    for path in IDENTITY:
        key = ".".join(path)
        if key in diff:
            raise ConfigError(
                f"--model_dir {model_dir} holds a run trained with --{path[-1]}={diff[key]['from']}; resuming it "
                f"with --{path[-1]}={diff[key]['to']} would make it another run (its data order, noise and update "
                "follow it); use a new --model_dir, or the original value"
            )


def _check_data_source(saved_data: dict[str, Any], new: TrainConfig) -> None:
    """Refuses a resume on other images: folder vs TFDS, another image feature, split or held-out part."""
    model_dir, data = new.runtime.model_dir, new.data
    was = f"--image_dir {saved_data.get('image_dir')}" if saved_data.get("image_dir") else f"--dataset={data.dataset}"
    if (saved_data.get("image_dir") is None) != (data.image_dir is None):
        now = f"--image_dir {data.image_dir}" if data.image_dir else f"--dataset={data.dataset}"
        raise ConfigError(
            f"--model_dir {model_dir} holds a run trained on {was}, not {now}; "
            "use a new --model_dir or the original data"
        )
    for key, default in DATA_SOURCE.items():
        old, now_value = saved_data.get(key, default), getattr(data, key)
        if old != now_value:
            raise ConfigError(
                f"--model_dir {model_dir} holds a run trained with --{key}={old}; resuming it with "
                f"--{key}={now_value} would train on other images; use a new --model_dir, or the original value"
            )


def record(saved: dict[str, Any] | None, new: TrainConfig, step: int) -> str:
    """The config.json text of a run (re)starting at ``step``: ``new`` plus the history of changes."""
    history = list(saved.get(HISTORY_KEY, [])) if saved else []
    if saved is not None:
        diff = changes(saved, new)
        if diff:
            when = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            history.append({"step": step, "time": when, "changes": diff})
    d = new.to_dict()
    if history:
        d[HISTORY_KEY] = history
    return json.dumps(d, indent=2, sort_keys=True) + "\n"

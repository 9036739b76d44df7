"""What a resumed run may change, and the record of what it changed.

A run directory holds ONE run. Resuming it with other flags is either
refused or recorded (Chen et al.'s objective is unchanged either way):

* **refused** -- anything that would make the resumed run another run: the
  architecture and code layout (``data.dataset``, ``latent``, ``model``:
  the checkpoint's variables would not match, or would match with another
  meaning), what selects the images (a folder or a TFDS dataset,
  ``--image_key``, ``--train_split``, ``--eval_fraction``; a folder's files
  themselves are checked against its ``images.json`` by ``data.folder``),
  what fixes the data order, the noise and the update itself (``--seed``,
  ``--batch_size``, ``--update``), and the settings each term of the
  objective declares fixed (``Term.fixed_on_resume`` in ``model.objective``:
  the real-image term's ``--real_info_view`` and ``--q_overcluster``);
* **recorded** -- everything else (``--train_steps``, learning rates and
  loss weights, the strategy and devices, precision and XLA, how often it
  logs and saves, the data and run paths, an extra term's other settings):
  ``config.json`` holds the config now in force (with the extra terms'
  settings under ``"terms"``) and a ``history`` with one entry per resume
  that changed something, naming each field's old and new value and the
  step from which the new one holds.

A config.json of an earlier layout is read in today's (``config.migrate``).
"""

from __future__ import annotations

import contextlib
import datetime
import json
from collections.abc import Sequence
from typing import Any

from infogan_tf.config import TrainConfig, migrate
from infogan_tf.errors import ConfigError
from infogan_tf.model.objective import BUILT_IN, CONFIGURED, Term

# Config paths that define the checkpoint's variables and their meaning.
ARCHITECTURE = (("data", "dataset"), ("latent",), ("model",))
# Fields that make the run what it is: its data order, noise and update.
IDENTITY = (("runtime", "seed"), ("optim", "batch_size"), ("optim", "update"))
# Where config.json keeps the settings of the extra terms that hold their own (``Term.settings``).
TERMS_KEY = "terms"
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


def fixed_settings(terms: Sequence[Term] = ()) -> dict[tuple[str, ...], str]:
    """Path in config.json -> why a resume may not change it, as the objective's terms declare."""
    out: dict[tuple[str, ...], str] = {}
    declared: list[type[Term] | Term] = [*BUILT_IN, *CONFIGURED, *terms]
    for term in declared:
        for name, why in term.fixed_on_resume.items():
            out[(term.config_part, name) if term.config_part else (TERMS_KEY, term.name, name)] = why
    return out


def config_dict(config: TrainConfig, terms: Sequence[Term] = ()) -> dict[str, Any]:
    """What config.json holds of a run: its config and the settings of its extra terms that hold their own."""
    d = config.to_dict()
    settings = {t.name: t.settings() for t in terms if t.config_part is None and t.settings()}
    if settings:
        d[TERMS_KEY] = settings
    return d


def changes(saved: dict[str, Any], new: TrainConfig, terms: Sequence[Term] = ()) -> dict[str, dict[str, Any]]:
    """``{"optim.train_steps": {"from": 3000, "to": 5000}, ...}``: every field that differs."""
    old = {k: v for k, v in saved.items() if k != HISTORY_KEY}
    # In today's form: a field that a config.json predates reads as its default.
    with contextlib.suppress(KeyError, TypeError, ValueError):
        migrated = migrate(old)
        terms_of_old = {TERMS_KEY: migrated[TERMS_KEY]} if TERMS_KEY in migrated else {}
        old = {**TrainConfig.from_dict(migrated).to_dict(), **terms_of_old}
    old_flat = _flat(json.loads(json.dumps(old)), "")
    new_flat = _flat(json.loads(json.dumps(config_dict(new, terms))), "")
    return {
        key: {"from": old_flat.get(key), "to": new_flat.get(key)}
        for key in sorted(set(old_flat) | set(new_flat))
        if old_flat.get(key) != new_flat.get(key)
    }


def check_resume(saved: dict[str, Any], new: TrainConfig, saved_path: str, terms: Sequence[Term] = ()) -> None:
    """Refuses a resume that would not continue the saved run (``saved`` was read from ``saved_path``).

    ``terms``: the run's extra terms of the objective (their fixed settings are compared too).
    """
    model_dir = new.runtime.model_dir
    saved = migrate(saved)
    for path in ARCHITECTURE + IDENTITY:
        try:
            _pick(saved, path)
        except (KeyError, TypeError):
            raise ConfigError(
                f"{saved_path} is not a config written by infogan_tf (missing {'.'.join(path)})"
            ) from None
    diff = changes(saved, new, terms)
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
    for fixed, why in fixed_settings(terms).items():
        key = ".".join(fixed)
        if key in diff and (fixed[0] != TERMS_KEY or _has(saved, fixed)):
            raise ConfigError(
                f"--model_dir {model_dir} holds a run trained with --{fixed[-1]}={diff[key]['from']}; resuming it "
                f"with --{fixed[-1]}={diff[key]['to']} would make it another run ({why}); use a new --model_dir, "
                "or the original value"
            )


def _has(d: dict, path: tuple[str, ...]) -> bool:
    try:
        _pick(d, path)
    except (KeyError, TypeError):
        return False
    return True


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


def record(
    saved: dict[str, Any] | None,
    new: TrainConfig,
    step: int,
    terms: Sequence[Term] = (),
    restored_from: str | None = None,
    set_aside: str | None = None,
) -> str:
    """The config.json text of a run (re)starting at ``step``: ``new`` (and its extra terms) plus the history.

    ``restored_from``: the checkpoint named by ``--restore_checkpoint``, recorded in the history
    entry (always written then) with ``set_aside``, where the later checkpoints were moved
    (``rundir.RunDir.set_aside_after``).
    """
    history = list(saved.get(HISTORY_KEY, [])) if saved else []
    diff = changes(saved, new, terms) if saved is not None else {}
    if diff or restored_from:
        when = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        entry: dict[str, Any] = {"step": step, "time": when, "changes": diff}
        if restored_from:
            entry["restored_from"] = restored_from
            entry["set_aside"] = set_aside
        history.append(entry)
    d = config_dict(new, terms)
    if history:
        d[HISTORY_KEY] = history
    return json.dumps(d, indent=2, sort_keys=True) + "\n"

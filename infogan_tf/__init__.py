"""infogan_tf: InfoGAN (Chen et al. 2016, arXiv 1606.03657) on TensorFlow 2 / Keras 3.

The Python API, for a notebook or a script::

    import infogan_tf as ig

    config = ig.preset("mnist", train_steps=500, manual_dir="data/mnist")  # flags by name
    ig.train(config, "runs/mnist")
    ig.export("runs/mnist", "export/models/mnist")
    model = ig.load("export/models/mnist")              # the latest version
    sevens = model.generate(categorical=7, num=8, seed=0)  # float32 [8, 28, 28, 1] in [0, 1]
    codes = model.encode(sevens).categorical           # int32 [8, 1]
    grid = model.traverse(continuous_code=0)           # [10, 10, 28, 28, 1]: Figure 2's layout
    report = ig.evaluate("runs/mnist").report

The command lines (``infogan-train``, ``-export``, ``-evaluate``,
``-sample``) call the same functions. Bad arguments raise
:mod:`infogan_tf.errors` (``ig.ConfigError``, ``ig.UsageError``, ...) with
the one-line message the command line prints.

Importing the package is light: the names below are loaded on first use, and
TensorFlow only by the functions that need it (training, export, loading).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> the module that defines it (imported on first access).
_EXPORTS = {
    # configuration
    "TrainConfig": "infogan_tf.config",
    "DataConfig": "infogan_tf.config",
    "ModelConfig": "infogan_tf.config",
    "OptimConfig": "infogan_tf.config",
    "RuntimeConfig": "infogan_tf.config",
    "LatentSpec": "infogan_tf.latent",
    "PRESETS": "infogan_tf.presets",
    "preset": "infogan_tf.api.configure",
    # running
    "train": "infogan_tf.api.run",
    "export": "infogan_tf.api.run",
    "evaluate": "infogan_tf.api.run",
    "sample": "infogan_tf.api.run",
    "EvalConfig": "infogan_tf.evaluation.evaluate",
    "EvalResult": "infogan_tf.evaluation.evaluate",
    "EvalData": "infogan_tf.evaluation.eval_data",
    "SampleConfig": "infogan_tf.serving.sample",
    # an exported model
    "load": "infogan_tf.api.model",
    "Model": "infogan_tf.api.model",
    "Encoding": "infogan_tf.api.model",
    # the objective's terms (a term of your own: subclass Term, pass it to ig.train(..., terms=[...]))
    "Term": "infogan_tf.model.objective",
    "Metric": "infogan_tf.model.objective",
    "Contribution": "infogan_tf.model.objective",
    "UpdateBatch": "infogan_tf.model.objective",
    # errors
    "InfoGANError": "infogan_tf.errors",
    "UsageError": "infogan_tf.errors",
    "ConfigError": "infogan_tf.errors",
}

# Public name -> a module exposed whole (imported on first access).
_MODULES = {"objective": "infogan_tf.model.objective"}

__all__ = ["__version__", *_EXPORTS, *_MODULES]

if TYPE_CHECKING:
    from infogan_tf.api.configure import preset as preset
    from infogan_tf.api.model import Encoding as Encoding
    from infogan_tf.api.model import Model as Model
    from infogan_tf.api.model import load as load
    from infogan_tf.api.run import evaluate as evaluate
    from infogan_tf.api.run import export as export
    from infogan_tf.api.run import sample as sample
    from infogan_tf.api.run import train as train
    from infogan_tf.config import DataConfig as DataConfig
    from infogan_tf.config import ModelConfig as ModelConfig
    from infogan_tf.config import OptimConfig as OptimConfig
    from infogan_tf.config import RuntimeConfig as RuntimeConfig
    from infogan_tf.config import TrainConfig as TrainConfig
    from infogan_tf.errors import ConfigError as ConfigError
    from infogan_tf.errors import InfoGANError as InfoGANError
    from infogan_tf.errors import UsageError as UsageError
    from infogan_tf.evaluation.eval_data import EvalData as EvalData
    from infogan_tf.evaluation.evaluate import EvalConfig as EvalConfig
    from infogan_tf.evaluation.evaluate import EvalResult as EvalResult
    from infogan_tf.latent import LatentSpec as LatentSpec
    from infogan_tf.model import objective as objective
    from infogan_tf.model.objective import Contribution as Contribution
    from infogan_tf.model.objective import Metric as Metric
    from infogan_tf.model.objective import Term as Term
    from infogan_tf.model.objective import UpdateBatch as UpdateBatch
    from infogan_tf.presets import PRESETS as PRESETS
    from infogan_tf.serving.sample import SampleConfig as SampleConfig


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'infogan_tf' has no attribute {name!r}")
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_MODULES})

"""Shared test fixtures.

The CPU is split into two logical devices before TensorFlow starts, so that
`mirrored` runs two real replicas on a CPU-only machine (the default strategy
still uses one device). The session fixtures that train, export or prepare
data are built once per test run and shared by the xdist workers
(:func:`built_once`).
"""

import dataclasses
import json
import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import filelock
import numpy as np
import pytest
import tensorflow as tf

from infogan_tf import config as config_lib

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()],
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST_DIR = os.path.join(os.path.dirname(REPO), "shared", "data", "mnist")

# A model small enough for a CPU test to train in well under a second a step.
TINY_MODEL = config_lib.ModelConfig(g_fc_units=32, g_filters=(16, 8), d_filters=(8, 16), d_fc_units=32, q_fc_units=16)


def cli_config(*args: str) -> config_lib.TrainConfig:
    """The TrainConfig ``infogan-train`` builds from these flags (parsed on a fresh FlagValues; nothing runs)."""
    from absl import flags as absl_flags

    from infogan_tf.cli import train as train_cli

    values = absl_flags.FlagValues()
    train_cli.define_flags(values)
    values(["infogan-train", *args])
    return train_cli.config_from_flags(values)


def tiny_config(model_dir: str, **settings) -> config_lib.TrainConfig:
    """The default configuration, shrunk: small networks, batch 8, a few steps; ``settings`` by flag name."""
    base = config_lib.TrainConfig()
    return dataclasses.replace(
        base,
        model=TINY_MODEL,
        # XLA off: compiling costs more than these few steps save; float32: the
        # same numbers on every machine (the defaults, XLA for one float32
        # replica and --mixed_precision=auto, have tests of their own).
        runtime=dataclasses.replace(
            base.runtime,
            model_dir=model_dir,
            log_every=1,
            summary_every=2,
            checkpoint_every=2,
            jit_compile=False,
            mixed_precision="float32",
        ),
    ).override(**{"batch_size": 8, "train_steps": 3, **settings})


def snapshot(directory) -> dict:
    """Every file under ``directory``: (bytes, mtime) by relative path -- to assert "left as it was"."""
    out = {}
    for d, _, files in os.walk(directory):
        for f in files:
            path = os.path.join(d, f)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, directory)] = (fh.read(), os.stat(path).st_mtime_ns)
    return out


def make_trainer(config, images, strategy=None, **seams):
    """A Trainer under ``strategy`` (default: the default strategy) on fake images."""
    from infogan_tf.training import loop

    return loop.Trainer(config, strategy or tf.distribute.get_strategy(), images=images, **seams)


def nan_input_fn(images, config, nan_step: int):
    """The run's input pipeline with the real images of step ``nan_step`` (1-based) made NaN (a fault seam)."""
    from infogan_tf.data.pipeline import make_input_fn

    def input_fn(ctx):
        ds = make_input_fn(images, config.optim.batch_size, config.runtime.seed)(ctx)
        return ds.enumerate().map(lambda i, batch: batch + tf.where(i + 1 == nan_step, float("nan"), 0.0))

    return input_fn


# What a `unit` test may not use (tests/README.md, "Markers"): a trained run, an export, the MNIST files.
NOT_UNIT_FIXTURES = frozenset({"trained_model_dir", "exported_model", "mnist_data_dir"})


def pytest_collection_modifyitems(items):
    """Keeps the unit tier true: a test marked `unit` is not `slow` and uses none of NOT_UNIT_FIXTURES."""
    wrong = [
        item.nodeid
        for item in items
        if item.get_closest_marker("unit")
        and (item.get_closest_marker("slow") or NOT_UNIT_FIXTURES & set(getattr(item, "fixturenames", ())))
    ]
    if wrong:
        raise pytest.UsageError(
            f"marked unit but slow or using a trained run, an export or the MNIST files: {', '.join(wrong)}; "
            "remove its unit mark (a module-wide pytestmark only where every test qualifies)"
        )


def random_images(count: int = 64, shape=(28, 28, 1)) -> np.ndarray:
    """``count`` random uint8 images, the same in every process (seed 0): the fake data seam."""
    return np.random.default_rng(0).integers(0, 256, size=(count, *shape), dtype=np.uint8)


@pytest.fixture
def fake_images():
    """64 random 28x28x1 uint8 images (a fake data seam)."""
    return random_images()


def built_once(tmp_path_factory, name: str, build):
    """``build(directory)`` run once per test run, its (JSON) result shared by every xdist worker.

    pytest-xdist's documented pattern: the workers' temporary directories share
    a parent; the first worker to take the lock builds into ``<parent>/<name>``
    and records the result, the others wait for it and read it. What is built
    there is read-only to the tests (copy it to change it, as ``run_dir`` does).
    """
    root = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        root = root.parent
    done = root / f"{name}.json"
    with filelock.FileLock(str(root / f"{name}.lock")):
        if done.is_file():
            return json.loads(done.read_text())
        directory = root / name
        shutil.rmtree(directory, ignore_errors=True)  # a build that failed in another worker
        directory.mkdir()
        result = build(directory)
        done.write_text(json.dumps(result))
    return result


@pytest.fixture(scope="session")
def mnist_data_dir(tmp_path_factory):
    """A TFDS data_dir with MNIST prepared offline from the official files (once per test run)."""
    if not os.path.isdir(MNIST_DIR):
        pytest.skip(f"the official MNIST files are not at {MNIST_DIR}")
    from infogan_tf.config import DataConfig
    from infogan_tf.data.datasets import _prepare

    def build(directory) -> str:
        _prepare(DataConfig(dataset="mnist", data_dir=str(directory), manual_dir=MNIST_DIR))
        return str(directory)

    return built_once(tmp_path_factory, "tfds", build)


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory):
    """A tiny model_dir trained 4 steps on random images (checkpoints at steps 2 and 4), once per test run.

    Shared by the export, sampling and serving-client tests.
    """
    from infogan_tf.training import loop

    def build(directory) -> str:
        model_dir = str(directory / "run")
        loop.train(tiny_config(model_dir, train_steps=4), images=random_images(), progress=lambda _: None)
        return model_dir

    return built_once(tmp_path_factory, "trained", build)


@pytest.fixture
def run_dir(tmp_path, trained_model_dir):
    """A copy of ``trained_model_dir`` (checkpoints at steps 2 and 4) that a test may damage."""
    path = str(tmp_path / "run")
    shutil.copytree(trained_model_dir, path)
    return path


@pytest.fixture(scope="session")
def exported_model(trained_model_dir, tmp_path_factory):
    """infogan_tf.serving.export.ExportResult of ``trained_model_dir`` (version 4 under a fresh base path)."""
    from infogan_tf.serving import export

    def build(directory) -> dict:
        config = export.ExportConfig(model_dir=trained_model_dir, export_dir=str(directory / "infogan_test"))
        return export.export(config)._asdict()

    return export.ExportResult(**built_once(tmp_path_factory, "export", build))

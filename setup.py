"""infogan_tf: InfoGAN (Chen et al. 2016) on TensorFlow 2 / Keras 3."""

import pathlib

from setuptools import find_packages, setup

setup(
    name="infogan_tf",
    version="0.1.0",
    description="InfoGAN on TensorFlow 2 / Keras 3: distributed training, checkpoints, SavedModel export",
    long_description=pathlib.Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["infogan_tf", "infogan_tf.*"]),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.15,<4",
        "tensorflow-datasets>=4.9,<4.10",
        # TFDS offline preparation (manual_dir) needs these at run time.
        "etils[epath]>=1.5",
        "importlib_resources>=5",
        "tensorboard>=2.20,<3",
        "absl-py>=2.1,<3",
        # The training progress bar on a terminal (training/console.py); TFDS needs it too.
        "tqdm>=4.66,<5",
        "numpy>=1.26,<3",
        "scipy>=1.11,<2",
        # NMI and ARI of the categorical code against the labels (evaluation only).
        "scikit-learn>=1.5,<2",
        # --image_dir: the header pass over a folder's files (format, size, grey/colour) before TF decodes them.
        "pillow>=10,<14",
        # The L_I-over-training figure of infogan-evaluate.
        "matplotlib>=3.8,<4",
        # SavedModel warmup records (PredictionLog) and the gRPC client example.
        "tensorflow-serving-api>=2.21,<2.22",
        # infogan-explore's web application (routes, request parsing).
        "Flask>=3.1,<4",
        # infogan-explore's server: a fixed worker pool, connection limit and idle timeout (pure Python).
        "waitress>=3.0.2,<4",
    ],
    # The explorer's page: plain HTML/JS/CSS, shipped with the package (no build step).
    package_data={"infogan_tf.serving.explorer": ["static/*.html", "static/*.js", "static/*.css"]},
    extras_require={
        # The suite and the checks .ci/run makes before it (ruff, mypy; pre-commit for contributors);
        # selenium drives the headless Chromium of the explorer's browser test (Debian's chromium).
        "test": [
            "pytest>=8,<10",
            "pytest-xdist>=3.6,<4",
            "filelock>=3.12,<5",  # the session fixtures built once per run and shared by the xdist workers
            "ruff>=0.17,<0.18",
            "mypy>=2.4,<2.5",
            "pre-commit>=4.7,<5",
            "selenium>=4.30,<5",
        ],
        # The speed benchmarks' PyTorch side (benchmarks/torch_baseline.py, step_vs_torch.py; CPU wheel).
        "bench": ["torch>=2.13.0,<2.14"],
    },
    entry_points={
        "console_scripts": [
            "infogan-train=infogan_tf.cli.train:run",
            "infogan-export=infogan_tf.cli.export:run",
            "infogan-sample=infogan_tf.cli.sample:run",
            "infogan-evaluate=infogan_tf.cli.evaluate:run",
            "infogan-classifier=infogan_tf.cli.classifier:run",
            "infogan-explore=infogan_tf.cli.explore:run",
        ],
    },
)

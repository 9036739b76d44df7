"""How a run computes: ``--mixed_precision=auto`` picks bfloat16 where the hardware has it; XLA or not.

``auto`` (the default since 2026-12-03) means bfloat16 compute (Keras' ``mixed_bfloat16``
policy: float32 variables, losses and outputs) on hardware with native
bfloat16 arithmetic -- x86 CPUs with AVX512_BF16 or AMX-BF16, NVIDIA GPUs of
compute capability 8.0 or more -- and float32 everywhere else, where bfloat16
is emulated and slower (BUILD_NOTES, "Precision"). ``float32`` and
``bfloat16`` are taken as given.

The trainer resolves ``auto`` when it starts (:func:`resolve`), says which
precision it uses and why, and records the concrete value in config.json: a
run resumed on other hardware may compute in another precision (the
checkpoint's variables are float32 either way), and its history says from
which step.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from infogan_tf.config import TrainConfig

# /proc/cpuinfo flags of native bfloat16 arithmetic on x86.
CPU_BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_bfloat16_flags(cpuinfo_path: str = "/proc/cpuinfo") -> list[str]:
    """The native-bfloat16 flags this CPU reports (empty when none, or when there is no cpuinfo)."""
    try:
        with open(cpuinfo_path, encoding="utf-8", errors="replace") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return []
    return [name for name in CPU_BFLOAT16_FLAGS if name in flags]


def gpus_compute_bfloat16(gpus: list) -> bool:
    """True when every GPU has compute capability >= 8.0 (Ampere on)."""
    for gpu in gpus:
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if not capability or tuple(capability) < (8, 0):
            return False
    return True


def compute_precision(config: TrainConfig, cpuinfo_path: str = "/proc/cpuinfo") -> tuple[str, str]:
    """(``"float32"`` or ``"bfloat16"``, why) for this run on this machine."""
    asked = config.runtime.mixed_precision
    if asked != "auto":
        return asked, f"--mixed_precision={asked}"
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        if gpus_compute_bfloat16(gpus):
            return "bfloat16", "--mixed_precision=auto: the GPUs compute bfloat16 natively"
        return "float32", "--mixed_precision=auto: a GPU without native bfloat16 (compute capability < 8.0)"
    flags = cpu_bfloat16_flags(cpuinfo_path)
    if flags:
        return "bfloat16", f"--mixed_precision=auto: the CPU computes bfloat16 natively ({', '.join(flags)})"
    return "float32", "--mixed_precision=auto: the CPU has no native bfloat16 arithmetic"


def resolve(config: TrainConfig, cpuinfo_path: str = "/proc/cpuinfo") -> tuple[TrainConfig, str]:
    """``config`` with ``auto`` replaced by the precision this machine uses (what config.json records), and why."""
    precision, why = compute_precision(config, cpuinfo_path)
    runtime = dataclasses.replace(config.runtime, mixed_precision=precision)
    return dataclasses.replace(config, runtime=runtime), why


def use_jit_compile(config: TrainConfig, strategy: tf.distribute.Strategy) -> bool:
    """``--jit_compile``, or by default: on for single-replica, single-process float32 runs.

    XLA fails on a multi-replica step on TF 2.21, and with bfloat16 on a CPU
    it is slower than oneDNN's kernels (BUILD_NOTES, "Precision").
    """
    if config.runtime.jit_compile is not None:
        return config.runtime.jit_compile
    single = strategy.num_replicas_in_sync == 1 and not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    return single and config.runtime.mixed_precision == "float32"


def describe(config: TrainConfig, why: str, jit_compile: bool) -> str:
    """The line a run starts with: how it computes, and why."""
    rt = config.runtime
    xla = "on" if jit_compile else "off"
    return f"computing in {rt.mixed_precision} ({why}), XLA {xla}, up to {rt.steps_per_loop} steps per call"

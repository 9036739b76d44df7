"""--mixed_precision=auto: bfloat16 where the hardware computes it natively, recorded as what was used."""

import dataclasses
import json

import pytest
import tensorflow as tf
from conftest import make_trainer, tiny_config

from infogan_tf.training import precision
from infogan_tf.training.precision import use_jit_compile

_ZEN4 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512vl\n"
_ZEN3 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n"


def _with_precision(cfg, value):
    return dataclasses.replace(cfg, runtime=dataclasses.replace(cfg.runtime, mixed_precision=value))


@pytest.mark.unit
@pytest.mark.parametrize(
    "cpuinfo, expected, flag", [(_ZEN4, "bfloat16", "avx512_bf16"), (_ZEN3, "float32", None), (None, "float32", None)]
)
def test_auto_follows_the_cpu_flags(tmp_path, cpuinfo, expected, flag):
    path = tmp_path / "cpuinfo"
    if cpuinfo is not None:
        path.write_text(cpuinfo)
    cfg = _with_precision(tiny_config(str(tmp_path)), "auto")
    resolved, why = precision.resolve(cfg, cpuinfo_path=str(path))
    assert resolved.runtime.mixed_precision == expected and "--mixed_precision=auto" in why
    assert (flag in why) if flag else "no native bfloat16" in why
    # Everything else is as it was.
    assert dataclasses.replace(resolved, runtime=cfg.runtime) == cfg


@pytest.mark.unit
@pytest.mark.parametrize("given", ["float32", "bfloat16"])
def test_an_explicit_precision_is_taken_as_given(tmp_path, given):
    path = tmp_path / "cpuinfo"
    path.write_text(_ZEN3 if given == "bfloat16" else _ZEN4)
    resolved, why = precision.resolve(_with_precision(tiny_config(str(tmp_path)), given), cpuinfo_path=str(path))
    assert resolved.runtime.mixed_precision == given and why == f"--mixed_precision={given}"


@pytest.mark.unit
def test_xla_is_on_by_default_for_float32_only(tmp_path):
    cfg = dataclasses.replace(
        tiny_config(str(tmp_path)), runtime=dataclasses.replace(tiny_config(str(tmp_path)).runtime, jit_compile=None)
    )
    assert use_jit_compile(cfg, tf.distribute.get_strategy())
    assert not use_jit_compile(_with_precision(cfg, "bfloat16"), tf.distribute.get_strategy())


def test_the_trainer_records_the_precision_it_used(tmp_path, fake_images):
    trainer = make_trainer(_with_precision(tiny_config(str(tmp_path)), "auto"), fake_images)
    used, _ = precision.compute_precision(_with_precision(trainer.config, "auto"))
    assert trainer.config.runtime.mixed_precision == used
    assert trainer.state.generator.fc1.compute_dtype == used
    messages = []
    trainer.train(progress=messages.append)
    assert messages[0].startswith(f"computing in {used} (--mixed_precision=auto: ")
    assert json.loads((tmp_path / "config.json").read_text())["runtime"]["mixed_precision"] == used

"""The two steps the benchmarks time, and the conv/matmul FLOPs of each as traced.

    python -m benchmarks.step_flops [--batch_size=64]

* :func:`paper_step_config`: the paper's objective (learned std) with the joint
  update -- the step ``flops.py`` counts from layer shapes, ``benchmark.py``
  times per precision/XLA variant, and ``torch_baseline.py --update=joint``
  implements.
* :func:`default_step_config`: ``infogan-train``'s default step (alternating
  updates, the real-image term on affine views), at a given batch size --
  the step ``step_vs_torch.py`` times against PyTorch.

:func:`traced_train_step_macs` traces (does not run) the step of
``infogan_tf.training.loop.Trainer`` (its ``infogan_tf.training.step.InfoGANStep``)
and counts the MACs of the MatMul/Conv2D* ops that actually run; the CLI
prints 2 x that for both steps and their ratio.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile

from absl import app, flags

from infogan_tf import config as config_lib


def with_fields(cfg: config_lib.TrainConfig, **values) -> config_lib.TrainConfig:
    """``cfg`` with fields set by their flag names, in whichever part holds each (names are unique across parts)."""
    parts = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
    changes: dict[str, dict] = {}
    for name, value in values.items():
        owner = [p for p, part in parts.items() if name in {f.name for f in dataclasses.fields(part)}]
        if len(owner) != 1:
            raise ValueError(f"{name} is not a field of exactly one part of TrainConfig")
        changes.setdefault(owner[0], {})[name] = value
    return dataclasses.replace(cfg, **{p: dataclasses.replace(parts[p], **c) for p, c in changes.items()})


def setting(cfg: config_lib.TrainConfig, name: str):
    """The value of the field ``name`` (a flag name), in whichever part of ``cfg`` holds it."""
    for part in dataclasses.fields(cfg):
        value = getattr(cfg, part.name)
        if name in {f.name for f in dataclasses.fields(value)}:
            return getattr(value, name)
    raise ValueError(f"{name} is not a field of TrainConfig")


def paper_step_config(batch_size: int, model_dir: str, **settings) -> config_lib.TrainConfig:
    """The paper's objective (learned std) with the joint update, at ``batch_size``; ``settings`` override by name.

    That is the step flops.py counts and ``torch_baseline.py --update=joint``
    implements, so the FLOP and PyTorch comparisons hold. The default training
    configuration (alternating update plus the real-image term) does more work.
    """
    cfg = with_fields(
        config_lib.TrainConfig(),
        continuous_std="learned",  # as torch_baseline.py
        batch_size=batch_size,
        train_steps=10**9,
        update="joint",
        lambda_real_info=0.0,
        real_info_view="same",
        model_dir=model_dir,
    )
    return with_fields(cfg, **settings).validate()


def default_step_config(batch_size: int, model_dir: str, **settings) -> config_lib.TrainConfig:
    """infogan-train's defaults at ``batch_size``; ``settings`` (precision, XLA, steps per loop) override by name."""
    cfg = with_fields(config_lib.TrainConfig(), batch_size=batch_size, train_steps=10**9, model_dir=model_dir)
    return with_fields(cfg, **settings).validate()


def default_strategy():
    """The strategy every benchmark step runs under (infogan-train's default)."""
    from infogan_tf.training.distribute import get_strategy

    return get_strategy("default", 0, "/cpu:0")


def traced_train_step_macs(cfg: config_lib.TrainConfig) -> dict[str, int]:
    """MACs per op type of the MatMul/Conv2D* ops that the Trainer's traced step runs.

    The step is traced, never run, on zero images; nothing is written
    (``cfg.runtime.model_dir`` is replaced by a temporary directory). XLA is
    turned off for the trace: the ops of an XLA cluster are not in the graph.
    """
    import numpy as np

    from infogan_tf.training import loop

    images = np.zeros([cfg.optim.batch_size, *cfg.model.image_shape], np.uint8)
    with tempfile.TemporaryDirectory(prefix="infogan_bench_flops_") as model_dir:
        runtime = dataclasses.replace(cfg.runtime, model_dir=model_dir, jit_compile=False)
        trainer = loop.Trainer(dataclasses.replace(cfg, runtime=runtime), default_strategy(), images=images)
        return count_graph_macs(trainer.step_fn.graph(trainer.input_iterator()))


def count_graph_macs(graph) -> dict[str, int]:
    """MACs per op type of the MatMul/Conv2D* ops of a FuncGraph that actually run.

    Ops that no output and no stateful op depends on are not counted: TF
    prunes them from a function body before running it (e.g. the D weight
    gradients that tape.gradient(g_loss, G variables) builds and never uses).
    """
    live = set()
    stack = [t.op for t in graph.outputs] + list(graph.control_outputs)
    stack += [op for op in graph.get_operations() if op.op_def.is_stateful]
    while stack:
        op = stack.pop()
        if op.name in live:
            continue
        live.add(op.name)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    totals: dict[str, int] = {}
    for op in graph.get_operations():
        if op.name not in live:
            continue
        macs = _op_macs(op)
        if macs is not None:
            totals[op.type] = totals.get(op.type, 0) + macs
    return totals


def _op_macs(op) -> int | None:
    if op.type == "MatMul":
        a = op.inputs[0].shape.as_list()
        out = op.outputs[0].shape.as_list()
        k = a[0] if op.get_attr("transpose_a") else a[1]
        return out[0] * out[1] * k
    if op.type in ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"):
        # Every one of the three costs the MACs of the forward convolution it
        # belongs to: conv output positions x kernel volume x output channels.
        if op.type == "Conv2D":
            conv_out = op.outputs[0].shape.as_list()
            kh, kw, cin, cout = op.inputs[1].shape.as_list()
        elif op.type == "Conv2DBackpropInput":  # (input_sizes, filter, out_backprop)
            conv_out = op.inputs[2].shape.as_list()
            kh, kw, cin, cout = op.inputs[1].shape.as_list()
        else:  # Conv2DBackpropFilter: (input, filter_sizes, out_backprop) -> filter
            conv_out = op.inputs[2].shape.as_list()
            kh, kw, cin, cout = op.outputs[0].shape.as_list()
        n, ho, wo, _ = conv_out
        return n * ho * wo * kh * kw * cin * cout
    return None


def step_gflop(cfg: config_lib.TrainConfig) -> float:
    """Conv/matmul GFLOP (2 x MACs) of one step of ``cfg`` as traced."""
    return 2 * sum(traced_train_step_macs(cfg).values()) / 1e9


def main(argv) -> None:
    del argv
    batch = flags.FLAGS.batch_size
    out = {}
    with tempfile.TemporaryDirectory() as model_dir:
        for name, cfg in (
            ("default", default_step_config(batch, model_dir)),
            ("joint_paper_objective", paper_step_config(batch, model_dir)),
        ):
            macs = traced_train_step_macs(cfg)
            out[name] = {"gflop_per_step": 2 * sum(macs.values()) / 1e9, "macs_by_op": macs}
    out["ratio"] = out["default"]["gflop_per_step"] / out["joint_paper_objective"]["gflop_per_step"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    flags.DEFINE_integer("batch_size", 64, "Global batch size of the traced step.")
    app.run(main)

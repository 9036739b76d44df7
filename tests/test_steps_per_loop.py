"""Several train steps per compiled call (``--steps_per_loop``): same updates, bounded stop, exact resume."""

import dataclasses
import signal

import numpy as np
import pytest
from conftest import make_trainer, nan_input_fn, tiny_config

from infogan_tf import errors
from infogan_tf.training.loop import steps_this_call


def _config(model_dir, steps_per_loop, train_steps=6, **runtime):
    cfg = tiny_config(str(model_dir), train_steps=train_steps)
    every = {"log_every": 3, "summary_every": 6, "checkpoint_every": 3, **runtime}
    return dataclasses.replace(cfg, runtime=dataclasses.replace(cfg.runtime, steps_per_loop=steps_per_loop, **every))


def _weights(trainer):
    s = trainer.state
    return [v.numpy() for v in s.generator.variables + s.discriminator.variables + s.d_optimizer.variables]


def test_one_call_of_n_steps_is_n_single_steps(tmp_path, fake_images):
    single = make_trainer(_config(tmp_path / "a", 1), fake_images)
    looped = make_trainer(_config(tmp_path / "b", 4), fake_images)
    single_it, looped_it = single.input_iterator(), looped.input_iterator()
    for _ in range(4):
        single_out = single.step_fn(single_it, 0.0, 1)
    looped_out = looped.step_fn(looped_it, 0.0, 4)

    assert int(looped_out["steps_run"]) == 4 and int(looped.state.step.numpy()) == 4
    assert looped.step_fn.tracing_count == 1
    for name in ("d_loss", "g_loss", "mi_loss", "d_grad_norm", "real_info"):
        np.testing.assert_allclose(float(looped_out[name]), float(single_out[name]), rtol=1e-5, err_msg=name)
    for a, b in zip(_weights(single), _weights(looped)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # Another count reuses the trace.
    looped.step_fn(looped_it, 0.0, 2)
    assert looped.step_fn.tracing_count == 1 and int(looped.state.step.numpy()) == 6


def test_a_stop_request_ends_the_call_after_one_step(tmp_path, fake_images):
    trainer = make_trainer(_config(tmp_path, 5), fake_images)
    out = trainer.step_fn(trainer.input_iterator(), 1.0, 5)
    assert int(out["steps_run"]) == 1 and float(out["stop_requested"]) == 1.0
    assert int(trainer.state.step.numpy()) == 1


def test_a_signal_stops_training_within_the_call_and_resume_is_exact(tmp_path, fake_images):
    straight = make_trainer(_config(tmp_path / "straight", 1), fake_images)
    straight.train(progress=lambda _: None)

    stopped = make_trainer(_config(tmp_path / "split", 5), fake_images)
    calls = []
    step_fn = stopped.step_fn

    def step_then_signal(iterator, stop_code, steps):
        calls.append(steps)
        out = step_fn(iterator, stop_code, steps)
        stopped._signals.received = signal.SIGTERM  # as if SIGTERM came during the call
        return out

    stopped.step_fn = step_then_signal
    result = stopped.train(progress=lambda _: None)
    # The first call runs to the first log/checkpoint step (3); the stop is seen by the next call's first step.
    assert calls == [3, 3] and result.preempted and result.step == 4 and result.checkpoint.endswith("ckpt-4")

    resumed = make_trainer(_config(tmp_path / "split", 5), fake_images)
    assert resumed.train(progress=lambda _: None).step == 6
    for a, b in zip(_weights(straight), _weights(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_calls_end_on_log_summary_checkpoint_and_last_steps(tmp_path):
    cfg = _config(tmp_path, 8, train_steps=23, log_every=5, summary_every=12, checkpoint_every=7)
    steps, step = [], 0
    while step < 23:
        steps.append(steps_this_call(cfg, step))
        step += steps[-1]
    # Boundaries 5, 7, 10, 12, 14, 15, 20, 21, 23.
    assert steps == [5, 2, 3, 2, 2, 1, 5, 1, 2]


def test_a_non_finite_step_ends_the_call_and_the_run(tmp_path, fake_images):
    cfg = _config(tmp_path, 6, train_steps=6, checkpoint_every=6, log_every=6)
    trainer = make_trainer(cfg, fake_images, input_fn=nan_input_fn(fake_images, cfg, nan_step=2))
    with pytest.raises(errors.NonFiniteError, match="at step 2"):
        trainer.train(progress=lambda _: None)
    # The loop stopped right after the bad step instead of running the call's other four.
    assert int(trainer.state.step.numpy()) == 2

"""The train step and loop: default and mirrored strategies, resume, guards."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import make_trainer, nan_input_fn, random_images, tiny_config

from infogan_tf import errors
from infogan_tf.training import loop
from infogan_tf.training.distribute import mirrored_strategy
from infogan_tf.training.precision import use_jit_compile


def _weights(trainer):
    return [v.numpy() for m in (trainer.state.generator, trainer.state.discriminator) for v in m.weights]


def _train_and_check(trainer):
    """Trains 3 steps; finite metrics in range, every trainable variable of G, D and Q moved, one trace."""
    before = _weights(trainer)
    result = trainer.train(progress=lambda _: None)
    assert result.step == 3 and int(trainer.state.step.numpy()) == 3
    for name in ("d_loss", "g_loss", "mi_loss", "info_lower_bound", "d_grad_norm", "g_grad_norm"):
        assert np.isfinite(result.metrics[name]), name
    assert 0 <= result.metrics["real_info"] <= np.log(10) + 1e-5
    assert result.metrics["overcluster_info"] == 0.0  # no over-clustering head: its metric is there and 0
    assert 0 <= result.metrics["d_real"] <= 1 and 0 <= result.metrics["d_fake"] <= 1
    after = _weights(trainer)
    trainable = {id(v) for m in (trainer.state.generator, trainer.state.discriminator) for v in m.trainable_variables}
    all_vars = [v for m in (trainer.state.generator, trainer.state.discriminator) for v in m.weights]
    for v, b, a in zip(all_vars, before, after):
        if id(v) in trainable:
            assert not np.array_equal(a, b), f"{v.path} did not change"
    # The step function was traced once for all steps.
    assert trainer.step_fn.tracing_count == 1


@pytest.mark.parametrize("update", ["alternating", "joint"])
def test_a_few_steps_train(tmp_path, fake_images, update):
    trainer = make_trainer(tiny_config(str(tmp_path), update=update), fake_images)
    assert trainer.strategy.num_replicas_in_sync == 1
    _train_and_check(trainer)


@pytest.mark.parametrize("mixed_precision, jit_compile", [("bfloat16", False), ("float32", None)])
def test_bfloat16_and_xla_steps_train(tmp_path, fake_images, mixed_precision, jit_compile):
    """bfloat16 compute; and XLA, on by default for one replica (the mirrored default is tested below)."""
    cfg = tiny_config(str(tmp_path))
    cfg = dataclasses.replace(
        cfg, runtime=dataclasses.replace(cfg.runtime, mixed_precision=mixed_precision, jit_compile=jit_compile)
    )
    trainer = make_trainer(cfg, fake_images)
    assert trainer.step_fn.jit_compile == (jit_compile is None)
    if mixed_precision == "bfloat16":
        assert trainer.state.generator.fc1.compute_dtype == "bfloat16"
    # Variables stay float32 whatever the compute dtype.
    assert {v.dtype for v in trainer.state.generator.weights + trainer.state.discriminator.weights} == {"float32"}
    before = _weights(trainer)
    result = trainer.train(progress=lambda _: None)
    assert all(np.isfinite(result.metrics[k]) for k in ("d_loss", "g_loss", "mi_loss", "info_lower_bound"))
    assert any(not np.array_equal(a, b) for a, b in zip(before, _weights(trainer)))
    assert trainer.state.generator(tf.zeros([1, 62]), tf.zeros([1, 12])).dtype == tf.float32


@pytest.mark.unit
def test_xla_by_default_for_one_replica_only():
    cfg = tiny_config("unused", update="alternating")
    cfg = dataclasses.replace(cfg, runtime=dataclasses.replace(cfg.runtime, jit_compile=None))
    assert use_jit_compile(cfg, tf.distribute.get_strategy())
    assert not use_jit_compile(cfg, mirrored_strategy(["/cpu:0", "/cpu:1"]))
    explicit = dataclasses.replace(cfg, runtime=dataclasses.replace(cfg.runtime, jit_compile=False))
    assert not use_jit_compile(explicit, tf.distribute.get_strategy())


def test_xla_with_several_replicas_is_refused(tmp_path, fake_images):
    cfg = tiny_config(str(tmp_path))
    cfg = dataclasses.replace(cfg, runtime=dataclasses.replace(cfg.runtime, jit_compile=True))
    strategy = mirrored_strategy(["/cpu:0", "/cpu:1"])
    with pytest.raises(errors.ConfigError, match="--jit_compile works with a single replica only"):
        make_trainer(cfg, fake_images, strategy=strategy)
    assert not (tmp_path / "config.json").exists()


def test_resume_continues_exactly(tmp_path, fake_images, run_dir):
    # Straight through: the session's tiny run (4 steps of the same configuration on the same images).
    straight = make_trainer(tiny_config(run_dir, train_steps=4), fake_images)
    assert straight.restore() == 4

    first = make_trainer(tiny_config(str(tmp_path / "split"), train_steps=2), fake_images)
    first.train(progress=lambda _: None)
    messages = []
    second = make_trainer(tiny_config(str(tmp_path / "split"), train_steps=4), fake_images)
    result = second.train(progress=messages.append)

    assert any("resumed from" in m and "at step 2" in m for m in messages)
    assert result.step == 4 and result.checkpoint.endswith("ckpt-4")
    for a, b in zip(_weights(straight), _weights(second)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert len(straight.state.g_optimizer.variables) == len(second.state.g_optimizer.variables) > 2
    for a, b in zip(straight.state.g_optimizer.variables, second.state.g_optimizer.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_a_finished_run_is_not_trained_further(run_dir, fake_images):
    again = make_trainer(tiny_config(run_dir, train_steps=4), fake_images)  # the session's run, 4 steps done
    result = again.train(progress=lambda _: None)
    assert result.step == 4 and result.checkpoint.endswith("ckpt-4")
    assert again.step_fn.tracing_count == 0  # nothing was trained


def test_summaries_metrics_log_and_checkpoints_are_written(tmp_path, fake_images):
    cfg = tiny_config(str(tmp_path), train_steps=4)
    result = loop.train(cfg, images=fake_images, progress=lambda _: None)
    assert sorted(os.listdir(tmp_path)) == ["checkpoints", "config.json", "metrics.jsonl", "train"]
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 4 and '"info_lower_bound"' in lines[-1]
    # The label-free check runs at the summary steps (2 and 4) only.
    records = [json.loads(line) for line in lines]
    assert ["view_agreement" in r for r in records] == [False, True, False, True]
    for r in records[1::2]:
        assert 0.0 <= r["view_agreement"] <= 1.0 and 0.0 <= r["view_information"] <= 1.0 + 1e-5
    elapsed = [json.loads(line)["elapsed_s"] for line in lines]
    assert elapsed == sorted(elapsed) and elapsed[0] > 0
    assert result.checkpoint == str(tmp_path / "checkpoints" / "ckpt-4")
    tags = set()
    for event_file in tf.io.gfile.glob(str(tmp_path / "train" / "events.*")):
        for record in tf.data.TFRecordDataset(event_file):
            event = tf.compat.v1.Event.FromString(record.numpy())
            tags.update(v.tag for v in event.summary.value)
    assert {
        "d_loss",
        "g_loss",
        "mi_loss",
        "info_lower_bound",
        "categorical_entropy",
        "d_real",
        "d_fake",
        "steps_per_sec",
        "elapsed_s",
        "real_info",
        "view_agreement",
        "view_information",
        "traversal",
    } <= tags


@pytest.mark.unit
def test_label_free_check_sample_is_fixed_capped_and_read_from_streamed_files(tmp_path):
    from infogan_tf.data.pipeline import StreamedImages
    from infogan_tf.training import label_free

    many = random_images(1500)
    a = label_free.check_sample(many, seed=3)
    assert a.shape == (label_free.CHECK_IMAGES, 28, 28, 1)
    np.testing.assert_array_equal(a, label_free.check_sample(many, seed=3))
    assert not np.array_equal(a, label_free.check_sample(many, seed=4))
    assert label_free.check_sample(np.zeros([0, 28, 28, 1], np.uint8), seed=0) is None
    paths = []
    for i, image in enumerate(many[:5]):
        paths.append(str(tmp_path / f"{i}.png"))
        tf.io.write_file(paths[-1], tf.io.encode_png(image))
    streamed = label_free.check_sample(StreamedImages(tuple(paths), (28, 28, 1)), seed=0)
    np.testing.assert_array_equal(streamed, many[:5])


def test_traversal_grid_shape(tmp_path, fake_images):
    trainer = make_trainer(tiny_config(str(tmp_path)), fake_images)
    grid = trainer.traversal_grid()
    # 10 categories x 10 sweep values of 28x28 tiles with 1-pixel borders.
    assert grid.shape == (1, 10 * 29 + 1, 10 * 29 + 1, 1) and grid.dtype == np.uint8


def test_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, fake_images):
    cfg = tiny_config(str(tmp_path), train_steps=6)
    cfg = dataclasses.replace(cfg, runtime=dataclasses.replace(cfg.runtime, checkpoint_every=1, log_every=2))
    trainer = make_trainer(cfg, fake_images, input_fn=nan_input_fn(fake_images, cfg, nan_step=3))
    with pytest.raises(errors.NonFiniteError) as e:
        trainer.train(progress=lambda _: None)
    message = str(e.value)
    assert "at step 3" in message and "d_loss" in message and "ckpt-2" in message
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-2")
    reader = tf.train.load_checkpoint(str(tmp_path / "checkpoints" / "ckpt-2"))
    for name in reader.get_variable_to_shape_map():
        value = reader.get_tensor(name)
        if np.issubdtype(np.asarray(value).dtype, np.floating):
            assert np.all(np.isfinite(value)), name


def test_mirrored_runs_of_both_updates_train_alike_on_both_replicas_in_one_process(tmp_path, fake_images):
    """Two replicas: the update trains, replicas hold identical weights and one set of BatchNorm statistics.

    Both updates in one process: without fresh collective keys per strategy the second run fails with
    "Shape mismatch in the collective instance" (different BN all-reduces).
    """
    for update in ("alternating", "joint"):
        strategy = mirrored_strategy(["/cpu:0", "/cpu:1"])
        trainer = make_trainer(tiny_config(str(tmp_path / update), update=update), fake_images, strategy=strategy)
        assert trainer.strategy.num_replicas_in_sync == 2
        _train_and_check(trainer)
        networks = (trainer.state.generator, trainer.state.discriminator)
        moving = [v for m in networks for v in m.non_trainable_variables if "moving" in v.path]
        assert moving
        for v in moving:
            copies = [c.numpy() for c in strategy.experimental_local_results(v.value)]
            assert len(copies) == 2
            np.testing.assert_array_equal(copies[0], copies[1], err_msg=v.path)
            assert not np.allclose(copies[0], 0.0 if "mean" in v.path else 1.0), f"{v.path} never updated"
        for v in trainer.state.generator.trainable_variables + trainer.state.discriminator.trainable_variables:
            copies = [c.numpy() for c in strategy.experimental_local_results(v.value)]
            np.testing.assert_array_equal(copies[0], copies[1], err_msg=v.path)


@pytest.fixture(scope="module")
def first_step(tmp_path_factory):
    """``first_step(**settings)``: a Trainer after one step at --lambda_real_info=5 (else the defaults) and its metrics.

    Each configuration trains once per module (per xdist worker), so the comparisons below share their
    default run.
    """
    trained = {}

    def run(**settings):
        cfg = tiny_config("first_step", train_steps=1, **{"lambda_real_info": 5.0, **settings})
        key = repr(cfg)  # equal settings (given or by default) are one run
        if key not in trained:
            model_dir = str(tmp_path_factory.mktemp("first_step"))
            trainer = make_trainer(cfg.override(model_dir=model_dir), random_images())
            trained[key] = trainer, trainer.train(progress=lambda _: None).metrics
        return trained[key]

    return run


@pytest.mark.parametrize("update, view", [("alternating", "deskewed"), ("joint", "same"), ("joint", "affine")])
def test_real_information_term_changes_only_what_it_should(first_step, update, view):
    # Same seed, data and codes: the D/Q update differs only by the real-image term.
    (without, _), (with_term, _) = (
        first_step(update=update, real_info_view=view, lambda_real_info=weight) for weight in (0.0, 5.0)
    )
    q_weights = [v.numpy() for v in without.state.discriminator.q_head_variables()]
    q_weights_with_term = [v.numpy() for v in with_term.state.discriminator.q_head_variables()]
    assert any(not np.allclose(a, b) for a, b in zip(q_weights, q_weights_with_term))
    if update == "joint":
        # The generator's update does not contain the term (it is in the D/Q objective only).
        for a, b in zip(without.state.generator.trainable_variables, with_term.state.generator.trainable_variables):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("update", ["alternating", "joint"])
def test_the_overclustering_head_trains_through_the_real_image_term(tmp_path, fake_images, update):
    cfg = tiny_config(str(tmp_path), update=update, q_overcluster=12)
    trainer = make_trainer(cfg, fake_images)
    head = trainer.state.discriminator.q_overcluster
    before = [v.numpy() for v in head.weights]
    result = trainer.train(progress=lambda _: None)
    assert all(not np.allclose(a, v.numpy()) for a, v in zip(before, head.weights))
    assert 0 < result.metrics["overcluster_info"] <= np.log(12) + 1e-5  # without the head: test_a_few_steps_train


def _only_the_real_image_term_differs(a, b):
    assert a["real_info"] != b["real_info"]
    for name in ("d_real", "d_fake", "mi_categorical_ce"):  # computed before any update, from the same inputs
        assert a[name] == pytest.approx(b[name], rel=1e-6, abs=1e-7), name


@pytest.mark.parametrize(
    "option, changed",
    [
        ("real_info_shear", 0.5),
        ("real_info_scale", 0.3),
        ("real_info_view", "affine"),
        ("real_info_flip", True),
        ("real_info_level_ink", True),
        ("real_info_erase", 0.3),
    ],
)
def test_each_view_option_changes_the_real_image_term_and_nothing_else_of_the_first_step(first_step, option, changed):
    # Same seed, data and codes as the defaults' run: only the second views (and so the real-image term) differ.
    _only_the_real_image_term_differs(first_step()[1], first_step(**{option: changed})[1])


@pytest.mark.parametrize("update", ["alternating", "joint"])
def test_the_balance_weight_changes_the_update_but_not_the_information_it_reports(first_step, update):
    # Same inputs and views: the first step's real-image information is the same number, its update is not.
    (_, a), (_, b) = (first_step(update=update, real_info_balance=w) for w in (1.0, 2.0))
    assert a["real_info"] == pytest.approx(b["real_info"], rel=1e-6)
    assert a["d_grad_norm"] != pytest.approx(b["d_grad_norm"], rel=1e-4)
    for name in ("d_real", "d_fake", "mi_categorical_ce"):
        assert a[name] == pytest.approx(b[name], rel=1e-6, abs=1e-7), name

"""The objective as declared terms: a new term in one file, the paper's Eq. 6 by hand, the declarations checked."""

import dataclasses
import json
import math
import os
from typing import ClassVar

import numpy as np
import pytest
import tensorflow as tf
from conftest import cli_config, make_trainer, tiny_config

from infogan_tf.config import FactorViewsConfig
from infogan_tf.errors import ConfigError
from infogan_tf.model.objective import (
    BATCH_MEAN,
    AdversarialTerm,
    Contribution,
    D,
    G,
    InformationTerm,
    Metric,
    Objective,
    RealImageTerm,
    Term,
    UpdateBatch,
    default_terms,
)
from infogan_tf.training import loop, resume


class MeanPenalty(Term):
    """An extra term, defined here alone: weight * ||mu_Q(G(z, c))||^2 per example, in the D/Q update."""

    name = "mean_penalty"
    updates = frozenset({D})
    metrics = (Metric("q_mean_l2", reduce=BATCH_MEAN, shown="|mu|^2={value:.3f}"),)
    fixed_on_resume: ClassVar[dict] = {"power": "the penalty's form follows it"}

    def __init__(self, weight: float, power: int = 2):
        self.weight, self.power = weight, power

    def contribute(self, batch: UpdateBatch) -> Contribution:
        l2 = tf.reduce_sum(tf.abs(batch.fake.continuous_mean) ** self.power, axis=-1)
        return Contribution(d=self.weight * l2, metrics={"q_mean_l2": l2})

    def settings(self) -> dict:
        return {"weight": self.weight, "power": self.power}


def _tags(summary_dir) -> set:
    tags = set()
    for event_file in tf.io.gfile.glob(os.path.join(summary_dir, "events.*")):
        for record in tf.data.TFRecordDataset(event_file):
            tags.update(v.tag for v in tf.compat.v1.Event.FromString(record.numpy()).summary.value)
    return tags


def test_a_term_declared_in_a_test_file_trains_and_is_logged_recorded_and_guarded_on_resume(tmp_path, fake_images):
    lines = []
    cfg = tiny_config(str(tmp_path / "run"), train_steps=2, summary_every=1)
    result = loop.train(cfg, images=fake_images, progress=lines.append, terms=[MeanPenalty(0.5)])
    assert result.step == 2 and np.isfinite(result.metrics["q_mean_l2"]) and result.metrics["q_mean_l2"] > 0
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2] and all("q_mean_l2" in r for r in records)
    assert {"q_mean_l2", "d_loss", "real_info"} <= _tags(result.summary_dir)
    assert any("|mu|^2=" in line for line in lines)  # the progress line shows what the term declares shown
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["terms"] == {"mean_penalty": {"weight": 0.5, "power": 2}}
    # Resuming: another weight is recorded; another form is refused, naming the term's reason.
    longer = tiny_config(str(tmp_path / "run"), train_steps=3, summary_every=1)
    loop.train(longer, images=fake_images, progress=lambda _: None, terms=[MeanPenalty(0.25)])
    history = json.loads((tmp_path / "run" / "config.json").read_text())["history"]
    assert history[-1]["changes"]["terms.mean_penalty.weight"] == {"from": 0.5, "to": 0.25}
    with pytest.raises(ConfigError, match=r"--power=2; resuming it with --power=1 .*penalty's form follows it"):
        make_trainer(longer, fake_images, terms=[MeanPenalty(0.25, power=1)])


def test_the_factor_views_flags_add_the_term_which_trains_and_is_recorded_and_guarded_on_resume(tmp_path, fake_images):
    from_flags = cli_config("--model_dir=unused", "--factor_views=0.5", "--factor_views_second=width").factor_views
    assert (from_flags.factor_views, from_flags.factor_views_second) == (0.5, "width")
    cfg = tiny_config(str(tmp_path / "run"), train_steps=2, factor_views=0.5)
    lines = []
    result = loop.train(cfg, images=fake_images, progress=lines.append)
    assert np.isfinite(result.metrics["factor_views_error"]) and any("moves=" in line for line in lines)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["factor_views"]["factor_views"] == 0.5 and "terms" not in saved
    with pytest.raises(ConfigError, match=r"--factor_views_second=thickness; resuming it with --factor_views_second="):
        make_trainer(dataclasses.replace(cfg, factor_views=from_flags), fake_images)
    make_trainer(cfg.override(train_steps=3), fake_images)  # the same settings resume


def test_an_extra_term_changes_the_update_it_enters_and_nothing_at_weight_zero(tmp_path, fake_images):
    def first_step(name, terms):
        trainer = make_trainer(tiny_config(str(tmp_path / name), train_steps=1), fake_images, terms=terms)
        trainer.train(progress=lambda _: None)
        s = trainer.state
        return [v.numpy() for v in s.discriminator.trainable_variables + s.generator.trainable_variables]

    plain = first_step("plain", [])
    penalised, zero = first_step("penalised", [MeanPenalty(5.0)]), first_step("zero", [MeanPenalty(0.0)])
    assert any(not np.allclose(a, b, rtol=1e-4) for a, b in zip(plain, penalised))  # D/Q's update has the penalty
    # At weight 0: the same update up to float noise (Adam's first step is lr * g / |g|: 2e-4 on any g).
    for a, b in zip(plain, zero):
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-5)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("update", ["alternating", "joint"])
def test_lambda_real_info_zero_is_eq_6_written_out_by_hand(tmp_path, fake_images, update):
    """V(D, G) - lambda L_I(G, Q) (Chen et al. 2016, Eq. 6, non-saturating G loss), from the networks' outputs."""
    cfg = tiny_config(str(tmp_path), update=update, lambda_real_info=0.0, lambda_cat=0.7, lambda_cont=0.3)
    trainer = make_trainer(cfg, fake_images)
    s, spec = trainer.state, cfg.latent
    real = tf.constant(fake_images[:8], tf.float32) / 127.5 - 1
    codes = spec.sample(8, tf.constant([1, 2], tf.int64))
    fake = s.generator(codes.z, codes.c, training=True)
    out = s.discriminator(tf.concat([real, fake], 0), training=True, segments=2)
    real_out, fake_out = out.split(2)
    if update == "joint":  # one batch for both updates
        (d_loss, g_loss), _ = trainer.step_fn.losses(UpdateBatch(frozenset({D, G}), fake_out, codes, real_out, {}))
    else:  # the D/Q step sees the real batch, the G step only its own fake one
        (d_loss,), _ = trainer.step_fn.losses(UpdateBatch(frozenset({D}), fake_out, codes, real_out, {}))
        (g_loss,), _ = trainer.step_fn.losses(UpdateBatch(frozenset({G}), fake_out, codes, None, {}))

    r, f = real_out.d_logit.numpy(), fake_out.d_logit.numpy()
    cat = codes.categorical.numpy()
    logits = [t.numpy() for t in fake_out.categorical_logits]
    ce = sum(-_log_softmax(code)[np.arange(8), cat[:, i]] for i, code in enumerate(logits))
    mean, log_std = fake_out.continuous_mean.numpy(), fake_out.continuous_log_std.numpy()
    z = (codes.continuous.numpy() - mean) / np.exp(log_std)
    nll = (0.5 * math.log(2 * math.pi) + log_std + 0.5 * z**2).sum(axis=-1)
    minus_lambda_l_i = 0.7 * ce + 0.3 * nll  # -lambda (L_I - H(c)), per example
    v_d = -np.log(_sigmoid(r)) - np.log(1 - _sigmoid(f))  # D maximises V: descends -V
    v_g = -np.log(_sigmoid(f))  # non-saturating
    np.testing.assert_allclose(d_loss.numpy(), np.mean(v_d + minus_lambda_l_i), rtol=1e-5)
    np.testing.assert_allclose(g_loss.numpy(), np.mean(v_g + minus_lambda_l_i), rtol=1e-5)


def test_the_default_terms_are_eq_6_and_the_real_image_term_in_that_order():
    cfg = tiny_config("unused")
    terms = default_terms(cfg)
    assert [type(t) for t in terms] == [AdversarialTerm, InformationTerm, RealImageTerm]
    assert [t.updates for t in terms] == [frozenset({D, G}), frozenset({D, G}), frozenset({D})]
    names = [m.name for m in Objective(terms).metrics]
    assert names == [
        "d_loss",
        "g_loss",
        "d_real",
        "d_fake",
        "mi_loss",
        "mi_categorical_ce",
        "mi_continuous_nll",
        "info_lower_bound",
        "real_info",
        "overcluster_info",
    ]
    assert resume.fixed_settings() == {
        ("real_info", "real_info_view"): "its second views follow it",
        ("real_info", "q_overcluster"): "the checkpoint's variables follow it",
        # Every setting of the factor-views term (declared whether or not a run has it).
        **{("factor_views", f.name): "the run was trained with it" for f in dataclasses.fields(FactorViewsConfig)},
    }


class _Clash(MeanPenalty):
    metrics = (Metric("d_loss"),)


class _Nowhere(MeanPenalty):
    updates = frozenset()


@pytest.mark.parametrize(
    "terms, message",
    [
        ([MeanPenalty(1.0), MeanPenalty(2.0)], "two terms of the objective are named 'mean_penalty'"),
        ([_Clash(1.0)], "term 'mean_penalty' declares metric 'd_loss', which another term has"),
        ([_Nowhere(1.0)], "term 'mean_penalty' must enter D, G or both"),
        (["l2"], "'l2' is not an objective Term"),
    ],
)
def test_a_malformed_objective_is_refused_in_one_line(terms, message):
    with pytest.raises(ConfigError) as e:
        Objective.for_config(tiny_config("unused"), terms)
    assert message in str(e.value) and "\n" not in str(e.value)

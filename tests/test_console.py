"""What a user sees on the console: progress (bar on a terminal, lines in a log), summaries, quiet start-up.

All in process: the reporters are driven with fake streams, the summaries
are pure functions of values, TensorFlow's start-up filter is fed the lines
TF 2.21 really prints. The console scripts' real stderr (quiet by default,
everything with --verbosity=0) is tested in test_console_scripts.py.
"""

import io
import os
import signal

import pytest

from infogan_tf.cli import quiet, summary
from infogan_tf.config import DataConfig, RuntimeConfig, TrainConfig
from infogan_tf.training import console
from infogan_tf.training.loop import TrainResult

pytestmark = pytest.mark.unit

ENTROPY = 2.302585  # H(c) of one 10-way categorical code, log 10
METRICS = {
    "d_loss": 1.2345,
    "g_loss": 0.8765,
    "mi_loss": 0.5,
    "info_lower_bound": 2.1987,
    "real_info": 1.9,
    "d_real": 0.61,
    "d_fake": 0.39,
    "steps_per_sec": 20.0,
    "elapsed_s": 5.0,
}


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self):
        return True


def _drive(reporter, start=1000, total=3000, end=1200, log_every=100):
    reporter.say("resumed from runs/x/checkpoints/ckpt-1000 at step 1000")
    reporter.begin(start, total)
    for step in range(start + 1, end + 1):
        reporter.advance(step)
        if step % log_every == 0:
            reporter.log(step, METRICS)
    reporter.say("a message")
    reporter.end()


# ----------------------------------------------------------------- progress


def test_a_terminal_gets_one_bar_with_steps_losses_info_bound_rate_and_eta():
    stream = FakeTerminal()
    reporter = console.for_stream(stream, ENTROPY, "infogan-train")
    assert isinstance(reporter, console.BarReporter)
    _drive(reporter)
    text = stream.getvalue()
    frames = [f for f in text.replace("\n", "\r").split("\r") if f.strip()]
    # A resumed run's bar starts at the resumed step, not at 0.
    bars = [f for f in frames if f.startswith("infogan-train ")]
    assert bars[0].startswith("infogan-train 1000/3000 ")
    last = bars[-1]
    assert last.startswith("infogan-train 1200/3000 |")
    assert "steps/s ETA " in last and last.endswith("D=1.234 G=0.876 L_I=2.20/2.30")
    # Messages are whole lines above the bar, never inside it.
    assert "infogan-train: resumed from runs/x/checkpoints/ckpt-1000 at step 1000\n" in text
    assert "\rinfogan-train: a message\n" in text
    assert "d_loss=" not in text  # no plain progress lines on a terminal
    assert reporter.start_step == 1000 and reporter.step == 1200 and reporter.metrics == METRICS


def test_a_log_file_or_pipe_gets_plain_lines_every_log_step():
    stream = io.StringIO()  # isatty() is False, as for a file or a pipe
    reporter = console.for_stream(stream, ENTROPY, "infogan-train")
    assert type(reporter) is console.Reporter
    _drive(reporter)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "infogan-train: resumed from runs/x/checkpoints/ckpt-1000 at step 1000"
    assert [line.split()[2] for line in lines[1:3]] == ["1100/3000", "1200/3000"]
    assert lines[1] == (
        "infogan-train: step 1100/3000 d_loss=1.2345 g_loss=0.8765 D(x)=0.610 D(G(z))=0.390 mi_loss=0.5000 "
        "L_I=2.1987/2.3026 I_real=1.900 20.00 steps/s ETA 0:01:35"
    )
    assert lines[3:] == ["infogan-train: a message"]
    assert "\r" not in stream.getvalue()


def test_the_progress_line_shows_what_the_terms_declare_shown_in_their_order():
    lines = []
    reporter = console.Reporter(lines.append, ENTROPY)
    reporter.shown = (("real_info", "I_real={value:.1f}"), ("penalty", "pen={value:.2e}"), ("d_loss", "D={value:.2f}"))
    reporter.begin(0, 10)
    reporter.log(5, {**METRICS, "penalty": 0.00123})
    assert lines == ["step 5/10 I_real=1.9 pen=1.23e-03 D=1.23 20.00 steps/s ETA 0:00:00"]


def test_a_closed_or_odd_stream_is_no_terminal():
    closed = io.StringIO()
    closed.close()
    assert not console.is_terminal(closed) and not console.is_terminal(object())
    assert console.is_terminal(FakeTerminal())


def test_the_reporter_keeps_the_wall_time_and_rate_of_this_run_only():
    reporter = console.Reporter(lambda _: None, ENTROPY)
    reporter.begin(500, 600)
    reporter.advance(550)
    reporter.end()
    assert reporter.wall_s > 0 and reporter.steps_per_sec == pytest.approx(50 / reporter.wall_s)


# ----------------------------------------------------------------- summaries


def _config(model_dir, **data):
    return TrainConfig(runtime=RuntimeConfig(model_dir=model_dir), data=DataConfig(**data))


def _finished_reporter(start, step, wall_s, metrics):
    reporter = console.Reporter(lambda _: None, ENTROPY)
    reporter.begin(start, 3000)
    reporter.log(step, metrics)
    reporter.end()
    reporter.wall_s = wall_s  # a fixed clock for the text
    return reporter


def test_the_train_summary_names_the_paths_and_the_next_commands_of_this_run():
    config = _config("runs/my run", manual_dir="../shared/data/mnist")
    result = TrainResult(3000, "runs/my run/checkpoints/ckpt-3000", "runs/my run/train", METRICS)
    reporter = _finished_reporter(0, 3000, 151.0, METRICS)
    text = summary.train_summary("infogan-train", result, reporter, config, classifier_ready=False)
    assert text.splitlines() == [
        "infogan-train: done: step 3000/3000, 3000 steps in 0:02:31 (19.87 steps/s)",
        "  L_I          2.1987 of H(c) = 2.3026 (95%)",
        "  checkpoint   runs/my run/checkpoints/ckpt-3000",
        "  TensorBoard  runs/my run/train",
        "next:",
        "  infogan-export --model_dir='runs/my run' --export_dir='export/models/infogan_my run'",
        "  infogan-classifier --dataset=mnist --manual_dir=../shared/data/mnist",
        "  infogan-evaluate --model_dir='runs/my run'",
        "  infogan-explore --saved_model='export/models/infogan_my run/3000'",
        "  tensorboard --logdir='runs/my run'",
    ]
    # With the classifier cached, evaluate comes right after export.
    ready = summary.train_summary("infogan-train", result, reporter, config, classifier_ready=True)
    assert "infogan-classifier" not in ready and "infogan-evaluate --model_dir='runs/my run'" in ready


def test_the_stopped_summary_gives_the_resume_command_and_ends_with_the_one_line_verdict():
    config = _config("runs/mnist")
    result = TrainResult(1234, "runs/mnist/checkpoints/ckpt-1234", "runs/mnist/train", {}, signal.SIGINT)
    reporter = _finished_reporter(1000, 1234, 12.0, {**METRICS})
    argv = ["/usr/bin/infogan-train", "--model_dir=runs/mnist", "--train_steps=3000"]
    lines = summary.stopped_summary("infogan-train", result, reporter, config, argv).splitlines()
    assert lines == [
        "infogan-train: stopped at step 1234/3000, 234 steps in 0:00:12 (19.50 steps/s, resumed at 1000)",
        "  L_I          not logged yet",
        "  checkpoint   runs/mnist/checkpoints/ckpt-1234",
        "  TensorBoard  runs/mnist/train",
        "  resume with  infogan-train --model_dir=runs/mnist --train_steps=3000",
        "infogan-train: interrupted (Ctrl-C) at step 1234; checkpoint runs/mnist/checkpoints/ckpt-1234; "
        "rerun the same command to resume",
    ]
    worker = result._replace(checkpoint=None, stopped_by=signal.SIGTERM)
    last = summary.stopped_summary("infogan-train", worker, reporter, config, argv).splitlines()[-1]
    assert last == (
        "infogan-train: preempted (SIGTERM) at step 1234; the chief saved the checkpoint; "
        "rerun the same command to resume"
    )


REPORT = {
    "model": {"latent": {"categorical": [10], "continuous": 2}},
    "summary": {
        "step": 3000,
        "accuracy": 0.9512,
        "purity": 0.9604,
        "nmi": 0.8923,
        "ari": 0.8811,
        "info_lower_bound": 2.2801,
        "categorical_entropy": 2.302585,
        "continuous_info_lower_bound": 0.41,
        "categorical_recovery": [0.991],
        "continuous_r2": [0.83, None],
        "continuous_controls": ["slant", None],
        "continuous_controls_rho": [0.97, None],
        "frechet_distance": 3.217,
        "frechet_distance_real_test": 0.41,
        "classifier_score": 8.91,
        "classifier_score_real_test": 9.62,
    },
    "unsupervised_accuracy": [{"accuracy": 0.9512, "purity": 0.9604, "nmi": 0.8923, "ari": 0.8811}],
    "view_consistency": {"codes": [{"agreement": 0.9377, "normalised_information": 0.8412}]},
}


def test_the_evaluation_table_reads_the_report():
    assert summary.evaluation_table(REPORT).splitlines() == [
        "step                             3000",
        "categorical code: test accuracy  95.1% (many-to-one 96.0%)",
        "  NMI / ARI with the labels      0.892 / 0.881",
        "label-free check                 93.8% of moved copies keep their category; I = 0.841 of ln K",
        "L_I (categorical)                2.2801 of H(c) = 2.3026",
        "L_I (continuous)                 0.4100",
        "Q recovers categorical 0         99.1%",
        "Q recovers continuous 0 (R²)     0.830",
        "Q recovers continuous 1 (R²)     n/a",
        "Fréchet distance                 3.22 (real test images: 0.41)",
        "classifier score                 8.91 (real test images: 9.62)",
        "continuous code 0 controls       slant (Spearman rho 0.97)",
        "continuous code 1 controls       nothing measurable",
    ]


def test_the_evaluation_table_says_what_each_continuous_code_means_and_whether_q_reads_it():
    factors = {"continuous_factors": ["slant", "width"], "continuous_factor_rho": [0.99, 0.71]}
    report = {
        **REPORT,
        "summary": {**REPORT["summary"], **factors, "continuous_q_r": [0.83, 0.4], "continuous_codes_hold": False},
        "code_factors": {"verdict": {"problems": ["code 1 moves width most, at |rho| 0.71 < 0.9: not monotone"]}},
    }
    assert summary.evaluation_table(report).splitlines()[-3:] == [
        "continuous code 0 means          slant (|rho| 0.99); Q reads it on test images at |r| 0.83",
        "continuous code 1 means          width (|rho| 0.71); Q reads it on test images at |r| 0.40",
        "continuous codes                 code 1 moves width most, at |rho| 0.71 < 0.9: not monotone",
    ]
    report["summary"]["continuous_codes_hold"] = True
    assert summary.evaluation_table(report).splitlines()[-1].endswith("one factor each, Q tracks each")


def test_the_evaluation_table_leaves_out_what_was_not_measured():
    report = {
        "model": {"latent": {"categorical": [], "continuous": 0}},
        "summary": {"step": 4, "info_lower_bound": 0.0, "categorical_entropy": 0.0},
        "unsupervised_accuracy": [],
    }
    assert summary.evaluation_table(report) == "step  4\n"


# ----------------------------------------------------------------- quiet start-up

# What `import tensorflow` and the first device listing print on a CPU machine (TF 2.21, captured).
STARTUP = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796172394.346208   30653 port.cc:153] oneDNN custom operations are on. You may see slightly \
different numerical results due to floating-point round-off errors from different computation orders.
I0000 00:00:1796172394.346736   30653 cudart_stub.cc:31] Could not find cuda drivers on your machine, \
GPU will not be used.
I0000 00:00:1796172395.121309   30653 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available \
CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the appropriate \
compiler flags.
E0000 00:00:1796172406.205141   30653 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call \
to cuInit: UNKNOWN ERROR (303)
W0000 00:00:1796172441.591086   30705 assert_op.cc:39] Ignoring Assert operator \
assert_non_negative/assert_less_equal/Assert/Assert
"""
REAL = (
    "E0000 00:00:1796172406.205141   30653 op_kernel.cc:1830] OP_REQUIRES failed: INTERNAL: a real error\n"
    "/work/infogan_tf/x.py:3: UserWarning: a real Python warning\n"
)


def test_the_startup_filter_drops_the_known_lines_and_keeps_real_errors_and_warnings():
    assert quiet.without_startup_noise(STARTUP) == ""
    assert quiet.without_startup_noise(STARTUP + REAL) == REAL
    assert quiet.without_startup_noise(REAL + STARTUP) == REAL


def test_the_startup_window_filters_file_descriptor_2(capfd):
    with quiet.filtered_stderr():
        os.write(2, STARTUP.encode())
        os.write(2, REAL.encode())
    assert capfd.readouterr().err == REAL


def test_the_startup_window_writes_everything_back_when_the_import_fails(capfd):
    with pytest.raises(ImportError), quiet.filtered_stderr():
        os.write(2, STARTUP.encode() + b"Traceback: libtensorflow.so: cannot open shared object file\n")
        raise ImportError("no tensorflow")
    assert capfd.readouterr().err == "Traceback: libtensorflow.so: cannot open shared object file\n"


def test_reading_a_tfds_dataset_logs_no_deprecation_line(monkeypatch):
    """TFDS logs "`FeatureConnector.dtype` is deprecated" whenever ``.dtype`` is read; the first screen had it."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.features import feature

    from infogan_tf.data import datasets

    deprecated: list[str] = []
    monkeypatch.setattr(feature, "log_tf_warning", deprecated.append)
    assert tfds.features.Image(shape=(2, 2, 1)).dtype is not None and deprecated  # the seam sees a read
    deprecated.clear()
    # What infogan-train asks of a dataset's features before reading it (the read itself is TFDS's own code).
    assert datasets.native_shape(DataConfig(dataset="mnist")) == (28, 28, 1)
    assert deprecated == []


@pytest.mark.parametrize(
    "environ, verbosity, wanted",
    [
        ({}, None, True),
        ({}, -1, True),
        ({}, 0, False),  # --verbosity=0: info lines, TF's included
        ({"INFOGAN_TF_VERBOSE": "1"}, None, False),
        ({"INFOGAN_TF_VERBOSE": "0"}, None, True),
        ({"TF_CPP_MIN_LOG_LEVEL": "0"}, None, False),  # the user's own level wins
        ({"TF_CPP_MIN_LOG_LEVEL": "3"}, None, True),
    ],
)
def test_quiet_unless_asked_for_verbose(environ, verbosity, wanted):
    assert quiet.wants_quiet(environ, verbosity) is wanted


def test_install_sets_the_level_unless_the_user_did_and_verbosity_undoes_it(monkeypatch):
    import sys

    environ: dict = {}
    monkeypatch.delitem(sys.modules, "tensorflow")  # as before TensorFlow is imported
    try:
        assert quiet.install(environ) and quiet.installed()
        assert environ == {"TF_CPP_MIN_LOG_LEVEL": "2"}
        quiet.set_verbosity(-1, environ)  # the default: stays quiet
        assert quiet.installed() and environ == {"TF_CPP_MIN_LOG_LEVEL": "2"}
        quiet.set_verbosity(0, environ)
        assert not quiet.installed() and environ == {}
        mine = {"TF_CPP_MIN_LOG_LEVEL": "3"}
        assert quiet.install(mine) and mine == {"TF_CPP_MIN_LOG_LEVEL": "3"}
    finally:
        quiet.uninstall()
    assert not quiet.install({"INFOGAN_TF_VERBOSE": "1"}) and not quiet.installed()


def test_every_command_takes_verbosity_and_lists_it_in_its_help(capsys):
    from infogan_tf.cli import common, evaluate, export, sample, train

    for cli in (train, export, sample, evaluate):
        assert common.parse_flags(cli.define_flags, ["prog", "--verbosity=0"]).verbosity == 0
        assert common.parse_flags(cli.define_flags, ["prog", "-v", "1"]).verbosity == 1
        assert common.parse_flags(cli.define_flags, ["prog"]).verbosity == -1
    assert common.run_main("prog", "doc", export.define_flags, ["prog", "--help"], lambda _: 1) == 0
    assert "--verbosity" in capsys.readouterr().out

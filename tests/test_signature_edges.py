"""Every signature of an export takes every edge case: a table over signatures x training precisions.

``CASES`` is built from the declaration (``infogan_tf.serving.signatures``):
for each signature, batches of 0, 1 and 1024 rows, determinism and batch
independence; for each declared input a wrong rank, a wrong width (also with 0
rows), a wrong dtype and a batch of another size; for each declared value
check the values it refuses (NaN and Inf, a block that is not one-hot, a
category out of range, pixels outside [0, 1]). A case is a list of requests and
a check of their answers. Each request runs through the SavedModel signature
(what TF Serving calls) and the one-dict function of the same name (what
``keras.layers.TFSMLayer`` calls).

The exports are of two tiny runs trained with ``--mixed_precision=float32``
(the session's run and export, conftest) and ``bfloat16`` (2 steps, trained
and exported once per module); the
table runs on them in this process and, marked slow, in a fresh Python with a
clean environment that imports TensorFlow but cannot import infogan_tf (the
way a user's server loads an export). The ``jit_compile`` exports of both runs
answer the batch cases too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pytest
from conftest import TINY_MODEL, built_once, random_images, tiny_config

from infogan_tf.config import TrainConfig
from infogan_tf.latent import LatentSpec
from infogan_tf.serving import signatures as sig

LATENT: LatentSpec = TrainConfig().latent  # the runs below use the default latent codes
IMAGE_SHAPE = tuple(TINY_MODEL.image_shape)
PRECISIONS = ("float32", "bfloat16")
LARGE = 1024

# An answer: the outputs as numpy arrays, or the error's message.
Answer = dict[str, np.ndarray] | str


class Request(NamedTuple):
    signature: str
    inputs: dict[str, np.ndarray]


class Case(NamedTuple):
    """Requests and the check of their answers (one list per form: signature and one-dict function).

    ``static``: a wrong shape or dtype, which the one-dict function may refuse
    before running (it checks its input signature in Python, raising
    TypeError) where the SavedModel signature runs the graph's checks.
    """

    id: str
    requests: tuple[Request, ...]
    check: Callable[[list[Answer]], None]
    static: bool = False


# How a refusal by the one-dict function's input signature is recorded.
BINDING = "refused by the input signature: "


# ------------------------------------------------------------ the table


def valid_inputs(contract: sig.SignatureContract, batch: int, seed: int) -> dict[str, np.ndarray]:
    """Random inputs every declared check accepts."""
    rng = np.random.default_rng(seed)
    out = {}
    for t in contract.inputs:
        shape = [batch, *t.shape(LATENT, IMAGE_SHAPE)[1:]]
        if sig.CATEGORY in t.checks:
            out[t.name] = np.stack([rng.integers(0, k, size=batch) for k in LATENT.categorical], 1).astype(t.dtype)
        elif sig.ONE_HOT in t.checks:
            categories = np.stack([rng.integers(0, k, size=batch) for k in LATENT.categorical], 1)
            out[t.name] = LATENT.flatten_numpy(categories, rng.uniform(-1, 1, (batch, LATENT.continuous)))
        elif sig.UNIT_RANGE in t.checks:
            out[t.name] = rng.uniform(0, 1, shape).astype(t.dtype)
        else:
            out[t.name] = rng.uniform(-1, 1, shape).astype(t.dtype)
    return out


def outputs_of_shape(contract: sig.SignatureContract, batch: int) -> Callable[[list[Answer]], None]:
    def check(answers: list[Answer]) -> None:
        (answer,) = answers
        assert isinstance(answer, dict), answer
        assert list(answer) == [t.name for t in contract.outputs] or set(answer) == {t.name for t in contract.outputs}
        for t in contract.outputs:
            value = answer[t.name]
            assert value.shape == (batch, *t.shape(LATENT, IMAGE_SHAPE)[1:]) and value.dtype == t.dtype, (t, value)
            assert np.isfinite(value.astype(np.float64)).all(), t.name
            if t.row == sig.IMAGE and t.dtype == "float32":
                assert value.size == 0 or 0.0 <= value.min() <= value.max() <= 1.0, t.name

    return check


def refused(pattern: str) -> Callable[[list[Answer]], None]:
    """The request is refused with an InvalidArgumentError whose message (and first line) matches ``pattern``."""

    def check(answers: list[Answer]) -> None:
        (answer,) = answers
        assert isinstance(answer, str), f"answered {sorted(answer)} instead of refusing ({pattern})"
        assert re.search(pattern, answer), answer[:2000]

    return check


def same_answers(answers: list[Answer]) -> None:
    first, second = answers
    assert isinstance(first, dict) and isinstance(second, dict), (first, second)
    for name, value in first.items():
        np.testing.assert_array_equal(second[name], value, err_msg=name)


def rows_independent(answers: list[Answer]) -> None:
    """The whole batch's rows equal the rows answered in smaller batches (1, 3 and 5 rows)."""
    whole, *parts = answers
    assert isinstance(whole, dict) and all(isinstance(p, dict) for p in parts), answers
    for name, value in whole.items():
        joined = np.concatenate([p[name] for p in parts])  # type: ignore[index]
        if value.dtype == np.uint8:  # a value within float error of a .5 level may round either way
            assert np.abs(joined.astype(int) - value.astype(int)).max() <= 1, name
        else:
            np.testing.assert_allclose(joined, value, rtol=1e-4, atol=1e-5, err_msg=name)


def _one_more_axis(x: np.ndarray) -> np.ndarray:
    return x[..., None]


def _one_more_column(x: np.ndarray) -> np.ndarray:
    pad = [(0, 0)] * x.ndim
    pad[1] = (0, 1)  # for images: one more row of pixels
    return np.pad(x, pad)


def _value_cases(name: str, t: sig.TensorInfo, contract: sig.SignatureContract) -> list[Case]:
    """The values each declared check of input ``t`` refuses."""
    base = valid_inputs(contract, 3, seed=7)
    x = base[t.name]
    bad: list[tuple[str, np.ndarray, str]] = []  # (label, the refused input, the message)

    def changed(label: str, change: Callable[[np.ndarray], None], message: str) -> None:
        y = x.copy()
        change(y)
        bad.append((label, y, message))

    k = LATENT.categorical[0]
    for kind in t.checks:
        if kind == sig.FINITE:
            for value in (np.nan, np.inf, -np.inf):
                changed(
                    f"finite-{value}", lambda y, v=value: y.flat.__setitem__(4, v), rf"{t.name} contains NaN or Inf"
                )
        elif kind == sig.ONE_HOT:
            message = rf"{t.name} columns 0\.\.{k - 1} \(categorical code 0, {k} categories\) must be one-hot"
            changed("one_hot-half", lambda y: y[1].__setitem__(slice(0, k), 0.5), message)
            changed("one_hot-two_ones", lambda y: y[1].__setitem__(slice(0, 2), 1.0), message)
            changed("one_hot-none", lambda y: y[1].__setitem__(slice(0, k), 0.0), message)
        elif kind == sig.CATEGORY:
            for value in (k, -1):
                message = rf"{t.name}\[:, 0\] must be a category index in \[0, {k - 1}\]; got min/max"
                changed(f"category-{value}", lambda y, v=value: y.__setitem__((1, 0), v), message)
        elif kind == sig.UNIT_RANGE:
            for value in (255.0, -0.1):
                message = rf"{t.name} must be in \[0, 1\] \(divide uint8 pixels by 255\)"
                changed(f"unit_range-{value}", lambda y, v=value: y.flat.__setitem__(4, v), message)
    return [
        Case(f"{name}-{t.name}-{label}", (Request(name, {**base, t.name: y}),), refused(message))
        for label, y, message in bad
    ]


def _shape_message(t: sig.TensorInfo, rank: bool) -> str:
    shape = t.shape(LATENT, IMAGE_SHAPE)
    if t.row == sig.IMAGE:
        return re.escape(f"{t.name} must be [batch, {', '.join(map(str, shape[1:]))}]; got") + (" rank" if rank else "")
    if rank:
        return re.escape(f"{t.name} must be a matrix [batch, {shape[1]}]; got rank")
    return re.escape(f"{t.name} must have {shape[1]} columns ({t.what}); got")


def signature_cases(name: str, contract: sig.SignatureContract) -> list[Case]:
    valid = lambda batch, seed=1: valid_inputs(contract, batch, seed)
    cases = [
        Case(f"{name}-batch0", (Request(name, valid(0)),), outputs_of_shape(contract, 0)),
        Case(f"{name}-batch1", (Request(name, valid(1)),), outputs_of_shape(contract, 1)),
        Case(f"{name}-batch{LARGE}", (Request(name, valid(LARGE)),), outputs_of_shape(contract, LARGE)),
        Case(f"{name}-deterministic", (Request(name, valid(5)), Request(name, valid(5))), same_answers),
    ]
    nine = valid(9, seed=2)  # the whole batch is past upsampling.SUBPIXEL_MIN_BATCH, its parts are not
    parts = [Request(name, {k: v[a:b] for k, v in nine.items()}) for a, b in ((0, 1), (1, 4), (4, 9))]
    cases.append(Case(f"{name}-batch_independent", (Request(name, nine), *parts), rows_independent))
    first = contract.inputs[0]
    for t in contract.inputs:
        inputs = valid(2)
        x = inputs[t.name]
        dtype = np.float64 if t.dtype == "float32" else np.float32
        expected = "float" if t.dtype == "float32" else t.dtype
        got = "double" if dtype == np.float64 else "float"
        cases += [
            Case(
                f"{name}-{t.name}-rank",
                (Request(name, {**inputs, t.name: _one_more_axis(x)}),),
                refused(_shape_message(t, True)),
                static=True,
            ),
            Case(
                f"{name}-{t.name}-width",
                (Request(name, {**inputs, t.name: _one_more_column(x)}),),
                refused(_shape_message(t, False)),
                static=True,
            ),
            Case(
                f"{name}-{t.name}-width-batch0",
                (Request(name, {**valid(0), t.name: _one_more_column(valid(0)[t.name])}),),
                refused(_shape_message(t, False)),
                static=True,
            ),
            Case(
                f"{name}-{t.name}-dtype",
                (Request(name, {**inputs, t.name: x.astype(dtype)}),),
                refused(f"expected to be a {expected} tensor but is a {got} tensor"),
                static=True,
            ),
        ]
        if t is not first:
            cases.append(
                Case(
                    f"{name}-{t.name}-batch_mismatch",
                    (Request(name, {**inputs, t.name: np.concatenate([x, x[:1]])}),),
                    refused(re.escape(f"{first.name} and {t.name} must have the same number of rows; got] [2] [3]")),
                )
            )
        cases += _value_cases(name, t, contract)
    return cases


CASES = [case for name, contract in sig.SIGNATURES.items() for case in signature_cases(name, contract)]
BATCH_CASES = [c for c in CASES if re.search(r"-batch[01]$", c.id)]


# ------------------------------------------------------------ the exports


@pytest.fixture(scope="module")
def exports(trained_model_dir, exported_model, tmp_path_factory) -> dict[str, str]:
    """Version directories by "<precision>" and "<precision>-jit" (``--jit_compile``).

    float32: the session's tiny run (4 steps) and its export (conftest);
    bfloat16: a tiny run trained 2 steps here with ``--mixed_precision=bfloat16``. Built once per test run.
    """
    from infogan_tf.serving import export
    from infogan_tf.training import loop

    def build(directory) -> dict[str, str]:
        bf16_run = str(directory / "bfloat16_run")
        images = random_images(32, IMAGE_SHAPE)
        config = tiny_config(bf16_run, train_steps=2, mixed_precision="bfloat16")
        loop.train(config, images=images, progress=lambda _: None)
        paths = {"float32": exported_model.path}
        for key, run, jit in (
            ("float32-jit", trained_model_dir, True),
            ("bfloat16", bf16_run, False),
            ("bfloat16-jit", bf16_run, True),
        ):
            config = export.ExportConfig(model_dir=run, export_dir=str(directory / key), jit_compile=jit)
            paths[key] = export.export(config).path
        return {"bfloat16_run": bf16_run, "exports": paths}

    built = built_once(tmp_path_factory, "edges_exports", build)
    out = built["exports"]
    runs = {"float32": trained_model_dir, "bfloat16": built["bfloat16_run"]}
    for precision, run in runs.items():
        with open(os.path.join(run, "config.json")) as f:
            assert json.load(f)["runtime"]["mixed_precision"] == precision
    for path in out.values():
        with open(os.path.join(path, "assets", sig.METADATA_ASSET)) as f:
            assert json.load(f)["latent"] == LATENT.to_dict()
    return out


@pytest.fixture(scope="module")
def loaded(exports):
    import tensorflow as tf

    return {key: tf.saved_model.load(path) for key, path in exports.items()}


def run_in_process(model, requests) -> dict[str, list[Answer]]:
    """The answers of the signatures and of the one-dict functions ({"signature": [...], "function": [...]})."""
    import tensorflow as tf

    out: dict[str, list[Answer]] = {"signature": [], "function": []}
    for request in requests:
        feeds = {k: tf.constant(v) for k, v in request.inputs.items()}
        functions = {"signature": model.signatures[request.signature], "function": getattr(model, request.signature)}
        for form, function in functions.items():
            try:
                result = function(**feeds) if form == "signature" else function(feeds)
                out[form].append({k: v.numpy() for k, v in result.items()})
            except tf.errors.InvalidArgumentError as e:
                out[form].append(e.message)
            except TypeError as e:
                assert form == "function", e
                out[form].append(BINDING + str(e))
    return out


def assert_case(case: Case, answers: dict[str, list[Answer]]) -> None:
    for form, got in answers.items():
        if case.static and form == "function" and all(isinstance(a, str) and a.startswith(BINDING) for a in got):
            continue
        try:
            case.check(got)
        except AssertionError as e:
            raise AssertionError(f"{form} form: {e}") from None
    # What TF Serving-style clients show: the signature's refusal says what is wrong in its first line.
    refusal = answers["signature"][0]
    if isinstance(refusal, str) and "assertion failed" in refusal:
        assert "assertion failed: [" in refusal.splitlines()[0], refusal[:500]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@pytest.mark.parametrize("precision", PRECISIONS)
def test_every_signature_takes_the_edge_case(loaded, precision, case):
    assert_case(case, run_in_process(loaded[precision], case.requests))


@pytest.mark.parametrize("case", BATCH_CASES, ids=[c.id for c in BATCH_CASES])
@pytest.mark.parametrize("precision", PRECISIONS)
def test_the_jit_compiled_export_takes_every_batch_size(loaded, precision, case):
    assert_case(case, run_in_process(loaded[f"{precision}-jit"], case.requests))


# ------------------------------------------------------------ a fresh TF-only Python

_TF_ONLY = textwrap.dedent(
    """
    import json, sys

    class _NoInfoganTf:  # a server's Python: TensorFlow, and no infogan_tf
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "infogan_tf":
                raise ImportError("infogan_tf is not importable here")

    sys.meta_path.insert(0, _NoInfoganTf())
    import numpy as np
    import tensorflow as tf

    requests_file, signatures_file, BINDING, *exports = sys.argv[1:]  # then: export_dir out_file, ...
    arrays = dict(np.load(requests_file))
    every_error = []
    for path, out_file in zip(exports[::2], exports[1::2]):
        model = tf.saved_model.load(path)
        outputs, errors = {}, {}
        for i, name in enumerate(json.load(open(signatures_file))):
            feeds = {k.split("/", 1)[1]: tf.constant(v) for k, v in arrays.items() if k.split("/")[0] == str(i)}
            calls = {
                "signature": lambda: model.signatures[name](**feeds),
                "function": lambda: getattr(model, name)(feeds),
            }
            for form, call in calls.items():
                try:
                    for key, value in call().items():
                        outputs[f"{i}/{form}/{key}"] = value.numpy()
                except tf.errors.InvalidArgumentError as e:
                    errors[f"{i}/{form}"] = e.message
                except TypeError as e:
                    if form != "function":
                        raise
                    errors[f"{i}/{form}"] = BINDING + str(e)
        np.savez(out_file, **outputs)
        every_error.append(errors)
    try:
        import infogan_tf  # noqa: F401
        importable = True
    except ImportError:
        importable = False
    print(json.dumps({
        "errors": every_error,
        "infogan_tf_importable": importable,
        "infogan_tf_imported": any(k.split(".")[0] == "infogan_tf" for k in sys.modules),
    }))
    """
)


@pytest.fixture(scope="module")
def tf_only_answers(exports, tmp_path_factory) -> dict[str, dict[str, dict[str, list[Answer]]]]:
    """{precision: {case id: answers}} from one fresh TF-only Python (both exports, one after the other)."""
    requests = [(case.id, r) for case in CASES for r in case.requests]
    work = tmp_path_factory.mktemp("tf_only")
    np.savez(work / "requests.npz", **{f"{i}/{k}": v for i, (_, r) in enumerate(requests) for k, v in r.inputs.items()})
    (work / "signatures.json").write_text(json.dumps([r.signature for _, r in requests]))
    env = {"PATH": os.environ["PATH"], "HOME": str(work), "TF_CPP_MIN_LOG_LEVEL": "2"}  # a clean environment
    exports_and_outputs = [arg for p in PRECISIONS for arg in (exports[p], f"{p}.npz")]
    result = subprocess.run(
        [sys.executable, "-c", _TF_ONLY, "requests.npz", "signatures.json", BINDING, *exports_and_outputs],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["infogan_tf_importable"] is False and report["infogan_tf_imported"] is False
    out = {}
    for precision, errors in zip(PRECISIONS, report["errors"], strict=True):
        arrays = dict(np.load(work / f"{precision}.npz"))
        by_case: dict[str, dict[str, list[Answer]]] = {}
        for i, (case_id, _) in enumerate(requests):
            answers = by_case.setdefault(case_id, {"signature": [], "function": []})
            for form in answers:
                prefix = f"{i}/{form}/"
                error = errors.get(f"{i}/{form}")
                answers[form].append(error or {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)})
        out[precision] = by_case
    return out


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@pytest.mark.parametrize("precision", PRECISIONS)
def test_every_signature_takes_the_edge_case_in_a_tf_only_python(tf_only_answers, precision, case):
    assert_case(case, tf_only_answers[precision][case.id])


# ------------------------------------------------------------ the declaration itself


@pytest.mark.unit
def test_the_declaration_gives_every_signature_a_valid_example_and_known_checks():
    """Each example request has the declared inputs, dtypes and shapes; every check named has a meaning."""
    for name, contract in sig.SIGNATURES.items():
        for batch in (0, 2):
            example = contract.example(LATENT, IMAGE_SHAPE, batch)
            assert list(example) == [t.name for t in contract.inputs], name
            for t in contract.inputs:
                assert example[t.name].dtype == t.dtype and list(example[t.name].shape) == [
                    batch,
                    *t.shape(LATENT, IMAGE_SHAPE)[1:],
                ], (name, t.name)
                assert set(t.checks) <= set(sig.VALUE_CHECKS), (name, t.name)
        assert not any(t.checks or t.what for t in contract.outputs), name
    assert sig.signatures_metadata(LATENT, IMAGE_SHAPE)["generate"]["inputs"]["categorical"] == {
        "dtype": "int32",
        "shape": [-1, 1],
    }
    assert sig.signature_shapes(LATENT, IMAGE_SHAPE)["encode"]["outputs"]["categorical_probs"] == [-1, 10]

"""``infogan-sample`` / ``python -m infogan_tf.cli.sample``: images from an exported InfoGAN, local or served.

Two sources, one result:

  --saved_model=DIR   a version directory written by infogan-export, run in
                      this process (``tf.saved_model.load``, signature ``generate``);
  --server=URL        a TF Serving REST endpoint (``--model_name``), through
                      ``infogan_tf.serving.client``; the latent layout is read
                      from the server's model metadata, or from ``--spec_json``
                      (the export's ``assets/infogan_tf_export.json``) when the
                      metadata cannot tell it (several categorical codes).

Two kinds of PNG:

  * by default a latent traversal grid (the paper's Figure 2 layout, Chen et
    al. 2016): rows = the categories of ``--categorical_code``, columns =
    ``--continuous_code`` swept over ``--lo..--hi`` (default -2..2), noise fixed
    by ``--seed``;
  * with ``--category`` and/or ``--continuous``: one row of ``--num`` images
    for those codes (one value per code), each with its own noise from
    ``--seed``. Codes not given: a random category per image, continuous 0.

Bad codes are rejected with one line naming the problem before anything is
generated; an existing ``--out`` is replaced only once the new PNG is complete.

Thin: the flags are the settings of ``ig.sample`` (``api.run.sample``, over
``serving.sample.sample``). Exit status: 2 for a bad flag or codes that do not
fit the model, 1 when the model cannot be loaded or reached.

Examples:
  infogan-sample --saved_model=export/models/infogan_mnist/3000 --out=grid.png
  infogan-sample --server=http://localhost:8501 --model_name=infogan_mnist --out=grid.png
  infogan-sample --saved_model=export/models/infogan_mnist/3000 --category=7 --continuous=1.5,0 --out=sevens.png
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from absl import flags

from infogan_tf import errors
from infogan_tf.api import run as api_run
from infogan_tf.cli import common as cli
from infogan_tf.serving import sample as sample_lib

PROG = "infogan-sample"


def define_flags(values: flags.FlagValues) -> None:
    """Defines the sampling flags on ``values``."""
    d = sample_lib.SampleConfig(out="")
    cli.define_model_source_flags(values, "with --server, if needed")
    flags.DEFINE_enum(
        "request_form",
        d.request_form,
        ["inputs", "instances"],
        "REST request form (with --server).",
        flag_values=values,
    )
    flags.DEFINE_string("out", None, "PNG file to write.", flag_values=values)
    flags.DEFINE_list("category", None, "One category index per categorical code, e.g. 7 or 7,2.", flag_values=values)
    flags.DEFINE_list("continuous", None, "One value per continuous code, e.g. 1.5,0.", flag_values=values)
    flags.DEFINE_integer("num", d.num, "Images to draw for --category/--continuous.", flag_values=values)
    flags.DEFINE_integer("seed", d.seed, "Seed of the noise z (and of random categories).", flag_values=values)
    flags.DEFINE_integer(
        "categorical_code", d.categorical_code, "Traversal: the categorical code giving the rows.", flag_values=values
    )
    flags.DEFINE_integer(
        "continuous_code", d.continuous_code, "Traversal: the continuous code swept by the columns.", flag_values=values
    )
    flags.DEFINE_integer("cols", d.cols, "Traversal: number of columns.", flag_values=values)
    flags.DEFINE_float("lo", d.lo, "Traversal: start of the sweep.", flag_values=values)
    flags.DEFINE_float("hi", d.hi, "Traversal: end of the sweep.", flag_values=values)


def _parse_numbers(values, kind, flag: str):
    if values is None:
        return None
    try:
        return tuple(kind(v) for v in values)
    except ValueError:
        raise errors.UsageError(
            f"--{flag} must be comma-separated {kind.__name__}s, got {','.join(values)!r}"
        ) from None


def settings_from_flags(values: flags.FlagValues) -> dict[str, Any]:
    """The ``SampleConfig`` settings of the parsed flags but ``out``, by name."""
    return dict(
        saved_model=values.saved_model,
        server=values.server,
        model_name=values.model_name,
        model_version=values.model_version,
        spec_json=values.spec_json,
        request_form=values.request_form,
        category=_parse_numbers(values.category, int, "category"),
        continuous=_parse_numbers(values.continuous, float, "continuous"),
        num=values.num,
        seed=values.seed,
        categorical_code=values.categorical_code,
        continuous_code=values.continuous_code,
        cols=values.cols,
        lo=values.lo,
        hi=values.hi,
    )


def _sample(values: flags.FlagValues, source) -> int:
    settings = settings_from_flags(values)
    result = api_run.sample(values.out or "", source=source, **settings)
    traversal = settings["category"] is None and settings["continuous"] is None
    kind = "traversal grid" if traversal else "grid of images"
    print(f"{PROG}: wrote a {result.rows}x{result.cols} {kind} ({result.width}x{result.height} px) to {result.path}")
    return 0


def main(argv: Sequence[str], source: sample_lib.ImageSource | None = None) -> int:
    """Runs ``infogan-sample`` on ``argv`` (``argv[0]``: the program name); returns the exit status.

    Args:
      argv: the command line.
      source: an ``ImageSource`` replacing the one --saved_model/--server names.
    """
    return cli.run_main(PROG, __doc__, define_flags, argv, lambda values: _sample(values, source))


def run() -> None:
    """Console-script entry point."""
    cli.init_logging()
    sys.exit(main(sys.argv))


if __name__ == "__main__":
    run()

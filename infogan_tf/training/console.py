"""What a training run shows while it runs: a progress bar on a terminal, plain lines in a log.

The loop (``training.loop``) hands a reporter the run's progress and knows
nothing of how it is shown: :meth:`Reporter.begin` (the step it starts or
resumes at, the last step), :meth:`~Reporter.advance` (each step reached --
cheap, no metrics, so no device sync), :meth:`~Reporter.log` (every
``--log_every`` steps: the reduced metrics, with ``steps_per_sec`` and
``elapsed_s``), :meth:`~Reporter.say` (a message line) and
:meth:`~Reporter.end`. A reporter keeps what the end-of-run summary needs:
the first and last step, the last metrics, the wall time.

* :class:`Reporter` writes ``records.progress_line`` at each log step, as a
  log file or a pipe wants it.
* :class:`BarReporter` draws one tqdm bar on a terminal -- step/total, steps/s,
  ETA, D and G loss, and L_I against H(c) (the bound of Chen et al. 2016,
  Eq. (4), next to the entropy it cannot exceed) -- with message lines
  printed above it.

:func:`for_stream` picks one by whether the stream is a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm

from infogan_tf.training.records import DEFAULT_SHOWN, progress_line


class Reporter:
    """Plain progress lines, one per log step (and the state the end-of-run summary reads).

    Args:
      write: takes one line (no newline), e.g. a ``print`` to stderr.
      entropy: H(c) of the run's categorical codes, the ceiling of L_I.

    ``shown``: (name, format) of the metrics a line shows; the loop sets the
    ones its objective's terms declare (``records.shown_metrics``).
    """

    def __init__(self, write: Callable[[str], None], entropy: float):
        self._write = write
        self.entropy = entropy
        self.shown: tuple[tuple[str, str], ...] = DEFAULT_SHOWN
        self.start_step = 0
        self.step = 0
        self.total = 0
        self.metrics: dict = {}
        self._began: float | None = None
        self.wall_s = 0.0  # seconds from begin() to end() (or to now, before end())

    def begin(self, step: int, total: int) -> None:
        """The run starts (or resumes) at ``step``; it ends at ``total``."""
        self.start_step = self.step = step
        self.total = total
        self._began = time.monotonic()

    def advance(self, step: int) -> None:
        """The run reached ``step`` (no metrics: called as often as the host sees a step)."""
        self.step = step
        self._clock()

    def log(self, step: int, metrics: dict) -> None:
        """A log step: ``metrics`` are the reduced step metrics, with ``steps_per_sec``."""
        self.metrics = dict(metrics)
        self.advance(step)
        rate = metrics.get("steps_per_sec", 0.0)
        self._write(progress_line(step, self.total, metrics, self.entropy, rate, self.shown))

    def say(self, line: str) -> None:
        """A message for the user."""
        self._write(line)

    def end(self) -> None:
        """The loop is done (finished, stopped or failed)."""
        self._clock()

    @property
    def steps_per_sec(self) -> float:
        """Steps of this run (not the resumed-from ones) per second of wall time."""
        return (self.step - self.start_step) / self.wall_s if self.wall_s > 0 else 0.0

    def _clock(self) -> None:
        if self._began is not None:
            self.wall_s = time.monotonic() - self._began


# One line: "infogan-train 1200/3000 |████▌    | 19.8 steps/s ETA 01:31, D=1.21 G=0.88 L_I=2.19/2.30".
BAR_FORMAT = "{desc} {n_fmt}/{total_fmt} |{bar}| {rate_noinv_fmt} ETA {remaining}{postfix}"


class BarReporter(Reporter):
    """A tqdm progress bar on ``stream``; message lines are printed above it.

    Args:
      stream: a terminal (anything with ``write``/``flush``; tests pass a fake).
      entropy: H(c), shown after L_I.
      desc: the bar's label (the program's name).
      prefix: put before message lines.
    """

    def __init__(self, stream: TextIO, entropy: float, desc: str = "", prefix: str = ""):
        super().__init__(self._print, entropy)
        self._stream = stream
        self._desc = desc
        self._prefix = prefix
        self._bar: tqdm | None = None

    def begin(self, step: int, total: int) -> None:
        super().begin(step, total)
        self._bar = tqdm(
            total=total,
            initial=step,  # a resumed run's bar starts where it resumed
            desc=self._desc,
            file=self._stream,
            unit=" steps",
            bar_format=BAR_FORMAT,
            dynamic_ncols=True,
            leave=True,
        )

    def advance(self, step: int) -> None:
        super().advance(step)
        if self._bar is not None and step > self._bar.n:
            self._bar.update(step - self._bar.n)

    def log(self, step: int, metrics: dict) -> None:
        self.metrics = dict(metrics)
        self.advance(step)
        if self._bar is not None:
            self._bar.set_postfix_str(self.postfix(metrics), refresh=True)

    def postfix(self, metrics: dict) -> str:
        """D and G loss, L_I against H(c)."""
        return (
            f"D={metrics['d_loss']:.3f} G={metrics['g_loss']:.3f} "
            f"L_I={metrics['info_lower_bound']:.2f}/{self.entropy:.2f}"
        )

    def end(self) -> None:
        super().end()
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _print(self, line: str) -> None:
        text = f"{self._prefix}{line}"
        if self._bar is not None:
            self._bar.write(text, file=self._stream)
        else:
            self._stream.write(text + "\n")
            self._stream.flush()


def is_terminal(stream) -> bool:
    """Whether ``stream`` is an interactive terminal (False for files, pipes, closed streams)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def for_stream(stream: TextIO, entropy: float, prog: str) -> Reporter:
    """A bar on a terminal, plain ``<prog>: step ...`` lines otherwise."""
    if is_terminal(stream):
        return BarReporter(stream, entropy, desc=prog, prefix=f"{prog}: ")

    def write(line: str) -> None:
        print(f"{prog}: {line}", file=stream, flush=True)

    return Reporter(write, entropy)

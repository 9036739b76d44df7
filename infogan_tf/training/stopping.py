"""How a run is stopped from outside: SIGTERM (preemption) and Ctrl-C (SIGINT).

SIGTERM, or the first Ctrl-C, asks the loop to finish the current step, save
a checkpoint at it and return; the CLI then exits 143 (SIGTERM) or 130
(Ctrl-C) with one line. A second Ctrl-C while that happens (or any Ctrl-C
after a SIGTERM) aborts at once with the default SIGINT action; the last
complete checkpoint still stands, since TF writes a checkpoint's files before
it names them in the state file.

Under MultiWorkerMirroredStrategy every worker passes its :func:`stop_code`
into the step, where it is summed with the metrics over all replicas: every
worker learns in the same step that some worker was asked to stop, and how
(:func:`stopped_by`), so they all save at that step and exit alike.
"""

from __future__ import annotations

import contextlib
import os
import signal

from absl import logging

# Codes summed over replicas: SIGTERM counts in the low bits, SIGINT above
# them, so a sum tells whether any worker got a Ctrl-C (fewer than 2**16
# replicas; float32 sums stay exact below 2**24).
_CODES = {signal.SIGTERM: 1.0, signal.SIGINT: float(1 << 16)}


class StopSignals:
    """A context in which SIGTERM and SIGINT request a clean stop (``received``) instead of killing the process.

    Outside the main thread signals cannot be handled; then nothing is installed.
    """

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self._previous: dict = {}

    def __enter__(self) -> StopSignals:
        for signum in _CODES:
            with contextlib.suppress(ValueError):  # not in the main thread
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame) -> None:  # noqa: ARG002
        if self.received is not None and signum == signal.SIGINT:
            # A second Ctrl-C: stop now, with the default action (the process dies of SIGINT).
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
            return
        if self.received is None:
            self.received = signal.Signals(signum)
            what = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
            more = " (Ctrl-C again to abort at once)" if signum == signal.SIGINT else ""
            logging.warning("%s received: every worker saves a checkpoint after this step and stops%s.", what, more)

    def stop_code(self) -> float:
        """What this process contributes to the step's stop sum (0: no stop asked here)."""
        return _CODES[self.received] if self.received is not None else 0.0


def stopped_by(code_sum: float) -> signal.Signals | None:
    """Which stop the sum of every replica's stop code asks for: SIGINT wins over SIGTERM; None = none."""
    if code_sum >= _CODES[signal.SIGINT]:
        return signal.SIGINT
    if code_sum > 0:
        return signal.SIGTERM
    return None

"""Bounded work: at most ``max_inflight`` model calls at once, at most ``max_queue`` waiting, the rest refused now.

A 1024-row ``generate`` request costs seconds of CPU and answers megabytes
of JSON; without a bound, requests arriving faster than they are answered
queue without end and every answer comes late. :class:`Admission` lets
``max_inflight`` requests run their model call, holds up to ``max_queue``
more (each for at most ``queue_timeout`` seconds), and refuses every other
one at once with :class:`Busy` -- the explorer's 503 with ``Retry-After``,
as a load balancer or TF Serving's own request queue answers when full.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

RETRY_AFTER_SECONDS = 1


class Busy(Exception):
    """No room for the request now; answered 503 with ``Retry-After: retry_after``."""

    def __init__(self, message: str, retry_after: int = RETRY_AFTER_SECONDS):
        super().__init__(message)
        self.retry_after = retry_after


class Admission:
    """A counting gate with a bounded waiting room (thread safe)."""

    def __init__(self, max_inflight: int, max_queue: int, queue_timeout: float):
        self.max_inflight, self.max_queue, self.queue_timeout = max_inflight, max_queue, queue_timeout
        self._free = threading.Condition()
        self.running = 0
        self.waiting = 0

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Holds one of the ``max_inflight`` slots for the ``with`` body; raises Busy when none comes."""
        with self._free:
            if self.running >= self.max_inflight:
                if self.waiting >= self.max_queue:
                    raise Busy(
                        f"the explorer is busy ({self.running} model calls running, {self.waiting} waiting); "
                        f"retry in {RETRY_AFTER_SECONDS} s (its limits: --max_inflight, --max_queue)"
                    )
                self.waiting += 1
                deadline = time.monotonic() + self.queue_timeout
                try:
                    while self.running >= self.max_inflight:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            raise Busy(
                                f"the explorer is busy: no model call free within {self.queue_timeout:g} s; "
                                f"retry in {RETRY_AFTER_SECONDS} s"
                            )
                        self._free.wait(left)
                finally:
                    self.waiting -= 1
            self.running += 1
        try:
            yield
        finally:
            with self._free:
                self.running -= 1
                self._free.notify()

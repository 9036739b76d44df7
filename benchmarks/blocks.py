"""Timed blocks of train steps on request: how step_vs_torch.py alternates two frameworks in one run.

A child process warms its step up, prints ``READY <json>``, then for each line
``<n>`` on stdin runs ``n`` steps and prints one JSON line with their wall and
CPU time; an empty line or EOF ends it. The parent (:func:`alternate`) asks
each child in turn, so both see the same machine at nearly the same time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable

READY = "READY "


def serve(run_steps: Callable[[int], int], ready: dict) -> None:
    """Answers block requests on stdin; ``run_steps(n)`` runs (at least) n steps and returns how many it ran."""
    print(READY + json.dumps(ready), flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        wanted = int(line)
        cpu, wall = time.process_time(), time.perf_counter()
        ran = 0
        while ran < wanted:
            ran += run_steps(wanted - ran)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(json.dumps({"steps": ran, "wall_s": wall, "cpu_s": cpu}), flush=True)


class Child:
    """A block-serving child process."""

    def __init__(self, name: str, argv: list[str], env: dict | None = None):
        self.name = name
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.ready = self._read_ready()

    def _read_ready(self) -> dict:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(READY):
                return json.loads(line[len(READY) :])
        raise RuntimeError(f"{self.name} exited before it was ready: {self._stderr_tail()}")

    def _stderr_tail(self) -> str:
        self.proc.wait()
        assert self.proc.stderr is not None
        lines = [line for line in self.proc.stderr.read().splitlines() if line.strip()]
        return lines[-1] if lines else f"exit {self.proc.returncode}, no output"

    def block(self, steps: int) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{steps}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} died during a block: {self._stderr_tail()}")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def alternate(children: list[Child], rounds: int, block_steps: int) -> dict[str, list[dict]]:
    """``rounds`` blocks of ``block_steps`` steps from each child, taking turns (the order flips every round)."""
    out: dict[str, list[dict]] = {c.name: [] for c in children}
    for r in range(rounds):
        for child in children if r % 2 == 0 else children[::-1]:
            out[child.name].append(child.block(block_steps))
    return out

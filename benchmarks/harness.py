"""What the speed benchmarks share: timing, parts run in fresh processes, alternated blocks, the JSON report.

* Timing: :func:`timed`, :func:`distribution` (median, mean, p10, p90 of step
  or call times), :func:`peak_rss_mb`, :func:`target` (a figure against a
  target: reported, never asserted), :func:`environment` (versions, CPU,
  the command; ``peak.py`` reports the CPU's bfloat16 flags).
* Parts: :func:`run_part` runs one job of a benchmark module in a fresh
  interpreter (``python -m benchmarks.harness MODULE JOB SPEC``), so its peak
  RSS is its own and one part's threads or caches cannot help another; the
  job prints one ``BENCHMARK_RESULT <json>`` line.
* Alternated blocks: a child process warms its step up, prints
  ``READY <json>``, then for each line ``<n>`` on stdin runs ``n`` steps and
  prints one JSON line with their wall and CPU time (:func:`serve`); an empty
  line or EOF ends it. The parent (:func:`alternate`) asks each child in turn,
  the order flipping every round, so all see the same machine at nearly the
  same time.
* :func:`emit`: the one output of every benchmark (JSON on stdout, and in
  ``--output`` if given).

Every benchmark runs from the repository root as ``python -m benchmarks.<name>``;
child processes get the root on ``PYTHONPATH`` (:func:`child_env`), so they
find ``benchmarks`` from any working directory.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULT_MARKER = "BENCHMARK_RESULT "
READY = "READY "

Log = Callable[[str], None]


def logger(prog: str) -> Log:
    """A ``log(msg)`` printing ``[prog] msg`` on stderr (stdout carries the JSON)."""
    return lambda msg: print(f"[{prog}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Timing and the report.


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of one call of ``fn``."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def distribution(times: Sequence[float]) -> dict:
    """Median, mean, 10th and 90th percentile (ms) and count of a list of durations in seconds."""
    ordered = sorted(times)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return {
        "median_ms": 1000 * statistics.median(ordered),
        "mean_ms": 1000 * statistics.fmean(ordered),
        "p10_ms": 1000 * pick(0.10),
        "p90_ms": 1000 * pick(0.90),
        "n": len(ordered),
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def target(value: float, op: str, threshold: float) -> dict:
    """A figure against its target (``>=`` or ``<=``): reported in the summary, never asserted."""
    met = value >= threshold if op == ">=" else value <= threshold
    return {"value": value, "target": f"{op} {threshold}", "met": bool(met)}


def environment() -> dict:
    """Versions, the CPU (model, cores) and the command: what a figure was measured on."""
    import importlib.metadata as md

    versions = {}
    for pkg in ("tensorflow", "keras", "numpy", "torch"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    main = sys.modules["__main__"]
    spec = getattr(main, "__spec__", None)
    program = f"-m {spec.name}" if spec is not None else os.path.relpath(sys.argv[0])
    return {
        "python": platform.python_version(),
        "packages": versions,
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "command": " ".join(["python", program, *sys.argv[1:]]),
    }


def emit(report: dict, output: str | None) -> None:
    """Prints the JSON report, and writes it to ``output`` too if given (the benchmarks' one output)."""
    text = json.dumps(report, indent=2, sort_keys=True)
    print(text)
    if output:
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        with open(output, "w") as f:
            f.write(text + "\n")


# ---------------------------------------------------------------------------
# Parts: one job of a benchmark module in a fresh interpreter.


def child_env() -> dict[str, str]:
    """The environment of a child process: the repository root importable, TF's C++ start-up lines quiet."""
    path = os.environ.get("PYTHONPATH")
    return dict(
        os.environ,
        PYTHONPATH=REPO if not path else os.pathsep.join([REPO, path]),
        TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
    )


def module_argv(module: str, *args: str) -> list[str]:
    """The command running ``benchmarks.<module>`` as a script (with :func:`child_env`)."""
    return [sys.executable, "-m", f"benchmarks.{module}", *args]


class PartError(RuntimeError):
    """A part's subprocess failed; the message has its last stderr line."""


def run_part(module: str, job: str, spec: dict, log: Log) -> dict:
    """Runs ``benchmarks.<module>.JOBS[job](spec)`` in a fresh interpreter; its JSON with wall time and load."""
    load_before = os.getloadavg()
    log(f"running {module}.{job} {json.dumps(spec)}")
    start = time.perf_counter()
    proc = subprocess.run(
        module_argv("harness", module, job, json.dumps(spec)), capture_output=True, text=True, env=child_env()
    )
    wall = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    if proc.returncode != 0 or not lines:
        tail = [line for line in proc.stderr.strip().splitlines() if line.strip()][-1:] or ["(no output)"]
        raise PartError(f"benchmark part {job} failed (exit {proc.returncode}): {tail[0]}")
    result = json.loads(lines[-1][len(RESULT_MARKER) :])
    result["wall_s"] = wall
    result["load_average"] = {"before": list(load_before), "after": list(os.getloadavg())}
    return result


def run_job(module: str, job: str, spec: dict) -> None:
    """The child side of :func:`run_part`: runs the job and prints its result line (with peak RSS)."""
    jobs: dict[str, Callable[[dict], dict]] = importlib.import_module(f"benchmarks.{module}").JOBS
    result = jobs[job](spec)
    result["peak_rss_mb"] = peak_rss_mb()
    print(RESULT_MARKER + json.dumps(result), flush=True)


def job_images(spec: dict) -> dict:
    """Loads MNIST's training split (or draws 60,000 uniform uint8 images of its shape) into ``images_npy``.

    The compute of a step does not depend on the pixel values; ``--images=mnist``
    makes the data the same as a real run's.
    """
    import numpy as np

    from infogan_tf import config as config_lib

    shape = config_lib.DataConfig().image_shape
    if spec["images"] == "mnist":
        from infogan_tf.data import datasets as data_lib

        images = data_lib.load_train_images(
            config_lib.DataConfig(data_dir=spec["data_dir"], manual_dir=spec["manual_dir"])
        )
    else:
        images = np.random.default_rng(0).integers(0, 256, size=(60000, *shape), dtype=np.uint8)
    np.save(spec["images_npy"], images)
    return {"source": spec["images"], "count": int(images.shape[0]), "shape": list(images.shape[1:])}


JOBS = {"images": job_images}


# ---------------------------------------------------------------------------
# Alternated blocks of steps from long-lived, warm children.


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


def alternation_order(names: Sequence[str], rounds: int) -> list[str]:
    """Who runs when: every name once per round, the order reversed every other round (a b c, c b a, ...)."""
    return [name for r in range(rounds) for name in (names if r % 2 == 0 else names[::-1])]


def alternate(children: list[Child], rounds: int, block_steps: int) -> dict[str, list[dict]]:
    """``rounds`` blocks of ``block_steps`` steps from each child, in :func:`alternation_order`."""
    by_name = {c.name: c for c in children}
    out: dict[str, list[dict]] = {c.name: [] for c in children}
    for name in alternation_order([c.name for c in children], rounds):
        out[name].append(by_name[name].block(block_steps))
    return out


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit("usage: python -m benchmarks.harness MODULE JOB SPEC_JSON (run by harness.run_part)")
    run_job(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))

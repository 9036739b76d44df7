"""Speed and robustness benchmarks of infogan_tf; see README.md.

Run each from the repository root as ``python -m benchmarks.<name>``. The
timing, part-running and report code they share is ``benchmarks.harness``.
"""

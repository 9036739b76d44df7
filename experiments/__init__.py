"""Research studies and the paper's reproduction (seed tables, screens, diagnoses); see README.md.

Run each from the repository root as ``python -m experiments.<name>``; their
results and the lab record live in ``experiments/results/``.
"""

"""How well the label-free check ranks whole runs, pooled over every seed table under some folders.

``reproduce.py`` reports, per table, how the check's scores at each seed's
last checkpoint rank the seeds (Spearman rho against the test accuracy).
Three seeds say little; this pools the last checkpoints of every run whose
``results.json`` lies under the given folders (each run once, however many
tables list it) and prints the same rho over all of them, with the
accuracies of the runs the check scores highest and lowest. Labels are read
only as the tables already hold them (test accuracy):

    python -m experiments.label_free_pool experiments/results/fashion_mnist
    python -m experiments.label_free_pool experiments/results/mnist
"""

from __future__ import annotations

import glob
import json
import os
import sys

from experiments.reproduce import label_free_seed_pick


def pooled_rows(folders: list[str]) -> list[dict]:
    """Every scored run of every ``results.json`` under ``folders``, once per (model_dir, steps)."""
    rows: dict[tuple, dict] = {}
    for folder in folders:
        for path in sorted(glob.glob(os.path.join(folder, "**", "results*.json"), recursive=True)):
            with open(path) as f:
                table = json.load(f)
            for row in table.get("rows", []):
                if row.get("view_information") is not None and row.get("accuracy") is not None:
                    rows.setdefault((row.get("model_dir"), row.get("steps")), row)
    return list(rows.values())


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m experiments.label_free_pool FOLDER [FOLDER ...]", file=sys.stderr)
        return 2
    rows = pooled_rows(argv)
    pick = label_free_seed_pick(rows)
    if pick is None:
        print(f"{len(rows)} scored runs under {', '.join(argv)}: too few to rank", file=sys.stderr)
        return 1
    ranked = sorted(rows, key=lambda r: r["view_information"])
    print(
        f"{pick['seeds']} runs: Spearman rho {pick['rho_view_information']:.2f} (information), "
        f"{pick['rho_view_agreement']:.2f} (agreement) against test accuracy; "
        f"highest information: accuracy {ranked[-1]['accuracy']:.4f}, lowest: {ranked[0]['accuracy']:.4f}; "
        f"accuracies {min(r['accuracy'] for r in rows):.4f}-{max(r['accuracy'] for r in rows):.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

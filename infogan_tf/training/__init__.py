"""Training: the run directory, the per-replica update, the loop, and the multi-worker concerns."""

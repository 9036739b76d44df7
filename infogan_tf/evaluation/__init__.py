"""Evaluation: the model handle, the metrics, the sample-quality classifier, the paper-style figures."""

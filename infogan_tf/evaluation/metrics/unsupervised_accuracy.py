"""Unsupervised classification accuracy of a categorical code.

The paper's headline MNIST result (Chen et al. 2016, Sec. 7.1): Q's most
likely category of a real test image, matched one-to-one to the digits, has
5 % error although no label was used in training. The category -> digit
matching is the optimal one-to-one assignment on the confusion matrix
(Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``). The
many-to-one accuracy (cluster purity: every category votes for its majority
digit, two categories may pick the same digit) is reported next to it; it is
>= the one-to-one accuracy, and a large gap means categories are split or
merged (e.g. two categories for 4/9 and none for another digit). The
clustering scores of the same predictions are reported too, from
scikit-learn: normalised mutual information (NMI, I(category; label) over the
mean of the two entropies, ``normalized_mutual_info_score``) and the adjusted
Rand index (ARI, pair agreement corrected for chance: 0 for independent
labels, 1 for the same partition, ``adjusted_rand_score``).

Labels enter here and only here (and in the classifier used for sample
quality); training never sees them.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def confusion_matrix(predictions: np.ndarray, labels: np.ndarray, num_categories: int, num_classes: int) -> np.ndarray:
    """int64 [num_categories, num_classes]: entry (k, y) counts category k with label y."""
    predictions = np.asarray(predictions, np.int64)
    labels = np.asarray(labels, np.int64)
    if predictions.shape != labels.shape or predictions.ndim != 1:
        raise ValueError(f"predictions {predictions.shape} and labels {labels.shape} must be matching 1-D arrays")
    if predictions.size and not (predictions.min() >= 0 and predictions.max() < num_categories):
        raise ValueError(
            f"predictions must be in [0, {num_categories}), got [{predictions.min()}, {predictions.max()}]"
        )
    if labels.size and not (labels.min() >= 0 and labels.max() < num_classes):
        raise ValueError(f"labels must be in [0, {num_classes}), got [{labels.min()}, {labels.max()}]")
    out = np.zeros([num_categories, num_classes], np.int64)
    np.add.at(out, (predictions, labels), 1)
    return out


def clustering_scores(predictions: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(NMI, ARI) of the partition of the examples by category against the one by label.

    NMI uses the arithmetic mean of the two entropies (scikit-learn's default),
    1 when both partitions are a single block; ARI is Hubert and Arabie's (1985).
    """
    return float(normalized_mutual_info_score(labels, predictions)), float(adjusted_rand_score(labels, predictions))


def _scores(confusion: np.ndarray, nmi: float, ari: float) -> dict:
    """Hungarian (one-to-one) and purity (many-to-one) accuracy from a confusion matrix, with NMI and ARI."""
    total = int(confusion.sum())
    if total == 0:
        raise ValueError("unsupervised accuracy needs at least one example")
    rows, cols = linear_sum_assignment(confusion, maximize=True)
    assignment = {int(k): int(y) for k, y in zip(rows, cols)}
    matched = int(confusion[rows, cols].sum())
    majority = confusion.argmax(axis=1)
    return {
        "accuracy": matched / total,
        "purity": float(confusion.max(axis=1).sum()) / total,
        "nmi": nmi,
        "ari": ari,
        # category -> label under the one-to-one matching (categories left
        # unmatched when there are more categories than labels are absent).
        "assignment": assignment,
        # category -> majority label (many-to-one).
        "majority_label": {int(k): int(y) for k, y in enumerate(majority)},
    }


def compute_unsupervised_accuracy(categorical_probs: np.ndarray, labels: np.ndarray, num_classes: int = 10) -> dict:
    """Scores Q's argmax category against true labels.

    Args:
      categorical_probs: float [N, K], Q's probabilities of one categorical
        code on N labelled images (logits work too: only the argmax is used).
      labels: int [N], the true classes.
      num_classes: number of classes (10 digits).

    Returns:
      dict with ``accuracy`` (optimal one-to-one matching), ``purity``
      (many-to-one), ``nmi`` and ``ari`` (clustering scores), ``assignment`` {category: label}, ``majority_label``
      {category: label}, ``confusion_matrix`` (K rows of num_classes counts),
      ``category_counts`` (images per category), ``num_examples``.
    """
    categorical_probs = np.asarray(categorical_probs)
    if categorical_probs.ndim != 2:
        raise ValueError(f"categorical_probs must be [N, K], got shape {categorical_probs.shape}")
    num_categories = categorical_probs.shape[1]
    predictions = categorical_probs.argmax(axis=1)
    confusion = confusion_matrix(predictions, labels, num_categories, num_classes)
    out = _scores(confusion, *clustering_scores(predictions, labels))
    out["confusion_matrix"] = confusion.tolist()
    out["category_counts"] = confusion.sum(axis=1).tolist()
    out["num_examples"] = int(confusion.sum())
    return out


def categories_by_label(assignment: dict, num_categories: int) -> list[int]:
    """Category indices ordered by their matched label (unmatched ones last).

    Orders the rows of a traversal figure so that row d shows the category
    that stands for digit d, as in the paper's Figure 2.
    """
    matched = sorted((label, int(k)) for k, label in assignment.items())
    order = [k for _, k in matched]
    return order + [k for k in range(num_categories) if k not in order]

"""Does an uncertainty score rank the cases that deserve doubt first?

A score u_i (higher = less sure; e.g. the predictive entropy H[p_i] = -Σ_c p_ic log p_ic, or
1 - max_c p_ic, or the mutual information of an ensemble) is judged as a detector:

* misclassification: positives are the wrongly classified inputs;
* out-of-distribution: positives are the OOD inputs, negatives the in-distribution ones.

AUROC is the probability that a random positive scores above a random negative; AUPR the area
under the precision-recall curve (average precision).  Both come from scikit-learn
(``roc_auc_score``, ``average_precision_score``), not rewritten here.
"""

from __future__ import annotations

import numpy as np

from ._check import host, probs_labels

__all__ = ["predictive_entropy", "auroc_aupr", "misclassification_auroc", "ood_auroc"]


def predictive_entropy(probs) -> np.ndarray:
    """H[p_i] = -Σ_c p_ic log p_ic per row (nats)."""
    p = host(probs).astype(np.float64)
    if p.ndim != 2:
        raise ValueError(f"predictive_entropy: probabilities must have shape (N, C), got {p.shape}")
    return -(p * np.log(np.clip(p, 1e-12, None))).sum(1)


def auroc_aupr(scores, positives):
    """(AUROC, AUPR) of ``scores`` (higher = more likely positive) for boolean ``positives``."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    s = host(scores).astype(np.float64).reshape(-1)
    t = host(positives).astype(bool).reshape(-1)
    if s.shape != t.shape:
        raise ValueError(f"auroc_aupr: {s.shape[0]} scores but {t.shape[0]} labels")
    if not np.isfinite(s).all():
        raise ValueError("auroc_aupr: scores must be finite")
    if t.all() or not t.any():
        raise ValueError("auroc_aupr: needs both positives and negatives (AUROC is undefined otherwise)")
    return float(roc_auc_score(t, s)), float(average_precision_score(t, s))


def misclassification_auroc(probs, labels, scores=None):
    """(AUROC, AUPR) of ``scores`` (default: predictive entropy) for detecting wrong predictions."""
    p, y = probs_labels(probs, labels, "misclassification_auroc")
    s = predictive_entropy(p) if scores is None else host(scores)
    return auroc_aupr(s, p.argmax(1) != y)


def ood_auroc(scores_in, scores_out):
    """(AUROC, AUPR) of an uncertainty score for telling OOD inputs (positives) from in-distribution."""
    a, b = host(scores_in).reshape(-1), host(scores_out).reshape(-1)
    return auroc_aupr(np.concatenate([a, b]), np.concatenate([np.zeros(a.size, bool), np.ones(b.size, bool)]))

"""Proper scoring of probabilistic classifiers.

* accuracy  = (1/N) Σ_i [argmax_c p_ic = y_i]
* NLL       = -(1/N) Σ_i log p_{i y_i}          (log of probabilities clipped at 1e-12)
* Brier     = (1/N) Σ_i Σ_c (p_ic - [c = y_i])²  (Brier 1950, summed over classes: in [0, 2])
"""

from __future__ import annotations

import numpy as np

from ._check import probs_labels

__all__ = ["accuracy", "nll", "brier_score"]


def accuracy(probs, labels) -> float:
    p, y = probs_labels(probs, labels, "accuracy")
    return float((p.argmax(1) == y).mean())


def nll(probs, labels) -> float:
    p, y = probs_labels(probs, labels, "nll")
    return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())


def brier_score(probs, labels) -> float:
    p, y = probs_labels(probs, labels, "brier_score")
    onehot = np.zeros_like(p)
    onehot[np.arange(len(y)), y] = 1.0
    return float(((p - onehot) ** 2).sum(1).mean())

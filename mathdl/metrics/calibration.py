"""Calibration: does a confidence of 0.8 come true 80% of the time? (Guo et al. 2017)

The confidence of a prediction is c_i = max_c p_ic.  Split [0, 1] into B equal-width bins
(B = 15 by default; bin b = ((b-1)/B, b/B], the first bin includes 0) and in each bin compare the
mean confidence conf(b) with the accuracy acc(b):

    ECE = Σ_b (|b| / N) |acc(b) - conf(b)|        MCE = max_{b non-empty} |acc(b) - conf(b)|

The reliability diagram plots acc(b) against the bin centres, with the gap to the diagonal.
"""

from __future__ import annotations

import numpy as np

from ._check import probs_labels

__all__ = ["calibration_bins", "expected_calibration_error", "maximum_calibration_error", "reliability_diagram"]


def calibration_bins(probs, labels, n_bins=15):
    """(counts, mean confidence, accuracy) per bin, each an array of length ``n_bins``."""
    if not (isinstance(n_bins, int) and n_bins >= 1):
        raise ValueError(f"calibration: n_bins must be a positive integer, got {n_bins!r}")
    p, y = probs_labels(probs, labels, "calibration")
    conf = p.max(1)
    correct = (p.argmax(1) == y).astype(np.float64)
    idx = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins).astype(np.float64)
    safe = np.maximum(counts, 1)
    mean_conf = np.bincount(idx, conf, n_bins) / safe
    acc = np.bincount(idx, correct, n_bins) / safe
    return counts, mean_conf, acc


def expected_calibration_error(probs, labels, n_bins=15) -> float:
    counts, conf, acc = calibration_bins(probs, labels, n_bins)
    n = counts.sum()
    return float((counts / max(n, 1) * np.abs(acc - conf)).sum())


def maximum_calibration_error(probs, labels, n_bins=15) -> float:
    counts, conf, acc = calibration_bins(probs, labels, n_bins)
    gaps = np.abs(acc - conf)[counts > 0]
    return float(gaps.max()) if gaps.size else 0.0


def reliability_diagram(probs, labels, path, n_bins=15, title="reliability diagram", ax=None):
    """Draw accuracy per confidence bin against the diagonal into ``path`` (PNG); returns ``path``.

    With ``ax`` given, draws into that matplotlib axis and saves nothing (for grids of diagrams).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts, conf, acc = calibration_bins(probs, labels, n_bins)
    ece = expected_calibration_error(probs, labels, n_bins)
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(4.2, 4.2))
    edges = np.linspace(0, 1, n_bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    filled = counts > 0
    ax.bar(centres[filled], acc[filled], width=1 / n_bins, edgecolor="black", color="#4c72b0", label="accuracy")
    ax.bar(centres[filled], (conf - acc)[filled], bottom=acc[filled], width=1 / n_bins, color="#dd8452",
           alpha=0.5, edgecolor="#dd8452", label="gap to confidence")
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{title}\nECE {ece:.3f}", fontsize=9)
    ax.legend(loc="upper left", fontsize=7)
    if own:
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return path

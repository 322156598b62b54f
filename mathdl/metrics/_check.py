"""Input checks shared by the metrics: probabilities (N, C) whose rows sum to one, labels in range."""

from __future__ import annotations

import numpy as np


def host(x) -> np.ndarray:
    """A NumPy array from a NumPy array, a list or a mathdl Tensor (copied to the host)."""
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        return x.numpy()
    return np.asarray(x)


def probs_labels(probs, labels, name="metric"):
    p = host(probs).astype(np.float64)
    y = host(labels)
    if p.ndim != 2:
        raise ValueError(f"{name}: probabilities must have shape (N, C), got {p.shape}")
    if y.shape != (p.shape[0],):
        raise ValueError(f"{name}: labels must have shape ({p.shape[0]},) to match the probabilities, got {y.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(f"{name}: labels must be integers, got dtype {y.dtype}")
    if p.size and (not np.isfinite(p).all() or p.min() < 0 or p.max() > 1):
        raise ValueError(f"{name}: probabilities must be finite and in [0, 1]")
    sums = p.sum(axis=1)
    if p.size and np.abs(sums - 1).max() > 1e-4:
        i = int(np.abs(sums - 1).argmax())
        raise ValueError(f"{name}: each row of probabilities must sum to 1 (row {i} sums to {sums[i]:.6g}); "
                         "pass softmax outputs, not logits")
    if y.size and (y.min() < 0 or y.max() >= p.shape[1]):
        raise ValueError(f"{name}: labels must be in [0, {p.shape[1] - 1}], got values in [{y.min()}, {y.max()}]")
    return p, y.astype(np.int64)

"""Collocation points: where a physics-informed network's residual is evaluated.

Points fill a box [lo_1, hi_1] x ... x [lo_d, hi_d] by

* ``"uniform"``: independent uniform draws;
* ``"lhs"``: Latin hypercube sampling (each coordinate's n strata hit exactly once, McKay et al. 1979);
* ``"sobol"``: a scrambled Sobol low-discrepancy sequence (n rounded up to a power of 2 is best);
* ``"grid"``: a tensor grid with about n points (no randomness).

The quasi-random designs come from ``scipy.stats.qmc``; every draw is fixed by ``seed``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sample_box", "sample_boundary"]

METHODS = ("uniform", "lhs", "sobol", "grid")


def _bounds(bounds):
    b = np.asarray(bounds, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 2 or np.any(b[:, 1] <= b[:, 0]):
        raise ValueError(f"collocation: bounds must be [(lo, hi), ...] with lo < hi, got {bounds!r}")
    return b


def sample_box(bounds, n, method="lhs", seed=0):
    """``n`` points in the box ``bounds`` = [(lo, hi), ...] as an (n, d) float64 array."""
    from scipy.stats import qmc

    b = _bounds(bounds)
    d = len(b)
    n = int(n)
    if n < 1:
        raise ValueError(f"collocation: n must be >= 1, got {n}")
    if method == "uniform":
        u = np.random.default_rng(seed).random((n, d))
    elif method == "lhs":
        u = qmc.LatinHypercube(d=d, seed=seed).random(n)
    elif method == "sobol":
        eng = qmc.Sobol(d=d, scramble=True, seed=seed)
        m = int(np.ceil(np.log2(n)))
        u = eng.random_base2(m)[:n]
    elif method == "grid":
        k = int(np.ceil(n ** (1.0 / d)))
        axes = [np.linspace(0, 1, k)] * d
        u = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, d)
    else:
        raise ValueError(f"collocation: unknown method {method!r}; expected one of {METHODS}")
    return b[:, 0] + u * (b[:, 1] - b[:, 0])


def sample_boundary(bounds, n, dim, side, method="uniform", seed=0):
    """``n`` points on the face ``x_dim = lo`` (side="lo") or ``hi`` of the box."""
    b = _bounds(bounds)
    if side not in ("lo", "hi"):
        raise ValueError(f"collocation: side must be 'lo' or 'hi', got {side!r}")
    if len(b) == 1:
        return np.full((max(int(n), 1), 1), b[0, 0 if side == "lo" else 1])
    rest = [i for i in range(len(b)) if i != dim]
    pts = sample_box(b[rest], n, method, seed)
    out = np.empty((len(pts), len(b)))
    out[:, rest] = pts
    out[:, dim] = b[dim, 0 if side == "lo" else 1]
    return out

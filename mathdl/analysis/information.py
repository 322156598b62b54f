"""Mutual information between inputs X, a layer's representation T and labels Y (the information
plane of Shwartz-Ziv & Tishby 2017).  Everything is in bits unless ``base`` says otherwise.

Binning.  Each unit of T is cut into ``n_bins`` equal bins over [min T, max T] of that layer (or a
given ``value_range``); T' = the tuple of bin indices.  For a network T = f(X) is deterministic, so
with every input distinct (uniform over N inputs)
    I(X; T') = H(T') - H(T'|X) = H(T'),        I(T'; Y) = H(T') - sum_y p(y) H(T' | Y = y),
with plug-in entropies H = -sum p log p of the empirical distributions.  The estimate depends on
the bin count, so :func:`binning_sweep` reports it for several.

Kernel (KDE) upper bound (Kolchinsky & Tracey 2017, as used by Saxe et al. 2018).  T is given
Gaussian noise, T + N(0, s^2 I); the output is a mixture of N Gaussians centred at the h_i, whose
entropy is bounded by pairwise distances.  With D_ij = ||h_i - h_j||^2 and H(T|X) = (d/2) log(2 pi e s^2),
    I(X; T) <= -(1/N) sum_i log (1/N) sum_j exp(-D_ij / (2 s^2))       (KL bound, an upper bound)
    I(X; T) >= -(1/N) sum_i log (1/N) sum_j exp(-D_ij / (8 s^2))       (Bhattacharyya, a lower bound)
and I(T; Y) = H(T) - sum_y p(y) H(T | Y = y) with each entropy bounded the same way.

KSG (Kraskov, Stoegbauer & Grassberger 2004, estimator 1).  With eps_i the max-norm distance from
point i to its k-th neighbour in the joint space (X, Y), and n_x(i), n_y(i) the numbers of other
points strictly closer than eps_i in each marginal space,
    I(X; Y) = psi(k) + psi(N) - < psi(n_x + 1) + psi(n_y + 1) >      (nats),
with the neighbour searches done by ``scipy.spatial.cKDTree``.

Checks.  For every estimate I(X;T) <= H(X) and I(T;Y) <= H(Y) (plug-in entropies of the inputs and
labels) are checked, and across layers the data-processing inequality: for a feed-forward chain
X -> T_1 -> T_2 -> ..., I(X; T_l) and I(T_l; Y) cannot increase with l; :func:`information_plane`
flags any increase above a tolerance (estimator error, not a property of the network).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["entropy", "discretize", "binned_information", "binning_sweep", "kde_information", "ksg_mi",
           "information_plane", "plot_information_plane"]


def _log(base):
    return math.log(base) if base else 1.0


def entropy(labels, base=2):
    """Plug-in entropy -sum p log p of the empirical distribution of ``labels`` (rows count as one symbol)."""
    labels = np.asarray(labels)
    if labels.ndim > 1:
        _, counts = np.unique(labels, axis=0, return_counts=True)
    else:
        _, counts = np.unique(labels, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum() / _log(base))


def discretize(T, n_bins, value_range=None):
    """Integer symbol per row of T after cutting every unit into ``n_bins`` equal bins."""
    T = np.asarray(T, dtype=np.float64).reshape(len(T), -1)
    if n_bins < 1:
        raise ValueError(f"discretize: n_bins must be >= 1, got {n_bins}")
    lo, hi = (T.min(), T.max()) if value_range is None else value_range
    width = (hi - lo) / n_bins if hi > lo else 1.0
    codes = np.clip(np.floor((T - lo) / width), 0, n_bins - 1).astype(np.int64)
    _, ids = np.unique(codes, axis=0, return_inverse=True)
    return ids.ravel()


def binned_information(T, y, n_bins=30, x_ids=None, value_range=None, base=2):
    """(I(X;T), I(T;Y)) by binning.  ``x_ids`` labels the distinct inputs (default: every row distinct)."""
    t = discretize(T, n_bins, value_range)
    y = np.asarray(y).ravel()
    if len(y) != len(t):
        raise ValueError(f"binned_information: T has {len(t)} rows but y has {len(y)}")
    h_t = entropy(t, base)
    if x_ids is None:
        i_xt = h_t
    else:  # I(X;T) = H(T) - H(T|X); T is a function of X, but X may repeat
        i_xt = h_t - _conditional_entropy(t, np.asarray(x_ids).ravel(), base)
    i_ty = h_t - _conditional_entropy(t, y, base)
    return i_xt, i_ty


def _conditional_entropy(t, given, base):
    total = 0.0
    for g in np.unique(given):
        mask = given == g
        total += mask.mean() * entropy(t[mask], base)
    return total


def binning_sweep(T, y, bins=(2, 4, 8, 16, 30, 64, 128), **kwargs):
    """{n_bins: (I(X;T), I(T;Y))} for each bin count."""
    return {int(b): binned_information(T, y, b, **kwargs) for b in bins}


def _pairwise_sq(T):
    T = np.asarray(T, dtype=np.float64).reshape(len(T), -1)
    sq = (T * T).sum(1)
    return np.maximum(sq[:, None] + sq[None, :] - 2 * T @ T.T, 0.0)


def _mixture_bound(D, scale):
    """-(1/N) sum_i log (1/N) sum_j exp(-D_ij / scale)  (nats)."""
    from scipy.special import logsumexp

    n = D.shape[0]
    return float(-np.mean(logsumexp(-D / scale, axis=1) - math.log(n)))


def kde_information(T, y=None, noise_var=0.1, base=2, lower=False):
    """Kolchinsky-Tracey pairwise-distance estimates of (I(X;T), I(T;Y)) for T + N(0, noise_var I):
    upper bounds (KL), or with ``lower=True`` lower bounds (Bhattacharyya).  I(T;Y) is None without y."""
    T = np.asarray(T, dtype=np.float64).reshape(len(T), -1)
    if noise_var <= 0:
        raise ValueError(f"kde_information: noise_var must be positive, got {noise_var}")
    scale = (8.0 if lower else 2.0) * noise_var
    D = _pairwise_sq(T)
    i_xt = _mixture_bound(D, scale)  # H(T) - H(T|X): the Gaussian's own entropy cancels
    i_ty = None
    if y is not None:
        y = np.asarray(y).ravel()
        cond = sum((y == c).mean() * _mixture_bound(D[np.ix_(y == c, y == c)], scale) for c in np.unique(y))
        i_ty = i_xt - cond
        i_ty /= _log(base)
    return i_xt / _log(base), i_ty


def ksg_mi(X, Y, k=3, base=2):
    """Kraskov-Stoegbauer-Grassberger estimator 1 of I(X;Y) for continuous samples (rows)."""
    from scipy.spatial import cKDTree
    from scipy.special import digamma

    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    Y = np.asarray(Y, dtype=np.float64).reshape(len(Y), -1)
    if len(X) != len(Y):
        raise ValueError(f"ksg_mi: X has {len(X)} samples but Y has {len(Y)}")
    n = len(X)
    if not 1 <= k < n:
        raise ValueError(f"ksg_mi: k must be in [1, {n - 1}], got {k}")
    J = np.hstack([X, Y])
    eps = cKDTree(J).query(J, k + 1, p=np.inf)[0][:, -1]
    r = np.nextafter(eps, 0)  # strictly closer than eps
    nx = cKDTree(X).query_ball_point(X, r, p=np.inf, return_length=True) - 1
    ny = cKDTree(Y).query_ball_point(Y, r, p=np.inf, return_length=True) - 1
    mi = digamma(k) + digamma(n) - np.mean(digamma(nx + 1) + digamma(ny + 1))
    return float(max(mi, 0.0) / _log(base))


def information_plane(layers, y, method="binning", n_bins=30, noise_var=0.1, x_ids=None, value_range=None,
                      tol=0.05, base=2):
    """(I(X;T_l), I(T_l;Y)) for each layer's activations (a dict name -> (N, d) array, in order),
    with the bound and data-processing checks (see the module docstring).  Returns a dict with
    ``points`` {name: (ixt, ity)}, ``H_X``, ``H_Y``, ``bound_violations`` and ``dpi_violations``."""
    y = np.asarray(y).ravel()
    n = len(y)
    h_x = entropy(np.arange(n) if x_ids is None else x_ids, base)
    h_y = entropy(y, base)
    points = {}
    for name, T in layers.items():
        if method == "binning":
            points[name] = binned_information(T, y, n_bins, x_ids, value_range, base)
        elif method == "kde":
            points[name] = kde_information(T, y, noise_var, base)
        elif method == "ksg":
            yy = np.eye(int(y.max()) + 1)[y] if y.dtype.kind in "iu" else y
            points[name] = (float("nan"), ksg_mi(T, yy, base=base))
        else:
            raise ValueError(f"information_plane: method must be 'binning', 'kde' or 'ksg', got {method!r}")
    bounds = [f"{name}: I(X;T) = {a:.3f} > H(X) = {h_x:.3f}" for name, (a, b) in points.items() if a > h_x + tol]
    bounds += [f"{name}: I(T;Y) = {b:.3f} > H(Y) = {h_y:.3f}" for name, (a, b) in points.items() if b > h_y + tol]
    dpi = []
    names = list(points)
    for prev, cur in zip(names[:-1], names[1:]):
        for idx, what in ((0, "I(X;T)"), (1, "I(T;Y)")):
            a, b = points[prev][idx], points[cur][idx]
            if np.isfinite(a) and np.isfinite(b) and b > a + tol:
                dpi.append(f"{what} rises from {prev} ({a:.3f}) to {cur} ({b:.3f})")
    return {"points": points, "H_X": h_x, "H_Y": h_y, "bound_violations": bounds, "dpi_violations": dpi,
            "method": method}


def plot_information_plane(trajectories, path, title="information plane", h_x=None, h_y=None):
    """``trajectories``: {layer name: (epochs, 2) array of (I(X;T), I(T;Y))}; points coloured by epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    sc = None
    for k, (name, pts) in enumerate(trajectories.items()):
        pts = np.asarray(pts, dtype=np.float64)
        ax.plot(pts[:, 0], pts[:, 1], "-", color=f"C{k % 10}", alpha=0.4, lw=1)
        sc = ax.scatter(pts[:, 0], pts[:, 1], c=np.arange(len(pts)), cmap="viridis", s=12, zorder=3)
        ax.annotate(name, pts[-1], fontsize=7, color=f"C{k % 10}")
    if sc is not None:
        fig.colorbar(sc, ax=ax, label="epoch (index)")
    if h_x is not None:
        ax.axvline(h_x, color="gray", ls=":", lw=1)
    if h_y is not None:
        ax.axhline(h_y, color="gray", ls=":", lw=1)
    ax.set_xlabel("I(X;T) (bits)")
    ax.set_ylabel("I(T;Y) (bits)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

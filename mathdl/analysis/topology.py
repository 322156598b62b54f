"""Topology of representations: persistent homology of the point clouds a network's layers make.

* :func:`capture_activations`: forward hooks on named modules (``model.named_modules()`` names)
  collect each layer's output for a set of inputs, flattened to (N, features).
* :func:`farthest_point_sample`: greedy max-min landmarks: start at one point, then repeatedly add
  the point farthest from those chosen (a 2-approximation of the best covering radius).
* :func:`distances`: the Euclidean metric, or the k-nearest-neighbour geodesic metric: the
  shortest-path length in the symmetrized kNN graph weighted by Euclidean edge lengths
  (``scipy.sparse.csgraph.shortest_path``), or the number of graph edges (``hops=True``, the same at
  every layer whatever its scale); points in different components are infinitely far.
* :func:`persistent_homology`: the Vietoris-Rips persistence diagrams H0..H_maxdim by ``ripser``,
  after a memory guard: the estimated peak memory (the n x n float64 distance matrix, ripser's
  edge list and, for H2, its triangle columns) must fit ``max_memory`` bytes, else a ValueError
  with the estimate and how many landmarks would fit.
* Betti numbers at scale eps: beta_k(eps) = #{bars of H_k with birth <= eps < death};
  :meth:`Persistence.betti_curve` over many scales; :meth:`Persistence.betti_persistent` counts the
  bars whose persistence (death - birth) exceeds a threshold (``inf`` bars included).
* Plots: persistence diagrams (``persim.plot_diagrams``) and barcodes; diagram distances
  (bottleneck, Wasserstein) with ``persim``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["capture_activations", "layer_names", "farthest_point_sample", "distances", "estimate_memory",
           "persistent_homology", "Persistence", "betti_numbers", "diagram_distance", "plot_diagrams",
           "plot_barcode"]


# --------------------------------------------------------------------------- activations
def layer_names(model):
    """The names of the model's submodules, as ``named_modules`` gives them (the root excluded)."""
    return [n for n, _ in model.named_modules() if n]


def capture_activations(model, inputs, layers, batch_size=512, include_input=False):
    """{layer name: (N, features) float64 array of its outputs} for ``inputs`` (an array or Tensor),
    in eval mode without a graph.  A name that is not a module raises ValueError listing the names."""
    from ..autograd.grad_mode import no_grad
    from ..autograd.tensor import Tensor

    modules = dict(model.named_modules())
    if isinstance(layers, str):
        layers = [layers]
    bad = [n for n in layers if n not in modules or not n]
    if bad:
        raise ValueError(f"capture_activations: no layer named {bad[0]!r}; the layers are: "
                         f"{', '.join(layer_names(model))}")
    store = {n: [] for n in layers}
    handles = []
    for n in layers:
        def hook(module, args, out, n=n):
            store[n].append(np.asarray(out.array, dtype=np.float64).reshape(out.shape[0], -1))
        handles.append(modules[n].register_forward_hook(hook))
    x = np.asarray(inputs.array if isinstance(inputs, Tensor) else inputs)
    was = model.training
    model.eval()
    try:
        with no_grad():
            for s in range(0, len(x), batch_size):
                model(Tensor._make(np.ascontiguousarray(x[s:s + batch_size])))
    finally:
        for h in handles:
            h.remove()
        model.train(was)
    out = {"input": x.reshape(len(x), -1).astype(np.float64)} if include_input else {}
    out.update({n: np.concatenate(v) for n, v in store.items()})
    return out


# --------------------------------------------------------------------------- point clouds
def farthest_point_sample(X, n, seed=0):
    """Indices of ``n`` landmarks of ``X`` chosen by farthest-point (max-min) sampling."""
    X = np.asarray(X, dtype=np.float64)
    N = len(X)
    if n >= N:
        return np.arange(N)
    idx = np.empty(n, dtype=np.int64)
    idx[0] = np.random.default_rng(seed).integers(N)
    dist = np.linalg.norm(X - X[idx[0]], axis=1)
    for i in range(1, n):
        idx[i] = int(np.argmax(dist))
        dist = np.minimum(dist, np.linalg.norm(X - X[idx[i]], axis=1))
    return idx


def distances(X, metric="euclidean", k=10, hops=False):
    """The n x n distance matrix: Euclidean, or kNN-geodesic (inf between components); with ``hops``
    the geodesic counts graph edges instead of adding their lengths (a scale-free metric)."""
    from scipy.spatial.distance import cdist

    X = np.asarray(X, dtype=np.float64)
    if metric == "euclidean":
        return cdist(X, X)
    if metric != "geodesic":
        raise ValueError(f"distances: metric must be 'euclidean' or 'geodesic', got {metric!r}")
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import shortest_path
    from scipy.spatial import cKDTree

    k = min(int(k), len(X) - 1)
    if k < 1:
        raise ValueError(f"distances: the geodesic metric needs k >= 1 neighbours, got {k}")
    d, j = cKDTree(X).query(X, k + 1)
    rows = np.repeat(np.arange(len(X)), k)
    w = np.ones_like(d[:, 1:]) if hops else np.maximum(d[:, 1:], 1e-300)
    G = csr_matrix((w.ravel(), (rows, j[:, 1:].ravel())), shape=(len(X), len(X)))
    G = G.maximum(G.T)
    return shortest_path(G, method="D", directed=False)


def estimate_memory(n, maxdim=1):
    """Rough peak bytes of ripser on n points: the n x n float64 matrix (plus a copy), 16 bytes per
    edge for H1 and up to 16 bytes per triangle for H2 (reduced columns are stored sparsely)."""
    edges = n * (n - 1) / 2
    total = 2 * 8.0 * n * n + (16.0 * edges if maxdim >= 1 else 0.0)
    if maxdim >= 2:
        total += 16.0 * n * (n - 1) * (n - 2) / 6 / 8  # a fraction of the triangles is ever stored
    return total


def _default_limit():
    try:
        import os

        avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return min(4 * 2 ** 30, avail / 2)
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 2 * 2 ** 30


# --------------------------------------------------------------------------- persistence
@dataclass
class Persistence:
    """Diagrams ``dgms[k]`` (arrays of (birth, death) rows, death inf for bars that never die)."""

    dgms: list
    n_points: int
    metric: str = "euclidean"
    extras: dict = field(default_factory=dict)

    def betti(self, scale):
        """(beta_0, ..., beta_maxdim) at ``scale``: bars alive there (birth <= scale < death)."""
        return tuple(int(np.sum((d[:, 0] <= scale) & (d[:, 1] > scale))) for d in self.dgms)

    def betti_curve(self, scales):
        """(len(scales), maxdim + 1) integer array of Betti numbers."""
        return np.array([self.betti(s) for s in scales], dtype=np.int64)

    def betti_persistent(self, min_persistence):
        """Bars per dimension with death - birth > ``min_persistence``."""
        return tuple(int(np.sum(d[:, 1] - d[:, 0] > min_persistence)) for d in self.dgms)

    def to_dict(self):
        return {"n_points": self.n_points, "metric": self.metric,
                "diagrams": [[[float(a), float(b) if math.isfinite(b) else "inf"] for a, b in d] for d in self.dgms],
                **self.extras}


def persistent_homology(X, maxdim=1, metric="euclidean", k=10, n_points=None, thresh=np.inf, max_memory=None,
                        seed=0, hops=False):
    """Vietoris-Rips persistence of the point cloud ``X`` (rows are points) with ``ripser``.

    ``n_points``: first reduce to that many farthest-point landmarks.  ``max_memory`` (bytes;
    default min(4 GiB, half the free memory)) guards ripser against sizes that would not fit.
    """
    from ripser import ripser

    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"persistent_homology: X must be (points, features), got shape {X.shape}")
    if maxdim not in (0, 1, 2):
        raise ValueError(f"persistent_homology: maxdim must be 0, 1 or 2, got {maxdim}")
    idx = None
    if n_points is not None and n_points < len(X):
        idx = farthest_point_sample(X, n_points, seed)
        X = X[idx]
    n = len(X)
    limit = _default_limit() if max_memory is None else float(max_memory)
    need = estimate_memory(n, maxdim)
    if need > limit:
        fit = n
        while fit > 10 and estimate_memory(fit, maxdim) > limit:
            fit = int(fit * 0.9)
        raise ValueError(f"persistent_homology: a cloud of {n} points needs about {need / 2 ** 30:.2f} GiB for H0..H"
                         f"{maxdim} (limit {limit / 2 ** 30:.2f} GiB); subsample with n_points={fit} "
                         f"(farthest-point landmarks) or lower maxdim")
    D = distances(X, metric, k, hops)
    finite = D[np.isfinite(D)]
    if not np.all(np.isfinite(D)):  # separate components: edges longer than any finite distance never enter
        cap = float(finite.max()) if finite.size else 1.0
        D = np.where(np.isfinite(D), D, 2 * cap + 1)
        thresh = min(thresh, cap * 1.5 + 0.5)
    res = ripser(D, maxdim=maxdim, distance_matrix=True, thresh=thresh)
    dgms = [np.asarray(d, dtype=np.float64).reshape(-1, 2) for d in res["dgms"]]
    return Persistence(dgms, n, metric, {"landmarks": None if idx is None else idx.tolist()})


def betti_numbers(X, scale=None, maxdim=1, min_persistence=None, **kwargs):
    """Betti numbers of ``X``: at ``scale`` (Rips complex at that radius) or, with ``min_persistence``,
    counting the bars that live longer than it."""
    p = persistent_homology(X, maxdim=maxdim, **kwargs)
    if (scale is None) == (min_persistence is None):
        raise ValueError("betti_numbers: give exactly one of scale and min_persistence")
    return p.betti(scale) if scale is not None else p.betti_persistent(min_persistence)


def diagram_distance(a, b, dim=1, metric="bottleneck"):
    """Bottleneck or Wasserstein distance between the H_dim diagrams of two Persistence results."""
    import persim

    da, db = (p.dgms[dim] if isinstance(p, Persistence) else np.asarray(p) for p in (a, b))
    da, db = (d[np.isfinite(d[:, 1])] for d in (da, db))
    if metric == "bottleneck":
        return float(persim.bottleneck(da, db))
    if metric == "wasserstein":
        return float(persim.wasserstein(da, db))
    raise ValueError(f"diagram_distance: metric must be 'bottleneck' or 'wasserstein', got {metric!r}")


def plot_diagrams(result, path, title="persistence diagram"):
    """The persistence diagram (all dimensions) into a PNG with ``persim.plot_diagrams``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import persim

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    persim.plot_diagrams(result.dgms, ax=ax, show=False)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_barcode(result, path, title="barcode", max_bars=60):
    """Barcodes (one panel per dimension, the longest ``max_bars`` bars) into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(result.dgms)
    fig, axes = plt.subplots(1, k, figsize=(4 * k, 3.5), squeeze=False)
    finite = np.concatenate([d[np.isfinite(d[:, 1]), 1] for d in result.dgms] + [np.zeros(1)])
    top = float(finite.max()) * 1.1 or 1.0
    for dim, (ax, d) in enumerate(zip(axes[0], result.dgms)):
        life = np.where(np.isfinite(d[:, 1]), d[:, 1], top) - d[:, 0]
        order = np.argsort(-life)[:max_bars]
        for row, i in enumerate(order):
            death = d[i, 1] if np.isfinite(d[i, 1]) else top
            ax.plot([d[i, 0], death], [row, row], color=f"C{dim}", lw=2)
            if not np.isfinite(d[i, 1]):
                ax.plot([top], [row], ">", color=f"C{dim}", ms=4)
        ax.set_title(f"H{dim} ({len(d)} bars)")
        ax.set_xlabel("scale")
        ax.set_yticks([])
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

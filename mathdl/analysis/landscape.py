"""Loss landscapes: the loss along lines and planes through parameter space (Li et al. 2018).

With theta the trained parameters (flat, see :mod:`mathdl.analysis.params`) and directions d1, d2:

  1-D slice         f(a)    = L(theta + a d1)
  2-D slice         f(a, b) = L(theta + a d1 + b d2)
  interpolation     f(a)    = L((1 - a) theta_A + a theta_B), BatchNorm running mean/var
                              interpolated the same way (counters kept from theta_A)

Directions (Li et al.'s semantics):
  random            d ~ N(0, I), then *filter-normalized*: for every parameter of two or more
                    dimensions and each output filter or neuron i (index along axis 0),
                    d_i <- d_i ||theta_i|| / ||d_i||; one-dimensional parameters (biases, BatchNorm
                    weight/bias) get d = 0 (``ignore="biasbn"``, the default) or d = theta.
                    The second direction is orthogonalized against the first *after*
                    normalization, filter by filter (Gram-Schmidt, then renormalized), so the two
                    are orthogonal and both still filter-normalized.  Because each filter's
                    direction scales with the filter, the slice is invariant under rescalings
                    that leave the network's function unchanged (a ReLU layer times c, the next
                    times 1/c).
  hessian           the top (or both-end) eigenvectors of the Hessian at theta (unit norm).
  pca               for a trajectory theta_0..theta_T, the top principal directions of
                    {theta_t - theta_T} (centred); the path's coordinates are its projections
                    (theta_t - theta_T) . d_k on the unit directions d_k.

A grid is symmetric with an odd number of points, so it contains the centre a = 0, whose value is
L(theta), the training loss.  Evaluation runs over every batch of ``data`` (a DataLoader or an
(x, y) pair) in eval mode without recording graphs, with a progress bar over the grid points.
With ``distributed=True`` under ``mpiexec -n N`` (every rank calling the function with the same
arguments) the grid points (interpolation coefficients, convexity-map points) are split over the
ranks in contiguous blocks (:func:`mathdl.distributed.map_over_ranks`), each point evaluated exactly
as one process would, and every rank gets the whole grid; ``hessian_directions`` splits the batches
of its Hessian products instead.  With the default ``distributed=False`` (or one process) every
rank computes everything.
:func:`convexity_map` gives |lambda_min / lambda_max| of the Hessian at each grid point (Li et al.'s
map of non-convexity).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .params import evaluate_loss, get_flat, restored, set_flat, trainable_parameters, unflatten

__all__ = ["grid", "check_grid", "random_direction", "random_directions", "filter_normalize", "hessian_directions",
           "pca_directions", "trajectory_slice", "slice_1d", "slice_2d", "interpolate", "convexity_map",
           "surface_convexity", "Landscape", "plot_landscape"]


# --------------------------------------------------------------------------- grids
def grid(span=1.0, num=21):
    """num points evenly spaced on [-span, span]; num must be odd so that 0 is one of them."""
    if int(num) != num or num < 1 or num % 2 == 0:
        raise ValueError(f"landscape grid: the number of points must be odd so the grid contains the centre 0, "
                         f"got {num}")
    if not span > 0:
        raise ValueError(f"landscape grid: span must be positive, got {span}")
    return np.linspace(-span, span, int(num)) if num > 1 else np.zeros(1)


def check_grid(coords, name="grid"):
    """Return coords as a float array after checking it holds the centre 0 (and, if evenly spaced, an
    odd number of points)."""
    c = np.asarray(coords, dtype=np.float64).ravel()
    if c.size % 2 == 0 and np.allclose(c, -c[::-1]):
        raise ValueError(f"landscape {name}: a symmetric grid with an even number of points ({c.size}) misses the "
                         f"centre 0; use an odd number")
    if not np.any(np.isclose(c, 0.0, atol=1e-12)):
        raise ValueError(f"landscape {name}: the coordinates must contain the centre 0 (got {c.size} points from "
                         f"{c.min():g} to {c.max():g})")
    return c


# --------------------------------------------------------------------------- directions
def _layout(params):
    return [tuple(p.array.shape) for p in params]


def filter_normalize(direction, params, ignore="biasbn"):
    """Filter-normalize a flat direction against the parameters (see the module docstring)."""
    if ignore not in ("biasbn", None):
        raise ValueError(f"filter_normalize: ignore must be 'biasbn' or None, got {ignore!r}")
    parts = [a.astype(np.float64) for a in unflatten(direction, params)]
    out = []
    for d, p in zip(parts, params):
        w = np.asarray(p.array, dtype=np.float64)
        if d.ndim <= 1:
            out.append(np.zeros_like(d) if ignore == "biasbn" else w.copy())
            continue
        d2, w2 = d.reshape(d.shape[0], -1), w.reshape(w.shape[0], -1)
        scale = np.linalg.norm(w2, axis=1) / (np.linalg.norm(d2, axis=1) + 1e-10)
        out.append((d2 * scale[:, None]).reshape(d.shape))
    return np.concatenate([o.ravel() for o in out])


def _orthogonalize(d1, d2, params):
    """d2 made orthogonal to d1 filter by filter (multi-dimensional parameters), then renormalized
    to each filter's previous norm; one-dimensional entries are left as they are."""
    a, b = unflatten(d1, params), unflatten(d2, params)
    out = []
    for x, y in zip(a, b):
        x, y = x.astype(np.float64), y.astype(np.float64)
        if x.ndim <= 1:
            out.append(y)
            continue
        x2, y2 = x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1)
        norm = np.linalg.norm(y2, axis=1)
        xx = (x2 * x2).sum(1)
        coef = np.where(xx > 0, (x2 * y2).sum(1) / np.where(xx > 0, xx, 1), 0.0)
        r = y2 - coef[:, None] * x2
        rn = np.linalg.norm(r, axis=1)
        r = r * np.where(rn > 0, norm / np.where(rn > 0, rn, 1), 0.0)[:, None]
        out.append(r.reshape(y.shape))
    return np.concatenate([o.ravel() for o in out])


def random_direction(model, params=None, seed=0, normalization="filter", ignore="biasbn"):
    """One Gaussian direction, filter-normalized (``normalization="filter"``) or raw (None)."""
    ps = trainable_parameters(model, params)
    n = sum(int(p.array.size) for p in ps)
    d = np.random.default_rng(seed).standard_normal(n)
    if normalization == "filter":
        return filter_normalize(d, ps, ignore)
    if normalization is None:
        return d
    raise ValueError(f"random_direction: normalization must be 'filter' or None, got {normalization!r}")


def random_directions(model, params=None, seed=0, normalization="filter", ignore="biasbn", orthogonalize=True):
    """Two filter-normalized Gaussian directions, the second orthogonalized against the first."""
    ps = trainable_parameters(model, params)
    d1 = random_direction(model, ps, seed, normalization, ignore)
    d2 = random_direction(model, ps, seed + 1, normalization, ignore)
    if orthogonalize:
        if normalization == "filter":
            d2 = _orthogonalize(d1, d2, ps)
        else:
            d2 = d2 - (d1 @ d2) / (d1 @ d1) * d1
    return d1, d2


def hessian_directions(model, data, loss_fn=None, k=2, which="LA", params=None, seed=0, distributed=False):
    """(eigenvalues, list of k unit eigenvectors) of the Hessian at the current parameters (its
    products split over the ranks of an MPI job with ``distributed=True``)."""
    from .operators import model_hessian
    from .spectrum import extreme_eigenpairs

    with restored(model):
        model.eval()
        H = model_hessian(model, loss_fn, data, params, distributed=distributed)
        vals, vecs = extreme_eigenpairs(H, k, which, seed=seed, tol=1e-6)
    order = np.argsort(-np.abs(vals)) if which == "BE" else np.argsort(-vals)
    return vals[order], [vecs[:, i] for i in order]


def pca_directions(trajectory, n_components=2):
    """(directions, coordinates (T+1, n_components), explained variance ratios) for a trajectory of
    flat parameter vectors whose last entry is the centre."""
    M = np.asarray([np.asarray(t, dtype=np.float64) for t in trajectory])
    if M.ndim != 2 or M.shape[0] < n_components + 1:
        raise ValueError(f"pca_directions: need at least {n_components + 1} parameter vectors, got {M.shape[0]}")
    D = M - M[-1]
    C = D - D.mean(0)
    _, s, Vt = np.linalg.svd(C, full_matrices=False)
    comps = Vt[:n_components]
    ratio = (s ** 2 / max((s ** 2).sum(), 1e-300))[:n_components]
    return [c for c in comps], D @ comps.T, ratio


# --------------------------------------------------------------------------- evaluation
@dataclass
class Landscape:
    """Values of a slice: ``loss`` (and ``acc``) over ``xs`` (1-D) or ``xs`` x ``ys`` (2-D, [i, j] =
    (xs[i], ys[j]))."""

    xs: np.ndarray
    loss: np.ndarray
    ys: np.ndarray | None = None
    acc: np.ndarray | None = None
    centre_loss: float = float("nan")
    kind: str = "random"
    path: np.ndarray | None = None
    extras: dict = field(default_factory=dict)

    def to_dict(self):
        d = {"kind": self.kind, "xs": self.xs.tolist(), "loss": np.asarray(self.loss).tolist(),
             "centre_loss": self.centre_loss, **self.extras}
        if self.ys is not None:
            d["ys"] = self.ys.tolist()
        if self.acc is not None:
            d["acc"] = np.asarray(self.acc).tolist()
        if self.path is not None:
            d["path"] = np.asarray(self.path).tolist()
        return d


def _bar(total, progress, desc):
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="point", dynamic_ncols=True)


def _over_points(fn, n, progress, desc, distributed=False):
    """``numpy.array([fn(i) for i in range(n)])`` (float64) with a progress bar; with ``distributed``
    in a job of N > 1 ranks, ``map_over_ranks``: each rank its block, the whole array on every rank,
    the bar on rank 0 over its own block."""
    world = 1
    if distributed:
        from ..distributed.group import get_world_size

        world = get_world_size()
    if world == 1:
        bar = _bar(n, progress, desc)
        out = []
        for i in range(n):
            out.append(fn(i))
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        return np.array(out, dtype=np.float64)

    from ..distributed.analysis import map_over_ranks, shard_range
    from ..distributed.group import is_main_process

    bar = _bar(len(shard_range(n)), progress and is_main_process(), desc)

    def one(i):
        out = fn(i)
        if bar is not None:
            bar.update(1)
        return out

    try:
        return map_over_ranks(one, range(n))
    finally:
        if bar is not None:
            bar.close()


def _evaluate_points(model, data, loss_fn, params, theta, points, progress, desc, distributed=False):
    def at(i):
        set_flat(params, theta + points[i])
        loss, acc = evaluate_loss(model, data, loss_fn)
        return [loss, np.nan if acc is None else acc]

    with restored(model):
        model.eval()
        out = _over_points(at, len(points), progress, desc, distributed).reshape(len(points), 2)
    return out[:, 0].copy(), out[:, 1].copy()


def slice_1d(model, data, direction, coords=None, loss_fn=None, params=None, progress=False, kind="random",
             distributed=False):
    """f(a) = L(theta + a d) for a in ``coords`` (default :func:`grid` (1, 21))."""
    ps = trainable_parameters(model, params)
    xs = check_grid(grid() if coords is None else coords, "coordinates")
    theta = get_flat(ps)
    d = np.asarray(direction, dtype=np.float64)
    if d.shape != theta.shape:
        raise ValueError(f"slice_1d: direction has shape {d.shape}, the parameters {theta.shape}")
    loss, acc = _evaluate_points(model, data, loss_fn, ps, theta, [a * d for a in xs], progress, "1-D slice",
                                 distributed)
    centre = float(loss[np.argmin(np.abs(xs))])
    return Landscape(xs, loss, acc=acc, centre_loss=centre, kind=kind)


def slice_2d(model, data, directions, xs=None, ys=None, loss_fn=None, params=None, progress=False, kind="random",
             distributed=False):
    """f(a, b) = L(theta + a d1 + b d2) on the grid xs x ys (default 21 x 21 on [-1, 1]^2)."""
    ps = trainable_parameters(model, params)
    xs = check_grid(grid() if xs is None else xs, "x coordinates")
    ys = check_grid(xs if ys is None else ys, "y coordinates")
    theta = get_flat(ps)
    d1, d2 = (np.asarray(d, dtype=np.float64) for d in directions)
    pts = [a * d1 + b * d2 for a in xs for b in ys]
    loss, acc = _evaluate_points(model, data, loss_fn, ps, theta, pts, progress, "2-D slice", distributed)
    loss, acc = loss.reshape(len(xs), len(ys)), acc.reshape(len(xs), len(ys))
    centre = float(loss[np.argmin(np.abs(xs)), np.argmin(np.abs(ys))])
    return Landscape(xs, loss, ys=ys, acc=acc, centre_loss=centre, kind=kind)


def trajectory_slice(model, data, trajectory, num=21, loss_fn=None, params=None, progress=False, margin=1.2,
                     distributed=False):
    """The 2-D slice through the last point of ``trajectory`` (flat parameter vectors, e.g. one per
    epoch, the last one equal to the model's parameters) spanned by its top two PCA directions, on a
    symmetric grid wide enough for the projected path, which is stored in ``result.path``."""
    ps = trainable_parameters(model, params)
    if not np.allclose(np.asarray(trajectory[-1], dtype=np.float64), get_flat(ps)):
        raise ValueError("trajectory_slice: the trajectory must end at the model's current parameters")
    dirs, coords, ratio = pca_directions(trajectory, 2)
    span = margin * float(np.abs(coords).max()) or 1.0
    xs = grid(span, num)
    res = slice_2d(model, data, dirs, xs, xs, loss_fn, ps, progress, kind="pca", distributed=distributed)
    res.path = coords
    res.extras["explained_variance_ratio"] = ratio.tolist()
    return res


def _float_state(model):
    return {k: v for k, v in model.state_dict(keep_vars=True).items()
            if v is not None and hasattr(v, "array") and np.asarray(v.array).dtype.kind == "f"}


def interpolate(model, state_a, state_b, data, alphas=None, loss_fn=None, progress=False, distributed=False):
    """f(a) = L((1 - a) A + a B) for two state dicts (parameters and BatchNorm running statistics
    interpolated; integer buffers taken from A).  Default a in linspace(-0.5, 1.5, 41)."""
    alphas = np.linspace(-0.5, 1.5, 41) if alphas is None else np.asarray(alphas, dtype=np.float64)
    live = _float_state(model)
    missing = [k for k in live if k not in state_a or k not in state_b]
    if missing:
        raise ValueError(f"interpolate: the state dicts lack {missing[:5]} of this model")
    A = {k: np.asarray(getattr(state_a[k], "array", state_a[k]), dtype=np.float64) for k in live}
    B = {k: np.asarray(getattr(state_b[k], "array", state_b[k]), dtype=np.float64) for k in live}
    for k in live:
        if A[k].shape != tuple(live[k].shape) or B[k].shape != tuple(live[k].shape):
            raise ValueError(f"interpolate: {k} has shape {A[k].shape} / {B[k].shape}, the model "
                             f"{tuple(live[k].shape)}")
    def at(i):
        a = alphas[i]
        for k, v in live.items():
            v.array[...] = ((1 - a) * A[k] + a * B[k]).astype(v.array.dtype)
        loss, acc = evaluate_loss(model, data, loss_fn)
        return [loss, np.nan if acc is None else acc]

    with restored(model):
        model.eval()
        out = _over_points(at, len(alphas), progress, "interpolation", distributed).reshape(len(alphas), 2)
    losses, accs = out[:, 0].copy(), out[:, 1].copy()
    i0 = int(np.argmin(np.abs(alphas)))
    return Landscape(alphas, losses, acc=accs, centre_loss=float(losses[i0]), kind="interpolation")


def convexity_map(model, data, directions, xs, ys=None, loss_fn=None, params=None, tol=1e-3, progress=False,
                  seed=0, distributed=False):
    """|min(lambda_min, 0) / lambda_max| of the Hessian at each point theta + a d1 + b d2 (Li et al.
    2018; both ends by one Lanczos run, which="BE"): 0 where the loss is locally convex, large where
    negative curvature dominates."""
    from .operators import model_hessian
    from .spectrum import extreme_eigenpairs

    ps = trainable_parameters(model, params)
    xs = check_grid(xs, "x coordinates")
    ys = check_grid(xs if ys is None else ys, "y coordinates")
    theta = get_flat(ps)
    d1, d2 = (np.asarray(d, dtype=np.float64) for d in directions)
    pts = [(a, b) for a in xs for b in ys]

    def at(i):
        a, b = pts[i]
        set_flat(ps, theta + a * d1 + b * d2)
        lo, hi = extreme_eigenpairs(H, 2, "BE", tol=tol, seed=seed, check=False, return_eigenvectors=False)
        return abs(min(lo, 0.0) / hi) if hi > 0 else np.inf

    with restored(model):
        model.eval()
        H = model_hessian(model, loss_fn, data, ps)
        ratio = _over_points(at, len(pts), progress, "convexity map", distributed)
    return ratio.reshape(len(xs), len(ys))


def surface_convexity(result):
    """|min(mu_min, 0) / mu_max| of the 2 x 2 Hessian of the *plotted surface* f(a, b), by central
    differences at the interior grid points (the curvature the picture shows; cheap, no Hessian
    products).  Returns an array of shape (len(xs) - 2, len(ys) - 2)."""
    if result.ys is None:
        raise ValueError("surface_convexity: needs a 2-D slice")
    f, hx, hy = np.asarray(result.loss), np.diff(result.xs), np.diff(result.ys)
    if len(result.xs) < 3 or len(result.ys) < 3:
        raise ValueError("surface_convexity: needs at least 3 x 3 grid points")
    dx, dy = float(hx.mean()), float(hy.mean())
    faa = (f[2:, 1:-1] - 2 * f[1:-1, 1:-1] + f[:-2, 1:-1]) / dx ** 2
    fbb = (f[1:-1, 2:] - 2 * f[1:-1, 1:-1] + f[1:-1, :-2]) / dy ** 2
    fab = (f[2:, 2:] - f[2:, :-2] - f[:-2, 2:] + f[:-2, :-2]) / (4 * dx * dy)
    mean, rad = (faa + fbb) / 2, np.sqrt(((faa - fbb) / 2) ** 2 + fab ** 2)
    lo, hi = mean - rad, mean + rad
    return np.where(hi > 0, np.abs(np.minimum(lo, 0)) / np.where(hi > 0, hi, 1), np.inf)


# --------------------------------------------------------------------------- plots
def plot_landscape(result, prefix, title=None, levels=30, log=False):
    """Write the plots of a slice: ``prefix``_1d.png for a 1-D slice, else ``prefix``_contour.png,
    ``prefix``_filled.png and ``prefix``_surface.png (with the projected path for PCA slices).
    Returns the list of paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    title = title or f"{result.kind} slice"
    z = np.log10(np.maximum(result.loss, 1e-12)) if log else np.asarray(result.loss)
    zlabel = "log10 loss" if log else "loss"
    paths = []
    if result.ys is None:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(result.xs, z, "-o", ms=3, label="loss")
        ax.set_xlabel("alpha")
        ax.set_ylabel(zlabel)
        if result.acc is not None and np.isfinite(result.acc).any():
            ax2 = ax.twinx()
            ax2.plot(result.xs, result.acc, "r--", label="accuracy")
            ax2.set_ylabel("accuracy", color="r")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        paths.append(f"{prefix}_1d.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
        return paths
    X, Y = np.meshgrid(result.xs, result.ys, indexing="ij")
    for name, filled in (("contour", False), ("filled", True)):
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
        cs = (ax.contourf if filled else ax.contour)(X, Y, z, levels=levels, cmap="viridis")
        if filled:
            fig.colorbar(cs, ax=ax, label=zlabel)
        else:
            ax.clabel(cs, inline=True, fontsize=7, fmt="%.2g")
        if result.path is not None:
            ax.plot(result.path[:, 0], result.path[:, 1], "r.-", ms=4, label="trajectory")
            ax.legend(fontsize=8)
        ax.plot([0], [0], "k*", ms=8)
        ax.set_xlabel("direction 1")
        ax.set_ylabel("direction 2")
        ax.set_title(title)
        fig.tight_layout()
        paths.append(f"{prefix}_{name}.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    fig = plt.figure(figsize=(6, 5))
    ax = fig.add_subplot(projection="3d")
    ax.plot_surface(X, Y, z, cmap="viridis", linewidth=0, antialiased=True)
    ax.set_xlabel("direction 1")
    ax.set_ylabel("direction 2")
    ax.set_zlabel(zlabel)
    ax.set_title(title)
    fig.tight_layout()
    paths.append(f"{prefix}_surface.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths

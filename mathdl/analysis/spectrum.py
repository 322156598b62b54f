"""Spectra of symmetric operators (Hessians, GGN, Fisher), matrix-free.

Any operator :func:`mathdl.analysis.operators.as_operator` accepts works here (scipy LinearOperator,
an object with ``to_linear_operator()``, a dense symmetric array, or a matvec callable with ``n``).

* Extremes (:func:`extreme_eigenpairs`): implicitly restarted Lanczos, ``scipy.sparse.linalg.eigsh``
  with which = "LA" (largest), "SA" (smallest) or "BE" (both ends).
* Trace (:func:`hutchinson_trace`): tr(A) = E[z^T A z] for z with E[z z^T] = I (Rademacher);
  estimate = mean of m samples, standard error = sample std / sqrt(m).
  (:func:`hutchpp_trace`, Meyer et al. 2021): with m matvecs split in thirds, S, G random n x m/3,
  Q = orth(A S), tr(A) = tr(Q^T A Q) + tr((I - QQ^T) A (I - QQ^T)) where the second term is
  Hutchinson's estimate with the probes G projected off Q; its standard error is the error.
* Density (:func:`slq`, stochastic Lanczos quadrature; Ghorbani, Krishnan & Xiao 2019): for a probe
  v (unit norm), m Lanczos steps give T_m = V^T A V with eigenpairs (theta_k, y_k); the Gauss
  quadrature v^T f(A) v ~= sum_k tau_k f(theta_k), tau_k = y_k[0]^2, is exact for polynomials of
  degree <= 2m - 1.  Averaging over probes, phi(t) = mean_l sum_k tau_k^l g_sigma(t - theta_k^l)
  estimates the spectral density (1/n) sum_i delta(t - lambda_i), smoothed with a Gaussian g_sigma;
  on the log axis, the density of log10|lambda| (Papyan 2020), positive and negative parts apart.
* Negative curvature (:func:`negative_curvature`): fraction of negative eigenvalues
  p = (1/n) #{lambda_i < -t} ~= mean_l sum_{theta_k^l < -t} tau_k^l (t = 1e-3 max|lambda| by
  default, as quadrature smears a cluster at 0 to both sides), count n p, and the negative mass
  sum_{lambda<-t} |lambda| / sum |lambda|, each with a 95% interval over probes
  (mean +- t_{0.975} s / sqrt(L)), and |lambda_min / lambda_max| from Lanczos.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .operators import as_operator, check_symmetric

__all__ = ["extreme_eigenpairs", "hutchinson_trace", "hutchpp_trace", "slq", "SLQResult", "TraceEstimate",
           "negative_curvature", "spectrum_summary", "plot_density", "time_top_eigenvalue"]


# --------------------------------------------------------------------------- extremes
def extreme_eigenpairs(op, k=1, which="LA", n=None, tol=0.0, maxiter=None, ncv=None, seed=0, check=True,
                       return_eigenvectors=True):
    """The k extreme eigenvalues (ascending) and eigenvectors (columns) of a symmetric operator by
    Lanczos (``eigsh``).  ``which``: "LA" largest, "SA" smallest, "BE" half from each end (k >= 2).
    ``check`` first verifies symmetry (:func:`check_symmetric`)."""
    from scipy.sparse.linalg import eigsh

    if which not in ("LA", "SA", "BE"):
        raise ValueError(f"extreme_eigenpairs: which must be 'LA', 'SA' or 'BE', got {which!r}")
    A = as_operator(op, n)
    dim = A.shape[0]
    if which == "BE" and k < 2:
        raise ValueError("extreme_eigenpairs: which='BE' needs k >= 2 (one eigenvalue from each end)")
    if not 1 <= k < dim:
        raise ValueError(f"extreme_eigenpairs: k must be in [1, n - 1] = [1, {dim - 1}], got {k}")
    if check:
        check_symmetric(A, seed=seed)
    v0 = np.random.default_rng(seed).standard_normal(dim)
    if ncv is None:
        ncv = min(dim, max(2 * k + 1, 20))
    out = eigsh(A, k=k, which=which, tol=tol, maxiter=maxiter, ncv=ncv, v0=v0,
                return_eigenvectors=return_eigenvectors)
    if return_eigenvectors:
        vals, vecs = out
        order = np.argsort(vals)
        return vals[order], vecs[:, order]
    return np.sort(out)


# --------------------------------------------------------------------------- traces
@dataclass
class TraceEstimate:
    """A trace estimate with its standard error and the number of matvecs it used."""

    estimate: float
    stderr: float
    matvecs: int

    def __float__(self):
        return float(self.estimate)


def _probes(rng, n, m, distribution):
    if distribution == "rademacher":
        return rng.choice([-1.0, 1.0], size=(n, m))
    if distribution == "gaussian":
        return rng.standard_normal((n, m))
    raise ValueError(f"probe distribution must be 'rademacher' or 'gaussian', got {distribution!r}")


def hutchinson_trace(op, num_probes=100, n=None, distribution="rademacher", seed=0):
    """tr(A) ~= (1/m) sum_j z_j^T A z_j with its standard error s / sqrt(m)."""
    A = as_operator(op, n)
    if num_probes < 2:
        raise ValueError(f"hutchinson_trace: num_probes must be >= 2 for a standard error, got {num_probes}")
    Z = _probes(np.random.default_rng(seed), A.shape[0], num_probes, distribution)
    samples = np.array([Z[:, j] @ A.matvec(Z[:, j]) for j in range(num_probes)])
    return TraceEstimate(float(samples.mean()), float(samples.std(ddof=1) / np.sqrt(num_probes)), num_probes)


def hutchpp_trace(op, num_matvecs=99, n=None, distribution="rademacher", seed=0):
    """Hutch++ (Meyer, Musco, Musco & Woodruff 2021): exact trace on a sketched top subspace Q plus
    Hutchinson on the rest; ``num_matvecs`` (>= 6) is split into thirds."""
    A = as_operator(op, n)
    dim = A.shape[0]
    if num_matvecs < 6:
        raise ValueError(f"hutchpp_trace: num_matvecs must be >= 6, got {num_matvecs}")
    rng = np.random.default_rng(seed)
    s = min(num_matvecs // 3, dim)
    g = max(num_matvecs - 2 * s, 2)
    S = _probes(rng, dim, s, distribution)
    G = _probes(rng, dim, g, distribution)
    AS = np.stack([A.matvec(S[:, j]) for j in range(s)], axis=1)
    Q, _ = np.linalg.qr(AS)
    AQ = np.stack([A.matvec(Q[:, j]) for j in range(Q.shape[1])], axis=1)
    exact = float(np.trace(Q.T @ AQ))
    Gp = G - Q @ (Q.T @ G)
    samples = np.array([Gp[:, j] @ A.matvec(Gp[:, j]) for j in range(g)])
    # (I-QQ^T) A (I-QQ^T) on projected probes: z^T (I-QQ^T) A (I-QQ^T) z = Gp^T A Gp
    return TraceEstimate(exact + float(samples.mean()), float(samples.std(ddof=1) / np.sqrt(g)), 2 * s + g)


# --------------------------------------------------------------------------- SLQ
def lanczos(A, v, steps):
    """m steps of Lanczos with full reorthogonalization from the unit vector v: (alpha, beta) of
    the tridiagonal T_m (it stops early at an invariant subspace)."""
    n = A.shape[0]
    m = min(steps, n)
    V = np.zeros((m, n))
    alpha, beta = [], []
    q = v / np.linalg.norm(v)
    for j in range(m):
        V[j] = q
        w = A.matvec(q)
        a = float(q @ w)
        alpha.append(a)
        w = w - V[:j + 1].T @ (V[:j + 1] @ w)  # full reorthogonalization (twice is enough)
        w = w - V[:j + 1].T @ (V[:j + 1] @ w)
        b = float(np.linalg.norm(w))
        if j == m - 1 or b < 1e-10 * max(1.0, abs(a)):
            break
        beta.append(b)
        q = w / b
    return np.array(alpha), np.array(beta)


@dataclass
class SLQResult:
    """Quadrature nodes and weights per probe (each probe's weights sum to 1)."""

    nodes: list
    weights: list
    n: int
    extras: dict = field(default_factory=dict)

    def moment(self, p):
        """Estimate of (1/n) tr(A^p) = mean over probes of sum_k tau_k theta_k^p."""
        return float(np.mean(self.per_probe(lambda t: t ** p)))

    def per_probe(self, f):
        return np.array([float(np.sum(w * f(t))) for t, w in zip(self.nodes, self.weights)])

    def range(self):
        allt = np.concatenate(self.nodes)
        return float(allt.min()), float(allt.max())

    def density(self, grid=None, sigma=None, num=1000):
        """(grid, phi(grid)): the Gaussian-smoothed density on a linear axis (integrates to ~1).
        sigma defaults to 1% of the node range."""
        lo, hi = self.range()
        width = max(hi - lo, 1e-12)
        sigma = sigma or 0.01 * width
        if grid is None:
            grid = np.linspace(lo - 5 * sigma, hi + 5 * sigma, num)
        grid = np.asarray(grid, dtype=np.float64)
        phi = np.zeros_like(grid)
        for t, w in zip(self.nodes, self.weights):
            phi += (w[None, :] * np.exp(-(grid[:, None] - t[None, :]) ** 2 / (2 * sigma ** 2))).sum(1)
        return grid, phi / (len(self.nodes) * sigma * np.sqrt(2 * np.pi))

    def log_density(self, grid=None, sigma=0.1, num=600, floor=1e-12):
        """(grid, positive part, negative part): densities of s = log10|lambda| for lambda > 0 and
        lambda < 0 (each integrates to that side's fraction of the spectrum), Gaussian-smoothed in s."""
        allt = np.abs(np.concatenate(self.nodes))
        allt = allt[allt > floor]
        if grid is None:
            lo = np.log10(allt.min()) if allt.size else -6
            hi = np.log10(allt.max()) if allt.size else 1
            grid = np.linspace(lo - 1, hi + 0.5, num)
        grid = np.asarray(grid, dtype=np.float64)
        pos, neg = np.zeros_like(grid), np.zeros_like(grid)
        for t, w in zip(self.nodes, self.weights):
            for sign, acc in ((1, pos), (-1, neg)):
                keep = (sign * t) > floor
                if keep.any():
                    s = np.log10(np.abs(t[keep]))
                    acc += (w[keep][None, :] * np.exp(-(grid[:, None] - s[None, :]) ** 2 / (2 * sigma ** 2))).sum(1)
        norm = len(self.nodes) * sigma * np.sqrt(2 * np.pi)
        return grid, pos / norm, neg / norm


def slq(op, num_probes=10, lanczos_steps=80, n=None, seed=0, check=True):
    """Stochastic Lanczos quadrature: nodes and weights from ``lanczos_steps`` Lanczos steps for
    each of ``num_probes`` Rademacher probes."""
    A = as_operator(op, n)
    if num_probes < 1 or lanczos_steps < 1:
        raise ValueError(f"slq: num_probes and lanczos_steps must be >= 1, got {num_probes}, {lanczos_steps}")
    if check:
        check_symmetric(A, seed=seed)
    rng = np.random.default_rng(seed)
    nodes, weights = [], []
    for _ in range(num_probes):
        v = rng.choice([-1.0, 1.0], size=A.shape[0])
        alpha, beta = lanczos(A, v, lanczos_steps)
        T = np.diag(alpha) + np.diag(beta[:len(alpha) - 1], 1) + np.diag(beta[:len(alpha) - 1], -1)
        theta, Y = np.linalg.eigh(T)
        nodes.append(theta)
        weights.append(Y[0] ** 2)
    return SLQResult(nodes, weights, A.shape[0])


# --------------------------------------------------------------------------- negative curvature
def _interval(samples, level=0.95):
    from scipy import stats

    samples = np.asarray(samples, dtype=np.float64)
    m = samples.mean()
    if samples.size < 2:
        return float(m), (float(m), float(m))
    half = stats.t.ppf(0.5 + level / 2, samples.size - 1) * samples.std(ddof=1) / np.sqrt(samples.size)
    return float(m), (float(m - half), float(m + half))


def negative_curvature(op, result=None, n=None, num_probes=10, lanczos_steps=80, threshold=None, seed=0,
                       extremes=None, rel_threshold=1e-3):
    """Negative eigenvalues: fraction, count and mass with 95% intervals over the SLQ probes, and
    |lambda_min / lambda_max| (from ``extremes`` = (lambda_min, lambda_max) or Lanczos).

    Eigenvalues count as negative below -``threshold``, by default ``rel_threshold`` x the largest
    |node|: quadrature smears a large cluster at 0 (the usual null space of a network's Hessian) over
    nodes on both sides of it, which a zero threshold would count as negative."""
    A = as_operator(op, n)
    if result is None:
        result = slq(A, num_probes, lanczos_steps, seed=seed)
    if threshold is None:
        threshold = rel_threshold * max(abs(v) for v in result.range())
    frac, frac_ci = _interval(result.per_probe(lambda t: (t < -threshold).astype(float)))
    neg = result.per_probe(lambda t: np.abs(t) * (t < -threshold))
    tot = result.per_probe(np.abs)
    mass, mass_ci = _interval(neg / np.maximum(tot, 1e-300))
    if extremes is None:
        lo = float(extreme_eigenpairs(A, 1, "SA", seed=seed, check=False, return_eigenvectors=False)[0])
        hi = float(extreme_eigenpairs(A, 1, "LA", seed=seed, check=False, return_eigenvectors=False)[0])
    else:
        lo, hi = (float(e) for e in extremes)
    dim = result.n
    return {
        "fraction": frac, "fraction_interval": frac_ci,
        "count": frac * dim, "count_interval": (max(0.0, frac_ci[0] * dim), min(dim, frac_ci[1] * dim)),
        "mass": mass, "mass_interval": (max(0.0, mass_ci[0]), min(1.0, mass_ci[1])),
        "lambda_min": lo, "lambda_max": hi, "ratio": abs(lo / hi) if hi != 0 else float("inf"),
        "threshold": float(threshold),
    }


def spectrum_summary(op, n=None, k=5, num_probes=10, lanczos_steps=80, trace_matvecs=60, seed=0, progress=False):
    """Everything at once: top-k and bottom eigenvalues, Hutch++ trace, SLQ, negative curvature."""
    A = as_operator(op, n)
    check_symmetric(A, seed=seed)
    k = min(k, A.shape[0] - 1)
    steps = ["top", "bottom", "trace", "slq"]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(steps), desc="spectrum", unit="stage")
    top, top_vecs = extreme_eigenpairs(A, k, "LA", seed=seed, check=False)
    bar and bar.update(1)
    bottom = extreme_eigenpairs(A, 1, "SA", seed=seed, check=False, return_eigenvectors=False)
    bar and bar.update(1)
    tr = hutchpp_trace(A, trace_matvecs, seed=seed)
    bar and bar.update(1)
    res = slq(A, num_probes, lanczos_steps, seed=seed, check=False)
    bar and bar.close()
    neg = negative_curvature(A, res, extremes=(bottom[0], top[-1]))
    return {"n": A.shape[0], "top_eigenvalues": top[::-1].tolist(), "lambda_min": float(bottom[0]),
            "trace": tr.estimate, "trace_stderr": tr.stderr, "slq_trace": res.moment(1) * A.shape[0],
            "negative_curvature": neg, "slq": res, "top_eigenvectors": top_vecs[:, ::-1]}


def plot_density(result, path, title="spectral density", sigma=None):
    """Linear-axis and log10|lambda| densities side by side into ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    grid, phi = result.density(sigma=sigma)
    axes[0].semilogy(grid, np.maximum(phi, 1e-12))
    axes[0].set_xlabel("eigenvalue")
    axes[0].set_ylabel("density (log scale)")
    axes[0].set_title(title)
    g, pos, neg = result.log_density()
    axes[1].plot(g, pos, label="lambda > 0")
    axes[1].plot(g, neg, label="lambda < 0")
    axes[1].set_xlabel("log10 |eigenvalue|")
    axes[1].set_ylabel("density")
    axes[1].legend()
    axes[1].set_title("density of log10|lambda|")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def time_top_eigenvalue(model, data, loss_fn=None, tol=1e-3, repeats=3, seed=0):
    """Seconds per gradient, per Hessian-vector product (and their ratio) and for the top eigenvalue
    by Lanczos (``tol``) of ``model``'s loss on ``data``: wall-clock and CPU time (``time.process_time``,
    summed over threads; the steadier figure on a busy machine)."""
    import time

    from .operators import model_hessian
    from .params import loss_and_gradient

    H = model_hessian(model, loss_fn, data)
    v = np.random.default_rng(seed).standard_normal(H.num_params)

    def best(fn):
        wall, cpu = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        return min(wall), min(cpu)

    t_grad, c_grad = best(lambda: loss_and_gradient(model, data, loss_fn))
    H.matvec(v)  # the first product also checks determinism
    t_hvp, c_hvp = best(lambda: H.matvec(v))
    n0, top = H.num_products, []
    repeats = 1
    t_top, c_top = best(lambda: top.append(
        extreme_eigenpairs(H, 1, "LA", tol=tol, seed=seed, check=False, return_eigenvectors=False)[0]))
    top = top[0]
    return {"params": H.num_params, "grad_s": t_grad, "hvp_s": t_hvp, "hvp_over_grad": t_hvp / t_grad,
            "grad_cpu_s": c_grad, "hvp_cpu_s": c_hvp, "hvp_over_grad_cpu": c_hvp / c_grad,
            "top_eigenvalue": float(top), "top_eigenvalue_s": t_top, "top_eigenvalue_cpu_s": c_top,
            "lanczos_products": H.num_products - n0}

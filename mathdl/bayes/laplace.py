"""The Laplace approximation of a trained network's posterior (MacKay 1992; Ritter et al. 2018;
Daxberger et al. 2021).

Around the MAP weights theta* of L(theta) = -log p(D | theta) + (delta/2) ||theta||^2 (a Gaussian
prior N(0, delta^-1 I) with prior precision delta),

    p(theta | D) ~ N(theta*, Sigma),     Sigma^-1 = G + delta I,

with G the generalized Gauss-Newton matrix of the negative log-likelihood (summed over the data),
G = Σ_n J_n^T Λ_n J_n, J_n = df(x_n)/dtheta and Λ_n = -d^2 log p(y_n | f)/df^2 (diag(p) - p p^T
for a softmax, I / sigma^2 for a Gaussian likelihood).  The same matrix as
:class:`mathdl.curvature.GGNOperator` with a summed loss (checked in the tests), computed here from
per-example Jacobians so that all three structures come from one pass:

* ``"full"``: G itself (P x P, small P only);
* ``"diag"``: its diagonal;
* ``"kron"``: per layer W (bias folded in as a last input column, a gets a trailing 1), K-FAC:
  G_W ~ G_out (x) A with A = (1/N) Σ_n (1/T) Σ_t a a^T and G_out = Σ_n Σ_c Σ_t g~ g~^T, where g~_c
  = sqrt(p_c) (g_c - Σ_c' p_c' g_c') are the output gradients rotated by a square root of Λ
  (Λ = L L^T, L_{:,c} = sqrt(p_c)(e_c - p)).  Exact for one example of a linear layer.
  The Kronecker factors are computed here (forward hooks on Linear/Conv2d); the im2col patches
  come from :func:`mathdl.optim.kfac.conv_patches`.

``subset="last_layer"``: only the last nn.Linear is Bayesian (the rest fixed at the MAP);
``subset="all"``: every nn.Linear / nn.Conv2d (other parameters, e.g. batch norm, stay fixed).

Prior precision by the marginal likelihood (evidence) of the Laplace approximation,

    log p(D | delta) ~ log p(D | theta*) - (delta/2) ||theta*||^2 + (P/2) log delta - (1/2) log det(G + delta I),

maximized over log delta (the eigenvalues of G, of its diagonal or of the Kronecker factors make
every evaluation cheap).  For a linear-Gaussian model this is exact.

Predictive:

* ``pred_type="glm"`` (linearization f(x; theta) ~ f(x; theta*) + J(x)(theta - theta*)): f ~ N(f*, J Sigma J^T);
  ``link_approx="probit"``: p ~ softmax(f* / sqrt(1 + (pi/8) diag(J Sigma J^T))); ``"mc"``:
  the mean of softmax over samples of f;
* ``pred_type="nn"``: the mean of softmax(f(x; theta_s)) over theta_s ~ N(theta*, Sigma) (the network
  itself evaluated at sampled weights).
"""

from __future__ import annotations

import math

import numpy as np

from .. import nn

__all__ = ["Laplace", "supported_layers"]

_STRUCTURES = ("full", "diag", "kron")
_SUBSETS = ("last_layer", "all")
_LIKELIHOODS = ("classification", "regression")


def supported_layers(model):
    """(name, module) of every nn.Linear / nn.Conv2d (groups=1) in ``model``, in module order."""
    out = []
    for name, m in model.named_modules():
        if type(m) is nn.Linear or (type(m) is nn.Conv2d and m.groups == 1 and not isinstance(m.padding, str)):
            out.append((name, m))
    return out


class _Layer:
    def __init__(self, name, module):
        self.name, self.module = name, module
        self.kind = "linear" if type(module) is nn.Linear else "conv2d"
        self.bias = module.bias is not None
        w = module.weight.array
        self.out = int(w.shape[0])
        self.inp = int(np.prod(w.shape[1:])) + int(self.bias)

    @property
    def size(self):
        return self.out * self.inp

    def get(self):
        """theta of this layer as the (out, in[+1]) matrix [W b] in float64."""
        m = self.module
        w = np.asarray(m.weight.numpy(), np.float64).reshape(self.out, -1)
        if self.bias:
            w = np.concatenate([w, np.asarray(m.bias.numpy(), np.float64)[:, None]], 1)
        return w

    def set(self, wa):
        m = self.module
        nb = self.inp - int(self.bias)
        m.weight.array[...] = wa[:, :nb].reshape(m.weight.shape).astype(m.weight.array.dtype)
        if self.bias:
            m.bias.array[...] = wa[:, nb].astype(m.bias.array.dtype)

    def patches(self, x):
        """(N, T, in[+1]) layer inputs a (im2col patches for a convolution)."""
        x = np.asarray(x, np.float64)
        if self.kind == "linear":
            a = x.reshape(x.shape[0], -1, x.shape[-1])
        else:
            from ..optim.kfac import conv_patches

            m = self.module
            k = m.kernel_size if isinstance(m.kernel_size, tuple) else (m.kernel_size,) * 2
            pair = (lambda v: v if isinstance(v, tuple) else (v, v))
            cols, T = conv_patches(x, k, pair(m.stride), m.padding, pair(m.dilation))
            a = cols.reshape(x.shape[0], T, -1)
        if self.bias:
            a = np.concatenate([a, np.ones(a.shape[:2] + (1,))], 2)
        return a

    def out_grads(self, g):
        """(N, T, out) from a gradient with respect to the layer output."""
        g = np.asarray(g, np.float64)
        if self.kind == "linear":
            return g.reshape(g.shape[0], -1, g.shape[-1])
        return g.transpose(0, 2, 3, 1).reshape(g.shape[0], -1, g.shape[1])


def _jac(a, g):
    """Per-example Jacobians (N, C, O, I) = Σ_t g[n, c, t, :] a[n, t, :]^T as one batched matmul."""
    return g.transpose(0, 1, 3, 2) @ a[:, None]


def _softmax(f):
    z = f - f.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def _batches(data, batch_size):
    from ..autograd.tensor import Tensor

    if isinstance(data, (tuple, list)) and len(data) == 2 and not isinstance(data[0], (tuple, list)):
        x, y = data
        x = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
        y = y.numpy() if isinstance(y, Tensor) else np.asarray(y)
        for i in range(0, len(x), batch_size):
            yield x[i:i + batch_size], y[i:i + batch_size]
        return
    for b in data:
        if not (isinstance(b, (tuple, list)) and len(b) >= 2):
            raise TypeError(f"Laplace.fit: each batch must be an (x, y) pair, got a {type(b).__name__}")
        x, y = b[0], b[1]
        yield (x.numpy() if isinstance(x, Tensor) else np.asarray(x)), (y.numpy() if isinstance(y, Tensor)
                                                                       else np.asarray(y))


class Laplace:
    """``Laplace(model, likelihood="classification", subset="last_layer", hessian_structure="kron",
    prior_precision=1.0, sigma_noise=1.0)``; ``fit(data)`` (an (x, y) pair or an iterable of batches),
    ``optimize_prior_precision()``, ``predict_proba(x)`` / ``predictive(x, ...)``, ``sample(n)``."""

    def __init__(self, model, likelihood="classification", subset="last_layer", hessian_structure="kron",
                 prior_precision=1.0, sigma_noise=1.0):
        if likelihood not in _LIKELIHOODS:
            raise ValueError(f"Laplace: likelihood must be one of {_LIKELIHOODS}, got {likelihood!r}")
        if subset not in _SUBSETS:
            raise ValueError(f"Laplace: subset must be one of {_SUBSETS}, got {subset!r}")
        if hessian_structure not in _STRUCTURES:
            raise ValueError(f"Laplace: hessian_structure must be one of {_STRUCTURES}, got {hessian_structure!r}")
        if not (float(prior_precision) > 0 and math.isfinite(float(prior_precision))):
            raise ValueError(f"Laplace: prior_precision must be positive, got {prior_precision!r}")
        if not float(sigma_noise) > 0:
            raise ValueError(f"Laplace: sigma_noise must be positive, got {sigma_noise!r}")
        found = supported_layers(model)
        if not found:
            raise ValueError(f"Laplace ({hessian_structure}, {subset}): {type(model).__name__} has no supported layer "
                             "(nn.Linear or nn.Conv2d with groups=1)")
        if subset == "last_layer":
            lin = [(n, m) for n, m in found if type(m) is nn.Linear]
            if not lin:
                raise ValueError(f"Laplace (last_layer): {type(model).__name__} has no nn.Linear layer")
            found = lin[-1:]
        self.model, self.likelihood, self.subset, self.structure = model, likelihood, subset, hessian_structure
        self.layers = [_Layer(n, m) for n, m in found]
        self.prior_precision = float(prior_precision)
        self.sigma_noise = float(sigma_noise)
        self._fitted = False

    # ------------------------------------------------------------------ per-example Jacobians
    def _forward_capture(self, x, need_grads):
        """(f (N, C) array, a per layer (N, T, I), g per layer (N, C, T, O) = d f_c / d s_layer)."""
        from .. import enable_grad, no_grad
        from ..autograd.functional import grad
        from ..autograd.tensor import Tensor

        rec = {}
        hooks = []
        for L in self.layers:
            def hook(module, inputs, output, L=L):
                rec[L.name] = (inputs[0], output)
            hooks.append(L.module.register_forward_hook(hook))
        try:
            xt = Tensor._make(np.asarray(x, dtype=self._dtype()))
            with (enable_grad() if need_grads else no_grad()):
                f = self.model(xt)
            if f.ndim != 2:
                raise ValueError(f"Laplace: the model must output (N, C), got shape {tuple(f.shape)}")
            fa = np.asarray(f.numpy(), np.float64)
            N, C = fa.shape
            acts, grads = [], []
            for L in self.layers:
                if L.name not in rec:
                    raise RuntimeError(f"Laplace: layer {L.name!r} was not used by the model's forward")
                acts.append(L.patches(rec[L.name][0].numpy()))
            if self.subset == "last_layer":
                L = self.layers[0]
                if tuple(rec[L.name][1].shape) != (N, C) or not np.allclose(rec[L.name][1].numpy(), fa):
                    raise ValueError("Laplace (last_layer): the model's output must be its last nn.Linear's output")
                grads.append(np.broadcast_to(np.eye(C)[None, :, None, :], (N, C, 1, C)))
            else:
                outs = [rec[L.name][1] for L in self.layers]
                per = [np.empty((N, C) + L.out_grads(o.numpy()).shape[1:]) for L, o in zip(self.layers, outs)]
                for c in range(C):
                    cot = np.zeros(fa.shape, dtype=f.array.dtype)
                    cot[:, c] = 1
                    gs = grad([f], outs, [Tensor._make(cot)], retain_graph=c < C - 1, allow_unused=True)
                    for k, (L, gk) in enumerate(zip(self.layers, gs)):
                        per[k][:, c] = 0 if gk is None else L.out_grads(gk.numpy())
                grads = per
            return fa, acts, grads
        finally:
            for h in hooks:
                h.remove()

    def _dtype(self):
        return self.layers[0].module.weight.array.dtype

    def _rotate(self, f, g):
        """g~ = the output gradients times a square root of Λ: (N, C, T, O)."""
        if self.likelihood == "regression":
            return g / self.sigma_noise
        p = _softmax(f)
        mean = (p[:, :, None, None] * g).sum(1)
        return np.sqrt(p)[:, :, None, None] * (g - mean[:, None])

    def _loglik(self, f, y):
        if self.likelihood == "regression":
            y = np.asarray(y, np.float64).reshape(f.shape)
            s2 = self.sigma_noise ** 2
            return float(-0.5 * ((y - f) ** 2).sum() / s2 - 0.5 * f.size * math.log(2 * math.pi * s2))
        y = np.asarray(y).astype(np.int64).reshape(-1)
        if y.size and (y.min() < 0 or y.max() >= f.shape[1]):
            raise ValueError(f"Laplace.fit: labels must be in [0, {f.shape[1] - 1}], got [{y.min()}, {y.max()}]")
        z = f - f.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        return float(logp[np.arange(len(y)), y].sum())

    # ------------------------------------------------------------------ fit
    def fit(self, data, batch_size=256):
        """Accumulate the GGN (full / diag / Kronecker factors) at the current (MAP) weights over ``data``."""
        was = self.model.training
        self.model.eval()
        P = sum(L.size for L in self.layers)
        if self.structure == "full":
            if P > 20000:
                raise ValueError(f"Laplace (full): {P} parameters give a {P} x {P} matrix; use 'kron' or 'diag', "
                                 "or subset='last_layer'")
            H = np.zeros((P, P))
        elif self.structure == "diag":
            H = np.zeros(P)
        else:
            A = [np.zeros((L.inp, L.inp)) for L in self.layers]
            G = [np.zeros((L.out, L.out)) for L in self.layers]
        n, loglik = 0, 0.0
        try:
            for x, y in _batches(data, batch_size):
                f, acts, grads = self._forward_capture(x, need_grads=self.subset == "all")
                loglik += self._loglik(f, y)
                n += f.shape[0]
                gt = [self._rotate(f, g) for g in grads]
                if self.structure == "kron":
                    for k, (a, g) in enumerate(zip(acts, gt)):
                        af = a.reshape(-1, a.shape[2])
                        gf = g.reshape(-1, g.shape[3])
                        A[k] += (af.T @ af) / a.shape[1]
                        G[k] += gf.T @ gf
                else:
                    J = np.concatenate([_jac(a, g).reshape(f.shape[0], f.shape[1], -1) for a, g in zip(acts, gt)], 2)
                    if self.structure == "full":
                        Jf = J.reshape(-1, J.shape[2])
                        H += Jf.T @ Jf
                    else:
                        H += (J * J).sum((0, 1))
        finally:
            self.model.train(was)
        if n == 0:
            raise ValueError("Laplace.fit: the data is empty")
        self.n_data, self.loglik = n, loglik
        self.theta_map = [L.get() for L in self.layers]
        self.num_params = P
        if self.structure == "full":
            self.H = H
            self._eig = np.linalg.eigh(H)
        elif self.structure == "diag":
            self.H = H
        else:
            self.A = [a / n for a in A]
            self.G = G
            self._eigA = [np.linalg.eigh(a) for a in self.A]
            self._eigG = [np.linalg.eigh(g) for g in self.G]
        self._fitted = True
        return self

    def _need_fit(self, what):
        if not self._fitted:
            raise RuntimeError(f"Laplace: call fit(data) before asking for {what}")

    # ------------------------------------------------------------------ evidence
    def _ggn_eigenvalues(self):
        if self.structure == "full":
            return np.clip(self._eig[0], 0, None)
        if self.structure == "diag":
            return np.clip(self.H, 0, None)
        return np.concatenate([np.outer(np.clip(eg[0], 0, None), np.clip(ea[0], 0, None)).ravel()
                               for ea, eg in zip(self._eigA, self._eigG)])

    def log_marginal_likelihood(self, prior_precision=None):
        """log p(D | delta) of the Laplace approximation at ``prior_precision`` (default: the current one)."""
        self._need_fit("the marginal likelihood")
        d = self.prior_precision if prior_precision is None else float(prior_precision)
        if not d > 0:
            raise ValueError(f"Laplace: prior_precision must be positive, got {prior_precision!r}")
        sq = sum(float((t * t).sum()) for t in self.theta_map)
        lam = self._ggn_eigenvalues()
        return self.loglik - 0.5 * d * sq + 0.5 * self.num_params * math.log(d) - 0.5 * float(np.log(lam + d).sum())

    def optimize_prior_precision(self, bounds=(1e-4, 1e4), method="marglik", val_data=None, grid_size=21):
        """Set ``prior_precision``; returns it.  ``method="marglik"``: the maximizer of the marginal likelihood
        over log delta in ``bounds``; ``"val_nll"``: the grid point (``grid_size`` log-spaced in ``bounds``)
        with the lowest NLL of the predictive on ``val_data`` = (x, y) (held-out data; classification)."""
        from scipy.optimize import minimize_scalar

        self._need_fit("the prior precision")
        if method == "val_nll":
            if val_data is None or self.likelihood != "classification":
                raise ValueError("Laplace.optimize_prior_precision: 'val_nll' needs val_data=(x, y) and "
                                 "likelihood='classification'")
            xv, yv = (np.asarray(a.numpy() if hasattr(a, "numpy") else a) for a in val_data)
            yv = yv.astype(np.int64)
            best, best_nll = None, np.inf
            for d in np.exp(np.linspace(math.log(bounds[0]), math.log(bounds[1]), grid_size)):
                self.prior_precision = float(d)
                p = self.predictive(xv)
                nll = -np.log(np.clip(p[np.arange(len(yv)), yv], 1e-300, None)).mean()
                if nll < best_nll:
                    best, best_nll = float(d), nll
            self.prior_precision = best
            return best
        if method != "marglik":
            raise ValueError(f"Laplace.optimize_prior_precision: method must be 'marglik' or 'val_nll', got {method!r}")
        lo, hi = math.log(bounds[0]), math.log(bounds[1])
        res = minimize_scalar(lambda t: -self.log_marginal_likelihood(math.exp(t)), bounds=(lo, hi), method="bounded",
                              options={"xatol": 1e-6})
        self.prior_precision = float(math.exp(res.x))
        return self.prior_precision

    # ------------------------------------------------------------------ posterior
    @property
    def posterior_precision(self):
        """full: the P x P matrix; diag: its diagonal; kron: per layer (G, A, delta)."""
        self._need_fit("the posterior")
        d = self.prior_precision
        if self.structure == "full":
            return self.H + d * np.eye(self.num_params)
        if self.structure == "diag":
            return self.H + d
        return [(g, a, d) for g, a in zip(self.G, self.A)]

    @property
    def posterior_covariance(self):
        """full: Sigma (P x P); diag: the variances; kron: the dense Sigma (small models only)."""
        self._need_fit("the posterior")
        d = self.prior_precision
        if self.structure == "full":
            lam, Q = self._eig
            return (Q / (np.clip(lam, 0, None) + d)) @ Q.T
        if self.structure == "diag":
            return 1.0 / (self.H + d)
        blocks = []
        for (la, qa), (lg, qg) in zip(self._eigA, self._eigG):
            Q = np.kron(qg, qa)
            lam = np.outer(np.clip(lg, 0, None), np.clip(la, 0, None)).ravel()
            blocks.append((Q / (lam + d)) @ Q.T)
        from scipy.linalg import block_diag

        return block_diag(*blocks)

    def sample(self, n_samples=100, seed=None):
        """(n_samples, P) draws of theta ~ N(theta*, Sigma) (layers' [W b] flattened row-major, in order)."""
        self._need_fit("posterior samples")
        rng = np.random.default_rng(seed)
        d = self.prior_precision
        mean = np.concatenate([t.ravel() for t in self.theta_map])
        z = rng.standard_normal((n_samples, self.num_params))
        if self.structure == "full":
            lam, Q = self._eig
            return mean + (z / np.sqrt(np.clip(lam, 0, None) + d)) @ Q.T
        if self.structure == "diag":
            return mean + z / np.sqrt(self.H + d)
        out, i = [], 0
        for L, (la, qa), (lg, qg) in zip(self.layers, self._eigA, self._eigG):
            zl = z[:, i:i + L.size].reshape(n_samples, L.out, L.inp)
            scale = 1 / np.sqrt(np.outer(np.clip(lg, 0, None), np.clip(la, 0, None)) + d)
            out.append((qg @ (zl * scale) @ qa.T).reshape(n_samples, -1))
            i += L.size
        return mean + np.concatenate(out, 1)

    # ------------------------------------------------------------------ predictive
    def functional_variance(self, x, batch_size=256):
        """(f*(x) (N, C), J Sigma J^T (N, C, C)) of the linearized network."""
        self._need_fit("the predictive")
        was = self.model.training
        self.model.eval()
        d = self.prior_precision
        fs, vs = [], []
        try:
            for xb, _ in _batches((np.asarray(x), np.zeros(len(x))), batch_size):
                f, acts, grads = self._forward_capture(xb, need_grads=self.subset == "all")
                N, C = f.shape
                if self.structure == "kron":
                    var = np.zeros((N, C, C))
                    for a, g, (la, qa), (lg, qg) in zip(acts, grads, self._eigA, self._eigG):
                        lam = 1 / (np.outer(np.clip(lg, 0, None), np.clip(la, 0, None)) + d)
                        u, b = g @ qg, a @ qa   # in the factors' eigenbases
                        if a.shape[1] == 1:  # one position: J_c = g_c a^T is rank one, Σ_ab u_ca u_da b_b^2 lam_ab
                            w = (b[:, 0] ** 2) @ lam.T
                            var += (u[:, :, 0] * w[:, None]) @ u[:, :, 0].transpose(0, 2, 1)
                        else:
                            M = _jac(b, u).reshape(N, C, -1)
                            var += (M * lam.reshape(-1)) @ M.transpose(0, 2, 1)
                elif self.structure == "diag" and all(a.shape[1] == 1 for a in acts):
                    var, i = np.zeros((N, C, C)), 0
                    for L, a, g in zip(self.layers, acts, grads):
                        inv = 1 / (self.H[i:i + L.size] + d).reshape(L.out, L.inp)
                        w = (a[:, 0] ** 2) @ inv.T
                        var += (g[:, :, 0] * w[:, None]) @ g[:, :, 0].transpose(0, 2, 1)
                        i += L.size
                else:
                    J = np.concatenate([_jac(a, g).reshape(N, C, -1) for a, g in zip(acts, grads)], 2)
                    if self.structure == "full":
                        lam, Q = self._eig
                        JQ = J @ Q
                        var = (JQ / (np.clip(lam, 0, None) + d)) @ JQ.transpose(0, 2, 1)
                    else:
                        var = (J / (self.H + d)) @ J.transpose(0, 2, 1)
                fs.append(f)
                vs.append(var)
        finally:
            self.model.train(was)
        return np.concatenate(fs), np.concatenate(vs)

    def predictive(self, x, pred_type="glm", link_approx="probit", num_samples=100, seed=0):
        """Classification: (N, C) probabilities.  Regression: (mean (N, C), variance (N, C, C) incl. sigma^2)."""
        self._need_fit("the predictive")
        if pred_type not in ("glm", "nn"):
            raise ValueError(f"Laplace.predictive: pred_type must be 'glm' or 'nn', got {pred_type!r}")
        if link_approx not in ("probit", "mc"):
            raise ValueError(f"Laplace.predictive: link_approx must be 'probit' or 'mc', got {link_approx!r}")
        if pred_type == "nn":
            return self._predict_nn(x, num_samples, seed)
        f, var = self.functional_variance(x)
        if self.likelihood == "regression":
            return f, var + self.sigma_noise ** 2 * np.eye(f.shape[1])
        if link_approx == "probit":
            kappa = 1 / np.sqrt(1 + math.pi / 8 * np.einsum("ncc->nc", var))
            return _softmax(f * kappa)
        rng = np.random.default_rng(seed)
        C = f.shape[1]
        chol = np.linalg.cholesky(var + 1e-10 * np.eye(C))
        z = rng.standard_normal((num_samples, f.shape[0], C))
        fs = f + np.einsum("ncd,snd->snc", chol, z)
        return _softmax(fs).mean(0)

    def _predict_nn(self, x, num_samples, seed):
        from .. import no_grad
        from ..autograd.tensor import Tensor

        thetas = self.sample(num_samples, seed)
        xt = Tensor._make(np.asarray(x, dtype=self._dtype()))
        was = self.model.training
        self.model.eval()
        out = []
        try:
            with no_grad():
                for th in thetas:
                    self._set_flat(th)
                    f = np.asarray(self.model(xt).numpy(), np.float64)
                    out.append(f if self.likelihood == "regression" else _softmax(f))
        finally:
            for L, t in zip(self.layers, self.theta_map):
                L.set(t)
            self.model.train(was)
        s = np.stack(out)
        if self.likelihood == "regression":
            dev = s - s.mean(0)
            cov = np.einsum("snc,snd->ncd", dev, dev) / len(s)
            return s.mean(0), cov + self.sigma_noise ** 2 * np.eye(s.shape[2])
        return s.mean(0)

    def _set_flat(self, theta):
        i = 0
        for L in self.layers:
            L.set(theta[i:i + L.size].reshape(L.out, L.inp))
            i += L.size

    def predict_proba(self, x):
        """The probit-approximated linearized predictive (classification)."""
        if self.likelihood != "classification":
            raise ValueError("Laplace.predict_proba: only for likelihood='classification'; use predictive(x)")
        return self.predictive(x)

    def __repr__(self):
        return (f"Laplace(subset={self.subset!r}, hessian_structure={self.structure!r}, "
                f"likelihood={self.likelihood!r}, prior_precision={self.prior_precision:.4g}, fitted={self._fitted})")

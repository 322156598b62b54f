"""The matrix-free curvature operator: a symmetric n x n matrix M (Hessian, GGN, Fisher) of a loss

    L(theta) = sum_b w_b * loss(model(x_b; theta), y_b)

over parameters theta (flattened to one vector of length n), known only through products v -> M v.

Data is one ``(x, y)`` batch or an iterable of batches (a ``DataLoader``).  Over several batches
the products are accumulated with the loss's ``reduction``: for ``"sum"`` w_b = 1, for ``"mean"``
w_b = B_b / N (B_b the batch size, N the size of the whole set), so the operator is the curvature
of the whole-set loss with the same convention as the loss itself.

Every operator gives

* ``matvec(v)``: M v for a flat vector (NumPy float32/float64, or the parameters' array type);
* ``to_linear_operator()``: a ``scipy.sparse.linalg.LinearOperator`` (for ``eigsh``, ``cg``,
  ``minres``);
* ``to_dense()``: the n x n matrix, column j = M e_j (small models only);
* ``shape``, ``dtype``, ``params``, ``num_params``.

Products that are not reproducible (dropout active, batch norm in training mode, a shuffling loader
with a sampled Fisher) are detected on the first product, by computing it twice and comparing,
and refused with an error that says why, unless ``allow_nondeterministic=True``.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor

__all__ = ["CurvatureOperator", "resolve_params", "flatten", "unflatten"]

# to_dense refuses matrices above this many entries unless forced (8 GB in float64)
_DENSE_LIMIT = 10 ** 9


def resolve_params(model, params=None):
    """The parameters to differentiate: ``params`` (a Module, one Tensor or a list of Tensors), or
    every parameter of ``model`` that requires grad."""
    from ..nn import Module

    if params is None:
        if not isinstance(model, Module):
            raise TypeError(f"curvature: params are required when the model is a {type(model).__name__}, not a Module")
        ps = [p for p in model.parameters() if p.requires_grad]
    elif isinstance(params, Module):
        ps = [p for p in params.parameters() if p.requires_grad]
    elif isinstance(params, Tensor):
        ps = [params]
    else:
        ps = list(params)
    if not ps:
        raise ValueError("curvature: no parameters that require grad were given")
    for i, p in enumerate(ps):
        if not isinstance(p, Tensor):
            raise TypeError(f"curvature: params[{i}] is a {type(p).__name__}, expected a Tensor")
        if not p.requires_grad:
            raise ValueError(f"curvature: params[{i}] (shape {tuple(p.shape)}) does not require grad")
    if len({id(p) for p in ps}) != len(ps):
        raise ValueError("curvature: a parameter is listed more than once")
    dtypes = {p.dtype for p in ps}
    if len(dtypes) != 1:
        raise TypeError(f"curvature: all parameters must share one dtype, got {sorted(str(d) for d in dtypes)}")
    return ps


def flatten(arrays, xp=np):
    """One flat vector from a list of arrays (row-major, in order)."""
    return xp.concatenate([xp.ravel(a) for a in arrays]) if arrays else xp.zeros(0)


def unflatten(vec, like):
    """Split a flat vector into arrays shaped like the tensors ``like``."""
    out, i = [], 0
    for p in like:
        n = p.array.size
        out.append(vec[i:i + n].reshape(p.shape))
        i += n
    return out


def _as_tensor(a):
    if isinstance(a, Tensor):
        return a
    return Tensor._make(np.asarray(a))


def _batches(data):
    """The (x, y, batch size) triples of ``data``: one (x, y) pair, or an iterable of them."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and not isinstance(data[0], (tuple, list)):
        x, y = _as_tensor(data[0]), _as_tensor(data[1])
        yield x, y, int(x.shape[0])
        return
    if isinstance(data, (Tensor, np.ndarray)):
        raise TypeError("curvature: data must be an (x, y) pair or an iterable of (x, y) batches, got one tensor")
    for b in data:
        if not (isinstance(b, (tuple, list)) and len(b) >= 2):
            raise TypeError(f"curvature: each batch must be an (x, y) pair, got a {type(b).__name__}")
        x, y = _as_tensor(b[0]), _as_tensor(b[1])
        yield x, y, int(x.shape[0])


def _reduction_of(loss_fn, reduction):
    if reduction is None:
        reduction = getattr(loss_fn, "reduction", "mean")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"curvature: reduction must be 'mean' or 'sum', got {reduction!r}")
    return reduction


def _stochastic_modules(model):
    """Names of modules whose output depends on more than the input: active dropout, batch norm
    in training mode."""
    from ..nn import Module

    if not isinstance(model, Module):
        return []
    found = []
    for name, m in model.named_modules():
        cls = type(m).__name__
        if not m.training:
            continue
        if "Dropout" in cls and getattr(m, "p", 0) > 0:
            found.append(f"{name or 'model'} ({cls}, p={m.p})")
        elif "BatchNorm" in cls:
            found.append(f"{name or 'model'} ({cls} in training mode)")
    return found


class CurvatureOperator:
    """Base class: subclasses implement ``_batch_product(x, y, vs)`` -> list of arrays, the
    product of one batch's curvature (with its loss's own reduction) with the tensors ``vs``."""

    kind = "curvature"

    def __init__(self, model, loss_fn, data, params=None, reduction=None, allow_nondeterministic=False):
        self.model = model
        self.loss_fn = loss_fn
        self.array = data
        self.params = resolve_params(model, params)
        self.reduction = _reduction_of(loss_fn, reduction)
        self.allow_nondeterministic = bool(allow_nondeterministic)
        self.num_params = int(sum(p.array.size for p in self.params))
        self.shape = (self.num_params, self.num_params)
        self.dtype = np.dtype(self.params[0].dtype)
        self._checked = self.allow_nondeterministic
        self.num_products = 0

    # ------------------------------------------------------------------ products
    def _batch_product(self, x, y, vs):  # pragma: no cover - abstract
        raise NotImplementedError

    def _xp(self):
        return backend.xp_of(self.params[0].array)

    def _check_vector(self, v):
        xp = self._xp()
        v = xp.asarray(v)
        if v.ndim == 2 and v.shape[1] == 1:
            v = v[:, 0]
        if v.shape != (self.num_params,):
            raise ValueError(f"{type(self).__name__}.matvec: v has shape {tuple(v.shape)}, expected "
                             f"({self.num_params},) (the number of parameters)")
        return xp.ascontiguousarray(v, dtype=self.dtype)

    def matvec(self, v):
        """M v for a flat vector ``v`` of length ``num_params``; returns a flat array of ``dtype``."""
        v = self._check_vector(v)
        xp = self._xp()
        vs = [Tensor._make(a) for a in unflatten(v, self.params)]
        total = None
        n_seen = 0
        for bi, (x, y, bsz) in enumerate(_batches(self.array)):
            parts = self._batch_product(x, y, vs)
            if not self._checked and bi == 0:
                self._check_determinism(x, y, vs, parts)
            w = bsz if self.reduction == "mean" else 1
            flat = flatten(parts, xp)
            if total is None:
                total = flat * w if w != 1 else flat.copy()
            else:
                total += flat * w if w != 1 else flat
            n_seen += bsz
        if total is None:
            raise ValueError(f"{type(self).__name__}: the data has no batches")
        if self.reduction == "mean":
            total /= n_seen
        self.num_products += 1
        return total.astype(self.dtype, copy=False)

    __call__ = matvec

    def __matmul__(self, v):
        v = np.asarray(v) if not hasattr(v, "shape") else v
        if getattr(v, "ndim", 1) == 2 and v.shape[1] != 1:
            return self.matmat(v)
        return self.matvec(v)

    def matmat(self, V):
        """M V for an n x k matrix, one product per column."""
        xp = self._xp()
        V = xp.asarray(V)
        return xp.stack([self.matvec(V[:, j]) for j in range(V.shape[1])], axis=1)

    def _check_determinism(self, x, y, vs, first):
        """Compute the first batch's product again; refuse if the two differ."""
        self._checked = True
        again = self._batch_product(x, y, vs)
        xp = self._xp()
        a, b = flatten(first, xp), flatten(again, xp)
        tol = (1e-9 if self.dtype == np.float64 else 1e-4) * (float(xp.linalg.norm(a)) + 1e-30)
        if float(xp.linalg.norm(a - b)) > tol:
            mods = _stochastic_modules(self.model)
            why = f"stochastic modules: {', '.join(mods)}; call model.eval()" if mods else \
                "the model or the data is random"
            raise RuntimeError(
                f"{type(self).__name__}: two products with the same vector differ (relative difference "
                f"{float(xp.linalg.norm(a - b)) / (float(xp.linalg.norm(a)) + 1e-30):.2e}), so the {self.kind} is "
                f"not a fixed matrix ({why}); pass allow_nondeterministic=True to accept this")
        mods = [m for m in _stochastic_modules(self.model) if "BatchNorm" in m]
        if mods:
            raise RuntimeError(
                f"{type(self).__name__}: batch norm in training mode ({', '.join(mods)}) couples the examples of a "
                "batch and updates running statistics on every product, so the curvature depends on how the data is "
                "batched; call model.eval() or pass allow_nondeterministic=True")

    # ------------------------------------------------------------------ views
    def to_linear_operator(self):
        """A ``scipy.sparse.linalg.LinearOperator`` of shape (n, n) (NumPy vectors in and out)."""
        from scipy.sparse.linalg import LinearOperator

        def mv(v):
            out = self.matvec(np.asarray(v).reshape(-1))
            return backend.to_device(out, "cpu")

        return LinearOperator(self.shape, matvec=mv, rmatvec=mv, dtype=self.dtype)

    def to_dense(self, max_entries=_DENSE_LIMIT):
        """The n x n matrix (column j = M e_j, n products); refuses above ``max_entries`` entries."""
        n = self.num_params
        if n * n > max_entries:
            raise ValueError(
                f"{type(self).__name__}.to_dense: {n} parameters give a {n} x {n} matrix "
                f"({n * n * self.dtype.itemsize / 2**30:.1f} GiB); use matvec / to_linear_operator instead")
        xp = self._xp()
        M = xp.empty((n, n), dtype=self.dtype)
        e = xp.zeros(n, dtype=self.dtype)
        for j in range(n):
            e[j] = 1
            M[:, j] = self.matvec(e)
            e[j] = 0
        return M

    def diagonal_estimate(self, num_samples=100, seed=0):
        """Hutchinson's estimate of diag(M): mean over Rademacher z of z * (M z)."""
        rng = np.random.default_rng(seed)
        acc = np.zeros(self.num_params)
        for _ in range(num_samples):
            z = rng.choice([-1.0, 1.0], size=self.num_params).astype(self.dtype)
            acc += z * backend.to_device(self.matvec(z), "cpu")
        return acc / num_samples

    def __repr__(self):
        return (f"{type(self).__name__}(num_params={self.num_params}, reduction={self.reduction!r}, "
                f"dtype={self.dtype})")

"""``mathdl.linalg``: matrix functions with their derivatives (PyTorch's ``torch.linalg`` names).

Every function takes a (batch of) matrices (..., n, n) and broadcasts over the leading axes.
Each backward is written in mathdl ops (so grad-of-grad works).  With G = dL/d(output) and
A^-T the inverse transpose:

  Y = inv(A)                  dA = -Y^T G Y^T
  X = solve(A, B)  (A X = B)  dB = solve(A^T, G),   dA = -dB X^T
  d = det(A)                  dA = g d A^-T
  (s, l) = slogdet(A)         dA = g_l A^-T            (the sign has no gradient)
  L = cholesky(A)  (A = L L^T) dA = L^-T Phi(L^T G) L^-1,  Phi(M) = (tril(M) + tril(M, -1)^T) / 2
                                                          (the symmetric gradient, as PyTorch)
  (w, V) = eigh(A)            dA = V (diag(g_w) + F o (V^T G_V)) V^T,  F_ij = 1 / (w_j - w_i), F_ii = 0
                              (F_ij = 0 where w_i = w_j: eigenvalue gradients stay finite)
  s = svdvals(A)              dA = U diag(g_s) V^T, where U, V come from eigh of A^T A (or A A^T),
                                                  so that the rule is differentiable again
  norm / vector_norm / matrix_norm:  compositions of the above and of reductions
                              ('fro' = sqrt(sum a^2), 'nuc' = sum s, 2 = max s, -2 = min s,
                               1 / -1 = max / min column abs-sum, inf / -inf = row abs-sum)

Derivatives of eigh and svdvals assume distinct eigen/singular values (as every autodiff
system does); inv, solve, slogdet need invertible matrices; det's first derivative also works
at singular matrices (the cofactor matrix, through an SVD).
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from .autograd.function import Function
from .autograd.tensor import Tensor
from .backend import xp_of
from .ops import elementwise as ew
from .ops import reduce as rd
from .ops.linalg import matmul
from .ops.shape import flip, normalize_dim, permute, reshape, sum_to, transpose, tril, unsqueeze

_make = Tensor._make

__all__ = [
    "inv", "solve", "det", "slogdet", "cholesky", "eigh", "eigvalsh", "svdvals",
    "norm", "vector_norm", "matrix_norm", "SlogdetResult", "EighResult",
]


def _mT(x):
    return transpose(x, -1, -2)


def _square(name, A):
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg.{name}: expected a Tensor, got {type(A).__name__}")
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"linalg.{name}: expected a square matrix or a batch of them (..., n, n), "
                         f"got shape {tuple(A.shape)}")
    if A.dtype.kind != "f":
        raise TypeError(f"linalg.{name}: expected a floating tensor, got dtype {A.dtype}")


def _factorize(name, fails_if, op, A, *args):
    """``op(A, *args)``, turning LAPACK's LinAlgError into a ValueError that names the function,
    the shape of A and what A is (``fails_if``: "singular", "not positive-definite")."""
    try:
        return op(A, *args)
    except np.linalg.LinAlgError:
        raise ValueError(f"linalg.{name}: the input of shape {tuple(A.shape)} is {fails_if}") from None


def _xp_linalg(x):
    return xp_of(x).linalg


# --------------------------------------------------------------------------- inv, solve
class Inv(Function):
    __slots__ = ()
    save_output = True

    def forward(self, a):
        return _xp_linalg(a).inv(a)

    def backward(self, g):
        yT = _mT(self.output())
        return (ew.neg(matmul(matmul(yT, g), yT)),)


def inv(A):
    """The inverse of a square matrix (batched)."""
    _square("inv", A)
    return _factorize("inv", "singular", Inv(), A)


class Solve(Function):
    """X = A^-1 B for A (..., n, n), B (..., n, k), batch dimensions broadcast."""

    __slots__ = ()
    save_output = True

    def forward(self, a, b):
        return _xp_linalg(a).solve(a, b)

    def backward(self, g):
        a, b = self.inputs
        gb = solve(_mT(a), g)
        ga = None
        if a.requires_grad:
            ga = sum_to(ew.neg(matmul(gb, _mT(self.output()))), a.shape)
        return ga, (sum_to(gb, b.shape) if b.requires_grad else None)


def solve(A, B):
    """Solve A X = B.  B is (..., n) (vectors) or (..., n, k); as torch.linalg.solve."""
    _square("solve", A)
    if not isinstance(B, Tensor):
        B = ew.as_tensor_like(B, A)
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    B2 = unsqueeze(B, -1) if vector else B
    if B2.ndim < 2 or B2.shape[-2] != A.shape[-1]:
        raise ValueError(f"linalg.solve: A of shape {tuple(A.shape)} and B of shape {tuple(B.shape)} do not "
                         f"match (B needs {A.shape[-1]} rows)")
    try:
        np.broadcast_shapes(A.shape[:-2], B2.shape[:-2])
    except ValueError:
        raise ValueError(f"linalg.solve: batch dimensions of A {tuple(A.shape)} and B {tuple(B.shape)} "
                         "cannot be broadcast") from None
    X = _factorize("solve", "singular", Solve(), A, B2)
    return reshape(X, X.shape[:-1]) if vector else X


# --------------------------------------------------------------------------- det, slogdet
class Det(Function):
    __slots__ = ()
    save_output = True

    def forward(self, a):
        return _xp_linalg(a).det(a)

    def backward(self, g):
        (a,) = self.inputs
        d = self.output()
        n = a.shape[-1]
        xp = xp_of(a.data)
        scale = xp.abs(a.data).max(axis=(-2, -1)) ** n if a.data.size else 0
        tiny = 1e3 * xp.finfo(a.dtype).eps
        if bool((xp.abs(d.data) <= tiny * scale).any()):  # (near) singular: use the cofactor matrix
            return (ew.mul(unsqueeze(unsqueeze(g, -1), -1), _make(_cofactor(a.data))),)
        s = ew.mul(g, d)
        return (ew.mul(unsqueeze(unsqueeze(s, -1), -1), _mT(inv(a))),)


def _cofactor(a):
    """cof(A) = det(A) A^-T, also for singular A: with A = U S V^T,
    cof(A) = det(U) det(V) U diag(prod_{j != i} s_j) V^T.  (A constant: second derivatives at
    singular matrices are not tracked.)"""
    xp = xp_of(a)
    U, S, Vh = xp.linalg.svd(a)
    n = S.shape[-1]
    others = xp.stack([xp.prod(xp.delete(S, i, axis=-1), axis=-1) for i in range(n)], axis=-1) if n > 1 \
        else xp.ones_like(S)
    sign = xp.linalg.det(U) * xp.linalg.det(Vh)
    return (U * others[..., None, :]) @ Vh * sign[..., None, None]


def det(A):
    """The determinant (batched).  At singular matrices the first derivative (the cofactor
    matrix) is exact; second derivatives need an invertible A."""
    _square("det", A)
    return Det()(A)


class LogAbsDet(Function):
    __slots__ = ("sign",)

    def forward(self, a):
        sign, logabs = _xp_linalg(a).slogdet(a)
        self.sign = sign
        return logabs

    def backward(self, g):
        (a,) = self.inputs
        return (ew.mul(unsqueeze(unsqueeze(g, -1), -1), _mT(inv(a))),)


#: (sign, logabsdet), like PyTorch's named tuple
SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])


def slogdet(A):
    """(sign, log|det A|): the sign (no gradient) and the log-magnitude (differentiable)."""
    _square("slogdet", A)
    fn = LogAbsDet()
    logabs = fn(A)
    return SlogdetResult(_make(xp_of(A.data).asarray(fn.sign)), logabs)


# --------------------------------------------------------------------------- cholesky
class Cholesky(Function):
    __slots__ = ()
    save_output = True

    def forward(self, a):
        return _xp_linalg(a).cholesky(a)

    def backward(self, g):
        L = self.output()
        LT = _mT(L)
        P = tril(matmul(LT, g))
        P = ew.mul(ew.add(P, _mT(tril(P, -1))), 0.5)
        left = solve(LT, P)                    # L^-T P
        return (_mT(solve(LT, _mT(left))),)    # (L^-T P) L^-1


def cholesky(A, upper=False):
    """The Cholesky factor of a symmetric positive-definite matrix: A = L L^T (L lower), or
    A = U^T U with ``upper=True``.  Only the lower triangle of A is read."""
    _square("cholesky", A)
    L = _factorize("cholesky", "not positive-definite", Cholesky(), A)
    return _mT(L) if upper else L


# --------------------------------------------------------------------------- eigh, svdvals
class EighPacked(Function):
    """Eigen-decomposition of a symmetric matrix packed into one array (..., n, n + 1) so that
    the op has one output: eigenvectors are columns [..., :n], eigenvalues (ascending) the last
    column [..., n].  ``eigh`` slices the two apart (slicing is differentiable)."""

    __slots__ = ()
    save_output = True

    def forward(self, a):
        xp = xp_of(a)
        w, V = xp.linalg.eigh(a)
        return xp.concatenate([V, w[..., :, None]], axis=-1)

    def backward(self, g):
        out = self.output()
        n = out.shape[-2]
        V, w = out[..., :n], out[..., n]
        gV, gw = g[..., :n], g[..., n]
        diff = ew.sub(unsqueeze(w, -2), unsqueeze(w, -1))          # w_j - w_i
        # F_ij = 1 / (w_j - w_i) off the diagonal; 0 on it, and 0 where eigenvalues coincide
        # (there the eigenvectors are not unique: eigenvalue-only gradients stay exact and finite)
        zero = _make(diff.data == 0)
        F = ew.where(zero, 0.0, ew.div(1.0, ew.where(zero, 1.0, diff)))
        inner = ew.mul(F, matmul(_mT(V), gV))
        inner = ew.add(inner, _diag_embed(gw))
        return (matmul(matmul(V, inner), _mT(V)),)


def _diag_embed(v):
    n = v.shape[-1]
    eye = _make(xp_of(v.data).eye(n, dtype=v.dtype))
    return ew.mul(unsqueeze(v, -1), eye)


#: (eigenvalues, eigenvectors), like PyTorch's named tuple
EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])


def eigh(A):
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric matrix (the lower
    triangle is read).  Gradients assume distinct eigenvalues."""
    _square("eigh", A)
    packed = EighPacked()(A)
    n = A.shape[-1]
    return EighResult(packed[..., n], packed[..., :n])


def eigvalsh(A):
    """Eigenvalues of a symmetric matrix, ascending."""
    return eigh(A)[0]


class SvdVals(Function):
    """Singular values, descending.  Backward: U diag(g) V^T with U, V from a differentiable
    eigh, so that second derivatives are right."""

    __slots__ = ()
    save_output = True

    def forward(self, a):
        return xp_of(a).linalg.svd(a, compute_uv=False)

    def backward(self, g):
        (a,) = self.inputs
        s = self.output()
        m, n = a.shape[-2], a.shape[-1]
        safe = ew.where(s.data == 0, 1.0, s)
        if m >= n:   # A^T A = V diag(s^2) V^T,  U = A V / s:  dA = A V diag(g / s) V^T
            V = flip(eigh(matmul(_mT(a), a))[1], -1)
            return (matmul(a, matmul(ew.mul(V, unsqueeze(ew.div(g, safe), -2)), _mT(V))),)
        U = flip(eigh(matmul(a, _mT(a)))[1], -1)  # A A^T = U diag(s^2) U^T, V = A^T U / s
        return (matmul(matmul(ew.mul(U, unsqueeze(ew.div(g, safe), -2)), _mT(U)), a),)


def svdvals(A):
    """Singular values of a (batch of) matrices, in descending order."""
    if A.ndim < 2:
        raise ValueError(f"linalg.svdvals: expected a matrix (..., m, n), got shape {tuple(A.shape)}")
    return SvdVals()(A)


# --------------------------------------------------------------------------- norms
def vector_norm(x, ord=2, dim=None, keepdim=False):
    """(sum |x|^ord)^(1/ord) over ``dim`` (all entries by default); ord may be +-inf or 0."""
    if isinstance(ord, str):
        raise ValueError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    return rd.norm(x, ord, dim, keepdim)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False):
    """Matrix norms over the two axes ``dim``: 'fro', 'nuc', 2, -2, 1, -1, inf, -inf."""
    if A.ndim < 2:
        raise ValueError(f"linalg.matrix_norm: expected a matrix (..., m, n), got shape {tuple(A.shape)}")
    d0, d1 = (normalize_dim(d, A.ndim, "linalg.matrix_norm") for d in dim)
    if d0 == d1:
        raise ValueError(f"linalg.matrix_norm: dim {dim} must name two different axes")
    if ord == "fro":
        return rd.norm(A, 2, (d0, d1), keepdim)
    moved = _move_last(A, d0, d1)
    if ord in ("nuc", 2, -2):
        s = svdvals(moved)
        if ord == "nuc":
            r = rd.sum(s, -1)
        else:
            r = rd.amax(s, -1) if ord == 2 else rd.amin(s, -1)
    elif ord in (1, -1, math.inf, -math.inf):
        red, other = (-2, -1) if ord in (1, -1) else (-1, -1)
        sums = rd.sum(ew.abs(moved), red)
        r = rd.amax(sums, other) if ord > 0 else rd.amin(sums, other)
    else:
        raise ValueError(f"linalg.matrix_norm: unsupported ord {ord!r}; expected 'fro', 'nuc', 2, -2, 1, -1, "
                         "inf or -inf")
    if keepdim:
        r = unsqueeze(unsqueeze(r, min(d0, d1)), max(d0, d1))
    return r


def _move_last(A, d0, d1):
    """A with axes d0, d1 moved to the end (in that order)."""
    rest = [i for i in range(A.ndim) if i not in (d0, d1)]
    return permute(A, tuple(rest + [d0, d1]))


def norm(A, ord=None, dim=None, keepdim=False):
    """torch.linalg.norm: a vector norm when ``dim`` is an int or the input is 1-D, a matrix
    norm when ``dim`` is a pair or the input is 2-D and ``ord`` is given; with neither ``ord``
    nor ``dim``, the 2-norm of all entries."""
    if isinstance(dim, int):
        dim = (dim,)
    if ord is None:
        if dim is not None and len(dim) == 2:
            return matrix_norm(A, "fro", dim, keepdim)
        return rd.norm(A, 2, dim, keepdim)
    if dim is None:
        if A.ndim == 1:
            return vector_norm(A, ord, None, keepdim)
        if A.ndim == 2:
            return matrix_norm(A, ord, (-2, -1), keepdim)
        raise ValueError(f"linalg.norm: with ord={ord!r} and no dim the input must be 1-D or 2-D, got shape "
                         f"{tuple(A.shape)}")
    if len(dim) == 1:
        return vector_norm(A, ord, dim, keepdim)
    if len(dim) == 2:
        return matrix_norm(A, ord, dim, keepdim)
    raise ValueError(f"linalg.norm: dim must have 1 or 2 entries, got {dim}")

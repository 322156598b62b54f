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
  (U, S, Vh) = svd(A), (Q, R) = qr(A), eig, lu, solve_triangular, pinv, matrix_exp:
                              primitives of mathdl.ops.decompositions (formulas there)
  lstsq = pinv(A) B, matrix_power, multi_dot, cross, vecdot, householder_product,
  tensorinv, tensorsolve, cond, lu_factor / lu_solve:  compositions of differentiable ops
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
from .ops.shape import flip, normalize_dim, permute, reshape, sum_to, transpose, tril, triu, unsqueeze

_make = Tensor._make

__all__ = [
    "inv", "solve", "det", "slogdet", "cholesky", "eigh", "eigvalsh", "svdvals",
    "norm", "vector_norm", "matrix_norm", "SlogdetResult", "EighResult",
    "svd", "qr", "eig", "eigvals", "lstsq", "pinv", "matrix_exp", "matrix_power", "matrix_rank",
    "solve_triangular", "lu", "lu_factor", "lu_solve", "cond", "multi_dot", "cross", "vecdot",
    "householder_product", "tensorinv", "tensorsolve", "diagonal", "matmul", "inv_ex", "cholesky_ex",
    "solve_ex", "vander", "lu_factor_ex", "SVDResult", "QRResult", "EigResult", "LstsqResult", "LUResult",
    "LUFactorResult",
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
        # b is always (..., n, k) here; the batch dimensions are broadcast explicitly, since CuPy's
        # solve needs a.shape[:-2] == b.shape[:-2] (NumPy broadcasts them itself)
        xp = xp_of(a)
        if a.shape[:-2] != b.shape[:-2]:
            batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
            a = xp.broadcast_to(a, batch + a.shape[-2:])
            b = xp.broadcast_to(b, batch + b.shape[-2:])
        return xp.linalg.solve(a, b)

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
        xp = xp_of(a.array)
        scale = xp.abs(a.array).max(axis=(-2, -1)) ** n if a.array.size else 0
        tiny = 1e3 * xp.finfo(a.dtype).eps
        if bool((xp.abs(d.array) <= tiny * scale).any()):  # (near) singular: use the cofactor matrix
            return (ew.mul(unsqueeze(unsqueeze(g, -1), -1), _make(_cofactor(a.array))),)
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
    return SlogdetResult(_make(xp_of(A.array).asarray(fn.sign)), logabs)


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

    __slots__ = ("uplo",)
    save_output = True

    def __init__(self, uplo="L"):
        self.uplo = uplo

    def forward(self, a):
        xp = xp_of(a)
        w, V = xp.linalg.eigh(a, UPLO=self.uplo)
        return xp.concatenate([V, w[..., :, None]], axis=-1)

    def backward(self, g):
        out = self.output()
        n = out.shape[-2]
        V, w = out[..., :n], out[..., n]
        gV, gw = g[..., :n], g[..., n]
        diff = ew.sub(unsqueeze(w, -2), unsqueeze(w, -1))          # w_j - w_i
        # F_ij = 1 / (w_j - w_i) off the diagonal; 0 on it, and 0 where eigenvalues coincide
        # (there the eigenvectors are not unique: eigenvalue-only gradients stay exact and finite)
        zero = _make(diff.array == 0)
        F = ew.where(zero, 0.0, ew.div(1.0, ew.where(zero, 1.0, diff)))
        inner = ew.mul(F, matmul(_mT(V), gV))
        inner = ew.add(inner, _diag_embed(gw))
        return (matmul(matmul(V, inner), _mT(V)),)


def _diag_embed(v):
    n = v.shape[-1]
    eye = _make(xp_of(v.array).eye(n, dtype=v.dtype))
    return ew.mul(unsqueeze(v, -1), eye)


#: (eigenvalues, eigenvectors), like PyTorch's named tuple
EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])


def eigh(A, UPLO="L"):
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric matrix (the lower
    triangle is read, the upper with UPLO='U').  Gradients assume distinct eigenvalues."""
    _square("eigh", A)
    if UPLO not in ("L", "U"):
        raise ValueError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    packed = EighPacked(UPLO)(A)
    n = A.shape[-1]
    return EighResult(packed[..., n], packed[..., :n])


def eigvalsh(A, UPLO="L"):
    """Eigenvalues of a symmetric matrix, ascending."""
    return eigh(A, UPLO)[0]


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
        safe = ew.where(s.array == 0, 1.0, s)
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
            r = _max_or_zero(s) if ord == 2 else rd.amin(s, -1)
    elif ord in (1, -1, math.inf, -math.inf):
        red, other = (-2, -1) if ord in (1, -1) else (-1, -1)
        sums = rd.sum(ew.abs(moved), red)
        r = _max_or_zero(sums) if ord > 0 else rd.amin(sums, -1)
    else:
        raise ValueError(f"linalg.matrix_norm: unsupported ord {ord!r}; expected 'fro', 'nuc', 2, -2, 1, -1, "
                         "inf or -inf")
    if keepdim:
        r = unsqueeze(unsqueeze(r, min(d0, d1)), max(d0, d1))
    return r


def _max_or_zero(t):
    """max over the last axis; over an empty axis the norm is 0 (a constant, as PyTorch's)."""
    if t.shape[-1] == 0:
        return Tensor._make(xp_of(t.array).zeros(t.shape[:-1], dtype=t.dtype))
    return rd.amax(t, -1)


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


# --------------------------------------------------------------------------- decompositions (ops/decompositions.py)
from .ops import decompositions as _dec  # noqa: E402
from .ops.decompositions import solve_triangular as _solve_triangular  # noqa: E402

SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])
QRResult = namedtuple("QRResult", ["Q", "R"])
EigResult = namedtuple("EigResult", ["eigenvalues", "eigenvectors"])
LstsqResult = namedtuple("LstsqResult", ["solution", "residuals", "rank", "singular_values"])
LUResult = namedtuple("LUResult", ["P", "L", "U"])
LUFactorResult = namedtuple("LUFactorResult", ["LU", "pivots"])


def _matrix(name, A):
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg.{name}: expected a Tensor, got {type(A).__name__}")
    if A.ndim < 2:
        raise ValueError(f"linalg.{name}: expected a matrix or a batch of them (..., m, n), got shape "
                         f"{tuple(A.shape)}")
    if A.dtype.kind != "f":
        raise TypeError(f"linalg.{name}: expected a floating tensor, got dtype {A.dtype}")


def svd(A, full_matrices=True, *, driver=None):
    """A = U diag(S) Vh with orthonormal U, Vh and S descending (torch.linalg.svd).  Gradients
    through U and Vh need distinct singular values; inside a repeated block the rotation term is
    dropped (exact for basis-independent losses; see mathdl.ops.decompositions)."""
    _matrix("svd", A)
    if driver not in (None, "gesvd", "gesvdj", "gesvda"):
        raise ValueError(f"linalg.svd: driver must be None, 'gesvd', 'gesvdj' or 'gesvda', got {driver!r}")
    packed = _dec.SvdPacked(bool(full_matrices))(A)
    return SVDResult(*_dec.unpack(packed, _svd_shapes(A.shape, full_matrices)))


def _svd_shapes(shape, full):
    m, n = shape[-2:]
    k = min(m, n)
    return ((m, m if full else k), (k,), (n if full else k, n))


def qr(A, mode="reduced"):
    """A = Q R with orthonormal columns of Q and upper-triangular R (torch.linalg.qr);
    mode 'reduced', 'complete' or 'r' (R only, Q empty, not differentiable)."""
    _matrix("qr", A)
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"linalg.qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    m, n = A.shape[-2:]
    k = min(m, n)
    if mode == "r":
        xp = xp_of(A.array)
        R = xp.linalg.qr(A.array, mode="r")
        return QRResult(_make(xp.zeros((0,), A.dtype)), _make(R))
    shapes = ((m, m), (m, n)) if mode == "complete" else ((m, k), (k, n))
    return QRResult(*_dec.unpack(_dec.QrPacked(mode)(A), shapes))


def eig(A):
    """Eigenvalues and unit-norm eigenvectors of a square matrix with a real spectrum.

    torch.linalg.eig returns complex tensors; mathdl has no complex dtype, so a real spectrum is
    returned as real tensors (the values torch gives, with zero imaginary part) and a complex
    spectrum is refused with a ValueError.  Gradients need distinct eigenvalues."""
    _square("eig", A)
    n = A.shape[-1]
    return EigResult(*_dec.unpack(_dec.EigPacked()(A), ((n,), (n, n))))


def eigvals(A):
    """Eigenvalues of a square matrix with a real spectrum (see ``eig``)."""
    return eig(A)[0]


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """X with A X = B (left=True) or X A = B (left=False), A upper/lower triangular."""
    _square("solve_triangular", A)
    if not isinstance(B, Tensor) or B.ndim < 2:
        raise ValueError("linalg.solve_triangular: B must be a Tensor of shape (..., n, k)")
    need = B.shape[-2] if left else B.shape[-1]
    if need != A.shape[-1]:
        raise ValueError(f"linalg.solve_triangular: A of shape {tuple(A.shape)} and B of shape {tuple(B.shape)} "
                         f"do not match (left={left})")
    return _solve_triangular(A, B, upper=upper, left=left, unitriangular=unitriangular)


def lu(A, *, pivot=True):
    """A = P L U with P a permutation, L unit lower triangular, U upper triangular (torch.linalg.lu).
    Differentiable for square A."""
    _matrix("lu", A)
    if not pivot:
        raise ValueError("linalg.lu: pivot=False is not supported (LU without pivoting is unstable)")
    m, n = A.shape[-2:]
    k = min(m, n)
    return LUResult(*_dec.unpack(_dec.LuPacked()(A), ((m, m), (m, k), (k, n))))


def _perm_to_pivots(P):
    """LAPACK pivots (1-based row swaps) of the permutation matrices P (..., m, m), A = P L U, on
    P's own device: step i swaps position i with the current position j of row perm[i] (pivot
    j + 1), for all matrices of the batch at once (m vectorized steps)."""
    xp = xp_of(P)
    perm = P.argmax(axis=-2)                         # row i of P^T A is row perm[i] of A
    m = perm.shape[-1]
    flat = perm.reshape(-1, m)
    nb = flat.shape[0]
    rows = xp.broadcast_to(xp.arange(m), (nb, m)).copy()      # rows[b, i]: the row now at position i
    where_row = rows.copy()                                   # its inverse
    piv = xp.empty((nb, m), dtype=np.int32)
    ar = xp.arange(nb)
    for i in range(m):
        j = where_row[ar, flat[:, i]]
        piv[:, i] = (j + 1).astype(np.int32)
        ri, rj = rows[:, i].copy(), rows[ar, j]
        rows[:, i] = rj
        rows[ar, j] = ri
        where_row[ar, rj] = i
        where_row[ar, ri] = j
    return piv.reshape(perm.shape)


def lu_factor(A, *, pivot=True):
    """(LU, pivots): L (unit diagonal implied) and U packed into one matrix, and LAPACK's 1-based
    row interchanges (torch.linalg.lu_factor).  Square matrices."""
    _square("lu_factor", A)
    P, L, U = lu(A, pivot=pivot)
    piv = _perm_to_pivots(P.array)
    m = A.shape[-1]
    return LUFactorResult(ew.add(tril(L, -1), U), _make(piv[..., :m]))


def lu_factor_ex(A, *, pivot=True, check_errors=False):
    """(LU, pivots, info) as torch.linalg.lu_factor_ex; info is 0 (a singular U is a valid LU
    factorization: its zero pivot shows on the diagonal of U)."""
    LU, piv = lu_factor(A, pivot=pivot)
    return LU, piv, _make(xp_of(A.array).zeros(tuple(A.shape[:-2]), dtype=np.int32))


def _pivots_to_perm_matrix(pivots, n, dtype, xp):
    """P with A = P L U from LAPACK's 1-based pivots (row i swapped with row pivots[i] - 1, in
    order), on the device of ``xp``: the swaps applied to all matrices of the batch at once."""
    piv = xp.asarray(pivots).reshape(-1, pivots.shape[-1]).astype(np.int64) - 1
    nb = piv.shape[0]
    rows = xp.broadcast_to(xp.arange(n), (nb, n)).copy()
    ar = xp.arange(nb)
    for i in range(piv.shape[1]):
        j = piv[:, i]
        ri, rj = rows[:, i].copy(), rows[ar, j]
        rows[:, i] = rj
        rows[ar, j] = ri
    P = xp.zeros((nb, n, n), dtype=dtype)
    P[ar[:, None], rows, xp.arange(n)[None, :]] = 1
    return P.reshape(tuple(pivots.shape[:-1]) + (n, n))


def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """X with A X = B given lu_factor(A) = (LU, pivots) (torch.linalg.lu_solve)."""
    _square("lu_solve", LU)
    n = LU.shape[-1]
    xp = xp_of(LU.array)
    P = _make(_pivots_to_perm_matrix(pivots.array if isinstance(pivots, Tensor) else pivots, n, LU.dtype, xp))
    L_unit, U = LU, triu(LU)
    if not left:   # X A = B  <=>  A^T X^T = B^T
        return _mT(lu_solve(LU, pivots, _mT(B), left=True, adjoint=not adjoint))
    if adjoint:    # A^T X = B with A = P L U:  U^T L^T P^T X = B
        Y = _solve_triangular(_mT(U), B, upper=False)
        Y = _solve_triangular(_mT(L_unit), Y, upper=True, unitriangular=True)
        return matmul(P, Y)
    Y = matmul(_mT(P), B)
    Y = _solve_triangular(L_unit, Y, upper=False, unitriangular=True)
    return _solve_triangular(U, Y, upper=True)


def _default_rtol(A, atol, rtol):
    if rtol is None:
        return float(np.finfo(A.dtype).eps) * max(A.shape[-2:]) if atol is None or atol == 0 else 0.0
    return float(rtol)


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """The Moore-Penrose pseudo-inverse; singular values <= max(atol, rtol * s_max) count as zero
    (rtol defaults to eps * max(m, n) when atol is not given).  The derivative assumes the rank
    stays constant (PyTorch's pinv_backward)."""
    _matrix("pinv", A)
    return _dec.Pinv(0.0 if atol is None else float(atol), _default_rtol(A, atol, rtol))(A)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    """The number of singular values > max(atol, rtol * s_max) (an int64 tensor, no gradient)."""
    _matrix("matrix_rank", A)
    xp = xp_of(A.array)
    S = xp.linalg.svd(A.array, compute_uv=False)
    smax = S.max(axis=-1) if S.shape[-1] else xp.zeros(S.shape[:-1], A.dtype)
    cut = xp.maximum(0.0 if atol is None else float(atol), _default_rtol(A, atol, rtol) * smax)
    return _make(xp.asarray((S > cut[..., None]).sum(axis=-1), dtype=np.int64))


def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares solution X = argmin ||A X - B||_F, of minimum norm when A is
    rank-deficient (X = pinv(A) B, cut-off rcond, default eps * max(m, n)).  Like torch on the
    CPU: ``rank`` is returned for every driver but 'gels'; ``residuals`` (||A X - B||^2 per
    column) only for drivers 'gelsd'/'gelss'/'gels' when m > n and A has full rank;
    ``singular_values`` for 'gelsd'/'gelss'.  Default driver: 'gelsy'."""
    _matrix("lstsq", A)
    driver = driver or "gelsy"
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise ValueError(f"linalg.lstsq: driver must be 'gels', 'gelsy', 'gelsd' or 'gelss', got {driver!r}")
    if not isinstance(B, Tensor):
        B = ew.as_tensor_like(B, A)
    vector = B.ndim == A.ndim - 1
    B2 = unsqueeze(B, -1) if vector else B
    if B2.shape[-2] != A.shape[-2]:
        raise ValueError(f"linalg.lstsq: A of shape {tuple(A.shape)} and B of shape {tuple(B.shape)} do not match "
                         f"(B needs {A.shape[-2]} rows)")
    m, n = A.shape[-2:]
    rtol = float(rcond) if rcond is not None and rcond > 0 else float(np.finfo(A.dtype).eps) * max(m, n)
    X = matmul(pinv(A, rtol=rtol), B2)
    xp = xp_of(A.array)
    empty = _make(xp.zeros((0,), A.dtype))
    rank = matrix_rank(A, rtol=rtol) if driver != "gels" else _make(xp.zeros((0,), np.int64))
    residuals = empty
    if driver != "gelsy" and m > n and bool((matrix_rank(A, rtol=rtol).array == n).all()):
        residuals = rd.sum(ew.square(ew.sub(matmul(A, X), B2)), -2)
    sv = svdvals(A).detach() if driver in ("gelsd", "gelss") else empty
    if vector:
        X = reshape(X, X.shape[:-1])
        if residuals is not empty:
            residuals = reshape(residuals, residuals.shape[:-1])
    return LstsqResult(X, residuals, rank, sv)


def matrix_exp(A):
    """exp(A) = sum_k A^k / k! (scaling and squaring); differentiable to any order."""
    _square("matrix_exp", A)
    return _dec.MatrixExp()(A)


def matrix_power(A, n):
    """A^n for an integer n (A^0 = I, negative n through inv(A)), by repeated squaring."""
    _square("matrix_power", A)
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"linalg.matrix_power: n must be an int, got {type(n).__name__}")
    if n == 0:   # I, batched like A (its gradient is 0, as in PyTorch)
        return ew.add(ew.mul(A, 0.0), _dec.eye_like(A.shape[-1], A))
    base = inv(A) if n < 0 else A
    n = abs(int(n))
    result = None
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


def cond(A, p=None):
    """The condition number ||A||_p ||A^-1||_p; p None or 2: s_max / s_min (any shape), -2:
    s_min / s_max; 'fro', 'nuc', 1, -1, inf, -inf: square invertible A."""
    _matrix("cond", A)
    if p is None or p in (2, -2):
        s = svdvals(A)
        big, small = rd.amax(s, -1), rd.amin(s, -1)
        return ew.div(big, small) if p != -2 else ew.div(small, big)
    _square("cond", A)
    return ew.mul(matrix_norm(A, p), matrix_norm(inv(A), p))


def multi_dot(tensors):
    """The product of a chain of matrices in the cheapest order (dynamic programming on the
    flop count); the first / last may be 1-D (a row / column vector), as torch.linalg.multi_dot."""
    ts = list(tensors)
    if len(ts) < 2:
        raise ValueError(f"linalg.multi_dot: expected at least 2 tensors, got {len(ts)}")
    first_vec, last_vec = ts[0].ndim == 1, ts[-1].ndim == 1
    if first_vec:
        ts[0] = unsqueeze(ts[0], 0)
    if last_vec:
        ts[-1] = unsqueeze(ts[-1], -1)
    for i, t in enumerate(ts):
        if t.ndim != 2:
            raise ValueError(f"linalg.multi_dot: tensor {i} must be 2-D (1-D allowed first and last), got shape "
                             f"{tuple(t.shape)}")
        if i and ts[i - 1].shape[1] != t.shape[0]:
            raise ValueError(f"linalg.multi_dot: tensor {i - 1} of shape {tuple(ts[i - 1].shape)} and tensor {i} of "
                             f"shape {tuple(t.shape)} cannot be multiplied")
    dims = [ts[0].shape[0]] + [t.shape[1] for t in ts]
    k = len(ts)
    cost = [[0] * k for _ in range(k)]
    split = [[0] * k for _ in range(k)]
    for length in range(1, k):
        for i in range(k - length):
            j = i + length
            cost[i][j] = math.inf
            for s in range(i, j):
                c = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, s

    def chain(i, j):
        return ts[i] if i == j else matmul(chain(i, split[i][j]), chain(split[i][j] + 1, j))

    out = chain(0, k - 1)
    if first_vec:
        out = reshape(out, out.shape[1:])
    if last_vec:
        out = reshape(out, out.shape[:-1])
    return out


def cross(input, other, *, dim=-1):
    """The cross product of 3-vectors along ``dim`` (batch dims broadcast):
    a x b = roll(a, -1) roll(b, -2) - roll(a, -2) roll(b, -1)."""
    from .ops.shape import roll

    d = normalize_dim(dim, max(input.ndim, other.ndim), "linalg.cross")
    nd = max(input.ndim, other.ndim)
    if input.shape[d - nd + input.ndim] != 3 or other.shape[d - nd + other.ndim] != 3:
        raise ValueError(f"linalg.cross: dimension {dim} must have size 3, got shapes {tuple(input.shape)} and "
                         f"{tuple(other.shape)}")
    d = d - nd   # negative: counts from the end in both
    return ew.sub(ew.mul(roll(input, -1, d), roll(other, -2, d)), ew.mul(roll(input, -2, d), roll(other, -1, d)))


def vecdot(x, y, *, dim=-1):
    """sum_i x_i y_i along ``dim`` (real tensors; batch dims broadcast)."""
    return rd.sum(ew.mul(x, y), dim)


def householder_product(A, tau):
    """The first n columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^T, v_i = (0, .., 0, 1, A[i+1:, i])
    (LAPACK's orgqr; torch.linalg.householder_product)."""
    _matrix("householder_product", A)
    m, n = A.shape[-2:]
    k = tau.shape[-1]
    if n > m or k > n:
        raise ValueError(f"linalg.householder_product: need m >= n >= k, got A {tuple(A.shape)} and tau "
                         f"{tuple(tau.shape)}")
    xp = xp_of(A.array)
    V = ew.add(tril(A, -1), _make(xp.eye(m, n, dtype=A.dtype)))   # columns v_i
    Q = _make(xp.broadcast_to(xp.eye(m, n, dtype=A.dtype), tuple(A.shape[:-2]) + (m, n)))
    for i in range(k - 1, -1, -1):   # Q = H_i Q, from the last reflector back
        v = V[..., :, i:i + 1]
        Q = ew.sub(Q, ew.mul(unsqueeze(unsqueeze(tau[..., i], -1), -1), matmul(v, matmul(_mT(v), Q))))
    return Q


def tensorinv(A, ind=2):
    """The inverse of A as a map from its last ndim - ind axes to its first ind axes: the result has
    shape A.shape[ind:] + A.shape[:ind]."""
    if ind <= 0:
        raise ValueError(f"linalg.tensorinv: ind must be a positive int, got {ind}")
    rows = int(np.prod(A.shape[:ind]))
    cols = int(np.prod(A.shape[ind:]))
    if rows != cols:
        raise ValueError(f"linalg.tensorinv: prod(A.shape[:ind]) = {rows} must equal prod(A.shape[ind:]) = {cols}")
    return reshape(inv(reshape(A, (rows, cols))), tuple(A.shape[ind:]) + tuple(A.shape[:ind]))


def tensorsolve(A, B, dims=None):
    """X with tensordot(A, X, X.ndim) = B; X has shape A.shape[B.ndim:] (after moving ``dims`` of A
    to the end)."""
    if dims is not None:
        dims = [normalize_dim(d, A.ndim, "linalg.tensorsolve") for d in dims]
        rest = [i for i in range(A.ndim) if i not in dims]
        A = permute(A, tuple(rest + dims))
    xshape = tuple(A.shape[B.ndim:])
    rows, cols = int(np.prod(B.shape)), int(np.prod(xshape))
    if rows != cols or tuple(A.shape[:B.ndim]) != tuple(B.shape):
        raise ValueError(f"linalg.tensorsolve: A of shape {tuple(A.shape)} and B of shape {tuple(B.shape)} do not "
                         "make a square system")
    X = solve(reshape(A, (rows, cols)), reshape(B, (rows,)))
    return reshape(X, xshape)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonal of the matrices in the axes (dim1, dim2), shifted by ``offset``; last axis."""
    d1, d2 = (normalize_dim(d, A.ndim, "linalg.diagonal") for d in (dim1, dim2))
    M = _move_last(A, d1, d2)
    m, n = M.shape[-2:]
    i0, j0 = (0, offset) if offset >= 0 else (-offset, 0)
    length = max(0, min(m - i0, n - j0))
    xp = xp_of(A.array)
    rows, cols = xp.arange(length) + i0, xp.arange(length) + j0
    return M[..., rows, cols]


def vander(x, *, N=None):
    """The Vandermonde matrix with columns x^0, x^1, ..., x^(N-1) (increasing, as torch.linalg.vander)."""
    N = x.shape[-1] if N is None else int(N)
    if N < 1:
        raise ValueError(f"linalg.vander: N must be >= 1, got {N}")
    from .ops.shape import stack

    cols = [ew.add(ew.mul(x, 0.0), 1.0)]
    for _ in range(N - 1):
        cols.append(ew.mul(cols[-1], x))
    return stack(cols, -1)


def _ex(fn, A, out_shape, *args, check_errors=False):
    """(result, info) with info = 0 where fn succeeds and 1 for the matrices where it fails
    (singular / not positive-definite); then the whole result is NaN, as the caller reads info."""
    xp = xp_of(A.array)
    batch = tuple(A.shape[:-2])
    try:
        return fn(A, *args), _make(xp.zeros(batch, dtype=np.int32))
    except ValueError:
        if check_errors:
            raise
    info = np.zeros(batch, dtype=np.int32)
    for idx in np.ndindex(*batch):
        try:
            fn(A[idx], *[a[idx] if a.ndim == A.ndim else a for a in args])
        except ValueError:
            info[idx] = 1
    if not batch:
        info = np.ones((), dtype=np.int32)
    return _make(xp.full(out_shape, xp.nan, dtype=A.dtype)), _make(xp.asarray(info))


def inv_ex(A, *, check_errors=False):
    """(inverse, info): info > 0 marks singular matrices instead of raising (torch.linalg.inv_ex);
    the inverse of a batch with a singular member is NaN."""
    _square("inv_ex", A)
    return _ex(inv, A, tuple(A.shape), check_errors=check_errors)


def cholesky_ex(A, *, upper=False, check_errors=False):
    """(L, info): info > 0 marks matrices that are not positive-definite (torch.linalg.cholesky_ex)."""
    _square("cholesky_ex", A)
    return _ex(lambda a: cholesky(a, upper=upper), A, tuple(A.shape), check_errors=check_errors)


def solve_ex(A, B, *, left=True, check_errors=False):
    """(X, info): info > 0 marks singular A instead of raising (torch.linalg.solve_ex)."""
    _square("solve_ex", A)
    f = solve if left else (lambda a, b: _mT(solve(_mT(a), _mT(b))))
    shape = np.broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-2])) + tuple(B.shape[-2:]) if B.ndim >= 2 \
        else tuple(B.shape)
    return _ex(f, A, shape, B, check_errors=check_errors)

"""Matrix decompositions as primitives: forward on raw arrays, backward in mathdl ops.

A primitive has one output, so a decomposition with several factors packs them into one array
(``_Packed``: the factors flattened and concatenated along the last axis); ``mathdl.linalg``
slices them apart again (slicing is differentiable).  Every backward is written in mathdl ops and
reads the factors through ``output()``, so it is recorded under ``create_graph=True`` and second
derivatives work.  With G_X = dL/dX and S^-1, R^-T etc. applied by (triangular) solves:

SVD  A = U diag(S) V^T  (k = min(m, n); the reduced factors; for full_matrices the gradient of the
     extra columns of U / rows of V^T is ignored, as PyTorch does):
     J = skew(U^T G_U) = U^T G_U - G_U^T U,   K = skew(V^T G_V),   E_ij = s_j^2 - s_i^2
     inner = (J diag(S) + diag(S) K) / E + diag(G_S)
     dA = U inner V^T + (I - U U^T) G_U S^-1 V^T        (m > k)
        + U S^-1 G_V^T (I - V V^T)                      (n > k)
     Repeated singular values (|E_ij| <= 1e3 eps max s^2) make the singular vectors non-unique;
     there 1/E_ij is taken as 0 (PyTorch gives inf/nan), which is exact for every loss that does
     not depend on the choice of basis inside the repeated block (functions of S, of U S V^T, of
     projectors onto whole blocks).  S^-1 is taken as 0 where s = 0.
QR   A = Q R  (m >= n, reduced; or complete with m == n), after TensorFlow's QrGrad:
     M = tril(skew(Q^T G_Q) + skew(R G_R^T))
     dA = Q (G_R + M R^-T) + (G_Q - Q Q^T G_Q) R^-T
     m < n: A = [X | Y], X = Q R_1, Y = Q R_2:  dY = Q G_R2,  dX = the square rule with
     G_Q + Y G_R2^T and G_R1.  Complete mode with m > n is not differentiable (Q's last columns
     are arbitrary): backward raises, as in PyTorch.
EIG  A = V diag(L) V^-1 with a real spectrum (mathdl has no complex tensors; a complex spectrum
     is refused), unit-norm eigenvectors:
     dA = V^-T (diag(G_L) + (V^T G_V - V^T V diag(diag(V^T G_V))) / E) V^T,  E_ij = L_j - L_i
LU   A = P L U (square):  dA = P L^-T (tril(L^T G_L, -1) + triu(G_U U^T)) U^-T
SOLVE_TRIANGULAR  X = A^-1 B, A triangular:  dB = A^-T G,  dA = -tri(dB X^T)
     (tri: the triangle read, strict when unitriangular)
PINV A^+ (constant rank), PyTorch's pinv_backward:  with K = G^T A^+ (m <= n),
     dA = -(A^+ K)^T + K A^+^T - A A^+ K A^+^T + A^+^T A^+ (G^T - K A)
MATRIX_EXP  dA = the upper-right block of exp([[A^T, G], [0, A^T]]) (the Frechet derivative
     of exp at A^T applied to G), itself a matrix_exp, so every order of derivative works.

Forward values: numpy/cupy ``linalg`` (svd, qr, eig, solve, pinv); LU through SciPy on the host
(cupyx.scipy.linalg on the device); matrix_exp by scaling and squaring of a degree-18 Taylor
polynomial on any backend.  numpy.linalg.eig has no CuPy twin: eig runs on the host.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp_of
from . import elementwise as ew
from . import reduce as rd
from .linalg import matmul
from .shape import cat, reshape, sum_to, transpose, tril, triu, unsqueeze

_make = Tensor._make


def mT(x):
    return transpose(x, -1, -2)


def eye_like(n, like):
    return _make(xp_of(like.array).eye(n, dtype=like.dtype))


def diag_embed(v):
    """(..., n) -> (..., n, n) with v on the diagonal."""
    return ew.mul(unsqueeze(v, -1), eye_like(v.shape[-1], v))


def diagonal(A):
    """(..., n, n) -> (..., n): the main diagonal (a differentiable sum of A o I)."""
    return rd.sum(ew.mul(A, eye_like(A.shape[-1], A)), -1)


def _safe_inverse(x, zero_mask):
    """1 / x with 0 where ``zero_mask`` (a constant boolean array) holds."""
    return ew.where(zero_mask, 0.0, ew.div(1.0, ew.where(zero_mask, 1.0, x)))


def _tiny(dtype):
    return 1e3 * float(np.finfo(dtype).eps)


# --------------------------------------------------------------------------- packing
class _Packed(Function):
    """A decomposition whose factors are packed into one output array.

    Subclasses implement ``compute(*arrays) -> tuple of arrays`` (each with the batch dims of
    the first input leading) and ``grads(inputs, factors, factor_grads) -> tuple``."""

    __slots__ = ("shapes",)
    save_output = True

    def forward(self, *arrays):
        outs = self.compute(*arrays)
        nb = arrays[0].ndim - 2
        batch = arrays[0].shape[:nb]
        self.shapes = tuple(o.shape[nb:] for o in outs)
        xp = xp_of(arrays[0])
        dtype = arrays[0].dtype
        return xp.concatenate([xp.reshape(o, batch + (-1,)).astype(dtype, copy=False) for o in outs], axis=-1)

    def backward(self, g):
        return self.grads(self.inputs, unpack(self.output(), self.shapes), unpack(g, self.shapes))


def unpack(t, shapes):
    """Split a packed tensor (..., total) into the factors of the given trailing shapes."""
    out, start = [], 0
    batch = tuple(t.shape[:-1])
    for s in shapes:
        size = int(np.prod(s)) if s else 1
        out.append(reshape(t[..., start:start + size], batch + tuple(s)))
        start += size
    return out


# --------------------------------------------------------------------------- SVD
class SvdPacked(_Packed):
    """(U, S, Vh) = svd(A) packed; U (..., m, m or k), S (..., k), Vh (..., n or k, n)."""

    __slots__ = ("full_matrices",)

    def __init__(self, full_matrices):
        self.full_matrices = full_matrices

    def compute(self, a):
        return xp_of(a).linalg.svd(a, full_matrices=self.full_matrices)

    def grads(self, inputs, factors, gs):
        U, S, Vh = factors
        gU, gS, gVh = gs
        m, n = inputs[0].shape[-2:]
        k = min(m, n)
        if self.full_matrices:
            U, gU, Vh, gVh = U[..., :k], gU[..., :k], Vh[..., :k, :], gVh[..., :k, :]
        return (svd_backward(U, S, Vh, gU, gS, gVh, m, n),)


def svd_backward(U, S, Vh, gU, gS, gVh, m, n):
    """dL/dA for the reduced SVD A = U diag(S) Vh (formula in the module docstring)."""
    k = min(m, n)
    if k == 0:  # an empty matrix: an empty gradient
        return Tensor._make(xp_of(S.array).zeros(S.shape[:-1] + (m, n), dtype=S.dtype))
    V, gV = mT(Vh), mT(gVh)
    J = matmul(mT(U), gU)
    J = ew.sub(J, mT(J))
    K = matmul(Vh, gV)
    K = ew.sub(K, mT(K))
    S2 = ew.mul(S, S)
    E = ew.sub(unsqueeze(S2, -2), unsqueeze(S2, -1))
    xp = xp_of(S.array)
    scale = S2.array.max(axis=-1, keepdims=True)[..., None]
    degenerate = xp.abs(E.array) <= _tiny(S.dtype) * scale
    inner = ew.mul(ew.add(ew.mul(J, unsqueeze(S, -2)), ew.mul(unsqueeze(S, -1), K)), _safe_inverse(E, degenerate))
    inner = ew.add(inner, diag_embed(gS))
    Sinv = _safe_inverse(S, S.array <= _tiny(S.dtype) * xp.sqrt(scale[..., 0]))
    if m > k:
        gUS = ew.mul(gU, unsqueeze(Sinv, -2))
        gA = ew.add(matmul(U, inner), ew.sub(gUS, matmul(U, matmul(mT(U), gUS))))
        return matmul(gA, Vh)
    if n > k:
        SgVh = ew.mul(unsqueeze(Sinv, -1), gVh)
        gA = ew.add(matmul(inner, Vh), ew.sub(SgVh, matmul(matmul(SgVh, V), Vh)))
        return matmul(U, gA)
    return matmul(matmul(U, inner), Vh)


# --------------------------------------------------------------------------- QR
class QrPacked(_Packed):
    """(Q, R) = qr(A) packed; mode 'reduced' or 'complete'."""

    __slots__ = ("mode",)

    def __init__(self, mode):
        self.mode = mode

    def compute(self, a):
        return xp_of(a).linalg.qr(a, mode=self.mode)

    def grads(self, inputs, factors, gs):
        (a,) = inputs
        Q, R = factors
        gQ, gR = gs
        m, n = a.shape[-2:]
        if self.mode == "complete" and m > n:
            raise RuntimeError("linalg.qr: the QR decomposition is not differentiable when mode='complete' and "
                               f"nrows > ncols (input shape {tuple(a.shape)}): use mode='reduced'")
        if m >= n:
            return (_qr_backward_square_deep(Q, R, gQ, gR),)
        Y = a[..., :, m:]
        R1, gR1, gR2 = R[..., :, :m], gR[..., :, :m], gR[..., :, m:]
        gX = _qr_backward_square_deep(Q, R1, ew.add(gQ, matmul(Y, mT(gR2))), gR1)
        return (cat([gX, matmul(Q, gR2)], -1),)


def _times_inv_RT(X, R):
    """X R^-T for upper-triangular R: (R^-1 X^T)^T."""
    return mT(solve_triangular(R, mT(X), upper=True))


def _qr_backward_square_deep(Q, R, gQ, gR):
    qdq = matmul(mT(Q), gQ)
    rdr = matmul(R, mT(gR))
    M = tril(ew.add(ew.sub(qdq, mT(qdq)), ew.sub(rdr, mT(rdr))))
    gA = matmul(Q, ew.add(gR, _times_inv_RT(M, R)))
    return ew.add(gA, _times_inv_RT(ew.sub(gQ, matmul(Q, qdq)), R))


# --------------------------------------------------------------------------- triangular solve
def _tri_array(a, upper, unit):
    xp = xp_of(a)
    t = xp.triu(a) if upper else xp.tril(a)
    if unit:
        n = a.shape[-1]
        t = t * (1 - xp.eye(n, dtype=a.dtype)) + xp.eye(n, dtype=a.dtype)
    return t


class SolveTriangular(Function):
    """X = A^-1 B with A (..., n, n) upper or lower triangular (only that triangle is read; its
    diagonal is taken as ones when ``unitriangular``), B (..., n, k); batch dims broadcast."""

    __slots__ = ("upper", "unit")
    save_output = True

    def __init__(self, upper, unit):
        self.upper, self.unit = upper, unit

    def forward(self, a, b):
        t = _tri_array(a, self.upper, self.unit)
        xp = xp_of(a)
        batch = np.broadcast_shapes(t.shape[:-2], b.shape[:-2])
        t = xp.broadcast_to(t, batch + t.shape[-2:])
        b = xp.broadcast_to(b, batch + b.shape[-2:])
        return xp.linalg.solve(t, b)

    def backward(self, g):
        a, b = self.inputs
        gb = SolveTriangular(not self.upper, self.unit)(mT(a), g)
        ga = None
        if a.requires_grad:
            outer = ew.neg(matmul(gb, mT(self.output())))
            k = 1 if self.unit else 0
            ga = sum_to(triu(outer, k) if self.upper else tril(outer, -k), a.shape)
        return ga, (sum_to(gb, b.shape) if b.requires_grad else None)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """torch.linalg.solve_triangular: X with A X = B (left) or X A = B (right), A triangular."""
    if left:
        return SolveTriangular(bool(upper), bool(unitriangular))(A, B)
    return mT(SolveTriangular(not upper, bool(unitriangular))(mT(A), mT(B)))


# --------------------------------------------------------------------------- eig (real spectrum)
class EigPacked(_Packed):
    """(L, V) = eig(A) for a real spectrum, packed.  A complex spectrum raises ValueError."""

    __slots__ = ()

    def compute(self, a):
        xp = xp_of(a)
        host = xp is not np
        w, V = np.linalg.eig(xp.asnumpy(a) if host else a)
        scale = np.abs(w).max(axis=-1, keepdims=True) if w.size else 1.0
        if np.iscomplexobj(w) and bool((np.abs(w.imag) > 1e2 * np.finfo(a.dtype).eps * (1 + scale)).any()):
            raise ValueError(f"linalg.eig: the input of shape {tuple(a.shape)} has complex eigenvalues; mathdl has "
                             "no complex tensors (torch.linalg.eig returns complex ones): use eigh for symmetric "
                             "matrices, or a matrix with a real spectrum")
        w, V = w.real.astype(a.dtype), V.real.astype(a.dtype)
        return (xp.asarray(w), xp.asarray(V)) if host else (w, V)

    def grads(self, inputs, factors, gs):
        L, V = factors
        gL, gV = gs
        VtgV = matmul(mT(V), gV)
        inner = ew.sub(VtgV, ew.mul(matmul(mT(V), V), unsqueeze(diagonal(VtgV), -2)))
        E = ew.sub(unsqueeze(L, -2), unsqueeze(L, -1))
        scale = xp_of(L.array).abs(L.array).max(axis=-1, keepdims=True)[..., None] + 1.0
        inner = ew.mul(inner, _safe_inverse(E, xp_of(L.array).abs(E.array) <= _tiny(L.dtype) * scale))
        inner = ew.add(inner, diag_embed(gL))
        from ..linalg import solve

        return (solve(mT(V), matmul(inner, mT(V))),)


# --------------------------------------------------------------------------- LU
def _scipy_linalg(xp):
    if xp is np:
        import scipy.linalg as sl

        return sl
    import cupyx.scipy.linalg as csl  # pragma: no cover

    return csl  # pragma: no cover


class LuPacked(_Packed):
    """(P, L, U) = lu(A), A = P L U, packed (P is a constant permutation matrix)."""

    __slots__ = ()

    def compute(self, a):
        xp = xp_of(a)
        P, L, U = _scipy_linalg(xp).lu(a)
        return P.astype(a.dtype), L, U

    def grads(self, inputs, factors, gs):
        (a,) = inputs
        m, n = a.shape[-2:]
        if m != n:
            raise RuntimeError(f"linalg.lu: the derivative is implemented for square matrices only, got shape "
                               f"{tuple(a.shape)}")
        P, L, U = factors
        _, gL, gU = gs
        inner = ew.add(tril(matmul(mT(L), gL), -1), triu(matmul(gU, mT(U))))
        X = solve_triangular(mT(L), inner, upper=True, unitriangular=True)
        X = solve_triangular(mT(U), X, upper=False, left=False)
        return (matmul(P.detach(), X),)


# --------------------------------------------------------------------------- pinv
class Pinv(Function):
    """The Moore-Penrose pseudo-inverse, singular values below max(atol, rtol * s_max) cut."""

    __slots__ = ("atol", "rtol")
    save_output = True

    def __init__(self, atol, rtol):
        self.atol, self.rtol = atol, rtol

    def forward(self, a):
        xp = xp_of(a)
        U, S, Vh = xp.linalg.svd(a, full_matrices=False)
        smax = S.max(axis=-1, keepdims=True) if S.shape[-1] else xp.zeros(S.shape[:-1] + (1,), a.dtype)
        cut = xp.maximum(self.atol, self.rtol * smax)
        keep = S > cut
        Sinv = xp.where(keep, 1.0 / xp.where(keep, S, 1.0), 0.0).astype(a.dtype)
        return xp.swapaxes(Vh, -1, -2) @ (Sinv[..., :, None] * xp.swapaxes(U, -1, -2))

    def backward(self, g):
        (A,) = self.inputs
        P = self.output()
        m, n = A.shape[-2:]
        Ph, gh = mT(P), mT(g)
        if m <= n:
            K = matmul(gh, P)
            KPh = matmul(K, Ph)
            out = ew.add(ew.sub(KPh, mT(matmul(P, K))), ew.sub(
                matmul(matmul(Ph, P), ew.sub(gh, matmul(K, A))), matmul(matmul(A, P), KPh)))
        else:
            K = matmul(P, gh)
            PhK = matmul(Ph, K)
            out = ew.add(ew.sub(matmul(matmul(ew.sub(gh, matmul(A, K)), P), Ph), mT(matmul(K, P))),
                         ew.sub(PhK, matmul(matmul(PhK, P), A)))
        return (out,)


# --------------------------------------------------------------------------- matrix_exp
_TAYLOR_DEGREE = 18


class MatrixExp(Function):
    """exp(A) = sum_k A^k / k!, by scaling and squaring: exp(A) = (exp(A / 2^s))^(2^s) with
    ||A / 2^s||_1 <= 1/2 and a degree-18 Taylor polynomial (truncation < 1e-22)."""

    __slots__ = ()

    def forward(self, a):
        xp = xp_of(a)
        n = a.shape[-1]
        norm1 = float(xp.abs(a).sum(axis=-2).max()) if a.size else 0.0
        s = max(0, int(math.ceil(math.log2(norm1))) + 1) if norm1 > 0 else 0
        x = a / (2.0 ** s)
        eye = xp.eye(n, dtype=a.dtype)
        out = eye + x / _TAYLOR_DEGREE
        for k in range(_TAYLOR_DEGREE - 1, 0, -1):   # Horner: I + x/1 (I + x/2 (I + ...))
            out = eye + (x @ out) / k
        for _ in range(s):
            out = out @ out
        return out

    def backward(self, g):
        (a,) = self.inputs
        n = a.shape[-1]
        aT = mT(a)
        batch = np.broadcast_shapes(tuple(a.shape[:-2]), tuple(g.shape[:-2]))
        aT = ew.add(aT, _make(xp_of(a.array).zeros(batch + (n, n), a.dtype)))
        zero = _make(xp_of(a.array).zeros(batch + (n, n), a.dtype))
        block = cat([cat([aT, ew.add(g, zero)], -1), cat([zero, aT], -1)], -2)
        return (sum_to(MatrixExp()(block)[..., :n, n:], a.shape),)

"""The linalg table (the format of tests/ops/op_table.py): one row per torch.linalg function drives
gradcheck, gradgradcheck (float64) and parity with torch.linalg (values and gradients).

Decompositions are unique only up to signs of singular/eigen-vectors, so rows compare
basis-independent functions of the factors: S, U diag(w) V^T, U diag(w) U^T, V diag(w) V^T (w a
fixed weight per singular value), and for eig V diag(w) V^-1."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import mathdl as md
import mathdl.linalg as mla


@dataclass
class Sample:
    args: tuple
    kwargs: dict = field(default_factory=dict)

    def __repr__(self):
        return f"Sample(shapes={[getattr(a, 'shape', a) for a in self.args]}, kwargs={self.kwargs})"


@dataclass
class OpInfo:
    name: str
    fn: Callable              # mathdl: fn(*tensors, **kwargs)
    torch_fn: Callable | None  # torch: fn(*tensors, **kwargs)
    samples: Callable          # rng -> list[Sample]
    grad: bool = True
    gradgrad: bool = True
    rtol32: float = 1e-4
    atol32: float = 1e-5


def _torch():
    import torch

    return torch


def rn(rng, *shape):
    return np.asarray(rng.standard_normal(shape))


def wellcond(rng, n, batch=()):
    return rng.standard_normal(batch + (n, n)) * 0.3 + np.eye(n) * 1.5


def real_spectrum(rng, n, batch=()):
    """V diag(l) V^-1 with well-separated real eigenvalues and a well-conditioned V."""
    V = wellcond(rng, n, batch)
    lam = np.arange(1, n + 1) * 0.8 + rng.uniform(-0.1, 0.1, batch + (n,))
    return V @ (lam[..., :, None] * np.linalg.inv(V))


def upper(rng, n, batch=()):
    return np.triu(wellcond(rng, n, batch))


def _arange_like(lib, k, like):
    if lib is md:
        return md.tensor(np.arange(1.0, k + 1.0), dtype=like.dtype).to(like.device)
    return lib.arange(1, k + 1, dtype=like.dtype)


def svd_invariants(lib, full_matrices):
    def f(A):
        U, S, Vh = lib.linalg.svd(A, full_matrices=full_matrices)
        k = S.shape[-1]
        w = _arange_like(lib, k, A)
        Uk, Vk = U[..., :k], Vh[..., :k, :]
        return [S, (Uk * w) @ Vk, (Uk * w) @ Uk.mT, (Vk.mT * w) @ Vk]
    return f


def qr_factors(lib, mode):
    return lambda A: list(lib.linalg.qr(A, mode=mode))


def eig_invariants(lib):
    def f(A):
        w, V = lib.linalg.eig(A)
        if lib is not md:
            w, V = w.real, V.real
        order = _arange_like(lib, w.shape[-1], A)
        return [w, (V * order) @ lib.linalg.inv(V)]
    return f


OPS: list[OpInfo] = []


def op(name, fn, torch_fn, make, **kw):
    OPS.append(OpInfo(name, fn, torch_fn, make, **kw))


SHAPES = [(3, 3), (4, 3), (3, 5), (2, 4, 3)]
op("svd", svd_invariants(md, False), lambda A: svd_invariants(_torch(), False)(A),
   lambda rng: [Sample((rn(rng, *s),)) for s in SHAPES])
op("svd_full", svd_invariants(md, True), lambda A: svd_invariants(_torch(), True)(A),
   lambda rng: [Sample((rn(rng, *s),)) for s in SHAPES[1:3]])
op("svdvals", mla.svdvals, lambda A: _torch().linalg.svdvals(A), lambda rng: [Sample((rn(rng, 4, 3),))])
op("qr", qr_factors(md, "reduced"), lambda A: qr_factors(_torch(), "reduced")(A),
   lambda rng: [Sample((rn(rng, *s),)) for s in SHAPES])
op("qr_complete", qr_factors(md, "complete"), lambda A: qr_factors(_torch(), "complete")(A),
   lambda rng: [Sample((rn(rng, 3, 3),)), Sample((rn(rng, 2, 4),))])

op("eig", eig_invariants(md), lambda A: eig_invariants(_torch())(A),
   lambda rng: [Sample((real_spectrum(rng, 3),)), Sample((real_spectrum(rng, 2, (2,)),))])
op("eigvals", lambda A: mla.eigvals(A), lambda A: _torch().linalg.eigvals(A).real,
   lambda rng: [Sample((real_spectrum(rng, 3),))])
op("solve_triangular", lambda A, B, **k: mla.solve_triangular(A, B, **k),
   lambda A, B, **k: _torch().linalg.solve_triangular(A, B, **k),
   lambda rng: [Sample((upper(rng, 3), rn(rng, 3, 2)), {"upper": True}),
                Sample((wellcond(rng, 3), rn(rng, 3, 2)), {"upper": False}),
                Sample((wellcond(rng, 3, (2,)), rn(rng, 3, 2)), {"upper": True, "unitriangular": True}),
                Sample((wellcond(rng, 3), rn(rng, 2, 3)), {"upper": True, "left": False})])
op("lu", lambda A: list(mla.lu(A))[1:], lambda A: list(_torch().linalg.lu(A))[1:],
   lambda rng: [Sample((rn(rng, 3, 3),)), Sample((rn(rng, 2, 3, 3),))])
op("lu_P", lambda A: mla.lu(A)[0], lambda A: _torch().linalg.lu(A)[0],
   lambda rng: [Sample((rn(rng, 4, 4),))], grad=False)
op("lu_factor", lambda A: mla.lu_factor(A)[0], lambda A: _torch().linalg.lu_factor(A)[0],
   lambda rng: [Sample((rn(rng, 3, 3),))])
op("lu_factor_pivots", lambda A: mla.lu_factor(A)[1], lambda A: _torch().linalg.lu_factor(A)[1],
   lambda rng: [Sample((rn(rng, 4, 4),)), Sample((rn(rng, 2, 3, 3),))], grad=False)
# the gradient is the symmetric one (as PyTorch), so the rows feed symmetric inputs A + A^T
op("eigh_upper", lambda A: [w if i == 0 else w * w for i, w in enumerate(mla.eigh(A + A.mT, UPLO="U"))],
   lambda A: [w if i == 0 else w * w for i, w in enumerate(_torch().linalg.eigh(A + A.mT, UPLO="U"))],
   lambda rng: [Sample((rn(rng, 3, 3) + np.diag([0.0, 2.0, 4.0]),))])
op("eigvalsh_upper", lambda A: mla.eigvalsh(A + A.mT, UPLO="U"),
   lambda A: _torch().linalg.eigvalsh(A + A.mT, UPLO="U"),
   lambda rng: [Sample((rn(rng, 2, 3, 3),))])
op("lu_factor_ex", lambda A: list(mla.lu_factor_ex(A)), lambda A: list(_torch().linalg.lu_factor_ex(A)),
   lambda rng: [Sample((rn(rng, 3, 3),))], grad=False)
op("lu_solve", lambda A, B: mla.lu_solve(*mla.lu_factor(A), B),
   lambda A, B: _torch().linalg.lu_solve(*_torch().linalg.lu_factor(A), B),
   lambda rng: [Sample((wellcond(rng, 3), rn(rng, 3, 2)))])
op("lu_solve_adjoint_right", lambda A, B: mla.lu_solve(*mla.lu_factor(A), B, left=False, adjoint=True),
   lambda A, B: _torch().linalg.lu_solve(*_torch().linalg.lu_factor(A), B, left=False, adjoint=True),
   lambda rng: [Sample((wellcond(rng, 3), rn(rng, 2, 3)))])
op("pinv", mla.pinv, lambda A: _torch().linalg.pinv(A),
   lambda rng: [Sample((rn(rng, 4, 3),)), Sample((rn(rng, 3, 5),)), Sample((wellcond(rng, 3, (2,)),))])
# rank-deficient A = B C (rank 2) parametrized by its factors, so that finite differences keep the rank
op("pinv_rank_deficient", lambda B, C: mla.pinv(B @ C), lambda B, C: _torch().linalg.pinv(B @ C),
   lambda rng: [Sample((rn(rng, 4, 2), rn(rng, 2, 3)))])
op("lstsq", lambda A, B: mla.lstsq(A, B).solution, lambda A, B: _torch().linalg.lstsq(A, B).solution,
   lambda rng: [Sample((rn(rng, 5, 3), rn(rng, 5, 2))), Sample((rn(rng, 2, 4, 3), rn(rng, 2, 4, 1)))])
op("lstsq_gelsd", lambda A, B: list(mla.lstsq(A, B, driver="gelsd")),
   lambda A, B: list(_torch().linalg.lstsq(A, B, driver="gelsd")),
   lambda rng: [Sample((rn(rng, 5, 3), rn(rng, 5, 2)))], grad=False)
op("lstsq_rank_deficient", lambda F, G, B: mla.lstsq(F @ G, B, driver="gelsd").solution,
   lambda F, G, B: _torch().linalg.lstsq(F @ G, B, driver="gelsd").solution,
   lambda rng: [Sample((rn(rng, 5, 2), rn(rng, 2, 3), rn(rng, 5, 2)))])
op("matrix_exp", mla.matrix_exp, lambda A: _torch().linalg.matrix_exp(A),
   lambda rng: [Sample((rn(rng, 3, 3),)), Sample((rn(rng, 2, 2, 2) * 3,))])
op("matrix_power", lambda A, n: mla.matrix_power(A, n), lambda A, n: _torch().linalg.matrix_power(A, n),
   lambda rng: [Sample((wellcond(rng, 3), 3)), Sample((wellcond(rng, 2, (2,)), -2)), Sample((rn(rng, 2, 2), 0)),
                Sample((rn(rng, 3, 3), 1))])
op("matrix_rank", lambda A, **k: mla.matrix_rank(A, **k), lambda A, **k: _torch().linalg.matrix_rank(A, **k),
   lambda rng: [Sample((rn(rng, 4, 2) @ rn(rng, 2, 3),)), Sample((rn(rng, 2, 3, 3),)),
                Sample((rn(rng, 3, 3),), {"atol": 10.0})], grad=False)
op("cond", lambda A, **k: mla.cond(A, **k), lambda A, **k: _torch().linalg.cond(A, **k),
   lambda rng: [Sample((rn(rng, 4, 3),)), Sample((wellcond(rng, 3),), {"p": -2})])
# torch 2.13's backward of cond for p='fro'/1/inf fails (in-place write to inv_ex's output): values only
op("cond_p", lambda A, **k: mla.cond(A, **k), lambda A, **k: _torch().linalg.cond(A, **k),
   lambda rng: [Sample((wellcond(rng, 3),), {"p": p}) for p in ("fro", "nuc", 1, -1, float("inf"))], grad=False)
op("multi_dot", lambda a, b, c, d: mla.multi_dot([a, b, c, d]), lambda a, b, c, d: _torch().linalg.multi_dot(
   [a, b, c, d]), lambda rng: [Sample((rn(rng, 3), rn(rng, 3, 5), rn(rng, 5, 2), rn(rng, 2))),
                               Sample((rn(rng, 4, 3), rn(rng, 3, 1), rn(rng, 1, 5), rn(rng, 5, 2)))])
op("cross", lambda a, b, **k: mla.cross(a, b, **k), lambda a, b, **k: _torch().linalg.cross(a, b, **k),
   lambda rng: [Sample((rn(rng, 3), rn(rng, 3))), Sample((rn(rng, 2, 3), rn(rng, 1, 3))),
                Sample((rn(rng, 3, 2), rn(rng, 3, 2)), {"dim": 0})])
op("vecdot", lambda a, b, **k: mla.vecdot(a, b, **k), lambda a, b, **k: _torch().linalg.vecdot(a, b, **k),
   lambda rng: [Sample((rn(rng, 2, 3), rn(rng, 3))), Sample((rn(rng, 3, 2), rn(rng, 3, 2)), {"dim": 0})])
op("householder_product", mla.householder_product, lambda A, t: _torch().linalg.householder_product(A, t),
   lambda rng: [Sample((rn(rng, 4, 3), rn(rng, 2))), Sample((rn(rng, 2, 3, 3), rn(rng, 2, 3)))])
op("tensorinv", lambda A: mla.tensorinv(A, ind=1), lambda A: _torch().linalg.tensorinv(A, ind=1),
   lambda rng: [Sample((wellcond(rng, 4).reshape(4, 2, 2),))])
op("tensorsolve", mla.tensorsolve, lambda A, B: _torch().linalg.tensorsolve(A, B),
   lambda rng: [Sample((wellcond(rng, 6).reshape(2, 3, 6), rn(rng, 2, 3)))])
op("diagonal", lambda A, **k: mla.diagonal(A, **k), lambda A, **k: _torch().linalg.diagonal(A, **k),
   lambda rng: [Sample((rn(rng, 3, 4),)), Sample((rn(rng, 2, 3, 4),), {"offset": 1}),
                Sample((rn(rng, 3, 2, 4),), {"offset": -1, "dim1": 0, "dim2": 2})])
op("vander", lambda x, **k: mla.vander(x, **k), lambda x, **k: _torch().linalg.vander(x, **k),
   lambda rng: [Sample((rn(rng, 3),)), Sample((rn(rng, 2, 3),), {"N": 4})])
op("inv_ex", lambda A: mla.inv_ex(A)[0], lambda A: _torch().linalg.inv_ex(A)[0],
   lambda rng: [Sample((wellcond(rng, 3),))])
op("solve_ex", lambda A, B: mla.solve_ex(A, B)[0], lambda A, B: _torch().linalg.solve_ex(A, B)[0],
   lambda rng: [Sample((wellcond(rng, 3), rn(rng, 3, 2)))])
op("cholesky_ex", lambda A: mla.cholesky_ex(A @ A.mT + 3 * md.eye(3, dtype=A.dtype))[0],
   lambda A: _torch().linalg.cholesky_ex(A @ A.mT + 3 * _torch().eye(3, dtype=A.dtype))[0],
   lambda rng: [Sample((rn(rng, 3, 3),))])


def op_samples(o):
    return o.samples(np.random.default_rng(zlib.crc32(o.name.encode())))


def cases(ops):
    out, ids = [], []
    for o in ops:
        for i, s in enumerate(op_samples(o)):
            out.append((o, s))
            ids.append(f"{o.name}-{i}")
    return out, ids


def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]

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
        return md.tensor(np.arange(1.0, k + 1.0), dtype=like.dtype)
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

"""The op table: one row per op drives every op test (gradcheck, gradgradcheck, torch parity).

A row (``OpInfo``) names the op, makes sample inputs (NumPy arrays: floating arrays are the
differentiable inputs, integer/boolean arrays are constants), and gives the mathdl function
and its PyTorch equivalent, both called as ``fn(*tensors, **sample.kwargs)``.  Adding an op to
mathdl means adding a row here; every check then runs on it.

Samples avoid the points where an op is not differentiable (ties for max/sort, |x| and relu at
0, clamp at its bounds) and keep arrays tiny: gradcheck costs one forward pass per input entry.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

import numpy as np

import mathdl as md
import mathdl.linalg as mla


@dataclass
class Sample:
    args: tuple
    kwargs: dict = field(default_factory=dict)

    def __repr__(self):
        shapes = [getattr(a, "shape", a) for a in self.args]
        return f"Sample(shapes={shapes}, kwargs={self.kwargs})"


@dataclass
class OpInfo:
    name: str
    fn: Callable                      # mathdl: fn(*tensors, **kwargs) -> Tensor or tuple of Tensors
    torch_fn: Callable | None         # torch:  fn(*tensors, **kwargs) (None: no torch equivalent)
    samples: Callable                 # rng -> list[Sample]
    grad: bool = True                 # differentiable (gradcheck + gradgradcheck)
    gradgrad: bool = True
    rtol32: float = 1e-4              # parity tolerances in float32
    atol32: float = 1e-5
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- input makers
def rn(rng, *shape):
    """Standard normal entries."""
    return np.asarray(rng.standard_normal(shape))


def pos(rng, *shape):
    """Entries in [0.5, 2): inside the domain of log, sqrt, 1/x."""
    return np.asarray(rng.uniform(0.5, 2.0, shape))


def away(rng, *shape, gap=0.3):
    """Entries with |x| >= gap: away from the kinks of |x|, relu, sign."""
    return np.asarray(rng.choice([-1.0, 1.0], shape) * rng.uniform(gap, 1.5, shape))


def distinct(rng, *shape):
    """Entries that are all distinct by at least 0.1 (no ties for max/sort)."""
    n = int(np.prod(shape)) if shape else 1
    vals = (np.arange(n) - n / 2) * 0.37 + rng.uniform(-0.05, 0.05, n)
    return rng.permutation(vals).reshape(shape)


def spd(rng, n, batch=()):
    """A symmetric positive-definite matrix (well conditioned)."""
    a = rng.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) / n + np.eye(n)


def wellcond(rng, n, batch=()):
    """A general, well-conditioned square matrix."""
    return rng.standard_normal(batch + (n, n)) * 0.3 + np.eye(n) * 1.5


UNARY_SHAPES = [(), (3,), (2, 3)]
BINARY_SHAPES = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 2)), ((3,), ())]


def unary(maker=rn, shapes=UNARY_SHAPES, **kwargs):
    return lambda rng: [Sample((maker(rng, *s),), dict(kwargs)) for s in shapes]


def binary(maker_a=rn, maker_b=rn, shapes=BINARY_SHAPES):
    return lambda rng: [Sample((maker_a(rng, *a), maker_b(rng, *b))) for a, b in shapes]


def samples(*items):
    """Fixed list of (args-maker, kwargs) pairs: each args-maker is rng -> tuple of arrays."""
    return lambda rng: [Sample(make(rng), dict(kw)) for make, kw in items]


def _first(f):
    """Keep the differentiable first element of a (values, indices) result."""
    return lambda *a, **k: f(*a, **k)[0]


def _torch():
    import torch

    return torch


T = _torch  # torch is imported lazily: the table itself loads without it


def tf(path):
    """A torch function by dotted name, resolved lazily (e.g. 'linalg.inv', 'Tensor.sum')."""
    def call(*args, **kwargs):
        obj = T()
        for part in path.split("."):
            obj = getattr(obj, part)
        return obj(*args, **kwargs)

    call.__name__ = path
    return call


# --------------------------------------------------------------------------- the table
OPS: list[OpInfo] = []


def op(name, fn, torch_fn, make, **kw):
    OPS.append(OpInfo(name, fn, torch_fn, make, **kw))


# elementwise binary (broadcasting and 0-d scalars)
op("add", md.add, tf("add"), binary())
op("sub", md.sub, tf("sub"), binary())
op("mul", md.mul, tf("mul"), binary())
op("div", md.div, tf("div"), binary(rn, away))
op("pow", md.pow, tf("pow"), binary(pos, rn))
op("maximum", md.maximum, tf("maximum"),
   lambda rng: [Sample((a, a + away(rng, *a.shape))) for a in (rn(rng, 2, 3), rn(rng, 3))] +
   [Sample((rn(rng, 2, 1) + 5, rn(rng, 1, 3))), Sample((np.array(0.1), rn(rng, 2, 2) + 1.0))])
op("minimum", md.minimum, tf("minimum"),
   lambda rng: [Sample((a, a + away(rng, *a.shape))) for a in (rn(rng, 2, 3), rn(rng, 3))] +
   [Sample((rn(rng, 2, 1) + 5, rn(rng, 1, 3)))])
op("where", lambda c, a, b: md.where(c, a, b), lambda c, a, b: T().where(c, a, b),
   lambda rng: [Sample((rng.random((2, 3)) > 0.5, rn(rng, 2, 3), rn(rng, 2, 3))),
                Sample((rng.random((2, 3)) > 0.5, rn(rng, 3), rn(rng, 2, 1))),
                Sample((np.array(True), rn(rng), rn(rng, 2)))])
# operators with Python scalars (no dtype promotion)
op("add_scalar", lambda x: x + 1.5, lambda x: x + 1.5, unary())
op("rsub_scalar", lambda x: 2.0 - x, lambda x: 2.0 - x, unary())
op("mul_scalar", lambda x: x * -3.0, lambda x: x * -3.0, unary())
op("rdiv_scalar", lambda x: 2.0 / x, lambda x: 2.0 / x, unary(away))
op("pow_scalar3", lambda x: x ** 3, lambda x: x ** 3, unary())
op("pow_scalar2", lambda x: x ** 2, lambda x: x ** 2, unary())
op("pow_scalar_half", lambda x: x ** 0.5, lambda x: x ** 0.5, unary(pos))
op("pow_scalar_neg", lambda x: x ** -1.5, lambda x: x ** -1.5, unary(pos))
op("rpow_scalar", lambda x: 2.0 ** x, lambda x: 2.0 ** x, unary())

# elementwise unary
op("neg", md.neg, tf("neg"), unary())
op("abs", md.abs, tf("abs"), unary(away))
op("exp", md.exp, tf("exp"), unary())
op("log", md.log, tf("log"), unary(pos))
op("log1p", md.log1p, tf("log1p"), unary(pos))
op("expm1", md.expm1, tf("expm1"), unary())
op("sqrt", md.sqrt, tf("sqrt"), unary(pos))
op("rsqrt", md.rsqrt, tf("rsqrt"), unary(pos))
op("square", md.square, tf("square"), unary())
op("sin", md.sin, tf("sin"), unary())
op("cos", md.cos, tf("cos"), unary())
op("tanh", md.tanh, tf("tanh"), unary())
op("sigmoid", md.sigmoid, tf("sigmoid"), unary())
op("relu", md.relu, tf("relu"), unary(away))
op("erf", md.erf, tf("erf"), unary())
op("clamp", md.clamp, tf("clamp"),
   lambda rng: [Sample((away(rng, *s, gap=0.1) * 2,), {"min": -1.0, "max": 1.0})
                for s in UNARY_SHAPES if s] + [Sample((np.array([-2.0, 0.3, 1.7]),), {"min": 0.0})])
op("clamp_tensor", lambda x, lo, hi: md.clamp(x, lo, hi), lambda x, lo, hi: T().clamp(x, lo, hi),
   lambda rng: [Sample((np.array([[-2.0, 0.3, 1.7], [0.1, -0.4, 3.0]]), np.array([-1.0, 0.5, 0.0]),
                        np.array([[1.0], [2.0]])))])

# reductions
op("sum", md.sum, tf("sum"),
   lambda rng: [Sample((rn(rng, 2, 3),)), Sample((rn(rng, 2, 3),), {"dim": 1}),
                Sample((rn(rng, 2, 3, 2),), {"dim": (0, 2), "keepdim": True}),
                Sample((rn(rng),)), Sample((rn(rng, 3),), {"dim": -1})])
op("mean", md.mean, tf("mean"),
   lambda rng: [Sample((rn(rng, 2, 3),)), Sample((rn(rng, 2, 3),), {"dim": 0, "keepdim": True}),
                Sample((rn(rng, 2, 3, 2),), {"dim": (1, 2)}), Sample((rn(rng),))])
op("var", md.var, tf("var"),
   lambda rng: [Sample((rn(rng, 2, 3),)), Sample((rn(rng, 2, 3),), {"dim": 1}),
                Sample((rn(rng, 3, 4),), {"dim": 0, "correction": 0, "keepdim": True}),
                Sample((rn(rng, 2, 4),), {"dim": (0, 1), "correction": 2})])
op("std", md.std, tf("std"),
   lambda rng: [Sample((rn(rng, 2, 3),)), Sample((rn(rng, 2, 3),), {"dim": 1, "correction": 0}),
                Sample((rn(rng, 3, 4),), {"dim": 0, "keepdim": True})])
op("max_all", md.max, tf("max"), unary(distinct, [(3,), (2, 3)]))
op("min_all", md.min, tf("min"), unary(distinct, [(3,), (2, 3)]))
op("max_dim", _first(md.max), _first(tf("max")),
   lambda rng: [Sample((distinct(rng, 2, 3),), {"dim": 1}),
                Sample((distinct(rng, 3, 2),), {"dim": 0, "keepdim": True}),
                Sample((distinct(rng, 4),), {"dim": -1})])
op("min_dim", _first(md.min), _first(tf("min")),
   lambda rng: [Sample((distinct(rng, 2, 3),), {"dim": 1}),
                Sample((distinct(rng, 3, 2),), {"dim": 0, "keepdim": True})])
op("amax", md.amax, tf("amax"),
   lambda rng: [Sample((distinct(rng, 2, 3),), {"dim": 1}),
                Sample((distinct(rng, 2, 3, 2),), {"dim": (0, 2), "keepdim": True})])
op("amin", md.amin, tf("amin"), lambda rng: [Sample((distinct(rng, 2, 3),), {"dim": 0})])
op("prod", md.prod, tf("prod"),
   lambda rng: [Sample((away(rng, 2, 3),)), Sample((away(rng, 2, 3),), {"dim": 1}),
                Sample((away(rng, 3, 2),), {"dim": 0, "keepdim": True}),
                Sample((np.array([[0.5, 0.0, 2.0], [1.5, -1.0, 0.7]]),), {"dim": 1}),
                Sample((np.array([0.5, 0.0, 2.0, 0.0]),))])
op("cumsum", md.cumsum, tf("cumsum"),
   lambda rng: [Sample((rn(rng, 2, 3),), {"dim": 1}), Sample((rn(rng, 3, 2),), {"dim": 0}),
                Sample((rn(rng, 4),), {"dim": 0})])
op("norm", md.norm, lambda x, p=2, dim=None, keepdim=False: T().linalg.vector_norm(x, p, dim, keepdim),
   lambda rng: [Sample((rn(rng, 2, 3),)), Sample((rn(rng, 2, 3),), {"dim": 1}),
                Sample((away(rng, 2, 3),), {"p": 1, "dim": 0}),
                Sample((distinct(rng, 2, 3),), {"p": math.inf, "dim": 1, "keepdim": True}),
                Sample((pos(rng, 4),), {"p": 3}), Sample((away(rng, 2, 2),), {"p": 1.5})])
op("logsumexp", md.logsumexp, tf("logsumexp"),
   lambda rng: [Sample((rn(rng, 2, 3),), {"dim": 1}), Sample((rn(rng, 2, 3),), {"dim": 0, "keepdim": True}),
                Sample((rn(rng, 2, 3, 2),), {"dim": (1, 2)})])
op("softmax", md.softmax, tf("softmax"),
   lambda rng: [Sample((rn(rng, 2, 3),), {"dim": 1}), Sample((rn(rng, 3, 2),), {"dim": 0}),
                Sample((rn(rng, 4),), {"dim": -1})])
op("log_softmax", md.log_softmax, tf("log_softmax"),
   lambda rng: [Sample((rn(rng, 2, 3),), {"dim": 1}), Sample((rn(rng, 3, 2),), {"dim": 0})])

# shape
op("reshape", lambda x, s: md.reshape(x, s), lambda x, s: x.reshape(s),
   lambda rng: [Sample((rn(rng, 2, 3),), {"s": (3, 2)}), Sample((rn(rng, 2, 3),), {"s": (-1,)}),
                Sample((rn(rng),), {"s": (1, 1)}), Sample((rn(rng, 1),), {"s": ()})])
op("view", lambda x: x.view(6, 1), lambda x: x.view(6, 1), unary(rn, [(2, 3)]))
op("flatten", md.flatten, tf("flatten"),
   lambda rng: [Sample((rn(rng, 2, 3, 2),)), Sample((rn(rng, 2, 3, 2),), {"start_dim": 1}), Sample((rn(rng),))])
op("unflatten", lambda x: md.unflatten(x, 1, (2, 3)), lambda x: x.unflatten(1, (2, 3)), unary(rn, [(2, 6)]))
op("squeeze", md.squeeze, tf("squeeze"),
   lambda rng: [Sample((rn(rng, 2, 1, 3),)), Sample((rn(rng, 1, 3, 1),), {"dim": 0})])
op("unsqueeze", md.unsqueeze, tf("unsqueeze"),
   lambda rng: [Sample((rn(rng, 2, 3),), {"dim": 1}), Sample((rn(rng),), {"dim": 0}),
                Sample((rn(rng, 3),), {"dim": -1})])
op("transpose", md.transpose, tf("transpose"),
   lambda rng: [Sample((rn(rng, 2, 3),), {"dim0": 0, "dim1": 1}), Sample((rn(rng, 2, 3, 2),), {"dim0": 0, "dim1": 2})])
op("permute", lambda x, d: md.permute(x, d), lambda x, d: x.permute(d),
   lambda rng: [Sample((rn(rng, 2, 3, 2),), {"d": (2, 0, 1)}), Sample((rn(rng, 2, 3),), {"d": (1, 0)})])
op("T", lambda x: x.T, lambda x: x.permute(*range(x.ndim - 1, -1, -1)), unary(rn, [(2, 3), (3,)]))
op("mT", lambda x: x.mT, lambda x: x.mT, unary(rn, [(2, 3), (2, 1, 3)]))
op("movedim", md.movedim, tf("movedim"), unary(rn, [(2, 3, 2)], source=0, destination=2))
op("broadcast_to", lambda x, s: md.broadcast_to(x, s), lambda x, s: x.broadcast_to(s),
   lambda rng: [Sample((rn(rng, 3),), {"s": (2, 3)}), Sample((rn(rng, 2, 1),), {"s": (2, 2, 3)}),
                Sample((rn(rng),), {"s": (2,)})])
op("expand", lambda x: x.expand(2, -1, 3), lambda x: x.expand(2, -1, 3), unary(rn, [(2, 1)]))
op("sum_to", lambda x: md.sum_to(x, (1, 3)), lambda x: x.sum_to_size(1, 3), unary(rn, [(2, 3), (4, 2, 3)]))
op("cat", lambda a, b, dim=0: md.cat([a, b], dim), lambda a, b, dim=0: T().cat([a, b], dim),
   lambda rng: [Sample((rn(rng, 2, 3), rn(rng, 1, 3))), Sample((rn(rng, 2, 1), rn(rng, 2, 2)), {"dim": 1})])
op("stack", lambda a, b, dim=0: md.stack([a, b], dim), lambda a, b, dim=0: T().stack([a, b], dim),
   lambda rng: [Sample((rn(rng, 2, 3), rn(rng, 2, 3)), {"dim": 1}), Sample((rn(rng), rn(rng)))])
op("split", lambda x, s, dim=0: md.split(x, s, dim), lambda x, s, dim=0: T().split(x, s, dim),
   lambda rng: [Sample((rn(rng, 5, 2),), {"s": 2}), Sample((rn(rng, 2, 4),), {"s": [1, 3], "dim": 1})])
op("chunk", lambda x: md.chunk(x, 2, 1), lambda x: T().chunk(x, 2, 1), unary(rn, [(2, 4), (2, 3)]))
op("unbind", lambda x: md.unbind(x, 1), lambda x: T().unbind(x, 1), unary(rn, [(2, 3)]))
op("pad", lambda x, p, value=0.0: md.pad(x, p, value=value),
   lambda x, p, value=0.0: T().nn.functional.pad(x, p, value=value),
   lambda rng: [Sample((rn(rng, 2, 3),), {"p": (1, 2)}), Sample((rn(rng, 2, 3),), {"p": (0, 1, 2, 0), "value": 0.5})])
op("flip", md.flip, tf("flip"),
   lambda rng: [Sample((rn(rng, 2, 3),), {"dims": (1,)}), Sample((rn(rng, 2, 3),), {"dims": (0, 1)})])
op("roll", md.roll, tf("roll"),
   lambda rng: [Sample((rn(rng, 2, 3),), {"shifts": 1, "dims": 1}),
                Sample((rn(rng, 2, 3),), {"shifts": (1, -1), "dims": (0, 1)}),
                Sample((rn(rng, 2, 3),), {"shifts": 2})])
op("tril", md.tril, tf("tril"),
   lambda rng: [Sample((rn(rng, 3, 3),)), Sample((rn(rng, 2, 3, 4),), {"diagonal": -1})])
op("triu", md.triu, tf("triu"),
   lambda rng: [Sample((rn(rng, 3, 3),)), Sample((rn(rng, 3, 4),), {"diagonal": 1})])
op("clone", md.clone, tf("clone"), unary())

# indexing
_IDX = [
    (lambda rng: rn(rng, 4, 3), (slice(1, 3), 0)),
    (lambda rng: rn(rng, 4, 3), (slice(None, None, 2), None, Ellipsis)),
    (lambda rng: rn(rng, 4, 3), (-1,)),
    (lambda rng: rn(rng, 4, 3), (np.array([0, 2, 0, 0]),)),              # repeated rows accumulate
    (lambda rng: rn(rng, 4, 3), (np.array([1, 1, 3]), np.array([0, 0, 2]))),
    (lambda rng: rn(rng, 4, 3), (slice(None), np.array([[2, 2], [0, 1]]))),
    (lambda rng: rn(rng, 4, 3), (np.array([True, False, True, True]),)),
    (lambda rng: rn(rng, 2, 3), (np.array([[True, False, True], [False, False, True]]),)),
]
op("getitem", lambda x, idx: x[idx], lambda x, idx: x[_torch_index(idx)],
   lambda rng: [Sample((make(rng),), {"idx": idx}) for make, idx in _IDX])
op("gather", lambda x, i, dim: md.gather(x, dim, i), lambda x, i, dim: T().gather(x, dim, i),
   lambda rng: [Sample((rn(rng, 3, 4), np.array([[0, 0, 3], [1, 2, 2], [3, 3, 3]])), {"dim": 1}),
                Sample((rn(rng, 3, 2), np.array([[2, 0], [2, 2]])), {"dim": 0}),
                Sample((rn(rng, 3, 4), np.array([[0, 3, 1], [2, 2, 0]])), {"dim": 1})])   # smaller index
op("take_along_dim", lambda x, i, dim: md.take_along_dim(x, i, dim),
   lambda x, i, dim: T().take_along_dim(x, i, dim),
   lambda rng: [Sample((rn(rng, 3, 4), np.array([[0, 3], [1, 1], [2, 0]])), {"dim": 1}),
                Sample((rn(rng, 3, 4), np.array([[2, 0, 2]])), {"dim": 1}),     # indices broadcast
                Sample((rn(rng, 3, 4), np.array([[1]])), {"dim": 0})])
op("index_select", lambda x, i, dim: md.index_select(x, dim, i), lambda x, i, dim: T().index_select(x, dim, i),
   lambda rng: [Sample((rn(rng, 3, 4), np.array([0, 3, 3])), {"dim": 1}),
                Sample((rn(rng, 3, 2), np.array([2, 2, 0, 1])), {"dim": 0})])
op("masked_fill", lambda x, m: md.masked_fill(x, m, -1.5), lambda x, m: x.masked_fill(m, -1.5),
   lambda rng: [Sample((rn(rng, 2, 3), rng.random((2, 3)) > 0.5)), Sample((rn(rng, 2, 3), rng.random(3) > 0.5))])


def _setitem_md(x, v, idx):
    y = x * 1.0
    y[idx] = v
    return y


def _setitem_torch(x, v, idx):
    y = x * 1.0
    y[_torch_index(idx)] = v
    return y


op("setitem", _setitem_md, _setitem_torch,
   lambda rng: [Sample((rn(rng, 3, 4), rn(rng, 4)), {"idx": 1}),
                Sample((rn(rng, 3, 4), rn(rng, 3, 2)), {"idx": (slice(None), slice(1, 3))}),
                Sample((rn(rng, 3, 4), rn(rng)), {"idx": (np.array([0, 2]), np.array([1, 3]))})])

# products and linear algebra
op("matmul", md.matmul, tf("matmul"),
   lambda rng: [Sample((rn(rng, 2, 3), rn(rng, 3, 2))), Sample((rn(rng, 2, 2, 3), rn(rng, 3, 2))),
                Sample((rn(rng, 2, 1, 2, 3), rn(rng, 3, 3, 2))), Sample((rn(rng, 3), rn(rng, 3, 2))),
                Sample((rn(rng, 2, 3), rn(rng, 3))), Sample((rn(rng, 3), rn(rng, 3))),
                Sample((rn(rng, 3), rn(rng, 2, 3, 2)))])
op("mm", md.mm, tf("mm"), binary(rn, rn, [((2, 3), (3, 2))]))
op("bmm", md.bmm, tf("bmm"), binary(rn, rn, [((2, 2, 3), (2, 3, 2))]))
op("dot", md.dot, tf("dot"), binary(rn, rn, [((3,), (3,))]))
op("outer", md.outer, tf("outer"), binary(rn, rn, [((3,), (2,))]))
_EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 2)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("ij->ji", [(2, 3)]),
    ("ij->i", [(2, 3)]),                 # a letter summed away
    ("ij,k->ik", [(2, 3), (2,)]),        # j summed in one operand only
    ("ij", [(2, 3)]),                    # implicit output
    ("ij,jk", [(2, 3), (3, 2)]),         # implicit output
    ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(3,), (2,)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (3, 2)]),
    ("b...,b->...", [(2, 3, 2), (2,)]),
    ("...ij->j", [(2, 2, 3)]),           # '...' left out of an explicit output is summed
    ("Cb,bA", [(2, 3), (3, 2)]),         # implicit output: letters in ASCII order
    ("ii->i", [(3, 3)]),                 # diagonal (repeated index)
    ("ii", [(3, 3)]),                    # trace
    ("iij->j", [(2, 2, 3)]),
    ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]),
    ("ij,ij->ij", [(1, 3), (2, 3)]),     # a size-1 dimension broadcasts
    (",ij->ij", [(), (2, 3)]),           # 0-d operand
    # large enough for the batched-matmul path of two-operand einsum
    ("bij,bkj->bik", [(2, 6, 6), (2, 6, 6)]),
    ("ijx,kjy->yik", [(3, 4, 5), (6, 4, 7)]),
]
op("einsum", lambda *xs, eq: md.einsum(eq, *xs), lambda *xs, eq: T().einsum(eq, *xs),
   lambda rng: [Sample(tuple(rn(rng, *s) for s in shapes), {"eq": eq}) for eq, shapes in _EINSUM],
   rtol32=1e-4, atol32=1e-5)
op("linalg.inv", mla.inv, tf("linalg.inv"),
   lambda rng: [Sample((wellcond(rng, 3),)), Sample((wellcond(rng, 2, (2,)),)), Sample((wellcond(rng, 1),))],
   rtol32=1e-3, atol32=1e-4)
op("linalg.solve", mla.solve, tf("linalg.solve"),
   lambda rng: [Sample((wellcond(rng, 3), rn(rng, 3))), Sample((wellcond(rng, 3), rn(rng, 3, 2))),
                Sample((wellcond(rng, 2, (2,)), rn(rng, 2, 2))),        # batch of vectors
                Sample((wellcond(rng, 2, (2,)), rn(rng, 2, 1))),        # broadcast B over the batch
                Sample((wellcond(rng, 2), rn(rng, 3, 2, 2)))],          # broadcast A over the batch
   rtol32=1e-3, atol32=1e-4)
op("linalg.det", mla.det, tf("linalg.det"),
   lambda rng: [Sample((wellcond(rng, 3),)), Sample((wellcond(rng, 2, (2,)),)), Sample((rn(rng, 1, 1) + 2,))],
   rtol32=1e-3, atol32=1e-4)
op("linalg.slogdet", lambda a: mla.slogdet(a)[1], lambda a: T().linalg.slogdet(a)[1],
   lambda rng: [Sample((wellcond(rng, 3),)), Sample((wellcond(rng, 2, (2,)) * np.array([1, -1])[:, None, None],))],
   rtol32=1e-3, atol32=1e-4)
op("linalg.cholesky", lambda a, upper=False: mla.cholesky(a @ a.mT + a.shape[-1] * 0.5 * md.eye(a.shape[-1],
                                                          dtype=a.dtype), upper=upper),
   lambda a, upper=False: T().linalg.cholesky(a @ a.mT + a.shape[-1] * 0.5 * T().eye(a.shape[-1], dtype=a.dtype),
                                              upper=upper),
   lambda rng: [Sample((rn(rng, 3, 3),)), Sample((rn(rng, 2, 2, 2),)), Sample((rn(rng, 3, 3),), {"upper": True})],
   rtol32=1e-3, atol32=1e-4)
op("linalg.cholesky_direct", mla.cholesky, tf("linalg.cholesky"),
   lambda rng: [Sample((spd(rng, 3),))], grad=False, rtol32=1e-3, atol32=1e-4)
op("linalg.eigh", lambda a: [w if i == 0 else w * w for i, w in enumerate(mla.eigh(a + a.mT))],
   lambda a: [w if i == 0 else w * w for i, w in enumerate(T().linalg.eigh(a + a.mT))],
   lambda rng: [Sample((rn(rng, 3, 3),)), Sample((rn(rng, 2, 2, 2),))], rtol32=1e-3, atol32=1e-4)
op("linalg.svdvals", mla.svdvals, tf("linalg.svdvals"),
   lambda rng: [Sample((rn(rng, 3, 2),)), Sample((rn(rng, 2, 3),)), Sample((rn(rng, 2, 3, 3),))],
   rtol32=1e-3, atol32=1e-4)
op("linalg.norm", mla.norm, tf("linalg.norm"),
   lambda rng: [Sample((rn(rng, 2, 3),)), Sample((rn(rng, 4),), {"ord": 3}),
                Sample((distinct(rng, 4),), {"ord": math.inf}), Sample((distinct(rng, 4),), {"ord": -math.inf}),
                Sample((rn(rng, 2, 3),), {"ord": "fro"}), Sample((rn(rng, 3, 2),), {"ord": "nuc"}),
                Sample((rn(rng, 2, 3),), {"ord": 2}), Sample((rn(rng, 3, 3),), {"ord": -2}),
                Sample((distinct(rng, 2, 3),), {"ord": 1}), Sample((distinct(rng, 3, 2),), {"ord": -1}),
                Sample((distinct(rng, 2, 3),), {"ord": math.inf}),
                Sample((rn(rng, 2, 3),), {"dim": 1, "keepdim": True}),
                Sample((rn(rng, 2, 3, 2),), {"ord": "fro", "dim": (0, 2)}),
                Sample((rn(rng, 2, 2, 3),), {"ord": "nuc", "dim": (1, 2), "keepdim": True})],
   rtol32=1e-3, atol32=1e-4)
op("linalg.vector_norm", mla.vector_norm, tf("linalg.vector_norm"),
   lambda rng: [Sample((rn(rng, 2, 3),)), Sample((away(rng, 2, 3),), {"ord": 1, "dim": 1}),
                Sample((pos(rng, 3),), {"ord": 0.5})])
op("linalg.matrix_norm", mla.matrix_norm, tf("linalg.matrix_norm"),
   lambda rng: [Sample((rn(rng, 2, 3),)), Sample((rn(rng, 2, 2, 3),), {"ord": 2}),
                Sample((distinct(rng, 2, 3, 2),), {"ord": 1, "dim": (0, 2)})],
   rtol32=1e-3, atol32=1e-4)

# sorting and selection (values differentiable; indices checked in the parity tests)
op("sort", lambda x, **k: md.sort(x, **k)[0], lambda x, **k: T().sort(x, **k)[0],
   lambda rng: [Sample((distinct(rng, 2, 4),)), Sample((distinct(rng, 3, 2),), {"dim": 0, "descending": True}),
                Sample((distinct(rng, 5),), {"descending": True})])
op("topk", lambda x, k, **kw: md.topk(x, k, **kw)[0], lambda x, k, **kw: T().topk(x, k, **kw)[0],
   lambda rng: [Sample((distinct(rng, 2, 5),), {"k": 2}), Sample((distinct(rng, 4, 2),), {"k": 3, "dim": 0}),
                Sample((distinct(rng, 6),), {"k": 2, "largest": False})])
op("msort", md.msort, tf("msort"), unary(distinct, [(3, 2)]))


def _torch_index(idx):
    """NumPy index -> torch index (arrays become tensors)."""
    torch = T()
    if not isinstance(idx, tuple):
        idx = (idx,)
    return tuple(torch.from_numpy(i) if isinstance(i, np.ndarray) else i for i in idx)


# non-differentiable ops: parity only
NONDIFF = [
    OpInfo("argsort", lambda x, **k: md.argsort(x, **k), lambda x, **k: T().argsort(x, **k),
           lambda rng: [Sample((distinct(rng, 2, 4),)),
                        Sample((distinct(rng, 3, 2),), {"dim": 0, "descending": True})],
           grad=False),
    OpInfo("sort_indices", lambda x, **k: md.sort(x, **k)[1], lambda x, **k: T().sort(x, **k)[1],
           lambda rng: [Sample((distinct(rng, 2, 4),), {"descending": True}),
                        Sample((distinct(rng, 3, 2),), {"dim": 0})],
           grad=False),
    OpInfo("topk_indices", lambda x, k, **kw: md.topk(x, k, **kw)[1], lambda x, k, **kw: T().topk(x, k, **kw)[1],
           lambda rng: [Sample((distinct(rng, 2, 5),), {"k": 2}),
                        Sample((distinct(rng, 4),), {"k": 3, "largest": False})],
           grad=False),
    OpInfo("max_dim_indices", lambda x, **k: md.max(x, **k)[1], lambda x, **k: T().max(x, **k)[1],
           lambda rng: [Sample((distinct(rng, 2, 4),), {"dim": 1}),
                        Sample((distinct(rng, 3, 2),), {"dim": 0, "keepdim": True})],
           grad=False),
    OpInfo("min_dim_indices", lambda x, **k: md.min(x, **k).indices, lambda x, **k: T().min(x, **k).indices,
           lambda rng: [Sample((distinct(rng, 2, 4),), {"dim": 1})], grad=False),
    OpInfo("argmax", md.argmax, tf("argmax"),
           lambda rng: [Sample((distinct(rng, 2, 4),)), Sample((distinct(rng, 2, 4),), {"dim": 1, "keepdim": True})],
           grad=False),
    OpInfo("argmin", md.argmin, tf("argmin"), lambda rng: [Sample((distinct(rng, 2, 4),), {"dim": 0})], grad=False),
    OpInfo("slogdet_sign", lambda a: mla.slogdet(a).sign, lambda a: T().linalg.slogdet(a).sign,
           lambda rng: [Sample((wellcond(rng, 2, (2,)) * np.array([1, -1])[:, None, None],))], grad=False),
    OpInfo("sign", md.sign, tf("sign"), unary(away), grad=False),
    OpInfo("sum_int", md.sum, tf("sum"), lambda rng: [Sample((np.array([[1, 2], [3, 4]]),)),
                                                     Sample((np.array([1, 2, 3]),), {"dim": 0})], grad=False),
    OpInfo("all", md.all, tf("all"), lambda rng: [Sample((rng.random((2, 3)) > 0.5,))], grad=False),
    OpInfo("any", md.any, tf("any"), lambda rng: [Sample((rng.random((2, 3)) > 0.5,), {"dim": 1})], grad=False),
    OpInfo("one_hot", lambda i: md.one_hot(i, 4), lambda i: T().nn.functional.one_hot(i, 4),
           lambda rng: [Sample((np.array([0, 3, 1]),)), Sample((np.array([[2], [0]]),))], grad=False),
    OpInfo("lt", md.lt, tf("lt"), binary(shapes=BINARY_SHAPES + [((), ())]), grad=False),
    OpInfo("le", md.le, tf("le"), binary(), grad=False),
    OpInfo("gt", md.gt, tf("gt"), binary(), grad=False),
    OpInfo("ge", md.ge, tf("ge"), binary(), grad=False),
    OpInfo("ne", md.ne, tf("ne"), lambda rng: [Sample((np.array([1.0, 2.0]), np.array([1.0, 3.0])))], grad=False),
    OpInfo("logical_and", md.logical_and, tf("logical_and"),
           lambda rng: [Sample((rng.random((2, 3)) > 0.5, rng.random(3) > 0.5))], grad=False),
    OpInfo("logical_or", md.logical_or, tf("logical_or"),
           lambda rng: [Sample((rng.random((2, 3)) > 0.5, rng.random((2, 3)) > 0.5))], grad=False),
    OpInfo("logical_not", md.logical_not, tf("logical_not"),
           lambda rng: [Sample((rng.random((2, 3)) > 0.5,)), Sample((np.array(True),))],
           grad=False),
    OpInfo("isnan", md.isnan, tf("isnan"),
           lambda rng: [Sample((np.array([1.0, np.nan, np.inf]),)), Sample((np.array(np.nan),))], grad=False),
    OpInfo("isfinite", md.isfinite, tf("isfinite"), lambda rng: [Sample((np.array([1.0, np.nan, -np.inf]),))],
           grad=False),
    OpInfo("max_0d", lambda x: md.max(x, dim=0)[0], lambda x: T().max(x, dim=0)[0], unary(rn, [()]), grad=False),
    OpInfo("eq", md.eq, tf("eq"), lambda rng: [Sample((np.array([1.0, 2.0]), np.array([1.0, 3.0])))], grad=False),
]

DIFF_OPS = [o for o in OPS if o.grad]
ALL_OPS = OPS + NONDIFF


# --------------------------------------------------------------------------- helpers for the tests

def op_samples(op):
    """The samples of one op row, the same in every run (seeded by the op's name)."""
    rng = np.random.default_rng(zlib.crc32(op.name.encode()))
    return op.samples(rng)


def cases(ops):
    """(op, sample) pairs and their test ids."""
    out, ids = [], []
    for op in ops:
        for i, s in enumerate(op_samples(op)):
            out.append((op, s))
            ids.append(f"{op.name}-{i}")
    return out, ids


def to_mathdl(sample, dtype=np.float64, requires_grad=True):
    """Floating arrays become tensors of ``dtype`` that require grad; the rest stay constants."""
    xs = []
    for a in sample.args:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            xs.append(md.tensor(a.astype(dtype), requires_grad=requires_grad))
        else:
            xs.append(md.tensor(a) if isinstance(a, np.ndarray) else a)
    return xs


def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]

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
                                                          dtype=a.dtype, device=a.device), upper=upper),
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

# --------------------------------------------------------------------------- everyday names (issue 8)
def unit(rng, *shape):
    """Entries in (-0.9, 0.9): inside the domain of asin, acos, atanh."""
    return np.asarray(rng.uniform(-0.9, 0.9, shape))


def above1(rng, *shape):
    """Entries in [1.2, 3): inside the domain of acosh."""
    return np.asarray(rng.uniform(1.2, 3.0, shape))


def nonint(rng, *shape):
    """Entries at least 0.1 away from an integer (or half-integer for round): where floor,
    ceil, round and trunc are locally constant."""
    return np.asarray(rng.integers(-3, 3, shape) + rng.uniform(0.1, 0.4, shape))


for _n, _maker in [("tan", unit), ("sinh", rn), ("cosh", rn), ("asin", unit), ("acos", unit), ("atan", rn),
                   ("asinh", rn), ("acosh", above1), ("atanh", unit), ("log2", pos), ("log10", pos),
                   ("exp2", rn), ("reciprocal", pos), ("deg2rad", rn), ("rad2deg", rn), ("frac", nonint),
                   ("floor", nonint), ("ceil", nonint), ("round", nonint), ("trunc", nonint), ("erfc", rn),
                   ("sgn", away), ("nan_to_num", rn), ("negative", rn), ("positive", rn)]:
    op(_n, getattr(md, _n), tf(_n), unary(_maker))
op("round_decimals", lambda x: md.round(x, decimals=1), lambda x: T().round(x, decimals=1),
   unary(lambda rng, *s: np.asarray(nonint(rng, *s) / 10 + 0.0137)))
op("clamp_min", lambda x: md.clamp_min(x, 0.2), lambda x: T().clamp_min(x, 0.2),
   unary(lambda r, *s: np.asarray(away(r, *s) + 0.2)))
op("clamp_max", lambda x: md.clamp_max(x, 0.2), lambda x: T().clamp_max(x, 0.2),
   unary(lambda r, *s: np.asarray(away(r, *s) + 0.2)))
op("atan2", md.atan2, tf("atan2"), binary(rn, away))
op("hypot", md.hypot, tf("hypot"), binary(away, away))
op("fmod", md.fmod, tf("fmod"), binary(lambda r, *s: np.asarray(nonint(r, *s) * 3), lambda r, *s: np.full(s, 1.3)))
op("remainder", lambda x, other: md.remainder(x, other), lambda x, other: T().remainder(x, other),
   unary(lambda r, *s: np.asarray(nonint(r, *s) * 3), other=-1.3))
op("logaddexp", md.logaddexp, tf("logaddexp"), binary())
op("logaddexp2", md.logaddexp2, tf("logaddexp2"), binary())
op("copysign", md.copysign, tf("copysign"), binary(away, away))
op("lerp", md.lerp, tf("lerp"),
   lambda rng: [Sample((rn(rng, 2, 3), rn(rng, 2, 3), rn(rng, 2, 3))), Sample((rn(rng, 3), rn(rng, 2, 3), rn(rng))),
                Sample((rn(rng, 2, 3), rn(rng, 3)), {"weight": 0.3})])
op("float_power", lambda a, b: md.float_power(a, b), lambda a, b: T().float_power(a, b), binary(pos, rn))
op("true_divide", md.true_divide, tf("true_divide"), binary(rn, away))
op("fmax", md.fmax, tf("fmax"), lambda rng: [Sample((a, a + away(rng, *a.shape))) for a in (rn(rng, 2, 3),)])
op("fmin", md.fmin, tf("fmin"), lambda rng: [Sample((a, a + away(rng, *a.shape))) for a in (rn(rng, 2, 3),)])
op("addcmul", lambda a, b, c: md.addcmul(a, b, c, value=0.5), lambda a, b, c: T().addcmul(a, b, c, value=0.5),
   lambda rng: [Sample((rn(rng, 2, 3), rn(rng, 2, 3), rn(rng, 3)))])
op("addcdiv", lambda a, b, c: md.addcdiv(a, b, c, value=-2), lambda a, b, c: T().addcdiv(a, b, c, value=-2),
   lambda rng: [Sample((rn(rng, 2, 3), rn(rng, 2, 3), pos(rng, 3)))])
op("pow_tensor_edges", md.pow, tf("pow"),
   lambda rng: [Sample((np.array([0.0, 0.0, 1.5, 2.0]), np.array([0.0, 2.0, 0.0, 3.0])))], gradgrad=False)
for _p in (2, 3, -1, -2, 0.5, -0.5, 0, 1, 2.5):
    op(f"pow_scalar_{_p}", (lambda p: lambda x: x ** p)(_p), (lambda p: lambda x: x ** p)(_p),
       unary(pos if _p != int(_p) or _p < 0 else rn))
op("rpow_zero_base", lambda x: 0.0 ** x, lambda x: 0.0 ** x, unary(pos), gradgrad=False)

# scans and statistics
op("cumprod", md.cumprod, tf("cumprod"),
   lambda rng: [Sample((rn(rng, 2, 3),), {"dim": 1}), Sample((rn(rng, 3, 2),), {"dim": 0}),
                Sample((np.array([[0.5, 0.0, 2.0, 1.5], [1.2, -1.0, 0.0, 0.0]]),), {"dim": 1}),
                Sample((rn(rng),), {"dim": 0})])
op("logcumsumexp", md.logcumsumexp, tf("logcumsumexp"),
   lambda rng: [Sample((rn(rng, 2, 4),), {"dim": 1}), Sample((rn(rng, 3, 2),), {"dim": 0}),
                Sample((rn(rng),), {"dim": 0})])
op("cummax", lambda x, dim: md.cummax(x, dim)[0], lambda x, dim: T().cummax(x, dim)[0],
   lambda rng: [Sample((distinct(rng, 2, 4),), {"dim": 1}), Sample((distinct(rng, 3, 2),), {"dim": 0})])
op("cummin", lambda x, dim: md.cummin(x, dim)[0], lambda x, dim: T().cummin(x, dim)[0],
   lambda rng: [Sample((distinct(rng, 2, 4),), {"dim": 1})])
op("median", md.median, tf("median"), unary(distinct, [(5,), (2, 3)]))
op("median_dim", lambda x, **k: md.median(x, **k)[0], lambda x, **k: T().median(x, **k)[0],
   lambda rng: [Sample((distinct(rng, 2, 5),), {"dim": 1}),
                Sample((distinct(rng, 4, 2),), {"dim": 0, "keepdim": True})])
op("nanmedian", lambda x: md.nanmedian(x, 1)[0], lambda x: T().nanmedian(x, 1)[0], unary(distinct, [(2, 5)]))
op("quantile", md.quantile, tf("quantile"),
   lambda rng: [Sample((distinct(rng, 7),), {"q": 0.3}), Sample((distinct(rng, 2, 5),), {"q": 0.75, "dim": 1}),
                Sample((distinct(rng, 4, 3),), {"q": 0.5, "dim": 0, "keepdim": True}),
                Sample((distinct(rng, 2, 5),), {"q": 0.4, "dim": 1, "interpolation": "midpoint"}),
                Sample((distinct(rng, 2, 5),), {"q": 0.4, "dim": 1, "interpolation": "lower"}),
                Sample((distinct(rng, 2, 5),), {"q": 0.4, "dim": 1, "interpolation": "higher"}),
                Sample((distinct(rng, 2, 5),), {"q": 0.4, "dim": 1, "interpolation": "nearest"})])
op("quantile_vector_q", lambda x: md.quantile(x, md.tensor([0.1, 0.5, 0.9], dtype=x.dtype), dim=1),
   lambda x: T().quantile(x, T().tensor([0.1, 0.5, 0.9], dtype=x.dtype), dim=1), unary(distinct, [(2, 6)]))
op("nansum", md.nansum, tf("nansum"),
   lambda rng: [Sample((rn(rng, 2, 3),)), Sample((rn(rng, 2, 3),), {"dim": 1})])
op("nanmean", md.nanmean, tf("nanmean"),
   lambda rng: [Sample((rn(rng, 2, 3),)), Sample((rn(rng, 2, 3),), {"dim": 0})])
op("std_mean", lambda x, **k: list(md.std_mean(x, **k)), lambda x, **k: list(T().std_mean(x, **k)),
   lambda rng: [Sample((rn(rng, 3, 4),), {"dim": 1})])
op("var_mean", lambda x, **k: list(md.var_mean(x, **k)), lambda x, **k: list(T().var_mean(x, **k)),
   lambda rng: [Sample((rn(rng, 3, 4),), {"dim": 0, "correction": 0})])
op("kthvalue", lambda x, k, dim: md.kthvalue(x, k, dim)[0], lambda x, k, dim: T().kthvalue(x, k, dim)[0],
   lambda rng: [Sample((distinct(rng, 2, 5),), {"k": 2, "dim": 1})])

# shapes, diagonals, stacking
op("diag", md.diag, tf("diag"),
   lambda rng: [Sample((rn(rng, 3),)), Sample((rn(rng, 3),), {"diagonal": 1}), Sample((rn(rng, 3, 4),)),
                Sample((rn(rng, 3, 4),), {"diagonal": -1})])
op("diagonal", md.diagonal, tf("diagonal"),
   lambda rng: [Sample((rn(rng, 3, 4),)), Sample((rn(rng, 2, 3, 4),), {"offset": 1, "dim1": 1, "dim2": 2}),
                Sample((rn(rng, 3, 2, 3),), {"offset": -1, "dim1": 2, "dim2": 0})])
op("diag_embed", md.diag_embed, tf("diag_embed"),
   lambda rng: [Sample((rn(rng, 2, 3),)), Sample((rn(rng, 2, 3),), {"offset": 1}),
                Sample((rn(rng, 2, 3),), {"dim1": 0, "dim2": 2})])
op("trace", md.trace, tf("trace"), unary(rn, [(3, 3), (2, 4)]))
op("diff", lambda x, **k: md.diff(x, **k), lambda x, **k: T().diff(x, **k),
   lambda rng: [Sample((rn(rng, 5),)), Sample((rn(rng, 3, 4),), {"dim": 0}), Sample((rn(rng, 2, 5),), {"n": 2}),
                Sample((rn(rng, 2, 3),), {"n": 0})])
op("diff_prepend", lambda x, p: md.diff(x, prepend=p), lambda x, p: T().diff(x, prepend=p),
   binary(rn, rn, [((4,), (2,)), ((2, 3), (2, 1))]))
op("tile", lambda x, dims: md.tile(x, dims), lambda x, dims: T().tile(x, dims),
   lambda rng: [Sample((rn(rng, 2, 3),), {"dims": (2, 1)}), Sample((rn(rng, 3),), {"dims": (2, 2)}),
                Sample((rn(rng, 2, 1, 2),), {"dims": (3,)}), Sample((rn(rng),), {"dims": (2,)})])
op("repeat", lambda x, s: x.repeat(*s), lambda x, s: x.repeat(*s),
   lambda rng: [Sample((rn(rng, 2, 3),), {"s": (2, 1)}), Sample((rn(rng, 3),), {"s": (2, 1, 2)})])
op("repeat_interleave", md.repeat_interleave,
   lambda x, repeats, **k: T().repeat_interleave(x, T().tensor(repeats) if isinstance(repeats, tuple) else repeats,
                                                 **k),
   lambda rng: [Sample((rn(rng, 2, 3),), {"repeats": 2}), Sample((rn(rng, 2, 3),), {"repeats": 2, "dim": 1}),
                Sample((rn(rng, 3, 2),), {"repeats": (1, 0, 2), "dim": 0})])
op("kron", md.kron, tf("kron"), binary(rn, rn, [((2, 3), (2, 2)), ((3,), (2,)), ((2, 1, 2), (2, 2))]))
op("tensordot", lambda a, b, dims=2: md.tensordot(a, b, dims), lambda a, b, dims=2: T().tensordot(a, b, dims),
   lambda rng: [Sample((rn(rng, 2, 3, 4), rn(rng, 3, 4, 2))), Sample((rn(rng, 2, 3), rn(rng, 3, 2)), {"dims": 1}),
                Sample((rn(rng, 3, 2), rn(rng, 2, 3)), {"dims": ([0], [1])}),
                Sample((rn(rng, 2), rn(rng, 3)), {"dims": 0})])
op("cdist", md.cdist, tf("cdist"),
   lambda rng: [Sample((rn(rng, 3, 2), rn(rng, 4, 2))), Sample((rn(rng, 2, 3, 2), rn(rng, 2, 2, 2)), {"p": 1.0}),
                Sample((rn(rng, 3, 2), rn(rng, 2, 2)), {"p": 3.0})], rtol32=1e-3, atol32=1e-4)
op("meshgrid", lambda a, b: list(md.meshgrid(a, b, indexing="ij")),
   lambda a, b: list(T().meshgrid(a, b, indexing="ij")), binary(rn, rn, [((3,), (2,))]))
op("meshgrid_xy", lambda a, b: list(md.meshgrid(a, b, indexing="xy")),
   lambda a, b: list(T().meshgrid(a, b, indexing="xy")), binary(rn, rn, [((3,), (2,))]))
op("hstack", lambda a, b: md.hstack([a, b]), lambda a, b: T().hstack([a, b]),
   binary(rn, rn, [((2, 3), (2, 1)), ((3,), (2,))]))
op("vstack", lambda a, b: md.vstack([a, b]), lambda a, b: T().vstack([a, b]),
   binary(rn, rn, [((2, 3), (1, 3)), ((3,), (3,))]))
op("dstack", lambda a, b: md.dstack([a, b]), lambda a, b: T().dstack([a, b]), binary(rn, rn, [((2, 3), (2, 3))]))
op("column_stack", lambda a, b: md.column_stack([a, b]), lambda a, b: T().column_stack([a, b]),
   binary(rn, rn, [((3,), (3, 2))]))
op("block_diag", lambda a, b: md.block_diag(a, b), lambda a, b: T().block_diag(a, b),
   binary(rn, rn, [((2, 3), (1, 2)), ((), (2,))]))
op("cartesian_prod", lambda a, b: md.cartesian_prod(a, b), lambda a, b: T().cartesian_prod(a, b),
   binary(rn, rn, [((3,), (2,))]))
op("combinations", md.combinations, tf("combinations"),
   lambda rng: [Sample((rn(rng, 4),)), Sample((rn(rng, 3),), {"r": 3}),
                Sample((rn(rng, 3),), {"with_replacement": True})])
op("rot90", md.rot90, tf("rot90"),
   lambda rng: [Sample((rn(rng, 2, 3),)), Sample((rn(rng, 2, 3),), {"k": 2}),
                Sample((rn(rng, 2, 3, 2),), {"k": -1, "dims": (2, 0)})])
op("narrow", md.narrow, tf("narrow"), unary(rn, [(4, 3)], dim=0, start=1, length=2))
op("select", md.select, tf("select"), unary(rn, [(4, 3)], dim=1, index=-1))
op("t", md.t, tf("t"), unary(rn, [(2, 3), (3,), ()]))
op("fliplr", md.fliplr, tf("fliplr"), unary(rn, [(2, 3)]))
op("flipud", md.flipud, tf("flipud"), unary(rn, [(2, 3)]))
op("atleast_3d", md.atleast_3d, tf("atleast_3d"), unary(rn, [(), (3,), (2, 3)]))

# indexing
op("scatter", lambda x, i, s, dim: md.scatter(x, dim, i, s), lambda x, i, s, dim: T().scatter(x, dim, i, s),
   lambda rng: [Sample((rn(rng, 3, 4), np.array([[0, 2], [1, 3]]), rn(rng, 2, 2)), {"dim": 1}),
                Sample((rn(rng, 3, 2), np.array([[2, 0]]), rn(rng, 1, 2)), {"dim": 0})])
op("scatter_add", lambda x, i, s, dim: md.scatter_add(x, dim, i, s), lambda x, i, s, dim: T().scatter_add(x, dim, i, s),
   lambda rng: [Sample((rn(rng, 3, 4), np.array([[0, 0, 3], [1, 2, 2]]), rn(rng, 2, 3)), {"dim": 1}),
                Sample((rn(rng, 3, 2), np.array([[2, 2], [0, 2]]), rn(rng, 2, 2)), {"dim": 0})])
op("index_add", lambda x, i, s, dim: md.index_add(x, dim, i, s, alpha=2.0),
   lambda x, i, s, dim: T().index_add(x, dim, i, s, alpha=2.0),
   lambda rng: [Sample((rn(rng, 3, 4), np.array([0, 2, 0]), rn(rng, 3, 3)), {"dim": 1}),
                Sample((rn(rng, 3, 2), np.array([1, 1]), rn(rng, 2, 2)), {"dim": 0})])
op("index_copy", lambda x, i, s, dim: md.index_copy(x, dim, i, s), lambda x, i, s, dim: T().index_copy(x, dim, i, s),
   lambda rng: [Sample((rn(rng, 3, 4), np.array([3, 0]), rn(rng, 3, 2)), {"dim": 1})])
op("index_fill", lambda x, i, dim: md.index_fill(x, dim, i, -2.0), lambda x, i, dim: T().index_fill(x, dim, i, -2.0),
   lambda rng: [Sample((rn(rng, 3, 4), np.array([3, 0])), {"dim": 1})])
op("masked_select", md.masked_select, tf("masked_select"),
   lambda rng: [Sample((rn(rng, 2, 3), rng.random((2, 3)) > 0.5)),
                Sample((rn(rng, 2, 3), np.array([True, False, True])))])
op("take", md.take, tf("take"), lambda rng: [Sample((rn(rng, 3, 4), np.array([[0, 11], [5, 5]])))])

# products
op("mv", md.mv, tf("mv"), binary(rn, rn, [((2, 3), (3,))]))
op("inner", md.inner, tf("inner"), binary(rn, rn, [((2, 3), (4, 3)), ((3,), (3,)), ((), (2,))]))
op("addmm", lambda i, a, b: md.addmm(i, a, b, beta=0.5, alpha=2.0),
   lambda i, a, b: T().addmm(i, a, b, beta=0.5, alpha=2.0),
   lambda rng: [Sample((rn(rng, 2, 2), rn(rng, 2, 3), rn(rng, 3, 2))),
                Sample((rn(rng, 2), rn(rng, 3, 3), rn(rng, 3, 2)))])
op("addmv", lambda i, a, v: md.addmv(i, a, v, alpha=-1), lambda i, a, v: T().addmv(i, a, v, alpha=-1),
   lambda rng: [Sample((rn(rng, 2), rn(rng, 2, 3), rn(rng, 3)))])
op("addr", md.addr, tf("addr"), lambda rng: [Sample((rn(rng, 2, 3), rn(rng, 2), rn(rng, 3)))])
op("baddbmm", lambda i, a, b: md.baddbmm(i, a, b, beta=2), lambda i, a, b: T().baddbmm(i, a, b, beta=2),
   lambda rng: [Sample((rn(rng, 2, 2, 2), rn(rng, 2, 2, 3), rn(rng, 2, 3, 2)))])
op("addbmm", md.addbmm, tf("addbmm"), lambda rng: [Sample((rn(rng, 2, 2), rn(rng, 3, 2, 3), rn(rng, 3, 3, 2)))])
op("addmm_beta0", lambda i, a, b: md.addmm(i, a, b, beta=0), lambda i, a, b: T().addmm(i, a, b, beta=0),
   lambda rng: [Sample((np.full((2, 2), np.nan), rn(rng, 2, 3), rn(rng, 3, 2)))], grad=False)
op("chain_matmul", lambda a, b, c: md.chain_matmul(a, b, c),
   lambda a, b, c: T().linalg.multi_dot([a, b, c]),
   lambda rng: [Sample((rn(rng, 2, 3), rn(rng, 3, 4), rn(rng, 4, 2)))])

op("logit", md.logit, tf("logit"), unary(lambda r, *s: np.asarray(r.uniform(0.1, 0.9, s))))
op("sinc", md.sinc, tf("sinc"), unary(away))
op("xlogy", md.xlogy, tf("xlogy"), binary(rn, pos))
op("ldexp", md.ldexp, tf("ldexp"), binary(rn, rn, [((2, 3), (2, 3)), ((3,), ())]))
op("dist", md.dist, tf("dist"),
   lambda rng: [Sample((rn(rng, 2, 3), rn(rng, 3))), Sample((rn(rng, 4), rn(rng, 4)), {"p": 1})])
op("trapezoid", md.trapezoid, tf("trapezoid"),
   lambda rng: [Sample((rn(rng, 2, 5),)), Sample((rn(rng, 4, 2),), {"dim": 0, "dx": 0.5}),
                Sample((rn(rng, 3, 4), np.sort(rn(rng, 4))))])
op("unfold", lambda x, **k: x.unfold(**k), lambda x, **k: x.unfold(**k),
   lambda rng: [Sample((rn(rng, 3, 5),), {"dimension": 1, "size": 2, "step": 2}),
                Sample((rn(rng, 4, 2),), {"dimension": 0, "size": 3, "step": 1})])
op("broadcast_tensors", lambda a, b: list(md.broadcast_tensors(a, b)), lambda a, b: list(T().broadcast_tensors(a, b)),
   binary(rn, rn, [((2, 1), (3,))]))

op("nanquantile", lambda x: md.nanquantile(x, 0.4, dim=1), lambda x: T().nanquantile(x, 0.4, dim=1),
   lambda rng: [Sample((distinct(rng, 2, 5),))])
op("diagflat", md.diagflat, tf("diagflat"), unary(rn, [(2, 2)]))
op("atleast_2d", md.atleast_2d, tf("atleast_2d"), unary(rn, [(), (3,)]))
op("ravel", md.ravel, tf("ravel"), unary(rn, [(2, 3)]))
op("aminmax", lambda x: list(md.aminmax(x, dim=1)), lambda x: list(T().aminmax(x, dim=1)), unary(distinct, [(2, 4)]))
op("logdet", md.logdet, tf("logdet"), lambda rng: [Sample((spd(rng, 3),)), Sample((wellcond(rng, 2, (2,)),))],
   rtol32=1e-3, atol32=1e-4)
op("inverse", md.inverse, tf("inverse"), lambda rng: [Sample((wellcond(rng, 3),))], rtol32=1e-3, atol32=1e-4)
op("cross", md.cross, tf("cross"), binary(rn, rn, [((3,), (3,)), ((2, 3), (2, 3))]))
op("svd_values", lambda a: md.svd(a)[1], lambda a: T().svd(a)[1], lambda rng: [Sample((rn(rng, 3, 2),))],
   rtol32=1e-3, atol32=1e-4)


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


# non-differentiable everyday names (issue 8): parity (and the generated edge cases)
def _nd(name, fn, torch_fn, make):
    NONDIFF.append(OpInfo(name, fn, torch_fn, make, grad=False))


def _ints(*values):
    return lambda rng: [Sample(tuple(np.array(v) for v in values))]


_nd("nonzero", md.nonzero, tf("nonzero"), lambda rng: [Sample((np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]]),)),
                                                        Sample((np.array(0.0),)), Sample((np.array([1.0, 2.0]),))])
_nd("nonzero_tuple", lambda x: list(md.nonzero(x, as_tuple=True)), lambda x: list(T().nonzero(x, as_tuple=True)),
    lambda rng: [Sample((np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]]),))])
_nd("argwhere", md.argwhere, tf("argwhere"), lambda rng: [Sample((np.array([[0.0, 1.5], [2.0, 0.0]]),))])
_nd("count_nonzero", md.count_nonzero, tf("count_nonzero"),
    lambda rng: [Sample((np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]]),)),
                 Sample((np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]]),), {"dim": 1})])
_nd("unique", lambda x, **k: list(md.unique(x, return_inverse=True, return_counts=True, **k)),
    lambda x, **k: list(T().unique(x, return_inverse=True, return_counts=True, **k)),
    lambda rng: [Sample((np.array([3.0, 1.0, 2.0, 3.0, 1.0, 1.0]),)),
                 Sample((np.array([[1.0, 2.0], [0.0, 5.0], [1.0, 2.0]]),), {"dim": 0})])
_nd("unique_consecutive", lambda x: list(md.unique_consecutive(x, return_inverse=True, return_counts=True)),
    lambda x: list(T().unique_consecutive(x, return_inverse=True, return_counts=True)),
    lambda rng: [Sample((np.array([1.0, 1.0, 2.0, 2.0, 3.0, 1.0, 1.0]),))])
_nd("searchsorted", md.searchsorted, tf("searchsorted"),
    lambda rng: [Sample((np.array([1.0, 3.0, 5.0, 7.0]), np.array([[0.5, 3.0], [7.0, 9.0]]))),
                 Sample((np.array([1.0, 3.0, 5.0, 7.0]), np.array([3.0, 6.0])), {"right": True}),
                 Sample((np.array([[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]), np.array([[3.0, 6.0], [1.0, 4.0]])),
                        {"side": "right"})])
_nd("bucketize", lambda x, b, **k: md.bucketize(x, b, **k), lambda x, b, **k: T().bucketize(x, b, **k),
    lambda rng: [Sample((np.array([[0.5, 3.0], [7.0, 9.0]]), np.array([1.0, 3.0, 5.0, 7.0]))),
                 Sample((np.array([3.0, 6.0, 1.0]), np.array([1.0, 3.0, 5.0])), {"right": True})])
_nd("bincount", md.bincount, tf("bincount"), lambda rng: [Sample((np.array([0, 3, 3, 1, 5]),))])
_nd("bincount_weights", lambda x, w: md.bincount(x, w, minlength=8), lambda x, w: T().bincount(x, w, minlength=8),
    lambda rng: [Sample((np.array([0, 3, 3, 1, 5]), np.array([0.5, 1.0, 2.0, -1.0, 3.0])))])
_nd("isin", md.isin, tf("isin"), lambda rng: [Sample((np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([2.0, 4.0, 9.0])))])
_nd("isclose", md.isclose, tf("isclose"),
    lambda rng: [Sample((np.array([1.0, 2.0, np.inf, np.nan]), np.array([1.0 + 1e-9, 2.1, np.inf, np.nan])))])
_nd("isclose_nan", lambda a, b: md.isclose(a, b, equal_nan=True), lambda a, b: T().isclose(a, b, equal_nan=True),
    lambda rng: [Sample((np.array([1.0, np.nan]), np.array([1.0, np.nan])))])
for _n in ("isinf", "isposinf", "isneginf", "signbit"):
    _nd(_n, getattr(md, _n), tf(_n), lambda rng: [Sample((np.array([1.0, -0.0, np.inf, -np.inf, np.nan, -2.0]),))])
_nd("logical_xor", md.logical_xor, tf("logical_xor"),
    lambda rng: [Sample((rng.random((2, 3)) > 0.5, rng.random(3) > 0.5))])
for _n in ("bitwise_and", "bitwise_or", "bitwise_xor"):
    _nd(_n, getattr(md, _n), tf(_n), _ints([[5, 3, -1], [0, 7, 12]], [6, 1, 255]))
_nd("bitwise_not", md.bitwise_not, tf("bitwise_not"), _ints([5, 0, -3]))
_nd("shifts", lambda a, b: [md.bitwise_left_shift(a, b), md.bitwise_right_shift(a, b)],
    lambda a, b: [T().bitwise_left_shift(a, b), T().bitwise_right_shift(a, b)], _ints([5, 1, 64], [1, 3, 2]))
_nd("heaviside", md.heaviside, tf("heaviside"), lambda rng: [Sample((np.array([-1.5, 0.0, 2.0]), np.array([0.5])))])
_nd("floor_divide", md.floor_divide, tf("floor_divide"),
    lambda rng: [Sample((np.array([-7.0, 7.0, 5.5]), np.array([2.0, -2.0, 2.0]))),
                 Sample((np.array([-7, 7, 5]), np.array([2, -2, 3])))])
_nd("div_trunc", lambda a, b: md.div(a, b, rounding_mode="trunc"), lambda a, b: T().div(a, b, rounding_mode="trunc"),
    lambda rng: [Sample((np.array([-7.0, 7.0, 5.5]), np.array([2.0, -2.0, 2.0]))),
                 Sample((np.array([-7, 7, 5]), np.array([2, -2, 3])))])
_nd("fmod_int", md.fmod, tf("fmod"), _ints([-7, 7, 5], [2, -2, 3]))
_nd("remainder_int", md.remainder, tf("remainder"), _ints([-7, 7, 5], [2, -2, 3]))
_nd("histc", lambda x: md.histc(x, bins=4, min=0, max=2), lambda x: T().histc(x, bins=4, min=0, max=2),
    lambda rng: [Sample((np.array([0.1, 0.5, 0.6, 1.9, 2.0, 3.0]),))])
_nd("triu_indices", lambda: md.triu_indices(3, 4, 1), lambda: T().triu_indices(3, 4, 1), lambda rng: [Sample(())])
_nd("tril_indices", lambda: md.tril_indices(4, 3, -1), lambda: T().tril_indices(4, 3, -1), lambda rng: [Sample(())])
_nd("cummax_indices", lambda x: md.cummax(x, 0).indices, lambda x: T().cummax(x, 0).indices,
    lambda rng: [Sample((np.array([1.0, 3.0, 2.0, 3.0, np.nan, 5.0, 1.0]),))])
_nd("cummin_indices", lambda x: md.cummin(x, 0).indices, lambda x: T().cummin(x, 0).indices,
    lambda rng: [Sample((np.array([3.0, 1.0, 2.0, 1.0, 0.5]),))])
_nd("median_indices", lambda x: md.median(x, 1).indices, lambda x: T().median(x, 1).indices,
    lambda rng: [Sample((distinct(rng, 3, 5),))])
_nd("kthvalue_indices", lambda x: md.kthvalue(x, 2, 0).indices, lambda x: T().kthvalue(x, 2, 0).indices,
    lambda rng: [Sample((distinct(rng, 4, 3),))])
_nd("repeat_interleave_counts", md.repeat_interleave, tf("repeat_interleave"), _ints([2, 0, 3]))
_nd("nan_to_num_inf", lambda x: md.nan_to_num(x, nan=1.5, posinf=9.0), lambda x: T().nan_to_num(x, nan=1.5, posinf=9.0),
    lambda rng: [Sample((np.array([np.nan, np.inf, -np.inf, 2.0]),))])
_nd("scatter_multiply", lambda x, i, s: md.scatter(x, 0, i, s, reduce="multiply"),
    lambda x, i, s: T().scatter(x, 0, i, s, reduce="multiply"),
    lambda rng: [Sample((rn(rng, 3, 2), np.array([[0, 1], [0, 2]]), rn(rng, 2, 2)))])
_nd("gcd_lcm", lambda a, b: [md.gcd(a, b), md.lcm(a, b)], lambda a, b: [T().gcd(a, b), T().lcm(a, b)],
    _ints([12, 18, -4, 0], [8, 27, 6, 5]))

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

"""Differential property tests against PyTorch (hypothesis): random shapes (0-d and size-0 axes
included), dtypes and values through random short chains of ops, forward values and dtypes
and, for floating chains, gradients -- NaN and inf exactly where PyTorch has them.
Skipped without torch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mathdl as md
import mathdl.nn.functional as F

from .edge_cases import compare_arrays

torch = pytest.importorskip("torch")
TF = torch.nn.functional

SETTINGS = settings(max_examples=60, deadline=None, database=None)

# (name, mathdl fn, torch fn); the fn takes (x, other, dim) and uses what it needs
UNARY = [
    ("exp", lambda x, o, d, m: m.exp(x)), ("tanh", lambda x, o, d, m: m.tanh(x)),
    ("sin", lambda x, o, d, m: m.sin(x)), ("sigmoid", lambda x, o, d, m: m.sigmoid(x)),
    ("neg", lambda x, o, d, m: -x), ("square", lambda x, o, d, m: x ** 2), ("cube", lambda x, o, d, m: x ** 3),
    ("sqrt", lambda x, o, d, m: x ** 0.5), ("recip", lambda x, o, d, m: x ** -1),
    ("log1p_abs", lambda x, o, d, m: m.log1p(m.abs(x))), ("atan", lambda x, o, d, m: m.atan(x)),
    ("erf", lambda x, o, d, m: m.erf(x)), ("clamp", lambda x, o, d, m: m.clamp(x, -1.0, 1.0)),
    ("softplus", lambda x, o, d, m: (F if m is md else TF).softplus(x)),
    ("gelu", lambda x, o, d, m: (F if m is md else TF).gelu(x)),
    ("elu", lambda x, o, d, m: (F if m is md else TF).elu(x)),
    ("scale", lambda x, o, d, m: x * 0.5 + 1.0), ("asinh", lambda x, o, d, m: m.asinh(x)),
    ("log2_abs", lambda x, o, d, m: m.log2(m.abs(x) + 0.1)), ("sinc", lambda x, o, d, m: m.sinc(x)),
    ("silu", lambda x, o, d, m: (F if m is md else TF).silu(x)),
    ("mish", lambda x, o, d, m: (F if m is md else TF).mish(x)),
]
BINARY = [
    ("add", lambda x, o, d, m: x + o), ("mul", lambda x, o, d, m: x * o), ("sub", lambda x, o, d, m: o - x),
    ("div", lambda x, o, d, m: x / (m.abs(o) + 0.5)), ("maximum", lambda x, o, d, m: m.maximum(x, o)),
    ("atan2", lambda x, o, d, m: m.atan2(x, o)), ("hypot", lambda x, o, d, m: m.hypot(x, o)),
    ("lerp", lambda x, o, d, m: m.lerp(x, o, 0.3)), ("pow", lambda x, o, d, m: m.pow(m.abs(x) + 0.5, o)),
    ("logaddexp", lambda x, o, d, m: m.logaddexp(x, o)), ("copysign", lambda x, o, d, m: m.copysign(x, o)),
    ("minimum", lambda x, o, d, m: m.minimum(x, o)),
]
ALONG = [  # need at least one dimension
    ("sum", lambda x, o, d, m: x.sum(d)), ("mean", lambda x, o, d, m: x.mean(d)),
    ("cumsum", lambda x, o, d, m: m.cumsum(x, d)), ("logsumexp", lambda x, o, d, m: m.logsumexp(x, d)),
    ("softmax", lambda x, o, d, m: m.softmax(x, d)), ("flip", lambda x, o, d, m: m.flip(x, (d,))),
    ("unsqueeze", lambda x, o, d, m: x.unsqueeze(d)), ("prod", lambda x, o, d, m: m.prod(x, d)),
    ("cumprod", lambda x, o, d, m: m.cumprod(x, d)), ("transpose", lambda x, o, d, m: x.transpose(0, d)),
    ("logcumsumexp", lambda x, o, d, m: m.logcumsumexp(x, d)), ("cummax", lambda x, o, d, m: m.cummax(x, d)[0]),
    ("var", lambda x, o, d, m: x.var(d)), ("diff", lambda x, o, d, m: m.diff(x, dim=d)),
]
INT_OPS = [
    ("add", lambda x, o, d, m: x + o), ("mul", lambda x, o, d, m: x * o), ("sub", lambda x, o, d, m: x - 3),
    ("abs", lambda x, o, d, m: m.abs(x)), ("neg", lambda x, o, d, m: -x), ("max", lambda x, o, d, m: m.maximum(x, o)),
    ("floordiv", lambda x, o, d, m: m.floor_divide(x, 2)), ("remainder", lambda x, o, d, m: m.remainder(x, 3)),
    ("square", lambda x, o, d, m: x * x), ("div", lambda x, o, d, m: x / 2),
]


@st.composite
def chains(draw, pool_names, max_len=4):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))
    n = draw(st.integers(1, max_len))
    steps = [(draw(st.sampled_from(pool_names)), draw(st.integers(0, 2))) for _ in range(n)]
    seed = draw(st.integers(0, 2**31 - 1))
    other_shape = draw(st.sampled_from(["same", "scalar", "row"]))
    return shape, steps, seed, other_shape


def _other_shape(shape, kind):
    if kind == "scalar" or not shape:
        return ()
    if kind == "row":
        return (shape[-1],)
    return shape


POOL = {name: fn for name, fn in UNARY + BINARY + ALONG}


def _run_chain(shape, steps, seed, other_kind, dtype, integer=False):
    rng = np.random.default_rng(seed)
    if integer:
        x0 = rng.integers(-5, 6, shape).astype(dtype)
    else:
        x0 = (rng.standard_normal(shape) * 2).astype(dtype)
    xm = md.tensor(x0, requires_grad=not integer)
    xt = torch.tensor(x0, requires_grad=not integer)
    ym, yt = xm, xt
    pool = dict(INT_OPS) if integer else POOL
    for name, dsel in steps:
        oshape = _other_shape(tuple(yt.shape), other_kind)
        o = rng.integers(-4, 5, oshape).astype(dtype) if integer else rng.standard_normal(oshape).astype(dtype)
        fn = pool[name]
        if name in dict(ALONG) and yt.ndim == 0:
            continue
        d = dsel % max(yt.ndim, 1)
        with np.errstate(all="ignore"):
            try:
                yt2 = fn(yt, torch.tensor(o), d, torch)
            except RuntimeError:  # torch refuses this step (e.g. max over an empty dim): skip it
                continue
            ym = fn(ym, md.tensor(o), d, md)
        yt = yt2
    return xm, xt, ym, yt


def _check(xm, xt, ym, yt, dtype, grad):
    rtol, atol = (2e-4, 1e-5) if dtype == np.float32 else (1e-9, 1e-12)
    assert str(ym.dtype) == str(yt.dtype).replace("torch.", ""), f"dtype {ym.dtype} vs torch {yt.dtype}"
    msg = compare_arrays(np.asarray(ym.array), yt.detach().numpy(), rtol, atol, "output")
    assert not msg, msg
    if not grad or not yt.requires_grad:
        return
    with np.errstate(all="ignore"):
        yt.sum().backward()
        ym.sum().backward()
    gt = xt.grad.numpy() if xt.grad is not None else np.zeros(xt.shape)
    gm = xm.grad.numpy() if xm.grad is not None else np.zeros(xm.shape)
    msg = compare_arrays(gm, gt, rtol * 50, atol * 50, "gradient")
    assert not msg, msg


@SETTINGS
@given(chains(sorted(POOL)), st.sampled_from([np.float32, np.float64]))
def test_random_chains_match_torch_forward_and_backward(chain, dtype):
    shape, steps, seed, other = chain
    xm, xt, ym, yt = _run_chain(shape, steps, seed, other, dtype)
    _check(xm, xt, ym, yt, dtype, grad=True)


@SETTINGS
@given(chains(sorted(dict(INT_OPS))), st.sampled_from([np.int64, np.int32, np.int16, np.uint8]))
def test_random_integer_chains_match_torch(chain, dtype):
    shape, steps, seed, other = chain
    xm, xt, ym, yt = _run_chain(shape, steps, seed, other, dtype, integer=True)
    _check(xm, xt, ym, yt, dtype, grad=False)

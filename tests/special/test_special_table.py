"""Every row of the special-function table: gradcheck and gradgradcheck in float64 and parity with
torch.special (values in float32/float64, gradients where torch has them)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import mathdl as md
from mathdl.autograd import gradcheck, gradgradcheck

from .special_table import OPS, cases

CASES, IDS = cases([o for o in OPS if o.grad])
GG = [(c, i) for c, i in zip(CASES, IDS) if c[0].gradgrad]
ALL, ALL_IDS = cases([o for o in OPS if o.torch_fn])


def _inputs(op, sample, dtype=np.float64, requires_grad=True):
    return [md.tensor(a.astype(dtype), requires_grad=requires_grad and i not in op.const)
            if isinstance(a, np.ndarray) else a for i, a in enumerate(sample.args)]


def _bound(op, sample):
    fn = functools.partial(op.fn, **sample.kwargs)
    fn.__name__ = op.name
    return fn


@pytest.mark.parametrize("op,sample", CASES, ids=IDS)
def test_gradcheck(op, sample):
    assert gradcheck(_bound(op, sample), _inputs(op, sample), eps=1e-6, atol=1e-6, rtol=1e-4, name=op.name)


@pytest.mark.parametrize("op,sample", [c for c, _ in GG], ids=[i for _, i in GG])
def test_gradgradcheck(op, sample):
    assert gradgradcheck(_bound(op, sample), _inputs(op, sample), eps=1e-6, atol=1e-5, rtol=1e-3, name=op.name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("op,sample", ALL, ids=ALL_IDS)
def test_torch_parity(op, sample, dtype):
    torch = pytest.importorskip("torch")
    rtol, atol = (op.rtol32, op.atol32) if dtype == np.float32 else (1e-7, 1e-9)
    want = op.grad and op.torch_grad
    xm = _inputs(op, sample, dtype, want)
    xt = [torch.tensor(a.astype(dtype), requires_grad=want and i not in op.const) if isinstance(a, np.ndarray) else a
          for i, a in enumerate(sample.args)]
    om, ot = op.fn(*xm, **sample.kwargs), op.torch_fn(*xt, **sample.kwargs)
    ref = ot.detach().numpy()
    assert tuple(om.shape) == ref.shape and om.dtype == np.dtype(dtype), f"{op.name}: {om.shape} {om.dtype}"
    np.testing.assert_allclose(om.numpy(), ref, rtol=rtol, atol=atol, err_msg=op.name)
    if not want:
        return
    seed = np.random.default_rng(0).standard_normal(om.shape).astype(dtype)
    (om * md.tensor(seed)).sum().backward()
    (ot * torch.from_numpy(seed)).sum().backward()
    for i, (a, b) in enumerate(zip(xm, xt)):
        if getattr(b, "requires_grad", False):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol * 10, atol=atol * 10,
                                       err_msg=f"{op.name}: gradient of input {i}")

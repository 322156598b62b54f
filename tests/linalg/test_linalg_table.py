"""Every row of the linalg table: gradcheck and gradgradcheck in float64, and parity with
torch.linalg (values and gradients for a random upstream gradient) in float32 and float64."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import mathdl as md
from mathdl.autograd import gradcheck, gradgradcheck

from .linalg_table import OPS, as_list, cases

CASES, IDS = cases([o for o in OPS if o.grad])
GG = [(c, i) for c, i in zip(CASES, IDS) if c[0].gradgrad]
ALL, ALL_IDS = cases(OPS)


def _inputs(sample, dtype=np.float64, requires_grad=True):
    return [md.tensor(a.astype(dtype), requires_grad=requires_grad) if isinstance(a, np.ndarray) and a.dtype.kind == "f"
            else (md.tensor(a) if isinstance(a, np.ndarray) else a) for a in sample.args]


def _bound(o, sample):
    fn = functools.partial(o.fn, **sample.kwargs)
    fn.__name__ = o.name
    return fn


@pytest.mark.parametrize("op,sample", CASES, ids=IDS)
def test_gradcheck(op, sample):
    assert gradcheck(_bound(op, sample), _inputs(sample), eps=1e-6, atol=1e-6, rtol=1e-4, name=op.name)


@pytest.mark.parametrize("op,sample", [c for c, _ in GG], ids=[i for _, i in GG])
def test_gradgradcheck(op, sample):
    assert gradgradcheck(_bound(op, sample), _inputs(sample), eps=1e-6, atol=1e-5, rtol=1e-3, name=op.name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("op,sample", [c for c in ALL if c[0].torch_fn], ids=[i for c, i in zip(ALL, ALL_IDS)
                                                                             if c[0].torch_fn])
def test_torch_parity(op, sample, dtype):
    torch = pytest.importorskip("torch")
    rtol, atol = (op.rtol32, op.atol32) if dtype == np.float32 else (1e-7, 1e-9)
    xm = _inputs(sample, dtype, op.grad)
    xt = [torch.tensor(a.astype(dtype), requires_grad=op.grad) if isinstance(a, np.ndarray) and a.dtype.kind == "f"
          else (torch.from_numpy(a) if isinstance(a, np.ndarray) else a) for a in sample.args]
    om, ot = as_list(op.fn(*xm, **sample.kwargs)), as_list(op.torch_fn(*xt, **sample.kwargs))
    assert len(om) == len(ot)
    for a, b in zip(om, ot):
        ref = b.detach().numpy()
        assert tuple(a.shape) == ref.shape, f"{op.name}: shape {tuple(a.shape)} vs torch {ref.shape}"
        if ref.dtype.kind in "iub":
            np.testing.assert_array_equal(a.numpy(), ref, err_msg=op.name)
        else:
            assert a.dtype == np.dtype(dtype), f"{op.name}: dtype {a.dtype}"
            np.testing.assert_allclose(a.numpy(), ref, rtol=rtol, atol=atol * 10, err_msg=op.name)
    if not op.grad:
        return
    rng = np.random.default_rng(0)
    seeds = [rng.standard_normal(o.shape).astype(dtype) for o in om]
    sum((o * s).sum() for o, s in zip(om, seeds) if o.dtype.kind == "f").backward()
    sum((o * torch.from_numpy(s)).sum() for o, s in zip(ot, seeds) if o.dtype.is_floating_point).backward()
    for i, (a, b) in enumerate(zip(xm, xt)):
        if getattr(b, "requires_grad", False):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol * 10, atol=atol * 100,
                                       err_msg=f"{op.name}: gradient of input {i}")

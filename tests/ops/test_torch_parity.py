"""Every op of the table against PyTorch 2.13: forward values and gradients (for a random
upstream gradient) agree in float32 and float64.  Skipped without torch."""

from __future__ import annotations

import numpy as np
import pytest

from .op_table import ALL_OPS, as_list, cases, to_mathdl

torch = pytest.importorskip("torch")

CASES, IDS = cases([o for o in ALL_OPS if o.torch_fn is not None])


def _to_torch(sample, dtype, requires_grad):
    xs = []
    for a in sample.args:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            xs.append(torch.tensor(a.astype(dtype), requires_grad=requires_grad))
        elif isinstance(a, np.ndarray):
            xs.append(torch.from_numpy(a))
        else:
            xs.append(a)
    return xs


def _grad_array(t):
    """A torch gradient as an array (a ZeroTensor gradient, as sign's, is all zeros)."""
    try:
        return t.grad.numpy()
    except RuntimeError:
        return np.zeros(tuple(t.shape), dtype=t.detach().numpy().dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("op,sample", CASES, ids=IDS)
def test_parity(op, sample, dtype):
    rtol, atol = (op.rtol32, op.atol32) if dtype == np.float32 else (1e-7, 1e-9)
    want_grad = op.grad
    xm = to_mathdl(sample, dtype, requires_grad=want_grad)
    xt = _to_torch(sample, dtype, requires_grad=want_grad)
    outs_m = as_list(op.fn(*xm, **sample.kwargs))
    outs_t = as_list(op.torch_fn(*xt, **sample.kwargs))
    assert len(outs_m) == len(outs_t), f"{op.name}: {len(outs_m)} outputs vs torch's {len(outs_t)}"
    for om, ot in zip(outs_m, outs_t):
        ref = ot.detach().numpy()
        assert isinstance(om.array, np.ndarray), f"{op.name}: result holds a {type(om.array).__name__}, not an array"
        assert tuple(om.shape) == ref.shape, f"{op.name}: shape {tuple(om.shape)} vs torch {ref.shape}"
        if ref.dtype.kind in "iub":
            assert om.dtype == ref.dtype, f"{op.name}: dtype {om.dtype} vs torch {ref.dtype}"
            np.testing.assert_array_equal(om.numpy(), ref, err_msg=op.name)
        else:
            assert om.dtype == ref.dtype, f"{op.name}: dtype {om.dtype}, torch gives {ref.dtype}"
            np.testing.assert_allclose(om.numpy(), ref, rtol=rtol, atol=atol, err_msg=op.name)
    if not want_grad:
        return
    rng = np.random.default_rng(0)
    seeds = [rng.standard_normal(o.shape).astype(dtype) for o in outs_m]
    loss_m = sum((o * s).sum() for o, s in zip(outs_m, seeds))
    loss_t = sum((o * torch.from_numpy(s)).sum() for o, s in zip(outs_t, seeds))
    loss_m.backward()
    loss_t.backward()
    for i, (a, b) in enumerate(zip(xm, xt)):
        if not (hasattr(b, "requires_grad") and b.requires_grad):
            continue
        assert a.grad is not None, f"{op.name}: no gradient for input {i}"
        assert a.grad.dtype == np.dtype(dtype), f"{op.name}: gradient dtype {a.grad.dtype}"
        np.testing.assert_allclose(a.grad.numpy(), _grad_array(b), rtol=rtol * 10, atol=atol * 10,
                                   err_msg=f"{op.name}: gradient of input {i}")

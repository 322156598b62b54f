"""Constant padding keeps its input's axis order in memory, as PyTorch's constant_pad_nd keeps the
memory format: a channel-major view (a convolution's output, or a strided slice of one, as
ResNet's option-A shortcut takes) pads into a channel-major result, the same values and gradients
as torch's F.pad; C-order inputs stay on np.pad."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
from mathdl.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("sliced", [False, True])
def test_channel_major_input_pads_channel_major(sliced):
    rng = np.random.default_rng(0)
    base = rng.standard_normal((6, 3, 8, 8)).astype(np.float32)  # (C, N, H, W) in memory
    xb = mathdl.tensor(base, requires_grad=True)
    x = xb.permute(1, 0, 2, 3)
    if sliced:
        x = x[:, :, ::2, ::2]
    assert not x.array.flags.c_contiguous
    x0 = x.numpy()
    y = F.pad(x, (0, 0, 0, 0, 2, 3), value=0.5)
    t = torch.tensor(np.ascontiguousarray(x0), requires_grad=True)
    ty = torch.nn.functional.pad(t, (0, 0, 0, 0, 2, 3), value=0.5)
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    a = y.array
    assert a.strides[1] > a.strides[0] > a.strides[2] > a.strides[3]  # channel-major
    assert np.asarray(a).transpose(1, 0, 2, 3).flags.c_contiguous
    g = rng.standard_normal(ty.shape).astype(np.float32)
    y.backward(mathdl.tensor(g))
    ty.backward(torch.tensor(g))
    want = np.zeros_like(base).transpose(1, 0, 2, 3)
    want[(slice(None), slice(None)) + ((slice(None, None, 2),) * 2 if sliced else (slice(None),) * 2)] = t.grad.numpy()
    np.testing.assert_array_equal(xb.grad.numpy(), want.transpose(1, 0, 2, 3))


def test_c_order_input_and_gradchecks():
    x = mathdl.randn(2, 3, 4, dtype=mathdl.float64, requires_grad=True)
    assert F.pad(x, (1, 2)).array.flags.c_contiguous
    xt = mathdl.tensor(np.random.default_rng(1).standard_normal((3, 2, 4)), requires_grad=True)
    f = lambda v: F.pad(v.permute(1, 0, 2), (1, 0, 2, 1))  # noqa: E731  (a channel-major view padded)
    assert not f(xt).array.flags.c_contiguous
    assert gradcheck(f, (xt,)) and gradgradcheck(f, (xt,))

"""Gradient clipping against torch.nn.utils: total norm returned, gradients scaled/clamped."""

import math

import numpy as np
import pytest

import mathdl
from mathdl.optim import clip_grad_norm_, clip_grad_value_

torch = pytest.importorskip("torch")


def _with_grads(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal(s).astype(dtype) for s in [(4, 3), (5,), (2, 2, 2)]]
    ours, ref = [], []
    for g in grads:
        p = mathdl.zeros(*g.shape, dtype=dtype, requires_grad=True)
        p.grad = mathdl.tensor(g.copy())
        t = torch.zeros(g.shape, dtype=torch.float64 if dtype == np.float64 else torch.float32, requires_grad=True)
        t.grad = torch.tensor(g.copy())
        ours.append(p)
        ref.append(t)
    ours.append(mathdl.zeros(3, requires_grad=True))  # no grad: ignored
    ref.append(torch.zeros(3, requires_grad=True))
    return ours, ref


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, ref = _with_grads()
    n = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    tn = torch.nn.utils.clip_grad_norm_(ref, max_norm, norm_type=norm_type)
    assert isinstance(n, mathdl.Tensor) and n.shape == ()
    assert n.item() == pytest.approx(tn.item(), rel=1e-12)
    for p, t in zip(ours, ref):
        if t.grad is None:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    if max_norm < n.item():
        new_total = clip_grad_norm_(ours, 1e9, norm_type=norm_type).item()
        assert new_total == pytest.approx(max_norm, rel=1e-5)


def test_clip_grad_norm_float32_single_tensor_and_nonfinite():
    ours, ref = _with_grads(1, np.float32)
    n = clip_grad_norm_(ours[0], 0.1)
    tn = torch.nn.utils.clip_grad_norm_(ref[0], 0.1)
    assert n.dtype == np.float32
    np.testing.assert_allclose(ours[0].grad.numpy(), ref[0].grad.numpy(), rtol=1e-6)
    assert n.item() == pytest.approx(tn.item(), rel=1e-6)
    ours[1].grad.array[0] = np.nan
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    assert clip_grad_norm_([mathdl.zeros(2, requires_grad=True)], 1.0).item() == 0.0


def test_clip_grad_value_matches_torch():
    ours, ref = _with_grads(2)
    assert clip_grad_value_(ours, 0.3) is None
    torch.nn.utils.clip_grad_value_(ref, 0.3)
    for p, t in zip(ours, ref):
        if t.grad is not None:
            np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())
            assert np.abs(p.grad.numpy()).max() <= 0.3


def test_clip_grads_with_a_precomputed_norm():
    import mathdl.nn as nn

    p = mathdl.tensor(np.zeros(2), requires_grad=True)
    p.grad = mathdl.tensor(np.array([3.0, 4.0]))
    total = nn.utils.get_total_norm([p.grad])
    nn.utils.clip_grads_with_norm_([p], 1.0, total)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-5)
    p.grad = mathdl.tensor(np.array([3.0, 4.0]))
    assert float(nn.utils.clip_grad_norm([p], 10.0)) == pytest.approx(5.0)
    np.testing.assert_array_equal(p.grad.numpy(), [3.0, 4.0])

"""Mixed precision: GradScaler's dynamic loss scaling and the autocast casting rules."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl as md
from mathdl import nn, optim
from mathdl.amp import GradScaler, autocast, cast_float32, cast_lower, is_autocast_enabled


def _tiny_gradient_loss(w):
    """A loss whose gradient w.r.t. ``w`` is 1e-8 per entry, computed through a float16 copy of w."""
    with autocast(dtype=md.float16):
        (wl,) = cast_lower(w)
        assert wl.dtype == md.float16
        return (wl.float() * 1e-8).sum()


def test_small_gradients_underflow_in_float16_and_survive_with_scaling():
    w = md.ones(4, requires_grad=True)
    _tiny_gradient_loss(w).backward()
    assert np.all(w.grad.numpy() == 0.0), "1e-8 should underflow in float16 without scaling"
    w.grad = None
    scaler = GradScaler()
    opt = optim.SGD([w], lr=1.0)
    scaler.scale(_tiny_gradient_loss(w)).backward()
    scaler.unscale_(opt)
    np.testing.assert_allclose(w.grad.numpy(), 1e-8, rtol=1e-3)


def test_overflow_skips_the_step_keeps_parameters_and_halves_the_scale():
    model = nn.Linear(3, 2)
    before = [p.numpy().copy() for p in model.parameters()]
    opt = optim.SGD(model.parameters(), lr=0.1)
    scaler = GradScaler(init_scale=2.0 ** 16)
    loss = model(md.ones(2, 3)).sum()
    scaler.scale(loss).backward()
    model.weight.grad.array[0, 0] = np.inf
    assert scaler.step(opt) is None and scaler.last_step_skipped and scaler.skipped_steps == 1
    scaler.update()
    assert scaler.get_scale() == 2.0 ** 15
    for b, p in zip(before, model.parameters()):
        np.testing.assert_array_equal(p.numpy(), b)
    assert scaler.state_dict()["skipped_steps"] == 1


def test_growth_after_interval_and_state_round_trip():
    w = md.ones(2, requires_grad=True)
    opt = optim.SGD([w], lr=0.01)
    scaler = GradScaler(init_scale=4.0, growth_interval=3)
    scales = []
    for _ in range(7):
        opt.zero_grad()
        scaler.scale((w * w).sum()).backward()
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    assert scales == [4.0, 4.0, 8.0, 8.0, 8.0, 16.0, 16.0]
    other = GradScaler()
    other.load_state_dict(scaler.state_dict())
    assert other.get_scale() == 16.0 and other.state_dict() == scaler.state_dict()


def test_scaled_step_equals_unscaled_step():
    md.manual_seed(0)
    a = nn.Linear(4, 3)
    b = nn.Linear(4, 3)
    b.load_state_dict(a.state_dict())
    x = md.randn(5, 4)
    oa, ob = optim.Adam(a.parameters(), lr=1e-2), optim.Adam(b.parameters(), lr=1e-2)
    scaler = GradScaler(init_scale=1024.0)
    for _ in range(3):
        oa.zero_grad()
        (a(x) ** 2).mean().backward()
        oa.step()
        ob.zero_grad()
        scaler.scale((b(x) ** 2).mean()).backward()
        scaler.step(ob)
        scaler.update()
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(q.numpy(), p.numpy(), rtol=1e-5, atol=1e-7)


def test_unscale_twice_and_bad_options_are_errors():
    w = md.ones(2, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    scaler = GradScaler()
    scaler.scale(w.sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(opt)
    with pytest.raises(ValueError, match="init_scale"):
        GradScaler(init_scale=0)
    with pytest.raises(ValueError, match="backoff_factor"):
        GradScaler(backoff_factor=1.5)
    with pytest.raises(ValueError, match="dtype must be float16 or bfloat16"):
        autocast(dtype=md.float64)


def test_autocast_region_and_casts():
    x32 = md.ones(2)
    x16 = md.ones(2, dtype=md.float16)
    assert not is_autocast_enabled()
    assert cast_lower(x32)[0] is x32 and cast_float32(x16)[0] is x16  # outside: untouched
    with autocast(dtype=md.bfloat16):
        assert is_autocast_enabled()
        assert cast_lower(x32)[0].dtype == md.bfloat16
        assert cast_float32(x16)[0].dtype == md.float32
        with autocast(enabled=False):
            assert not is_autocast_enabled()
        assert is_autocast_enabled()
    assert not is_autocast_enabled()

    @autocast(dtype=md.float16)
    def f():
        return cast_lower(x32)[0].dtype

    assert f() == md.float16


def test_autocast_policy_in_ops():
    import mathdl.nn.functional as F

    x = md.randn(2, 3, 6, 6)
    w = md.randn(4, 3, 3, 3, requires_grad=True)
    with autocast(dtype=md.bfloat16):
        y = F.conv2d(x, w)                       # lower precision
        assert y.dtype == md.bfloat16
        assert md.softmax(y, dim=1).dtype == md.float32          # float32 list
        assert F.log_softmax(y, dim=1).dtype == md.float32
        assert F.layer_norm(y, y.shape[-1:]).dtype == md.float32
        assert F.group_norm(y, 2).dtype == md.float32
        assert F.batch_norm(y, None, None, training=True).dtype == md.float32
    y.float().sum().backward()
    assert w.grad.dtype == md.float32            # master weights keep float32 gradients
    with autocast(dtype=md.bfloat16):
        ref = F.conv2d(x.to(md.bfloat16), w.detach().to(md.bfloat16))
    np.testing.assert_array_equal(y.float().numpy(), ref.float().numpy())


def test_autocast_policy_in_linear_matmul_and_losses():
    import mathdl.nn.functional as F

    lin = nn.Linear(5, 3)
    x = md.randn(4, 5)
    y = md.randint(0, 3, (4,))
    with autocast(dtype=md.float16):
        out = lin(x)
        assert out.dtype == md.float16 and (x @ x.mT).dtype == md.float16
        assert md.einsum("ij,kj->ik", x, x).dtype == md.float16
        loss = F.cross_entropy(out, y)
        assert loss.dtype == md.float32 and F.mse_loss(out, out.detach() * 0).dtype == md.float32
    loss.backward()
    assert lin.weight.grad.dtype == md.float32
    ref = F.cross_entropy(lin(x), y).item()
    assert abs(loss.item() - ref) < 1e-2                      # float16 products, float32 loss

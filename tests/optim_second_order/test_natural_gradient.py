"""NaturalGradient: one step equals the dense damped Fisher solve; bad closures are refused."""

import numpy as np
import pytest

import mathdl as md
from mathdl import nn
from mathdl.curvature import FisherOperator
from mathdl.curvature.solve import conjugate_gradient
from mathdl.nn import functional as F
from mathdl.optim.natural_gradient import NaturalGradient


def _setup(seed=0):
    md.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    rng = np.random.default_rng(seed)
    x, y = md.tensor(rng.standard_normal((10, 4))), md.tensor(rng.integers(0, 3, 10))
    return model, x, y


def test_step_equals_dense_damped_solve():
    model, x, y = _setup()
    damping = 0.1
    Fd = FisherOperator(model, F.cross_entropy, (x, y), mode="exact").to_dense()
    theta0 = np.concatenate([p.numpy().ravel() for p in model.parameters()])
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    g = np.concatenate([p.grad.numpy().ravel() for p in model.parameters()])
    expected = theta0 - 0.5 * np.linalg.solve(Fd + damping * np.eye(len(g)), g)
    opt = NaturalGradient(model, lr=0.5, damping=damping, cg_max_iter=200, cg_tol=1e-14)
    opt.step(lambda: F.cross_entropy(model(x), y))
    theta1 = np.concatenate([p.numpy().ravel() for p in model.parameters()])
    np.testing.assert_allclose(theta1, expected, atol=1e-9)


def test_conjugate_gradient_solves_spd_systems():
    rng = np.random.default_rng(0)
    M = rng.standard_normal((20, 20))
    M = M @ M.T
    b = rng.standard_normal(20)
    x = conjugate_gradient(lambda v: M @ v, b, damping=0.5, max_iter=100, tol=1e-13)
    np.testing.assert_allclose(x, np.linalg.solve(M + 0.5 * np.eye(20), b), rtol=1e-8)


def test_trains_and_refuses_bad_closures():
    model, x, y = _setup(1)
    opt = NaturalGradient(model, lr=1.0, damping=1e-2)
    losses = [float(opt.step(lambda: F.cross_entropy(model(x), y)).item()) for _ in range(8)]
    assert losses[-1] < 0.5 * losses[0], losses

    def with_backward():
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss
    with pytest.raises(RuntimeError, match="backward"):
        opt.step(with_backward)
    with pytest.raises(RuntimeError, match="closure"):
        opt.step()
    with pytest.raises(ValueError, match="predictive distribution"):
        NaturalGradient(model, loss=lambda a, b: a.sum())


def _make_ng(m):
    return NaturalGradient(m, lr=0.5, damping=0.1, momentum=0.5)


def _make_hf(m):
    from mathdl.optim.hessian_free import HessianFree

    return HessianFree(m, damping=0.5, max_cg_iter=10)


@pytest.mark.parametrize("make", [_make_ng, _make_hf])
def test_state_dict_round_trip_continues_identically(make):
    model, x, y = _setup(2)
    opt = make(model)

    def closure():
        return F.cross_entropy(model(x), y)
    for _ in range(2):
        opt.step(closure)
    model2, _, _ = _setup(2)
    model2.load_state_dict(model.state_dict())
    opt2 = make(model2)
    opt2.load_state_dict(opt.state_dict())
    for _ in range(2):
        opt.step(closure)
        opt2.step(lambda: F.cross_entropy(model2(x), y))
    for a, b in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

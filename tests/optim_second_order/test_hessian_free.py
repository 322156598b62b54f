"""Hessian-free: exact on a quadratic, CG rule, training an autoencoder with a smaller curvature batch."""

import numpy as np
import pytest

import mathdl as md
from mathdl import nn
from mathdl.nn import functional as F
from mathdl.optim.hessian_free import HessianFree, martens_cg


def test_one_step_solves_least_squares():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((30, 4)), rng.standard_normal((30, 2))
    md.manual_seed(0)
    model = nn.Linear(4, 2).double()
    opt = HessianFree(model, loss="mse", damping=1e-10, min_cg_iter=20, cg_tol=1e-12)
    xt, yt = md.tensor(X), md.tensor(Y)
    opt.step(lambda: F.mse_loss(model(xt), yt))
    Xa = np.concatenate([X, np.ones((30, 1))], 1)
    sol = np.linalg.lstsq(Xa, Y, rcond=None)[0]
    np.testing.assert_allclose(model.weight.numpy(), sol[:4].T, atol=1e-6)
    np.testing.assert_allclose(model.bias.numpy(), sol[4], atol=1e-6)


def test_martens_cg_keeps_geometric_iterates():
    rng = np.random.default_rng(0)
    M = rng.standard_normal((40, 40))
    A = M @ M.T + 0.1 * np.eye(40)
    b = rng.standard_normal(40)
    saved = martens_cg(lambda v: A @ v, b, np.zeros(40), max_iter=500, tol=1e-14)
    its = [s[0] for s in saved]
    assert its[:5] == [1, 2, 3, 4, 5] and its == sorted(its)
    np.testing.assert_allclose(saved[-1][1], np.linalg.solve(A, -b), rtol=1e-5, atol=1e-6)
    qs = [s[2] for s in saved]
    assert all(q1 >= q2 - 1e-12 for q1, q2 in zip(qs, qs[1:]))  # CG decreases the quadratic


def test_trains_autoencoder_with_small_curvature_batch():
    from sklearn.datasets import load_digits

    X = load_digits().data[:200] / 16
    md.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 8), nn.Tanh(), nn.Linear(8, 32), nn.Tanh(),
                          nn.Linear(32, 64)).double()
    opt = HessianFree(model, loss="mse", damping=1.0, max_cg_iter=15)
    xt, xc = md.tensor(X), md.tensor(X[:50])
    first = None
    for _ in range(5):
        loss = float(opt.step(lambda: F.mse_loss(model(xt), xt), curvature_closure=lambda: model(xc)).item())
        first = first or loss
    final = float(F.mse_loss(model(xt), xt).item())
    assert final < 0.6 * first, (first, final)
    st = opt.state[next(model.parameters())]
    assert st["cg_iterations"] >= 1 and st["damping"] > 0
    with pytest.raises(RuntimeError, match="backward"):
        def bad():
            loss = F.mse_loss(model(xt), xt)
            loss.backward()
            return loss
        opt.step(bad)
    with pytest.raises(ValueError, match="Gauss-Newton"):
        HessianFree(model, loss=lambda a, b: a.sum())

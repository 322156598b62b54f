"""AdaHessian: Hutchinson's diagonal is unbiased; one step follows the formula; conv averaging; training."""

import numpy as np
import pytest

import mathdl as md
from mathdl import nn
from mathdl.curvature import HessianOperator
from mathdl.nn import functional as F
from mathdl.optim.adahessian import AdaHessian


def _setup():
    md.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    rng = np.random.default_rng(0)
    x, y = md.tensor(rng.standard_normal((8, 3))), md.tensor(rng.integers(0, 2, 8))
    return model, x, y


def test_hutchinson_signed_estimate_is_unbiased_for_the_diagonal():
    model, x, y = _setup()
    H = HessianOperator(model, F.cross_entropy, (x, y)).to_dense()
    S = 200
    est = HessianOperator(model, F.cross_entropy, (x, y)).diagonal_estimate(num_samples=S, seed=0)
    # each entry's Monte Carlo standard deviation is sqrt(sum_{j != i} H_ij^2 / S)
    std = np.sqrt(((H ** 2).sum(1) - np.diag(H) ** 2) / S)
    assert np.all(np.abs(est - np.diag(H)) <= 5 * std + 1e-12)
    assert np.abs(est - np.diag(H)).max() < np.abs(np.diag(H)).max()
    # AdaHessian's |z * Hz| is exact where H is diagonal: a separable quadratic
    w = md.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    opt = AdaHessian([w])
    gs = md.autograd.grad((md.tensor(np.array([2.0, 5.0, 7.0])) * w * w).sum(), [w], create_graph=True)
    np.testing.assert_allclose(opt.hutchinson([w], gs)[id(w)], [4.0, 10.0, 14.0])


def test_one_step_follows_the_formula():
    w = md.tensor(np.array([1.0, -2.0]), requires_grad=True)
    a = np.array([3.0, 0.5])
    opt = AdaHessian([w], lr=0.1, betas=(0.9, 0.99), eps=1e-4, hessian_power=1.0, weight_decay=0.01)
    opt.step(lambda: (md.tensor(a) * w * w).sum())
    g, D = 2 * a * np.array([1.0, -2.0]), 2 * a
    m, v = 0.1 * g / 0.1, 0.01 * D * D / 0.01
    expected = np.array([1.0, -2.0]) - 0.1 * (m / (np.sqrt(v) + 1e-4) + 0.01 * np.array([1.0, -2.0]))
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-12)


def test_conv_kernels_are_spatially_averaged_and_cnn_trains():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    xb, yb = md.tensor(X[:96].reshape(-1, 1, 8, 8).astype(np.float32) / 16), md.tensor(y[:96])
    md.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(256, 10))
    opt = AdaHessian(model.parameters(), lr=0.05)
    params = list(model.parameters())
    gs = md.autograd.grad(F.cross_entropy(model(xb), yb), params, create_graph=True)
    d = opt.hutchinson(params, gs)[id(params[0])]
    assert np.allclose(d, d[:, :, :1, :1])  # constant over each kernel's 3x3 positions
    losses = []
    for _ in range(8):
        losses.append(float(opt.step(lambda: F.cross_entropy(model(xb), yb)).item()))
    assert losses[-1] < 0.6 * losses[0], losses
    model.zero_grad()
    F.cross_entropy(model(xb), yb).backward(create_graph=True)  # the other calling convention
    opt.step()
    model.zero_grad()
    F.cross_entropy(model(xb), yb).backward()
    with pytest.raises(RuntimeError, match="create_graph=True"):
        opt.step()
    with pytest.raises(ValueError, match="hessian_power"):
        AdaHessian(params, hessian_power=2)

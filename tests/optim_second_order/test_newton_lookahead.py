"""Newton: quadratic convergence on logistic regression; Lookahead: alpha=1 is the inner optimizer."""

import numpy as np
import pytest

import mathdl as md
from mathdl import nn
from mathdl.nn import functional as F
from mathdl.optim.lookahead import Lookahead
from mathdl.optim.newton import Newton


def _logreg():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    return md.tensor(X), md.tensor(y.astype(np.float64))


def test_newton_converges_quadratically_on_logistic_regression():
    X, y = _logreg()
    w = md.zeros(X.shape[1], dtype=md.float64, requires_grad=True)
    b = md.zeros(1, dtype=md.float64, requires_grad=True)
    opt = Newton([w, b])

    def closure():
        return F.binary_cross_entropy_with_logits(X @ w + b, y) + 0.01 * (w * w).sum()
    iterates, gnorms = [], []
    for _ in range(10):
        opt.step(closure)
        iterates.append(np.concatenate([w.numpy(), b.numpy()]))
        gnorms.append(opt.state[w]["grad_norm"])
        if gnorms[-1] < 1e-10:
            break
    # the gradient at the final iterate
    w.grad = b.grad = None
    closure().backward()
    final = np.linalg.norm(np.concatenate([w.grad.numpy(), b.grad.numpy()]))
    assert final < 1e-10, (final, gnorms)
    star = iterates[-1]
    e = [np.linalg.norm(t - star) for t in iterates[:-1]]
    # e_{k+1} / e_k^2 while e_k^2 is above the rounding floor of the final iterate
    ratios = [e[k + 1] / e[k] ** 2 for k in range(len(e) - 1) if e[k] > 1e-5]
    assert len(ratios) >= 3 and max(ratios) < 10, ratios
    assert len(iterates) <= 10


def test_newton_handles_negative_curvature_and_refuses_large_models():
    x = md.tensor(np.array([0.3, -0.2]), requires_grad=True)
    opt = Newton([x])

    def closure():  # a saddle at the start: H indefinite
        return (x[0] ** 2 - x[1] ** 2 + 0.5 * x[1] ** 4).sum()
    for _ in range(30):
        opt.step(closure)
    np.testing.assert_allclose(np.abs(x.numpy()), [0, 1], atol=1e-6)
    big = md.zeros(5001, requires_grad=True)
    with pytest.raises(ValueError, match=r"5,001 parameters.*GiB"):
        Newton([big])


def _mlp(seed=0):
    md.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def _train(opt, model, steps=12):
    rng = np.random.default_rng(0)
    x, y = md.tensor(rng.standard_normal((16, 4)).astype(np.float32)), md.tensor(rng.integers(0, 3, 16))
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return [p.numpy().copy() for p in model.parameters()]


def test_lookahead_alpha_one_is_the_inner_optimizer():
    m1, m2 = _mlp(), _mlp()
    a = _train(md.optim.Adam(m1.parameters(), lr=0.01), m1)
    b = _train(Lookahead(md.optim.Adam(m2.parameters(), lr=0.01), k=3, alpha=1.0), m2)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_lookahead_slow_weights_and_state_dict():
    m1 = _mlp()
    theta0 = [p.numpy().copy() for p in m1.parameters()]
    opt = Lookahead(md.optim.SGD(m1.parameters(), lr=0.1), k=2, alpha=0.5)
    _train(opt, m1, steps=1)
    fast = [p.numpy().copy() for p in m1.parameters()]
    _train(opt, m1, steps=1)  # second step: sync to phi = theta0 + 0.5 (theta2 - theta0)
    for p, t0 in zip(m1.parameters(), theta0):
        np.testing.assert_allclose(opt.slow_buffer[id(p)].numpy(), p.numpy())
        assert not np.allclose(p.numpy(), t0)
    assert any(not np.allclose(f, p.numpy()) for f, p in zip(fast, m1.parameters()))
    sd = opt.state_dict()
    m2 = _mlp()
    m2.load_state_dict(m1.state_dict())
    opt2 = Lookahead(md.optim.SGD(m2.parameters(), lr=0.1), k=2, alpha=0.5)
    opt2.load_state_dict(sd)
    a, b = _train(opt, m1, steps=5), _train(opt2, m2, steps=5)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    with pytest.raises(TypeError, match="Optimizer"):
        Lookahead(m1.parameters())
    with pytest.raises(ValueError, match="alpha"):
        Lookahead(md.optim.SGD(m1.parameters(), lr=0.1), alpha=2)

"""K-FAC: Kronecker factors against the exact Fisher, the damped solve against a dense solve."""

import warnings

import numpy as np
import pytest

import mathdl as md
from mathdl import nn
from mathdl.curvature import FisherOperator
from mathdl.nn import functional as F
from mathdl.optim.kfac import KFAC, conv_patches


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _linear_index(out_f, in_f):
    """Position in K-FAC's [W b] row-major layout of each entry of the flat (W, b) parameter vector."""
    idx = [o * (in_f + 1) + i for o in range(out_f) for i in range(in_f)]
    return np.array(idx + [o * (in_f + 1) + in_f for o in range(out_f)])


def test_kronecker_factors_equal_exact_fisher_for_one_example():
    md.manual_seed(0)
    model = nn.Linear(3, 4).double()
    x = md.tensor(np.random.default_rng(0).standard_normal((1, 3)))
    opt = KFAC(model, factor_decay=0.0)
    p = _softmax(model(x).numpy())[0]
    kfac = 0
    for c in range(4):
        model.zero_grad()
        F.cross_entropy(model(x), md.tensor(np.array([c]))).backward()
        opt._update_factors()
        A, G = opt.layers[0].A, opt.layers[0].G
        kfac = kfac + p[c] * np.kron(G, A)
        opt.layers[0].A = None
    exact = FisherOperator(model, F.cross_entropy, (x, md.tensor(np.array([0]))), mode="exact").to_dense()
    idx = _linear_index(4, 3)
    np.testing.assert_allclose(kfac[np.ix_(idx, idx)], exact, atol=1e-12)


def test_true_fisher_sampling_converges_to_the_expectation():
    md.manual_seed(0)
    model = nn.Linear(3, 4).double()
    x1 = np.random.default_rng(0).standard_normal((1, 3))
    x = md.tensor(np.repeat(x1, 4000, axis=0))
    opt = KFAC(model, fisher="true", factor_decay=0.0)
    model(x)
    opt._update_factors()
    p = _softmax(model(md.tensor(x1)).numpy())[0]
    np.testing.assert_allclose(opt.layers[0].G, np.diag(p) - np.outer(p, p), atol=0.02)


def test_preconditioned_gradient_equals_dense_damped_solve():
    md.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    rng = np.random.default_rng(1)
    x, y = md.tensor(rng.standard_normal((7, 3))), md.tensor(rng.integers(0, 2, 7))
    damping = 0.05
    opt = KFAC(model, damping=damping)
    F.cross_entropy(model(x), y).backward()
    for k, layer in enumerate([model[0], model[2]]):
        pre = opt.preconditioned_gradient(k)
        A, G = opt.layers[k].A, opt.layers[k].G
        pi = np.sqrt((np.trace(A) / len(A)) / (np.trace(G) / len(G)))
        Ad = A + pi * np.sqrt(damping) * np.eye(len(A))
        Gd = G + np.sqrt(damping) / pi * np.eye(len(G))
        V = np.concatenate([layer.weight.grad.numpy(), layer.bias.grad.numpy()[:, None]], axis=1)
        dense = np.linalg.solve(np.kron(Gd, Ad), V.reshape(-1)).reshape(V.shape)
        np.testing.assert_allclose(pre, dense, rtol=1e-9, atol=1e-12)


def test_eigen_solve_equals_exactly_damped_dense_solve():
    md.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    rng = np.random.default_rng(2)
    x, y = md.tensor(rng.standard_normal((9, 3))), md.tensor(rng.integers(0, 2, 9))
    damping = 0.02
    opt = KFAC(model, damping=damping, solve="eigen")
    F.cross_entropy(model(x), y).backward()
    for k, layer in enumerate([model[0], model[2]]):
        pre = opt.preconditioned_gradient(k)
        A, G = opt.layers[k].A, opt.layers[k].G
        V = np.concatenate([layer.weight.grad.numpy(), layer.bias.grad.numpy()[:, None]], axis=1)
        M = np.kron(G, A) + damping * np.eye(len(G) * len(A))
        np.testing.assert_allclose(pre, np.linalg.solve(M, V.reshape(-1)).reshape(V.shape), rtol=1e-8, atol=1e-10)
    sd = opt.state_dict()
    opt2 = KFAC(model, damping=damping, solve="eigen")
    opt2.load_state_dict(sd)
    np.testing.assert_array_equal(opt2.layers[0].QA, opt.layers[0].QA)


def test_conv_patches_reproduce_the_convolution():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6))
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1, dilation=1).double()
    cols, T = conv_patches(x, conv.kernel_size, conv.stride, conv.padding, conv.dilation)
    out = conv(md.tensor(x)).numpy()
    ref = (cols @ conv.weight.numpy().reshape(4, -1).T + conv.bias.numpy()).reshape(2, out.shape[2], out.shape[3], 4)
    np.testing.assert_allclose(ref.transpose(0, 3, 1, 2), out, atol=1e-12)
    assert T == out.shape[2] * out.shape[3]


def _digits(n=256):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:n].astype(np.float32) / 16, y[:n]


def test_trains_cnn_and_state_dict_round_trip():
    X, y = _digits(128)
    xb, yb = md.tensor(X.reshape(-1, 1, 8, 8)), md.tensor(y)

    def make():
        md.manual_seed(0)
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(256, 10))

    model = make()
    opt = KFAC(model, lr=0.05, inv_update_freq=2)
    losses = []
    for _ in range(6):
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert losses[-1] < losses[0] * 0.7, losses
    sd = opt.state_dict()
    model2 = make()
    model2.load_state_dict(model.state_dict())
    opt2 = KFAC(model2, lr=0.05, inv_update_freq=2)
    opt2.load_state_dict(sd)
    for m, o in ((model, opt), (model2, opt2)):
        for _ in range(3):
            o.zero_grad()
            F.cross_entropy(m(xb), yb).backward()
            o.step()
    for a, b in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_unsupported_layers_fall_back_and_bad_input():
    md.manual_seed(0)
    with pytest.warns(UserWarning, match="LayerNorm"):
        KFAC(nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4)))
    with pytest.raises(ValueError, match="no supported layer"):
        KFAC(nn.Sequential(nn.LayerNorm(4)))
    with pytest.raises(TypeError, match="model"):
        KFAC([md.zeros(3, requires_grad=True)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="fisher"):
            KFAC(nn.Linear(2, 2), fisher="exact")
        with pytest.raises(ValueError, match="solve"):
            KFAC(nn.Linear(2, 2), solve="cholesky")

"""Curvature operators against dense matrices built with mathdl.autograd's hessian/jacobian."""

import numpy as np
import pytest

import mathdl as md
from mathdl import nn
from mathdl.autograd.functional import hessian, jacobian
from mathdl.curvature import EmpiricalFisherOperator, FisherOperator, GGNOperator, HessianOperator
from mathdl.data import DataLoader
from mathdl.nn import functional as F


def _mlp(d_in=3, h=4, d_out=3, seed=0):
    md.manual_seed(seed)
    return nn.Sequential(nn.Linear(d_in, h), nn.Tanh(), nn.Linear(h, d_out)).double()


def _flat(model):
    return np.concatenate([p.array.ravel() for p in model.parameters()])


def _functional(model):
    """theta (flat) -> the model as a function, for the dense oracles."""
    shapes = [tuple(p.shape) for p in model.parameters()]

    def f(theta, x):
        out, i, ws = x, 0, []
        for s in shapes:
            n = int(np.prod(s))
            ws.append(md.reshape(theta[i:i + n], s))
            i += n
        h = md.tanh(out @ ws[0].T + ws[1])
        return h @ ws[2].T + ws[3]
    return f


def _data(n=6, d_in=3, classes=3, seed=1, kind="ce"):
    rng = np.random.default_rng(seed)
    x = md.tensor(rng.standard_normal((n, d_in)))
    if kind == "ce":
        y = md.tensor(rng.integers(0, classes, n))
    elif kind == "bce":
        y = md.tensor((rng.random((n, classes)) < 0.5).astype(np.float64))
    else:
        y = md.tensor(rng.standard_normal((n, classes)))
    return x, y


LOSSES = {"ce": F.cross_entropy, "mse": F.mse_loss, "bce": F.binary_cross_entropy_with_logits}


def _dense_hessian(model, loss, x, y, reduction="mean"):
    f = _functional(model)
    theta = md.tensor(_flat(model))
    return hessian(lambda t: loss(f(t, x), y, reduction=reduction), theta).numpy()


def _dense_jacobian(model, x):
    f = _functional(model)
    return jacobian(lambda t: f(t, x), md.tensor(_flat(model))).numpy()  # (B, C, n)


def _output_hessians(kind, logits, reduction="mean"):
    """Per-example output Hessians (B, C, C), written out independently of the library."""
    B, C = logits.shape
    if kind == "ce":
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        H = np.stack([np.diag(q) - np.outer(q, q) for q in p])
        return H / (B if reduction == "mean" else 1)
    if kind == "mse":
        return np.broadcast_to(2 * np.eye(C), (B, C, C)) / (B * C if reduction == "mean" else 1)
    s = 1 / (1 + np.exp(-logits))
    return np.stack([np.diag(q * (1 - q)) for q in s]) / (B * C if reduction == "mean" else 1)


@pytest.mark.parametrize("kind", ["ce", "mse", "bce"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_hessian_and_ggn_match_dense(kind, reduction):
    model = _mlp()
    x, y = _data(kind=kind)
    loss = LOSSES[kind]
    Hd = _dense_hessian(model, loss, x, y, reduction)
    H = HessianOperator(model, lambda o, t: loss(o, t, reduction=reduction), (x, y), reduction=reduction)
    np.testing.assert_allclose(H.to_dense(), Hd, atol=1e-10, rtol=0)
    J = _dense_jacobian(model, x)
    Hl = _output_hessians(kind, model(x).numpy(), reduction)
    Gd = np.einsum("bcn,bcd,bdm->nm", J, Hl, J)
    G = GGNOperator(model, loss, (x, y), reduction=reduction)
    Gm = G.to_dense()
    np.testing.assert_allclose(Gm, Gd, atol=1e-10, rtol=0)
    np.testing.assert_allclose(Gm, Gm.T, atol=1e-12)
    assert np.linalg.eigvalsh(Gm).min() > -1e-10  # PSD
    assert not np.allclose(Gm, Hd, atol=1e-6)  # a nonlinear model: G is not H


def test_ggn_equals_hessian_for_linear_mse():
    md.manual_seed(0)
    model = nn.Linear(4, 2).double()
    x, y = _data(n=7, d_in=4, classes=2, kind="mse")
    G = GGNOperator(model, nn.MSELoss(), (x, y)).to_dense()
    H = HessianOperator(model, nn.MSELoss(), (x, y)).to_dense()
    np.testing.assert_allclose(G, H, atol=1e-12)
    # and the closed form: 2/(BC) * (X~^T X~) kron I for W, b
    assert G.shape == (10, 10)


def test_generic_loss_ggn_uses_autodiff():
    model = _mlp()
    x, y = _data(kind="mse")
    G1 = GGNOperator(model, F.mse_loss, (x, y)).to_dense()
    G2 = GGNOperator(model, lambda o, t: ((o - t) ** 2).mean(), (x, y)).to_dense()
    np.testing.assert_allclose(G1, G2, atol=1e-12)


def test_exact_fisher_equals_ggn_for_cross_entropy_and_sampled_converges():
    model = _mlp()
    x, y = _data(kind="ce")
    G = GGNOperator(model, F.cross_entropy, (x, y)).to_dense()
    Fx = FisherOperator(model, F.cross_entropy, (x, y), mode="exact").to_dense()
    np.testing.assert_allclose(Fx, G, atol=1e-12)
    errs = []
    for S in (10, 1000):
        Fs = FisherOperator(model, F.cross_entropy, (x, y), mode="sampled", mc_samples=S, seed=3).to_dense()
        np.testing.assert_allclose(Fs, Fs.T, atol=1e-12)
        assert np.linalg.eigvalsh(Fs).min() > -1e-10
        errs.append(np.linalg.norm(Fs - G) / np.linalg.norm(G))
    assert errs[1] < errs[0] / 3 and errs[1] < 0.1, errs


@pytest.mark.parametrize("kind", ["mse", "bce"])
def test_sampled_fisher_converges_other_losses(kind):
    model = _mlp()
    x, y = _data(kind=kind)
    G = GGNOperator(model, LOSSES[kind], (x, y)).to_dense()
    Fs = FisherOperator(model, LOSSES[kind], (x, y), mode="sampled", mc_samples=4000, seed=0).to_dense()
    assert np.linalg.norm(Fs - G) / np.linalg.norm(G) < 0.1


def test_empirical_fisher_matches_per_example_gradients():
    model = _mlp()
    x, y = _data(kind="ce")
    f = _functional(model)
    theta = _flat(model)
    gs = []
    for i in range(x.shape[0]):
        xi, yi = x[i:i + 1], y[i:i + 1]
        gs.append(md.autograd.grad(lambda t, xi=xi, yi=yi: F.cross_entropy(f(t, xi), yi))(md.tensor(theta)).numpy())
    gs = np.stack(gs)
    dense = gs.T @ gs / len(gs)
    E = EmpiricalFisherOperator(model, F.cross_entropy, (x, y)).to_dense()
    np.testing.assert_allclose(E, dense, atol=1e-12)


def test_dataloader_matches_full_batch_and_reduction():
    model = _mlp()
    x, y = _data(n=10, kind="ce")
    full = HessianOperator(model, F.cross_entropy, (x, y))
    ds = list(zip(x.numpy(), y.numpy()))
    loader = DataLoader(ds, batch_size=4)  # batches 4, 4, 2
    parts = HessianOperator(model, F.cross_entropy, loader)
    v = np.random.default_rng(0).standard_normal(full.num_params)
    np.testing.assert_allclose(parts.matvec(v), full.matvec(v), atol=1e-12)
    s_full = GGNOperator(model, nn.CrossEntropyLoss(reduction="sum"), (x, y))
    s_parts = GGNOperator(model, nn.CrossEntropyLoss(reduction="sum"), loader)
    np.testing.assert_allclose(s_parts.matvec(v), s_full.matvec(v), atol=1e-12)
    np.testing.assert_allclose(s_full.matvec(v), 10 * GGNOperator(model, F.cross_entropy, (x, y)).matvec(v),
                               atol=1e-12)


def test_parameter_subsets_are_blocks():
    model = _mlp()
    x, y = _data(kind="ce")
    Hd = HessianOperator(model, F.cross_entropy, (x, y)).to_dense()
    last = model[2]
    Hs = HessianOperator(model, F.cross_entropy, (x, y), params=last)
    n0 = sum(p.array.size for p in model[0].parameters())
    np.testing.assert_allclose(Hs.to_dense(), Hd[n0:, n0:], atol=1e-12)
    w = model[0].weight
    Hw = HessianOperator(model, F.cross_entropy, (x, y), params=[w]).to_dense()
    np.testing.assert_allclose(Hw, Hd[:w.array.size, :w.array.size], atol=1e-12)


def test_linear_operator_with_scipy():
    from scipy.sparse.linalg import cg, eigsh

    model = _mlp()
    x, y = _data(kind="ce")
    G = GGNOperator(model, F.cross_entropy, (x, y))
    Gd = G.to_dense()
    L = G.to_linear_operator()
    top = eigsh(L, k=2, which="LA", tol=1e-12)[0]
    np.testing.assert_allclose(np.sort(top), np.sort(np.linalg.eigvalsh(Gd))[-2:], rtol=1e-8)
    b = np.random.default_rng(0).standard_normal(G.num_params)
    A = Gd + 0.1 * np.eye(G.num_params)
    from scipy.sparse.linalg import LinearOperator
    sol, info = cg(LinearOperator(G.shape, matvec=lambda v: L @ v + 0.1 * v), b, rtol=1e-12, maxiter=500)
    assert info == 0
    np.testing.assert_allclose(sol, np.linalg.solve(A, b), rtol=1e-6, atol=1e-8)


def test_float32_params_give_float32_products():
    md.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = md.randn(5, 3)
    y = md.tensor(np.array([0, 1, 1, 0, 1]))
    H = HessianOperator(model, F.cross_entropy, (x, y))
    out = H.matvec(np.ones(H.num_params))
    assert out.dtype == np.float32 and H.to_linear_operator().dtype == np.float32


def test_nondeterministic_models_are_refused():
    md.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.5), nn.Linear(8, 3)).double()
    x, y = _data(kind="ce")
    H = HessianOperator(model, F.cross_entropy, (x, y))
    with pytest.raises(RuntimeError, match="Dropout"):
        H.matvec(np.ones(H.num_params))
    H2 = HessianOperator(model, F.cross_entropy, (x, y), allow_nondeterministic=True)
    H2.matvec(np.ones(H2.num_params))
    model.eval()
    H3 = HessianOperator(model, F.cross_entropy, (x, y))
    H3.matvec(np.ones(H3.num_params))
    bn = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 3)).double()
    G = GGNOperator(bn, F.cross_entropy, (x, y))
    with pytest.raises(RuntimeError, match="batch norm"):
        G.matvec(np.ones(G.num_params))


def test_bad_input():
    model = _mlp()
    x, y = _data(kind="ce")
    H = HessianOperator(model, F.cross_entropy, (x, y))
    with pytest.raises(ValueError, match="shape"):
        H.matvec(np.ones(3))
    with pytest.raises(ValueError, match="predictive distribution"):
        FisherOperator(model, lambda o, t: (o ** 4).sum(), (x, y))
    with pytest.raises(ValueError, match="mode"):
        FisherOperator(model, F.cross_entropy, (x, y), mode="approx")
    with pytest.raises(ValueError, match="reduction"):
        HessianOperator(model, F.cross_entropy, (x, y), reduction="none")
    with pytest.raises(ValueError, match="GiB"):
        HessianOperator(model, F.cross_entropy, (x, y)).to_dense(max_entries=10)
    with pytest.raises(TypeError, match="params are required"):
        HessianOperator(lambda z: z, F.cross_entropy, (x, y))

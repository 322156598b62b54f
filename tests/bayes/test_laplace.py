import math

import numpy as np
import pytest
import scipy.linalg as sl

import mathdl as md
from mathdl.bayes import Laplace
from mathdl.curvature import GGNOperator, HessianOperator


def _mlp():
    md.manual_seed(0)
    return md.nn.Sequential(md.nn.Linear(3, 4), md.nn.Tanh(), md.nn.Linear(4, 3)).double()


def _data(n=7):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 3)), rng.integers(0, 3, n)


def _perm(layers):
    """Our order (per layer [W b] row-major) from the curvature operators' (W then b)."""
    perm, off = [], 0
    for lin in layers:
        o, i = lin.weight.shape[0], int(np.prod(lin.weight.shape[1:]))
        for r in range(o):
            perm += [off + r * i + c for c in range(i)] + [off + o * i + r]
        off += o * i + o
    return perm


def test_full_ggn_equals_curvature_operator():
    net = _mlp()
    x, y = _data()
    la = Laplace(net, subset="all", hessian_structure="full").fit((x, y))
    params = [net[0].weight, net[0].bias, net[2].weight, net[2].bias]
    data = (md.tensor(x), md.tensor(y))
    D = GGNOperator(net, md.nn.CrossEntropyLoss(reduction="sum"), data, params=params).to_dense()
    p = _perm([net[0], net[2]])
    np.testing.assert_allclose(la.H, D[np.ix_(p, p)], atol=1e-10)
    # diag is the diagonal, last-layer is the last block
    ld = Laplace(net, subset="all", hessian_structure="diag").fit((x, y))
    np.testing.assert_allclose(ld.H, np.diag(la.H), atol=1e-12)
    ll = Laplace(net, subset="last_layer", hessian_structure="full").fit((x, y))
    np.testing.assert_allclose(ll.H, la.H[16:, 16:], atol=1e-12)


def test_logistic_regression_ggn_is_the_hessian():
    md.manual_seed(1)
    net = md.nn.Linear(3, 3).double()
    x, y = _data(20)
    la = Laplace(net, subset="all", hessian_structure="full").fit((x, y))
    H = HessianOperator(net, md.nn.CrossEntropyLoss(reduction="sum"), (md.tensor(x), md.tensor(y)),
                        params=[net.weight, net.bias]).to_dense()
    p = _perm([net])
    np.testing.assert_allclose(la.H, H[np.ix_(p, p)], atol=1e-10)


@pytest.mark.parametrize("subset", ["all", "last_layer"])
def test_kfac_exact_for_one_example(subset):
    net = _mlp()
    x, y = _data(1)
    lf = Laplace(net, subset=subset, hessian_structure="full").fit((x, y))
    lk = Laplace(net, subset=subset, hessian_structure="kron").fit((x, y))
    Hk = sl.block_diag(*[np.kron(g, a) for g, a in zip(lk.G, lk.A)])
    ref = lf.H if subset == "last_layer" else sl.block_diag(lf.H[:16, :16], lf.H[16:, 16:])
    np.testing.assert_allclose(Hk, ref, atol=1e-12)
    # and the log determinants (through the factors' eigenvalues) agree
    assert lk.log_marginal_likelihood(2.0) == pytest.approx(
        lf.loglik - 1.0 * sum((t * t).sum() for t in lf.theta_map) + 0.5 * lf.num_params * math.log(2.0)
        - 0.5 * np.linalg.slogdet(ref + 2 * np.eye(len(ref)))[1])


def test_linear_gaussian_is_exact():
    """Bayesian linear regression: the Laplace evidence and predictive are the exact ones."""
    rng = np.random.default_rng(0)
    n, d, sigma, delta = 30, 3, 0.5, 2.0
    X = rng.standard_normal((n, d))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 + sigma * rng.standard_normal(n)
    Xa = np.concatenate([X, np.ones((n, 1))], 1)
    prec = Xa.T @ Xa / sigma ** 2 + delta * np.eye(d + 1)
    w_post = np.linalg.solve(prec, Xa.T @ y / sigma ** 2)
    net = md.nn.Linear(d, 1).double()
    net.weight.array[...] = w_post[:d][None]
    net.bias.array[...] = w_post[d:]
    la = Laplace(net, likelihood="regression", subset="all", hessian_structure="full", prior_precision=delta,
                 sigma_noise=sigma).fit((X, y[:, None]))
    from scipy.stats import multivariate_normal

    exact = multivariate_normal(np.zeros(n), sigma ** 2 * np.eye(n) + Xa @ Xa.T / delta).logpdf(y)
    assert la.log_marginal_likelihood() == pytest.approx(exact, rel=1e-9)
    xs = rng.standard_normal((4, d))
    mean, var = la.predictive(xs)
    xsa = np.concatenate([xs, np.ones((4, 1))], 1)
    np.testing.assert_allclose(mean[:, 0], xsa @ w_post, rtol=1e-9)
    np.testing.assert_allclose(var[:, 0, 0], np.einsum("ni,ij,nj->n", xsa, np.linalg.inv(prec), xsa) + sigma ** 2,
                               rtol=1e-9)
    # optimize_prior_precision maximizes the (theta*-fixed) Laplace evidence
    best = la.optimize_prior_precision()
    grid = np.exp(np.linspace(math.log(best) - 0.05, math.log(best) + 0.05, 11))
    assert int(np.argmax([la.log_marginal_likelihood(g) for g in grid])) == 5


def test_samples_match_the_posterior_covariance():
    net = _mlp()
    x, y = _data(10)
    for structure in ("full", "diag", "kron"):
        la = Laplace(net, subset="last_layer", hessian_structure=structure, prior_precision=0.5).fit((x, y))
        s = la.sample(20000, seed=0)
        cov = la.posterior_covariance
        cov = np.diag(cov) if structure == "diag" else cov
        np.testing.assert_allclose(np.cov(s.T), cov, atol=0.05 * np.abs(cov).max())
        np.testing.assert_allclose(s.mean(0), np.concatenate([t.ravel() for t in la.theta_map]),
                                   atol=0.05 * np.sqrt(np.abs(cov).max()))


def test_predictives_agree_for_a_linear_model():
    """For a linear model, the network sampled at theta_s is exactly its linearization."""
    md.manual_seed(2)
    net = md.nn.Linear(3, 3).double()
    x, y = _data(15)
    la = Laplace(net, subset="all", hessian_structure="kron", prior_precision=1.0).fit((x, y))
    mc = la.predictive(x, link_approx="mc", num_samples=4000)
    nn_ = la.predictive(x, pred_type="nn", num_samples=4000)
    np.testing.assert_allclose(mc, nn_, atol=0.02)
    probit = la.predictive(x)
    np.testing.assert_allclose(probit.sum(1), 1)
    np.testing.assert_allclose(probit, mc, atol=0.05)
    # the weights are back at the MAP after sampling
    np.testing.assert_allclose(np.concatenate([net.weight.numpy(), net.bias.numpy()[:, None]], 1), la.theta_map[0])


def test_conv_kfac_runs_and_is_positive():
    md.manual_seed(0)
    net = md.nn.Sequential(md.nn.Conv2d(1, 2, 3, padding=1), md.nn.ReLU(), md.nn.Flatten(),
                           md.nn.Linear(2 * 4 * 4, 3)).double()
    x = np.random.default_rng(0).standard_normal((5, 1, 4, 4))
    y = np.array([0, 1, 2, 0, 1])
    lf = Laplace(net, subset="all", hessian_structure="full").fit((x, y))
    params = [net[0].weight, net[0].bias, net[3].weight, net[3].bias]
    data = (md.tensor(x), md.tensor(y))
    D = GGNOperator(net, md.nn.CrossEntropyLoss(reduction="sum"), data, params=params).to_dense()
    p = _perm([net[0], net[3]])
    np.testing.assert_allclose(lf.H, D[np.ix_(p, p)], atol=1e-10)
    lk = Laplace(net, subset="all", hessian_structure="kron").fit((x, y))
    assert all(np.linalg.eigvalsh(g).min() > -1e-10 for g in lk.G)
    p = lk.predict_proba(x)
    np.testing.assert_allclose(p.sum(1), 1)


def test_errors():
    net = _mlp()
    la = Laplace(net)
    with pytest.raises(RuntimeError, match="fit"):
        _ = la.posterior_covariance
    with pytest.raises(RuntimeError, match="fit"):
        la.predict_proba(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="no supported layer"):
        Laplace(md.nn.Sequential(md.nn.BatchNorm1d(3), md.nn.ReLU()), hessian_structure="kron")
    with pytest.raises(ValueError, match="hessian_structure"):
        Laplace(net, hessian_structure="lowrank")
    with pytest.raises(ValueError, match="prior_precision"):
        Laplace(net, prior_precision=0)
    with pytest.raises(ValueError, match="labels"):
        Laplace(net).fit((np.zeros((2, 3)), np.array([0, 7])))


@pytest.mark.parametrize("structure", ["kron", "diag", "full"])
@pytest.mark.parametrize("conv", [False, True])
def test_functional_variance_is_j_sigma_jt(structure, conv):
    from mathdl.bayes.laplace import _jac

    md.manual_seed(0)
    if conv:
        net = md.nn.Sequential(md.nn.Conv2d(1, 2, 3, padding=1), md.nn.ReLU(), md.nn.Flatten(),
                               md.nn.Linear(2 * 4 * 4, 3)).double()
        x = np.random.default_rng(0).standard_normal((6, 1, 4, 4))
    else:
        net = _mlp()
        x = _data(6)[0]
    y = np.array([0, 1, 2, 0, 1, 2])
    la = Laplace(net, subset="all", hessian_structure=structure, prior_precision=0.7).fit((x, y))
    f, var = la.functional_variance(x)
    _, acts, grads = la._forward_capture(x, need_grads=True)
    J = np.concatenate([_jac(a, g).reshape(6, 3, -1) for a, g in zip(acts, grads)], 2)
    cov = la.posterior_covariance
    cov = np.diag(cov) if structure == "diag" else cov
    np.testing.assert_allclose(var, J @ cov @ J.transpose(0, 2, 1), rtol=1e-8, atol=1e-12)


def test_prior_precision_by_validation_nll():
    net = _mlp()
    x, y = _data(20)
    la = Laplace(net, subset="last_layer", hessian_structure="kron").fit((x[:12], y[:12]))
    best = la.optimize_prior_precision(method="val_nll", val_data=(x[12:], y[12:]), grid_size=9)
    grid = np.exp(np.linspace(math.log(1e-4), math.log(1e4), 9))
    nlls = []
    for d in grid:
        la.prior_precision = d
        p = la.predictive(x[12:])
        nlls.append(-np.log(p[np.arange(8), y[12:]]).mean())
    assert best == pytest.approx(grid[int(np.argmin(nlls))])
    with pytest.raises(ValueError, match="val_data"):
        la.optimize_prior_precision(method="val_nll")
    with pytest.raises(ValueError, match="method"):
        la.optimize_prior_precision(method="cv")

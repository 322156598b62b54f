"""Closed-form KL(p || q) equals torch (float64, 1e-10) and a Monte-Carlo estimate E_p[log p - log q]."""

import numpy as np
import pytest

import mathdl as md
import mathdl.distributions as D

torch = pytest.importorskip("torch")
td = torch.distributions
R = np.random.default_rng(1)
N = 4


def pos(lo=0.5, hi=3.0, n=N):
    return R.uniform(lo, hi, n)


def spd(k=3):
    a = R.normal(size=(k, k))
    return a @ a.T + k * np.eye(k)


PAIRS = {
    "Normal": lambda: dict(loc=R.normal(size=N), scale=pos()),
    "Laplace": lambda: dict(loc=R.normal(size=N), scale=pos()),
    "Cauchy": lambda: dict(loc=R.normal(size=N), scale=pos()),
    "Exponential": lambda: dict(rate=pos()),
    "HalfNormal": lambda: dict(scale=pos()),
    "LogNormal": lambda: dict(loc=R.normal(size=N), scale=pos()),
    "Gamma": lambda: dict(concentration=pos(), rate=pos()),
    "Beta": lambda: dict(concentration1=pos(), concentration0=pos()),
    "Dirichlet": lambda: dict(concentration=R.uniform(0.5, 3, (N, 3))),
    "Bernoulli": lambda: dict(probs=R.uniform(0.1, 0.9, N)),
    "Binomial": lambda: dict(total_count=np.full(N, 5.0), probs=R.uniform(0.1, 0.9, N)),
    "Categorical": lambda: dict(logits=R.normal(size=(N, 5))),
    "OneHotCategorical": lambda: dict(logits=R.normal(size=(N, 5))),
    "Poisson": lambda: dict(rate=pos()),
    "Geometric": lambda: dict(probs=R.uniform(0.1, 0.9, N)),
    "MultivariateNormal": lambda: dict(loc=R.normal(size=3), covariance_matrix=spd()),
}


def build(name, params):
    dm = getattr(D, name)(**{k: md.tensor(v, dtype="float64") for k, v in params.items()})
    tp = {k: torch.tensor(v, dtype=torch.float64) for k, v in params.items()}
    return dm, getattr(td, name)(**tp)


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_kl_matches_torch_and_monte_carlo(name):
    pm, pt = build(name, PAIRS[name]())
    qm, qt = build(name, PAIRS[name]())
    kl = D.kl_divergence(pm, qm).numpy()
    np.testing.assert_allclose(kl, td.kl_divergence(pt, qt).numpy(), rtol=1e-10, atol=1e-10)
    md.manual_seed(0)
    n = 100_000
    x = pm.sample((n,))
    lr = (pm.log_prob(x) - qm.log_prob(x)).numpy()
    mc, se = lr.mean(0), lr.std(0) / np.sqrt(n)
    assert np.all(np.abs(mc - kl) <= 5 * se + 1e-12), (name, mc, kl, se)


def test_uniform_kl_and_infinite_support():
    p = D.Uniform(md.tensor([0.0, -1.0]), md.tensor([1.0, 1.0]))
    q = D.Uniform(md.tensor([-1.0, 0.0]), md.tensor([2.0, 1.0]))
    kl = D.kl_divergence(p, q).numpy()
    assert np.isclose(kl[0], np.log(3.0)) and np.isinf(kl[1])


def test_independent_kl_sums():
    p = D.Independent(D.Normal(md.zeros(2, 3, dtype="float64"), md.ones(2, 3, dtype="float64")), 1)
    q = D.Independent(D.Normal(md.ones(2, 3, dtype="float64"), 2 * md.ones(2, 3, dtype="float64")), 1)
    want = D.kl_divergence(p.base_dist, q.base_dist).sum(-1).numpy()
    np.testing.assert_allclose(D.kl_divergence(p, q).numpy(), want)


def test_missing_pair_names_both_types():
    with pytest.raises(NotImplementedError, match="Normal.*Gamma"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Gamma(1.0, 1.0))


def test_register_kl_dispatch():
    class MyNormal(D.Normal):
        pass

    @D.register_kl(MyNormal, MyNormal)
    def _kl(p, q):
        return p.loc * 0 + 42.0

    a = MyNormal(md.zeros(2), md.ones(2))
    assert np.all(D.kl_divergence(a, a).numpy() == 42.0)
    assert np.all(D.kl_divergence(a, D.Normal(md.zeros(2), md.ones(2))).numpy() == 0.0)

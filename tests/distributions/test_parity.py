"""log_prob, cdf, icdf, entropy, mean, mode, variance of every family equal torch.distributions (float64, 1e-10)."""

import math

import numpy as np
import pytest

import mathdl as md
import mathdl.distributions as D

torch = pytest.importorskip("torch")
td = torch.distributions

R = np.random.default_rng(0)
N = 5


def pos(lo=0.3, hi=4.0, n=N):
    return R.uniform(lo, hi, n)


def unit(n=N):
    return R.uniform(0.05, 0.95, n)


def spd(k=3):
    a = R.normal(size=(2, k, k))
    return a @ np.swapaxes(a, -1, -2) + k * np.eye(k)


# name: (param dict, value array, torch class name, extra methods)
CASES = {
    "Normal": (lambda: dict(loc=R.normal(size=N), scale=pos()), lambda: R.normal(size=N), ["cdf", "icdf"]),
    "Laplace": (lambda: dict(loc=R.normal(size=N), scale=pos()), lambda: R.normal(size=N), ["cdf", "icdf"]),
    "Cauchy": (lambda: dict(loc=R.normal(size=N), scale=pos()), lambda: R.normal(size=N), ["cdf", "icdf"]),
    "Uniform": (lambda: dict(low=-pos(), high=pos()), lambda: R.uniform(-0.2, 0.2, N), ["cdf", "icdf"]),
    "Exponential": (lambda: dict(rate=pos()), lambda: pos(0.1, 3), ["cdf", "icdf"]),
    "HalfNormal": (lambda: dict(scale=pos()), lambda: pos(0.1, 3), ["cdf", "icdf"]),
    "LogNormal": (lambda: dict(loc=R.normal(size=N), scale=pos()), lambda: pos(0.1, 3), ["cdf", "icdf"]),
    "Gamma": (lambda: dict(concentration=pos(), rate=pos()), lambda: pos(0.1, 3), ["cdf"]),
    "Chi2": (lambda: dict(df=pos(0.5, 6)), lambda: pos(0.1, 3), ["cdf"]),
    "Beta": (lambda: dict(concentration1=pos(), concentration0=pos()), lambda: unit(), []),
    "StudentT": (lambda: dict(df=pos(2.5, 8), loc=R.normal(size=N), scale=pos()), lambda: R.normal(size=N), []),
    "Dirichlet": (lambda: dict(concentration=R.uniform(0.5, 3, (N, 4))), lambda: R.dirichlet(np.ones(4), N), []),
    "Bernoulli": (lambda: dict(probs=unit()), lambda: (R.random(N) < 0.5).astype(float), []),
    "Binomial": (lambda: dict(total_count=np.full(N, 7.0), probs=unit()), lambda: R.integers(0, 8, N).astype(float),
                 []),
    "Categorical": (lambda: dict(logits=R.normal(size=(N, 4))), lambda: R.integers(0, 4, N), []),
    "OneHotCategorical": (lambda: dict(probs=R.dirichlet(np.ones(4), N)), lambda: np.eye(4)[R.integers(0, 4, N)], []),
    "Multinomial": (lambda: dict(total_count=6, probs=R.dirichlet(np.ones(4), N)),
                    lambda: R.multinomial(6, np.ones(4) / 4, N).astype(float), []),
    "Poisson": (lambda: dict(rate=pos()), lambda: R.integers(0, 6, N).astype(float), []),
    "Geometric": (lambda: dict(probs=unit()), lambda: R.integers(0, 6, N).astype(float), []),
    "MultivariateNormal": (lambda: dict(loc=R.normal(size=(2, 3)), covariance_matrix=spd()),
                           lambda: R.normal(size=(4, 2, 3)), []),
    "LowRankMultivariateNormal": (lambda: dict(loc=R.normal(size=(2, 3)), cov_factor=R.normal(size=(2, 3, 2)),
                                               cov_diag=pos(n=(2, 3))), lambda: R.normal(size=(4, 2, 3)), []),
}

PROPS = ["mean", "variance", "stddev", "mode"]


def make(name, params):
    md_p = {k: v if isinstance(v, int) else md.tensor(v, dtype="float64") for k, v in params.items()}
    t_p = {k: v if isinstance(v, int) else torch.tensor(v, dtype=torch.float64) for k, v in params.items()}
    if name == "Binomial":
        t_p["total_count"] = torch.tensor(params["total_count"])
    return getattr(D, name)(**md_p), getattr(td, name)(**t_p)


def close(a, b, tol=1e-10):
    a = np.asarray(a.numpy() if hasattr(a, "numpy") else a, dtype=float)
    b = np.asarray(b.detach().numpy(), dtype=float)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol, equal_nan=True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_against_torch(name):
    make_params, make_value, extra = CASES[name]
    params = make_params()
    d, t = make(name, params)
    assert tuple(d.batch_shape) == tuple(t.batch_shape) and tuple(d.event_shape) == tuple(t.event_shape)
    value = make_value()
    vd = md.tensor(value, dtype="int64" if name == "Categorical" else "float64")
    vt = torch.tensor(value)
    close(d.log_prob(vd), t.log_prob(vt))
    try:
        te = t.entropy()
    except NotImplementedError:
        te = None
    if te is not None:  # torch's Multinomial takes lgamma(n + 1) of an int tensor, in float32
        close(d.entropy(), te, 1e-6 if name == "Multinomial" else 1e-10)
    for prop in PROPS:
        try:
            tv = getattr(t, prop)
        except NotImplementedError:
            continue
        close(getattr(d, prop), tv)
    if "cdf" in extra:
        close(d.cdf(vd), t.cdf(vt))
    if "icdf" in extra:
        q = R.uniform(0.05, 0.95, N)
        close(d.icdf(md.tensor(q, dtype="float64")), t.icdf(torch.tensor(q)))


def test_sample_shapes_and_expand():
    d = D.Normal(md.zeros(3, dtype="float64"), md.ones(3, dtype="float64"))
    assert d.sample((5, 2)).shape == (5, 2, 3)
    e = d.expand((4, 3))
    assert e.batch_shape == (4, 3) and e.sample().shape == (4, 3)
    mvn = D.MultivariateNormal(md.zeros(2, dtype="float64"), scale_tril=md.eye(2, dtype="float64"))
    assert mvn.rsample((7,)).shape == (7, 2) and mvn.expand((3,)).sample((2,)).shape == (2, 3, 2)
    ind = D.Independent(D.Normal(md.zeros(2, 3), md.ones(2, 3)), 1)
    assert ind.batch_shape == (2,) and ind.event_shape == (3,) and ind.log_prob(md.zeros(2, 3)).shape == (2,)


def test_mvn_parameterizations_agree():
    cov = spd()[0]
    loc = md.tensor(R.normal(size=3), dtype="float64")
    x = md.tensor(R.normal(size=(5, 3)), dtype="float64")
    a = D.MultivariateNormal(loc, covariance_matrix=md.tensor(cov, dtype="float64"))
    b = D.MultivariateNormal(loc, precision_matrix=md.tensor(np.linalg.inv(cov), dtype="float64"))
    c = D.MultivariateNormal(loc, scale_tril=md.tensor(np.linalg.cholesky(cov), dtype="float64"))
    for o in (b, c):
        np.testing.assert_allclose(o.log_prob(x).numpy(), a.log_prob(x).numpy(), rtol=1e-10)
        np.testing.assert_allclose(o.covariance_matrix.numpy(), cov, rtol=1e-10)


def test_mixture_same_family_against_torch():
    logits = R.normal(size=(2, 3))
    loc, scale = R.normal(size=(2, 3)), pos(n=(2, 3))
    d = D.MixtureSameFamily(D.Categorical(logits=md.tensor(logits)), D.Normal(md.tensor(loc), md.tensor(scale)))
    t = td.MixtureSameFamily(td.Categorical(logits=torch.tensor(logits)), td.Normal(torch.tensor(loc),
                                                                                   torch.tensor(scale)))
    x = R.normal(size=(4, 2))
    close(d.log_prob(md.tensor(x)), t.log_prob(torch.tensor(x)))
    close(d.cdf(md.tensor(x)), t.cdf(torch.tensor(x)))
    close(d.mean, t.mean)
    close(d.variance, t.variance)
    assert d.sample((6,)).shape == (6, 2)


def test_relaxed_against_torch():
    T = 0.7
    logits = R.normal(size=(3, 4))
    d = D.RelaxedOneHotCategorical(md.tensor(T, dtype="float64"), logits=md.tensor(logits))
    t = td.RelaxedOneHotCategorical(torch.tensor(T, dtype=torch.float64), logits=torch.tensor(logits))
    x = R.dirichlet(np.ones(4), 3)
    close(d.log_prob(md.tensor(x)), t.log_prob(torch.tensor(x)))
    lb = R.normal(size=5)
    d = D.RelaxedBernoulli(md.tensor(T, dtype="float64"), logits=md.tensor(lb))
    t = td.RelaxedBernoulli(torch.tensor(T, dtype=torch.float64), logits=torch.tensor(lb))
    u = unit()
    close(d.log_prob(md.tensor(u)), t.log_prob(torch.tensor(u)))
    assert d.rsample((2,)).shape == (2, 5)


def test_transforms_against_torch():
    x = R.normal(size=(4, 3))
    pairs = [(D.ExpTransform(), td.ExpTransform()), (D.SigmoidTransform(), td.SigmoidTransform()),
             (D.TanhTransform(), td.TanhTransform()), (D.SoftplusTransform(), td.SoftplusTransform()),
             (D.AffineTransform(0.5, -2.0), td.AffineTransform(0.5, -2.0)),
             (D.StickBreakingTransform(), td.StickBreakingTransform()),
             (D.ComposeTransform([D.AffineTransform(1.0, 2.0), D.ExpTransform()]),
              td.ComposeTransform([td.AffineTransform(1.0, 2.0), td.ExpTransform()]))]
    for m, t in pairs:
        xm, xt = md.tensor(x), torch.tensor(x)
        ym, yt = m(xm), t(xt)
        close(ym, yt)
        close(m.log_abs_det_jacobian(xm, ym), t.log_abs_det_jacobian(xt, yt))
        np.testing.assert_allclose(m.inv(ym).numpy(), x, rtol=1e-8, atol=1e-8)


def test_transformed_distribution_matches_torch():
    base_m = D.Normal(md.tensor(R.normal(size=3)), md.tensor(pos(n=3)))
    base_t = td.Normal(torch.tensor(base_m.loc.numpy()),
                       torch.tensor(base_m.scale.numpy()))
    m = D.TransformedDistribution(base_m, [D.AffineTransform(1.0, -2.0), D.SigmoidTransform()])
    t = td.TransformedDistribution(base_t, [td.AffineTransform(1.0, -2.0), td.SigmoidTransform()])
    y = unit(3)
    close(m.log_prob(md.tensor(y)), t.log_prob(torch.tensor(y)))
    close(m.cdf(md.tensor(y)), t.cdf(torch.tensor(y)))
    sb = D.TransformedDistribution(D.Independent(D.Normal(md.zeros(3, dtype="float64"),
                                                          md.ones(3, dtype="float64")), 1),
                                   D.StickBreakingTransform())
    tb = td.TransformedDistribution(td.Independent(td.Normal(torch.zeros(3, dtype=torch.float64),
                                                             torch.ones(3, dtype=torch.float64)), 1),
                                    td.StickBreakingTransform())
    s = R.dirichlet(np.ones(4), 5)
    close(sb.log_prob(md.tensor(s)), tb.log_prob(torch.tensor(s)))
    assert math.isfinite(float(sb.sample().sum().item()))


@pytest.mark.parametrize("name", sorted(CASES))
def test_expand(name):
    make_params, make_value, _ = CASES[name]
    d, _ = make(name, make_params())
    e = d.expand((2,) + tuple(d.batch_shape))
    assert e.batch_shape == (2,) + tuple(d.batch_shape) and e.event_shape == d.event_shape
    v = make_value()
    if v.ndim > len(d.batch_shape) + len(d.event_shape):
        v = v[0]  # drop the sample dim so that the value broadcasts against the new batch shape
    v = md.tensor(v, dtype="int64" if name == "Categorical" else "float64")
    lp, lpe = d.log_prob(v).numpy(), e.log_prob(v).numpy()
    np.testing.assert_allclose(lpe, np.broadcast_to(lp, lpe.shape), rtol=1e-12)
    assert tuple(e.sample().shape) == tuple(e.batch_shape) + tuple(e.event_shape)


def test_enumerate_support():
    b = D.Bernoulli(md.tensor([0.2, 0.7], dtype="float64"))
    assert b.enumerate_support().shape == (2, 2)
    c = D.Categorical(logits=md.zeros(3, 5, dtype="float64"))
    s = c.enumerate_support()
    assert s.shape == (5, 3) and np.allclose(np.exp(c.log_prob(s).numpy()).sum(0), 1)
    bi = D.Binomial(4, md.tensor([0.3, 0.6], dtype="float64"))
    assert np.allclose(np.exp(bi.log_prob(bi.enumerate_support()).numpy()).sum(0), 1)

"""Samples: moments within 4 standard errors at n = 100,000 and a Kolmogorov-Smirnov test against scipy."""

import numpy as np
import pytest

import mathdl as md
import mathdl.distributions as D

stats = pytest.importorskip("scipy.stats")
N = 100_000

# name, mathdl distribution, scipy frozen distribution (None: moments only)
CONTINUOUS = [
    ("Normal", lambda: D.Normal(0.5, 2.0), stats.norm(0.5, 2.0)),
    ("Laplace", lambda: D.Laplace(0.5, 2.0), stats.laplace(0.5, 2.0)),
    ("Cauchy", lambda: D.Cauchy(0.5, 2.0), stats.cauchy(0.5, 2.0)),
    ("Uniform", lambda: D.Uniform(-1.0, 3.0), stats.uniform(-1.0, 4.0)),
    ("Exponential", lambda: D.Exponential(1.5), stats.expon(scale=1 / 1.5)),
    ("HalfNormal", lambda: D.HalfNormal(2.0), stats.halfnorm(scale=2.0)),
    ("LogNormal", lambda: D.LogNormal(0.2, 0.5), stats.lognorm(0.5, scale=np.exp(0.2))),
    ("Gamma", lambda: D.Gamma(2.5, 1.5), stats.gamma(2.5, scale=1 / 1.5)),
    ("Gamma_small", lambda: D.Gamma(0.3, 1.0), stats.gamma(0.3)),
    ("Chi2", lambda: D.Chi2(3.0), stats.chi2(3.0)),
    ("Beta", lambda: D.Beta(2.0, 0.7), stats.beta(2.0, 0.7)),
    ("StudentT", lambda: D.StudentT(5.0, 0.5, 2.0), stats.t(5.0, 0.5, 2.0)),
    ("MixtureSameFamily", lambda: D.MixtureSameFamily(D.Categorical(probs=md.tensor([0.3, 0.7], dtype="float64")),
                                                      D.Normal(md.tensor([-2.0, 1.0], dtype="float64"),
                                                               md.tensor([0.5, 1.0], dtype="float64"))), None),
]


@pytest.mark.parametrize("name,make,ref", CONTINUOUS, ids=[c[0] for c in CONTINUOUS])
def test_continuous_samples(name, make, ref):
    md.set_default_dtype("float64")
    try:
        md.manual_seed(1)
        d = make()
        x = d.sample((N,)).numpy().astype(np.float64)
    finally:
        md.set_default_dtype("float32")
    assert x.shape == (N,)
    if ref is not None:
        assert stats.kstest(x, ref.cdf).pvalue > 1e-4, name
    if name == "Cauchy":
        return
    mean, var = float(d.mean.numpy()), float(d.variance.numpy())
    assert abs(x.mean() - mean) <= 4 * np.sqrt(var / N), (name, x.mean(), mean)
    m4 = np.mean((x - mean) ** 4)
    assert abs(x.var() - var) <= 4 * np.sqrt((m4 - var ** 2) / N), (name, x.var(), var)


def test_relaxed_bernoulli_cdf_by_ks():
    # P(sigmoid((l + logistic) / T) <= y) = sigmoid(T logit(y) - l): a closed form to test samples against
    md.manual_seed(2)
    T, p = 0.5, 0.3
    x = D.RelaxedBernoulli(md.tensor(T, dtype="float64"), probs=md.tensor(p, dtype="float64")).sample((N,)).numpy()
    logit_p = np.log(p / (1 - p))

    def cdf(y):
        return 1 / (1 + np.exp(-(T * np.log(y / (1 - y)) - logit_p)))

    assert stats.kstest(x, cdf).pvalue > 1e-4


DISCRETE = [
    ("Bernoulli", lambda: D.Bernoulli(md.tensor(0.3, dtype="float64")), 0.3, 0.21),
    ("Binomial", lambda: D.Binomial(10, md.tensor(0.3, dtype="float64")), 3.0, 2.1),
    ("Poisson", lambda: D.Poisson(md.tensor(3.5, dtype="float64")), 3.5, 3.5),
    ("Geometric", lambda: D.Geometric(md.tensor(0.3, dtype="float64")), 1 / 0.3 - 1, (1 / 0.3 - 1) / 0.3),
]


@pytest.mark.parametrize("name,make,mean,var", DISCRETE, ids=[c[0] for c in DISCRETE])
def test_discrete_moments(name, make, mean, var):
    md.manual_seed(3)
    x = make().sample((N,)).numpy()
    assert abs(x.mean() - mean) <= 4 * np.sqrt(var / N)


def test_categorical_multinomial_dirichlet_mvn_frequencies():
    md.manual_seed(4)
    p = np.array([0.1, 0.2, 0.3, 0.4])
    c = D.Categorical(md.tensor(p, dtype="float64")).sample((N,)).numpy()
    counts = np.bincount(c, minlength=4)
    assert stats.chisquare(counts, p * N).pvalue > 1e-4
    m = D.Multinomial(7, md.tensor(p, dtype="float64")).sample((N // 10,)).numpy()
    assert np.all(m.sum(-1) == 7)
    assert np.all(np.abs(m.mean(0) - 7 * p) <= 4 * np.sqrt(7 * p * (1 - p) / (N // 10)))
    a = np.array([0.5, 2.0, 3.0])
    x = D.Dirichlet(md.tensor(a, dtype="float64")).sample((N,)).numpy()
    a0 = a.sum()
    var = a * (a0 - a) / (a0 ** 2 * (a0 + 1))
    assert np.all(np.abs(x.mean(0) - a / a0) <= 4 * np.sqrt(var / N))
    cov = np.array([[2.0, 0.6], [0.6, 1.0]])
    y = D.MultivariateNormal(md.tensor([1.0, -1.0], dtype="float64"),
                             covariance_matrix=md.tensor(cov, dtype="float64")).sample((N,)).numpy()
    assert np.allclose(np.cov(y.T), cov, atol=0.05) and np.allclose(y.mean(0), [1, -1], atol=0.03)
    lr = D.LowRankMultivariateNormal(md.zeros(3, dtype="float64"), md.tensor([[1.0], [0.5], [0.0]], dtype="float64"),
                                     md.tensor([0.5, 0.5, 1.0], dtype="float64")).sample((N,)).numpy()
    assert np.allclose(np.cov(lr.T), [[1.5, 0.5, 0], [0.5, 0.75, 0], [0, 0, 1]], atol=0.05)


def test_hard_gumbel_softmax_frequencies_match_softmax():
    md.manual_seed(5)
    logits = np.array([1.0, 0.0, -1.0, 0.5])
    p = np.exp(logits) / np.exp(logits).sum()
    y = md.nn.functional.gumbel_softmax(md.tensor(np.tile(logits, (N, 1)), dtype="float64"), tau=0.5, hard=True)
    yy = y.numpy()
    assert np.all(yy.sum(-1) == 1) and set(np.unique(yy)) <= {0.0, 1.0}
    assert stats.chisquare(yy.sum(0), p * N).pvalue > 1e-4
    soft = D.gumbel_softmax(md.tensor(np.tile(logits, (10, 1)), dtype="float64"), tau=0.5)
    assert np.allclose(soft.numpy().sum(-1), 1) and np.all(soft.numpy() > 0)

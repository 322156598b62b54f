"""rsample gradients: gradcheck where explicit; implicit (Gamma family) against finite differences of the
CDF, torch's rsample gradients and derivatives of closed-form moments."""

import numpy as np
import pytest

import mathdl as md
import mathdl.distributions as D
from mathdl.distributions.implicit import standard_gamma_grad

R = np.random.default_rng(2)


def t64(v):
    return md.tensor(np.asarray(v, dtype=np.float64), requires_grad=True)


def seeded(fn):
    def wrapped(*args):
        md.manual_seed(7)
        return fn(*args)
    return wrapped


EXPLICIT = {
    "Normal": (lambda a, b: D.Normal(a, b).rsample((3,)), [R.normal(size=2), R.uniform(0.5, 2, 2)]),
    "Laplace": (lambda a, b: D.Laplace(a, b).rsample((3,)), [R.normal(size=2), R.uniform(0.5, 2, 2)]),
    "Cauchy": (lambda a, b: D.Cauchy(a, b).rsample((3,)), [R.normal(size=2), R.uniform(0.5, 2, 2)]),
    "Uniform": (lambda a, b: D.Uniform(a, b).rsample((3,)), [R.uniform(-2, -1, 2), R.uniform(1, 2, 2)]),
    "Exponential": (lambda a: D.Exponential(a).rsample((3,)), [R.uniform(0.5, 2, 2)]),
    "HalfNormal": (lambda a: D.HalfNormal(a).rsample((3,)), [R.uniform(0.5, 2, 2)]),
    "LogNormal": (lambda a, b: D.LogNormal(a, b).rsample((3,)), [R.normal(size=2), R.uniform(0.5, 1, 2)]),
    "MultivariateNormal": (lambda m, L: D.MultivariateNormal(m, scale_tril=md.tril(L) + 3 * md.eye(
        3, dtype="float64")).rsample((2,)), [R.normal(size=3), R.normal(size=(3, 3))]),
    "LowRankMultivariateNormal": (lambda m, W, d: D.LowRankMultivariateNormal(m, W, d).rsample((2,)),
                                  [R.normal(size=3), R.normal(size=(3, 2)), R.uniform(0.5, 2, 3)]),
    "RelaxedOneHotCategorical": (lambda lg: D.RelaxedOneHotCategorical(md.tensor(0.5, dtype="float64"),
                                                                       logits=lg).rsample((2,)),
                                 [R.normal(size=4)]),
    "RelaxedBernoulli": (lambda lg: D.RelaxedBernoulli(md.tensor(0.5, dtype="float64"), logits=lg).rsample((2,)),
                         [R.normal(size=3)]),
}


@pytest.mark.parametrize("name", sorted(EXPLICIT))
def test_explicit_rsample_gradcheck(name):
    fn, args = EXPLICIT[name]
    assert md.gradcheck(seeded(fn), [t64(a) for a in args])


LOG_PROB = {
    "MultivariateNormal": (lambda m, L, x: D.MultivariateNormal(m, scale_tril=md.tril(L) + 3 * md.eye(
        3, dtype="float64")).log_prob(x), [R.normal(size=3), R.normal(size=(3, 3)), R.normal(size=(2, 3))]),
    "LowRankMultivariateNormal": (lambda m, W, d, x: D.LowRankMultivariateNormal(m, W, d).log_prob(x),
                                  [R.normal(size=3), R.normal(size=(3, 2)), R.uniform(0.5, 2, 3),
                                   R.normal(size=(2, 3))]),
    "Gamma": (lambda a, b: D.Gamma(a, b).log_prob(md.tensor([0.5, 2.0], dtype="float64")) + D.Gamma(a, b).entropy(),
              [R.uniform(0.5, 3, 2), R.uniform(0.5, 3, 2)]),
    "Beta": (lambda a, b: D.Beta(a, b).log_prob(md.tensor([0.2, 0.7], dtype="float64")) + D.Beta(a, b).entropy(),
             [R.uniform(0.5, 3, 2), R.uniform(0.5, 3, 2)]),
    "StudentT": (lambda n, m, s: D.StudentT(n, m, s).log_prob(md.tensor([0.2, -1.0], dtype="float64")),
                 [R.uniform(2, 5, 2), R.normal(size=2), R.uniform(0.5, 2, 2)]),
    "Dirichlet_kl": (lambda a, b: D.kl_divergence(D.Dirichlet(a), D.Dirichlet(b)),
                     [R.uniform(0.5, 3, 3), R.uniform(0.5, 3, 3)]),
}


@pytest.mark.parametrize("name", sorted(LOG_PROB))
def test_log_prob_gradcheck(name):
    fn, args = LOG_PROB[name]
    assert md.gradcheck(fn, [t64(a) for a in args])
    assert md.gradgradcheck(fn, [t64(a) for a in args])


def test_implicit_gamma_gradient_is_minus_cdf_derivative_over_density():
    sp = pytest.importorskip("scipy.special")
    a = R.uniform(0.2, 30, 200)
    z = np.random.default_rng(3).gamma(a)
    got = standard_gamma_grad(z, a)
    h = 1e-6
    dens = np.exp((a - 1) * np.log(z) - z - sp.gammaln(a))
    want = -(sp.gammainc(a + h, z) - sp.gammainc(a - h, z)) / (2 * h) / dens
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_implicit_gamma_gradient_matches_torch():
    torch = pytest.importorskip("torch")
    a = R.uniform(0.2, 30, 200)
    z = np.random.default_rng(4).gamma(a)
    want = torch._standard_gamma_grad(torch.tensor(a), torch.tensor(z)).numpy()
    np.testing.assert_allclose(standard_gamma_grad(z, a), want, rtol=2e-3, atol=1e-6)  # torch's is approximate


N = 100_000


def _mc_grad(make, param, f):
    md.manual_seed(11)
    p = t64(param)
    x = make(p).rsample((N,))
    per = f(x)
    per.mean().backward()
    return p.grad.numpy()


@pytest.mark.parametrize("case", ["Gamma", "Beta", "Dirichlet", "StudentT", "Chi2"])
def test_implicit_rsample_gradient_of_moments(case):
    """d/dtheta E[f(x)] by rsample equals the derivative of the closed-form moment (within ~4 s.e.)."""
    if case == "Gamma":
        g = _mc_grad(lambda p: D.Gamma(p, md.tensor(2.0, dtype="float64")), 1.7, lambda x: x)
        want, sd = 1 / 2.0, 0.5
    elif case == "Chi2":
        g = _mc_grad(lambda p: D.Chi2(p), 3.0, lambda x: x)
        want, sd = 1.0, 1.0
    elif case == "Beta":
        a, b = 1.5, 2.5
        g = _mc_grad(lambda p: D.Beta(p, md.tensor(b, dtype="float64")), a, lambda x: x)
        want, sd = b / (a + b) ** 2, 0.2
    elif case == "Dirichlet":
        al = np.array([0.8, 2.0, 3.0])
        g = _mc_grad(lambda p: D.Dirichlet(p), al, lambda x: x[..., 0])
        a0 = al.sum()
        want, sd = np.array([(a0 - al[0]) / a0 ** 2, -al[0] / a0 ** 2, -al[0] / a0 ** 2]), 0.2
    else:
        df = 6.0
        g = _mc_grad(lambda p: D.StudentT(p, md.tensor(0.0, dtype="float64"), md.tensor(1.0, dtype="float64")),
                     df, lambda x: x * x)
        want, sd = -2 / (df - 2) ** 2, 2.0
    assert np.all(np.abs(g - want) <= 4 * sd / np.sqrt(N) + 1e-3), (case, g, want)


def test_straight_through_and_gumbel_gradients():
    lg = t64(R.normal(size=(5, 4)))
    md.manual_seed(0)
    y = D.gumbel_softmax(lg, tau=0.5, hard=True)
    (y * md.tensor(np.arange(4.0))).sum().backward()
    assert lg.grad is not None and np.all(np.isfinite(lg.grad.numpy())) and np.abs(lg.grad.numpy()).sum() > 0
    p = t64(np.array([0.2, 0.3, 0.5]))
    s = D.OneHotCategoricalStraightThrough(probs=p).rsample((10,))
    (s * md.tensor([1.0, 2.0, 3.0], dtype="float64")).sum().backward()
    assert np.allclose(p.grad.numpy(), 10 * np.array([1.0, 2.0, 3.0]) - 10 * 2.3, atol=1e-9)

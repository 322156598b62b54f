import math

import numpy as np
import pytest

import mathdl as md
from mathdl.bayes import (BayesConv2d, BayesLinear, GaussianPrior, ScaleMixturePrior, bayesify, elbo_loss,
                          kl_divergence, kl_weights, posterior_mean)
from mathdl.nn import functional as F


def _layer(**kw):
    md.manual_seed(0)
    layer = BayesLinear(3, 2, posterior_rho_init=-1.0, **kw)
    rng = np.random.default_rng(1)
    layer.weight_rho.array[...] = rng.uniform(-2, 0, (2, 3))
    layer.bias_rho.array[...] = rng.uniform(-2, 0, 2)
    return layer


def test_kl_equals_distributions_kl():
    layer = _layer(prior_sigma=0.7)
    ours = float(layer.kl().item())
    Normal = md.distributions.Normal
    ref = 0.0
    for mu, rho in [(layer.weight_mu, layer.weight_rho), (layer.bias_mu, layer.bias_rho)]:
        q = Normal(mu, F.softplus(rho))
        p = Normal(md.zeros_like(mu), md.ones_like(mu) * 0.7)
        ref += float(md.distributions.kl_divergence(q, p).sum().item())
    assert ours == pytest.approx(ref, rel=1e-5)


def test_kl_equals_monte_carlo_estimate():
    layer = _layer(prior_sigma=1.3)
    rng = np.random.default_rng(0)
    total = 0.0
    S = 20000
    for mu, rho in [(layer.weight_mu, layer.weight_rho), (layer.bias_mu, layer.bias_rho)]:
        m = mu.numpy().astype(np.float64)
        s = np.log1p(np.exp(rho.numpy().astype(np.float64)))
        w = m + s * rng.standard_normal((S,) + m.shape)
        log_q = -0.5 * ((w - m) / s) ** 2 - np.log(s)
        log_p = -0.5 * (w / 1.3) ** 2 - math.log(1.3)
        total += (log_q - log_p).sum(axis=tuple(range(1, w.ndim))).mean()
    assert float(layer.kl().item()) == pytest.approx(total, rel=0.02)


def test_scale_mixture_prior_log_prob_and_kl_estimate():
    prior = ScaleMixturePrior(0.25, 1.5, 0.1)
    w = np.array([-1.0, 0.0, 0.3, 2.0])

    def npdf(x, s):
        return np.exp(-0.5 * (x / s) ** 2) / (s * math.sqrt(2 * math.pi))
    ref = np.log(0.25 * npdf(w, 1.5) + 0.75 * npdf(w, 0.1)).sum()
    assert float(prior.log_prob(md.tensor(w)).item()) == pytest.approx(ref, rel=1e-6)
    layer = _layer(prior=prior)
    md.manual_seed(3)
    est = np.mean([float(layer.kl().item()) for _ in range(2000)])
    # Monte-Carlo reference with NumPy
    rng = np.random.default_rng(0)
    ref = 0.0
    for mu, rho in [(layer.weight_mu, layer.weight_rho), (layer.bias_mu, layer.bias_rho)]:
        m = mu.numpy().astype(np.float64)
        s = np.log1p(np.exp(rho.numpy().astype(np.float64)))
        x = m + s * rng.standard_normal((20000,) + m.shape)
        lq = -0.5 * ((x - m) / s) ** 2 - np.log(s) - 0.5 * math.log(2 * math.pi)
        lp = np.log(0.25 * npdf(x, 1.5) + 0.75 * npdf(x, 0.1))
        ref += (lq - lp).sum(axis=tuple(range(1, x.ndim))).mean()
    assert est == pytest.approx(ref, rel=0.05)


@pytest.mark.parametrize("local", [True, False])
def test_preactivation_moments(local):
    layer = _layer(local_reparameterization=local)
    x = md.tensor(np.array([[1.0, -2.0, 0.5]], np.float32))
    md.manual_seed(0)
    with md.no_grad():
        outs = np.stack([layer(x).numpy()[0] for _ in range(6000)])
    mu, b = layer.weight_mu.numpy(), layer.bias_mu.numpy()
    sw = np.log1p(np.exp(layer.weight_rho.numpy().astype(np.float64)))
    sb = np.log1p(np.exp(layer.bias_rho.numpy().astype(np.float64)))
    xv = x.numpy()[0]
    mean = mu @ xv + b
    var = (sw ** 2) @ (xv ** 2) + sb ** 2
    np.testing.assert_allclose(outs.mean(0), mean, atol=4 * np.sqrt(var / 6000).max())
    np.testing.assert_allclose(outs.var(0), var, rtol=0.08)


def test_conv_local_reparameterization_moments():
    md.manual_seed(0)
    conv = BayesConv2d(2, 3, 3, padding=1, posterior_rho_init=-1.0)
    x = md.randn(1, 2, 4, 4)
    with md.no_grad():
        outs = np.stack([conv(x).numpy() for _ in range(3000)])
        mean = F.conv2d(x, conv.weight_mu, conv.bias_mu, padding=1).numpy()
        var = F.conv2d(x * x, conv.weight_sigma ** 2, conv.bias_sigma ** 2, padding=1).numpy()
    np.testing.assert_allclose(outs.mean(0), mean, atol=5 * np.sqrt(var.max() / 3000))
    np.testing.assert_allclose(outs.var(0), var, rtol=0.1)


def test_posterior_mean_and_bayesify():
    md.manual_seed(0)
    net = md.nn.Sequential(md.nn.Linear(4, 5), md.nn.ReLU(), md.nn.Linear(5, 2))
    x = md.randn(3, 4)
    with md.no_grad():
        ref = net(x).numpy()
    bayesify(net, prior_sigma=0.5)
    assert isinstance(net[0], BayesLinear) and isinstance(net[2], BayesLinear)
    with posterior_mean(net), md.no_grad():
        np.testing.assert_allclose(net(x).numpy(), ref, rtol=1e-6)
    with md.no_grad():
        assert not np.allclose(net(x).numpy(), net(x).numpy())
    with pytest.raises(ValueError, match="no nn.Linear"):
        bayesify(md.nn.ReLU())


def test_elbo_and_gradients():
    layer = _layer()
    x, y = md.randn(8, 3), md.tensor(np.array([0, 1] * 4))
    loss = elbo_loss(layer(x), y, kl_divergence(layer), 1 / 100)
    loss.backward()
    assert layer.weight_rho.grad is not None and np.isfinite(layer.weight_rho.grad.numpy()).all()
    with pytest.raises(ValueError, match="kl_weight"):
        elbo_loss(layer(x), y, kl_divergence(layer), -1.0)


def test_kl_weights_schemes():
    w = kl_weights(10, 32)
    assert sum(w) * 32 == pytest.approx(1.0) and len(set(w)) == 1
    b = kl_weights(10, 32, "blundell")
    assert sum(b) * 32 == pytest.approx(1.0) and b[0] > b[-1]
    with pytest.raises(ValueError, match="scheme"):
        kl_weights(10, 32, "cosine")


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_non_positive_prior_scale(bad):
    with pytest.raises(ValueError, match="prior scale"):
        BayesLinear(2, 2, prior_sigma=bad)
    with pytest.raises(ValueError, match="prior scale sigma2"):
        ScaleMixturePrior(0.5, 1.0, bad)
    with pytest.raises(ValueError, match="prior scale"):
        GaussianPrior(bad)


def test_kl_of_model_without_bayes_layer():
    with pytest.raises(ValueError, match="no BayesLinear"):
        kl_divergence(md.nn.Linear(2, 2))

"""Bayes by Backprop (Blundell et al. 2015) with the local reparameterization trick (Kingma,
Salimans & Welling 2015).

Each weight has a Gaussian variational posterior q(w) = N(mu, sigma^2) with sigma = softplus(rho)
= log(1 + e^rho), so that rho is unconstrained.  Priors:

* Gaussian ``GaussianPrior(sigma)``: p(w) = N(0, sigma^2);
* scale mixture ``ScaleMixturePrior(pi, sigma1, sigma2)``: p(w) = pi N(0, sigma1^2) + (1-pi) N(0, sigma2^2).

KL of a layer: for the Gaussian prior in closed form, summed over weights,

    KL(q || p) = Σ [ log(sigma_p / sigma) + (sigma^2 + mu^2) / (2 sigma_p^2) - 1/2 ],

and for the scale mixture (no closed form) the one-sample Monte-Carlo estimate of the paper,
log q(w) - log p(w) at a fresh w = mu + sigma * eps.

Local reparameterization: for a linear layer b = x W^T + c the pre-activations are Gaussian given
x, with mean x mu_W^T + mu_c and variance x^2 (sigma_W^2)^T + sigma_c^2, so one draws the
pre-activations instead of the weights (one eps per example and unit: lower-variance gradients,
and no (N, out, in) weight sample).  For a convolution the same holds with conv(x, mu) and
conv(x^2, sigma^2).  ``local_reparameterization=False`` samples one weight matrix per forward.

Negative ELBO of minibatch i of M (batch B_i, training set size N):

    F_i = pi_i KL(q || p) - Σ_{n in batch i} log p(y_n | x_n, w),   w ~ q,   Σ_i pi_i = 1.

:func:`elbo_loss` returns F_i / B_i = mean NLL + (pi_i / B_i) KL, with the KL weight
``kl_weight = pi_i / B_i`` given explicitly; :func:`kl_weights` gives it for the paper's schemes:
``"uniform"`` pi_i = 1/M (so the weight is 1/N for equal batches) and ``"blundell"``
pi_i = 2^(M-i) / (2^M - 1).  Layers sample in eval mode too (the predictive averages samples);
inside :func:`posterior_mean` they use mu.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from .. import nn
from ..nn import functional as F

__all__ = ["GaussianPrior", "ScaleMixturePrior", "BayesLinear", "BayesConv2d", "bayes_modules", "kl_divergence",
           "elbo_loss", "kl_weights", "posterior_mean", "bayesify", "BBBPredictive"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_EXP_M6 = math.exp(-6)  # the paper's sigma2 = e^-6


def _positive(name, value):
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"Bayes by Backprop: prior scale {name} must be positive and finite, got {value!r}")
    return v


def _normal_log_prob(w, sigma):
    return -0.5 * (w / sigma) ** 2 - math.log(sigma) - _LOG_SQRT_2PI


class GaussianPrior:
    """p(w) = N(0, sigma^2) for every weight."""

    def __init__(self, sigma=1.0):
        self.sigma = _positive("sigma", sigma)

    def log_prob(self, w):
        return _normal_log_prob(w, self.sigma).sum()

    def __repr__(self):
        return f"GaussianPrior(sigma={self.sigma:g})"


class ScaleMixturePrior:
    """p(w) = pi N(0, sigma1^2) + (1 - pi) N(0, sigma2^2) (Blundell et al.: sigma1 > sigma2, sigma2 << 1)."""

    def __init__(self, pi=0.5, sigma1=1.0, sigma2=_EXP_M6):
        if not 0.0 < float(pi) < 1.0:
            raise ValueError(f"ScaleMixturePrior: pi must be in (0, 1), got {pi!r}")
        self.pi = float(pi)
        self.sigma1, self.sigma2 = _positive("sigma1", sigma1), _positive("sigma2", sigma2)

    def log_prob(self, w):
        from .. import logaddexp

        a = _normal_log_prob(w, self.sigma1) + math.log(self.pi)
        b = _normal_log_prob(w, self.sigma2) + math.log(1 - self.pi)
        return logaddexp(a, b).sum()

    def __repr__(self):
        return f"ScaleMixturePrior(pi={self.pi:g}, sigma1={self.sigma1:g}, sigma2={self.sigma2:g})"


def _prior(prior, prior_sigma):
    if prior is None:
        return GaussianPrior(prior_sigma)
    if not hasattr(prior, "log_prob"):
        raise TypeError("Bayes by Backprop: prior must be GaussianPrior or ScaleMixturePrior, "
                        f"got {type(prior).__name__}")
    return prior


class _BayesLayer(nn.Module):
    """Shared parameters and KL of BayesLinear / BayesConv2d."""

    def _init_posterior(self, wshape, bias, prior, prior_sigma, posterior_rho_init, local_reparameterization):
        from .. import empty, zeros

        self.prior = _prior(prior, prior_sigma)
        self.local_reparameterization = bool(local_reparameterization)
        self.use_mean = False
        self.weight_mu = nn.Parameter(empty(*wshape))
        self.weight_rho = nn.Parameter(zeros(*wshape) + float(posterior_rho_init))
        fan_in = int(np.prod(wshape[1:]))
        bound = 1.0 / math.sqrt(fan_in)
        nn.init.kaiming_uniform_(self.weight_mu, a=math.sqrt(5))
        if bias:
            self.bias_mu = nn.Parameter(zeros(wshape[0]))
            nn.init.uniform_(self.bias_mu, -bound, bound)
            self.bias_rho = nn.Parameter(zeros(wshape[0]) + float(posterior_rho_init))
        else:
            self.bias_mu = self.bias_rho = None

    def _pairs(self):
        out = [(self.weight_mu, self.weight_rho)]
        if self.bias_mu is not None:
            out.append((self.bias_mu, self.bias_rho))
        return out

    @property
    def weight_sigma(self):
        return F.softplus(self.weight_rho)

    @property
    def bias_sigma(self):
        return None if self.bias_rho is None else F.softplus(self.bias_rho)

    def kl(self):
        """KL(q || p) of this layer's weights and bias (closed form for a Gaussian prior, else one sample)."""
        from .. import log, randn_like

        total = 0
        for mu, rho in self._pairs():
            sigma = F.softplus(rho)
            if isinstance(self.prior, GaussianPrior):
                sp = self.prior.sigma
                term = (math.log(sp) - log(sigma) + (sigma * sigma + mu * mu) / (2 * sp * sp) - 0.5).sum()
            else:
                eps = randn_like(mu)
                w = mu + sigma * eps
                log_q = (-0.5 * eps * eps - log(sigma) - _LOG_SQRT_2PI).sum()
                term = log_q - self.prior.log_prob(w)
            total = total + term
        return total

    def _sample(self, mu, rho):
        from .. import randn_like

        return mu + F.softplus(rho) * randn_like(mu)

    def _forward(self, x, op):
        """``op(input, weight, bias)`` is the deterministic layer (F.linear or a conv)."""
        from .. import randn_like, sqrt

        if self.use_mean:
            return op(x, self.weight_mu, self.bias_mu)
        if not self.local_reparameterization:
            w = self._sample(self.weight_mu, self.weight_rho)
            b = None if self.bias_mu is None else self._sample(self.bias_mu, self.bias_rho)
            return op(x, w, b)
        mean = op(x, self.weight_mu, self.bias_mu)
        ws = self.weight_sigma
        bs = self.bias_sigma
        var = op(x * x, ws * ws, None if bs is None else bs * bs)
        return mean + sqrt(var + 1e-16) * randn_like(mean)


class BayesLinear(_BayesLayer):
    """``BayesLinear(in_features, out_features, bias=True, prior=None, prior_sigma=1.0,
    posterior_rho_init=-5.0, local_reparameterization=True)``: weight_mu (out, in) as Linear.weight."""

    def __init__(self, in_features, out_features, bias=True, prior=None, prior_sigma=1.0, posterior_rho_init=-5.0,
                 local_reparameterization=True):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self._init_posterior((self.out_features, self.in_features), bias, prior, prior_sigma, posterior_rho_init,
                             local_reparameterization)

    def forward(self, x):
        return self._forward(x, F.linear)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias_mu is not None}, "
                f"prior={self.prior}, local_reparameterization={self.local_reparameterization}")


class BayesConv2d(_BayesLayer):
    """``BayesConv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True,
    prior=None, prior_sigma=1.0, posterior_rho_init=-5.0, local_reparameterization=True)``."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True,
                 prior=None, prior_sigma=1.0, posterior_rho_init=-5.0, local_reparameterization=True):
        super().__init__()
        k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        self.in_channels, self.out_channels, self.kernel_size = int(in_channels), int(out_channels), k
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self._init_posterior((self.out_channels, self.in_channels) + k, bias, prior, prior_sigma, posterior_rho_init,
                             local_reparameterization)

    def _conv(self, x, w, b):
        return F.conv2d(x, w, b, self.stride, self.padding, self.dilation)

    def forward(self, x):
        return self._forward(x, self._conv)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, prior={self.prior}")


def bayes_modules(model):
    return [m for m in model.modules() if isinstance(m, _BayesLayer)]


def kl_divergence(model):
    """Σ over the model's Bayesian layers of KL(q || p) (a scalar tensor)."""
    layers = bayes_modules(model)
    if not layers:
        raise ValueError(f"kl_divergence: {type(model).__name__} has no BayesLinear/BayesConv2d layer")
    total = layers[0].kl()
    for m in layers[1:]:
        total = total + m.kl()
    return total


def kl_weights(num_batches, batch_size, scheme="uniform"):
    """The KL weight pi_i / B of each minibatch i = 1..M (a list): ``uniform`` pi_i = 1/M,
    ``blundell`` pi_i = 2^(M-i) / (2^M - 1)."""
    M = int(num_batches)
    if M < 1 or int(batch_size) < 1:
        raise ValueError(f"kl_weights: num_batches and batch_size must be positive, got {num_batches}, {batch_size}")
    if scheme == "uniform":
        pis = [1.0 / M] * M
    elif scheme == "blundell":
        if M > 1000:  # 2^M overflows; the weights after the first ~50 batches are 0 in float64 anyway
            pis = [2.0 ** (-i) for i in range(1, M + 1)]
        else:
            pis = [2.0 ** (M - i) / (2.0 ** M - 1) for i in range(1, M + 1)]
    else:
        raise ValueError(f"kl_weights: scheme must be 'uniform' or 'blundell', got {scheme!r}")
    return [p / int(batch_size) for p in pis]


def elbo_loss(logits, target, kl, kl_weight):
    """Negative ELBO of a minibatch per example: mean cross-entropy + kl_weight * KL
    (kl_weight = pi_i / B_i; 1/N for the uniform scheme)."""
    if not (isinstance(kl_weight, (int, float)) and kl_weight >= 0 and math.isfinite(kl_weight)):
        raise ValueError(f"elbo_loss: kl_weight must be a finite number >= 0, got {kl_weight!r}")
    return F.cross_entropy(logits, target) + kl * float(kl_weight)


@contextlib.contextmanager
def posterior_mean(model):
    """Inside: every Bayesian layer uses its posterior mean mu (a deterministic network)."""
    layers = bayes_modules(model)
    old = [m.use_mean for m in layers]
    for m in layers:
        m.use_mean = True
    try:
        yield model
    finally:
        for m, u in zip(layers, old):
            m.use_mean = u


def bayesify(model, prior=None, prior_sigma=1.0, posterior_rho_init=-5.0, local_reparameterization=True):
    """Replace every nn.Linear / nn.Conv2d of ``model`` (in place) by BayesLinear / BayesConv2d whose
    posterior means start at the layer's weights; returns the model.  Grouped convolutions are refused."""
    from .. import no_grad

    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            kw = dict(prior=prior, prior_sigma=prior_sigma, posterior_rho_init=posterior_rho_init,
                      local_reparameterization=local_reparameterization)
            if type(child) is nn.Linear:
                new = BayesLinear(child.in_features, child.out_features, child.bias is not None, **kw)
            elif type(child) is nn.Conv2d:
                if child.groups != 1 or isinstance(child.padding, str):
                    raise ValueError(f"bayesify: {name} has groups={child.groups}, padding={child.padding!r}; "
                                     "only groups=1 with numeric padding is supported")
                new = BayesConv2d(child.in_channels, child.out_channels, child.kernel_size, child.stride,
                                  child.padding, child.dilation, child.bias is not None, **kw)
            else:
                continue
            with no_grad():
                new.weight_mu.array[...] = child.weight.array
                if child.bias is not None:
                    new.bias_mu.array[...] = child.bias.array
            setattr(parent, name, new)
            count += 1
    if count == 0:
        raise ValueError(f"bayesify: {type(model).__name__} has no nn.Linear or nn.Conv2d layer to make Bayesian")
    return model


class BBBPredictive:
    """``predict_proba(x)``: the mean of ``num_samples`` sampled softmax outputs; ``uncertainty(x)``
    the decomposition of :func:`mathdl.bayes.mc_dropout.decompose`."""

    def __init__(self, model, num_samples=20):
        if not bayes_modules(model):
            raise ValueError(f"BBBPredictive: {type(model).__name__} has no Bayesian layer")
        self.model, self.num_samples = model, int(num_samples)

    def samples(self, x, batch_size=1024):
        from .. import no_grad
        from .mc_dropout import _as_input, _softmax_np

        x = _as_input(x)
        was = self.model.training
        self.model.eval()
        out = []
        try:
            with no_grad():
                for _ in range(self.num_samples):
                    parts = [self.model(x[i:i + batch_size]).numpy() for i in range(0, x.shape[0], batch_size)]
                    out.append(_softmax_np(np.concatenate(parts).astype(np.float64)))
        finally:
            self.model.train(was)
        return np.stack(out)

    def uncertainty(self, x):
        from .mc_dropout import decompose

        return decompose(self.samples(x))

    def predict_proba(self, x):
        return self.uncertainty(x)["mean"]

"""MADE and the autoregressive flows MAF and IAF.

MADE (Germain et al. 2015): an MLP whose weights are masked so that output i depends only on inputs
with a smaller degree (inputs have degrees 1..D, hidden units degrees in 1..D-1; a connection
k -> l is kept when deg(l) >= deg(k) into hidden units and deg(l) > deg(k) into outputs).
It returns (mu_i, alpha_i) with (mu_i, alpha_i) = g(x_<i).

MAF (Papamakarios et al. 2017), in the generative direction z -> x:
  x_i = z_i exp(alpha_i(x_<i)) + mu_i(x_<i)           (sequential: D passes of MADE)
  z_i = (x_i - mu_i(x_<i)) exp(-alpha_i(x_<i))        (one pass: fast density evaluation)
  log|det dx/dz| = sum_i alpha_i
IAF (Kingma et al. 2016) conditions on z instead:  x_i = z_i exp(alpha_i(z_<i)) + mu_i(z_<i)
  (one pass: fast sampling; the inverse takes D passes).
"""

from __future__ import annotations

import numpy as np

from .. import nn
from ..nn import functional as F
from .base import FlowLayer

__all__ = ["MaskedLinear", "MADE", "MAF", "IAF"]


class MaskedLinear(nn.Linear):
    """y = x (W * M)^T + b with a fixed binary mask M (out_features, in_features)."""

    def __init__(self, in_features, out_features, mask):
        super().__init__(in_features, out_features)
        self.mask = np.asarray(mask, dtype=np.float64)

    def forward(self, x):
        from ..autograd.tensor import Tensor

        return F.linear(x, self.weight * Tensor(self.mask.astype(self.weight.dtype)), self.bias)


class MADE(nn.Module):
    """Masked autoencoder: features -> hidden (ReLU) -> ... -> (n_params, features) outputs.

    With ``context_features`` a context vector c (e.g. an encoder's summary of x) enters the first hidden
    layer through an unmasked linear map: h_1 = relu(masked(x) + V c); the outputs stay autoregressive in x.
    """

    def __init__(self, features, hidden=(64, 64), n_params=2, zero_init=True, context_features=None):
        super().__init__()
        d = int(features)
        degrees = [np.arange(1, d + 1)]
        for h in hidden:
            degrees.append(np.arange(h) % max(1, d - 1) + 1)
        layers = []
        for k, h in enumerate(hidden):
            mask = degrees[k + 1][:, None] >= degrees[k][None, :]
            layers += [MaskedLinear(len(degrees[k]), h, mask), nn.ReLU()]
        out_deg = np.tile(np.arange(1, d + 1), n_params)
        mask = out_deg[:, None] > degrees[-1][None, :]
        last = MaskedLinear(len(degrees[-1]), n_params * d, mask)
        if zero_init:
            last.weight.array[...] = 0
            last.bias.array[...] = 0
        layers.append(last)
        self.net = nn.Sequential(*layers)
        self.features, self.n_params = d, n_params
        self.context = nn.Linear(int(context_features), hidden[0]) if context_features and hidden else None

    def forward(self, x, context=None):
        if context is None or self.context is None:
            if self.context is not None:
                raise ValueError("MADE: this MADE was built with context_features and needs a context")
            out = self.net(x)
        else:
            mods = list(self.net)
            h = mods[0](x) + self.context(context)
            for m in mods[1:]:
                h = m(h)
            out = h
        return out.reshape(x.shape[0], self.n_params, self.features)


class MAF(FlowLayer):
    def __init__(self, features, hidden=(64, 64)):
        super().__init__()
        self.made = MADE(features, hidden, 2)
        self.features = features

    def _params(self, x):
        out = self.made(x)
        return out[:, 0], out[:, 1]

    def forward(self, z):
        x = z * 0
        for _ in range(self.features):
            mu, alpha = self._params(x)
            x = z * alpha.exp() + mu
        _, alpha = self._params(x)
        return x, alpha.sum(-1)

    def inverse(self, x):
        mu, alpha = self._params(x)
        return (x - mu) * (-alpha).exp(), -alpha.sum(-1)


class IAF(FlowLayer):
    """Inverse autoregressive flow; with ``context_features`` the step is conditioned on a context
    (forward(z, context), as in Kingma et al.'s VAE posteriors)."""

    def __init__(self, features, hidden=(64, 64), context_features=None):
        super().__init__()
        self.made = MADE(features, hidden, 2, context_features=context_features)
        self.features = features

    def _params(self, z, context=None):
        out = self.made(z, context)
        return out[:, 0], out[:, 1]

    def forward(self, z, context=None):
        mu, alpha = self._params(z, context)
        return z * alpha.exp() + mu, alpha.sum(-1)

    def inverse(self, x, context=None):
        z = x * 0
        for _ in range(self.features):
            mu, alpha = self._params(z, context)
            z = (x - mu) * (-alpha).exp()
        _, alpha = self._params(z, context)
        return z, -alpha.sum(-1)

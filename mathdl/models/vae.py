"""Variational autoencoders (Kingma & Welling 2014) with the importance-weighted bound (Burda et al. 2016).

Encoder q(z|x) = N(mu(x), diag sigma(x)^2), prior p(z) = N(0, I), decoder p(x|z): Bernoulli(logits(z))
for binarized images or N(mean(z), s^2) with a learned scalar s for real-valued pixels.

  ELBO(x)    = E_q[log p(x|z)] - KL(q(z|x) || p(z))                   (KL analytic, one reparameterized z)
  beta-VAE   loss = -(E_q[log p(x|z)] - beta KL)                       (Higgins et al. 2017)
  IWAE_k(x)  = E[log (1/k) sum_i w_i],  w_i = p(x, z_i) / q(z_i|x),  z_i ~ q(z|x)
             ELBO = IWAE_1 <= IWAE_k <= IWAE_(k+1) <= log p(x)  (in expectation);
  log_likelihood(x, k) is IWAE_k: the k-sample estimate of the test log-likelihood.

Registered as ``"vae"`` for ``mathdl train --model vae --dataset digits`` (or ``digits_image``: the
convolutional variant).  ``compute_loss`` returns the negative (beta-)ELBO per example and the trainer
uses it; ``write_figures`` writes reconstructions, prior samples and (2-D latent) the decoded latent
manifold as PNG grids into the run folder.  The model turns the dataset's standardized inputs back into
pixels in [0, 1] (the spec's mean/std) and, for the Bernoulli decoder, binarizes them at 1/2.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .. import nn, ops
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..distributions import Bernoulli, Independent, Normal, kl_divergence
from .registry import register_model

__all__ = ["VAE", "build_vae", "MLPEncoder", "MLPDecoder", "ConvEncoder", "ConvDecoder"]


class MLPEncoder(nn.Module):
    """x (flattened) -> hidden ReLU layers -> (mu, log sigma^2)."""

    def __init__(self, in_features, latent_dim, hidden=(256, 128)):
        super().__init__()
        layers, prev = [nn.Flatten()], in_features
        for h in hidden:
            layers += [nn.Linear(prev, h), nn.ReLU()]
            prev = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(prev, 2 * latent_dim)
        self.latent_dim = latent_dim

    def forward(self, x):
        out = self.head(self.body(x))
        return out[:, : self.latent_dim], out[:, self.latent_dim:]


class MLPDecoder(nn.Module):
    """z -> hidden ReLU layers -> one output per pixel (logits or means), reshaped to the image shape."""

    def __init__(self, latent_dim, out_shape, hidden=(128, 256)):
        super().__init__()
        layers, prev = [], latent_dim
        for h in hidden:
            layers += [nn.Linear(prev, h), nn.ReLU()]
            prev = h
        layers.append(nn.Linear(prev, int(np.prod(out_shape))))
        self.net = nn.Sequential(*layers)
        self.out_shape = tuple(out_shape)

    def forward(self, z):
        return self.net(z).reshape((z.shape[0],) + self.out_shape)


class ConvEncoder(nn.Module):
    """(C, H, W) -> conv 3x3 -> conv 3x3 stride 2 -> linear -> (mu, log sigma^2)."""

    def __init__(self, in_shape, latent_dim, channels=(16, 32)):
        super().__init__()
        c, h, w = in_shape
        c1, c2 = channels
        self.body = nn.Sequential(nn.Conv2d(c, c1, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten())
        self.head = nn.Linear(c2 * ((h + 1) // 2) * ((w + 1) // 2), 2 * latent_dim)
        self.latent_dim = latent_dim

    def forward(self, x):
        out = self.head(self.body(x))
        return out[:, : self.latent_dim], out[:, self.latent_dim:]


class ConvDecoder(nn.Module):
    """z -> linear -> (C2, H/2, W/2) -> transposed conv 4x4 stride 2 -> conv 3x3 -> (C, H, W)."""

    def __init__(self, latent_dim, out_shape, channels=(32, 16)):
        super().__init__()
        c, h, w = out_shape
        c2, c1 = channels
        self.shape0 = (c2, h // 2, w // 2)
        self.fc = nn.Linear(latent_dim, int(np.prod(self.shape0)))
        self.body = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),
                                  nn.Conv2d(c1, c, 3, padding=1))

    def forward(self, z):
        return self.body(self.fc(z).reshape((z.shape[0],) + self.shape0))


class VAE(nn.Module):
    """A VAE with Gaussian encoder and Bernoulli or Gaussian decoder (see the module docstring)."""

    def __init__(self, input_shape, latent_dim=2, arch="mlp", likelihood="bernoulli", beta=1.0, hidden=(256, 128),
                 pixel_mean=0.0, pixel_std=1.0, pixel_scale=1.0):
        super().__init__()
        if likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"VAE: likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}")
        if arch not in ("mlp", "conv"):
            raise ValueError(f"VAE: arch must be 'mlp' or 'conv', got {arch!r}")
        if not beta >= 0:
            raise ValueError(f"VAE: beta must be >= 0, got {beta!r}")
        self.input_shape = tuple(int(s) for s in input_shape)
        self.latent_dim, self.arch, self.likelihood, self.beta = int(latent_dim), arch, likelihood, float(beta)
        if arch == "conv":
            if len(self.input_shape) != 3:
                raise ValueError(f"VAE: arch='conv' needs (C, H, W) inputs, got {self.input_shape}")
            self.encoder = ConvEncoder(self.input_shape, self.latent_dim)
            self.decoder = ConvDecoder(self.latent_dim, self.input_shape)
        else:
            n = int(np.prod(self.input_shape))
            self.encoder = MLPEncoder(n, self.latent_dim, hidden)
            self.decoder = MLPDecoder(self.latent_dim, self.input_shape, tuple(reversed(hidden)))
        if likelihood == "gaussian":
            self.log_sigma = nn.Parameter(Tensor(np.zeros((), dtype=np.float32)) - 2.0)
        # standardized input -> pixels in [0, 1]:  pixel = (x * std + mean) / scale
        self._pixel = (np.asarray(pixel_mean, dtype=np.float32), np.asarray(pixel_std, dtype=np.float32),
                       float(pixel_scale))

    # ------------------------------------------------------------------ data
    def to_pixels(self, x):
        """The model's data: pixels in [0, 1], binarized at 1/2 for the Bernoulli decoder (a constant tensor on
        x's device)."""
        from ..backend import xp_of

        mean, std, scale = self._pixel
        arr = x.array if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)
        xp = xp_of(arr)
        arr = arr.reshape((arr.shape[0],) + self.input_shape).astype(np.float32)
        arr = xp.clip((arr * xp.asarray(std.reshape(self._bshape(std)))
                       + xp.asarray(mean.reshape(self._bshape(mean)))) / scale, 0.0, 1.0)
        if self.likelihood == "bernoulli":
            arr = (arr > 0.5).astype(np.float32)
        return Tensor._make(arr.astype(self._dtype(), copy=False))

    def _bshape(self, a):
        return a.shape if a.ndim == 0 else (1,) + self.input_shape

    def _dtype(self):
        return next(iter(self.parameters())).dtype

    # ------------------------------------------------------------------ the model
    def encode(self, x):
        """q(z|x) as Independent(Normal(mu, sigma), 1) for pixels ``x``."""
        mu, logvar = self.encoder(x)
        return Independent(Normal(mu, ops.exp(0.5 * logvar), validate_args=False), 1)

    def prior(self, batch=()):
        from ..backend import xp_of

        xp = xp_of(next(iter(self.parameters())).array)
        z = xp.zeros(tuple(batch) + (self.latent_dim,), dtype=self._dtype())
        return Independent(Normal(Tensor._make(z), Tensor._make(z + 1), validate_args=False), 1)

    def decode(self, z):
        """p(x|z): Independent Bernoulli(logits) or Normal(mean, s) over the pixels."""
        out = self.decoder(z)
        nd = len(self.input_shape)
        if self.likelihood == "bernoulli":
            return Independent(Bernoulli(logits=out, validate_args=False), nd)
        return Independent(Normal(out, ops.exp(self.log_sigma) + out.detach() * 0, validate_args=False), nd)

    def forward(self, x):
        """The reconstruction mean E[x | z = mu(x)] of standardized inputs ``x``."""
        px = self.to_pixels(x)
        q = self.encode(px)
        return self.decode(q.mean).mean

    def elbo(self, px, beta=1.0):
        """Per-example ELBO terms (elbo, reconstruction log-likelihood, KL) for pixels ``px``."""
        q = self.encode(px)
        z = q.rsample()
        rec = self.decode(z).log_prob(px)
        kl = kl_divergence(q, self.prior((px.shape[0],)))
        return rec - beta * kl, rec, kl

    def iwae_bound(self, px, k=50):
        """IWAE_k per example: logsumexp_i (log p(x|z_i) + log p(z_i) - log q(z_i|x)) - log k."""
        if int(k) < 1:
            raise ValueError(f"iwae_bound: k must be >= 1, got {k!r}")
        k, b = int(k), px.shape[0]
        q = self.encode(px)
        z = q.rsample((k,))  # (k, B, D)
        flat = z.reshape(k * b, self.latent_dim)
        xk = ops.broadcast_to(px.unsqueeze(0), (k,) + tuple(px.shape)).reshape((k * b,) + tuple(px.shape[1:]))
        log_px_z = self.decode(flat).log_prob(xk).reshape(k, b)
        log_w = log_px_z + self.prior((b,)).log_prob(z) - q.log_prob(z)
        return ops.logsumexp(log_w, 0) - math.log(k)

    def log_likelihood(self, x, k=500, batch_size=256):
        """k-sample importance-sampling estimate of log p(x) per example (no grad; standardized inputs)."""
        px = self.to_pixels(x)
        out = []
        with no_grad():
            for i in range(0, px.shape[0], batch_size):
                out.append(self.iwae_bound(px[i:i + batch_size], k).numpy())
        return np.concatenate(out)

    def compute_loss(self, x, y=None):
        """(negative beta-ELBO per example, sums) for the trainer: sums of n, elbo, rec and kl."""
        px = self.to_pixels(x)
        elbo, rec, kl = self.elbo(px, self.beta)
        loss = -elbo.mean()
        n = int(px.shape[0])
        return loss, {"n": n, "elbo": float((rec - kl).array.sum()), "rec": float(rec.array.sum()),
                      "kl": float(kl.array.sum())}

    # ------------------------------------------------------------------ pictures
    @no_grad()
    def sample_images(self, n):
        z = self.prior((n,)).sample()
        return self.decode(z).mean.numpy()

    @no_grad()
    def latent_manifold(self, n=15):
        """Decoded means over an n x n grid of z = Phi^-1 of evenly spaced quantiles (2-D latent only)."""
        if self.latent_dim != 2:
            raise ValueError(f"latent_manifold needs latent_dim=2, the model has {self.latent_dim}")
        from scipy.stats import norm

        q = norm.ppf(np.linspace(0.05, 0.95, n)).astype(self._dtype())
        zz = np.stack(np.meshgrid(q, q[::-1]), -1).reshape(-1, 2)
        return self.decode(Tensor(zz)).mean.numpy()

    def write_figures(self, run_dir, spec):
        """reconstructions.png (originals above reconstructions), prior_samples.png, latent_manifold.png
        (2-D latent) and elbo_curves.png (from the run's metrics.csv)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        xs = np.stack([spec.test[i][0].numpy() if isinstance(spec.test[i][0], Tensor) else
                       np.asarray(spec.test[i][0]) for i in range(min(16, len(spec.test)))])
        was = self.training
        self.eval()
        with no_grad():
            px = self.to_pixels(Tensor(xs))
            rec = self.decode(self.encode(px).mean).mean.numpy()
        figs = {"reconstructions.png": np.concatenate([px.numpy(), rec]),
                "prior_samples.png": self.sample_images(32)}
        if self.latent_dim == 2:
            figs["latent_manifold.png"] = self.latent_manifold(15)
        for name, imgs in figs.items():
            cols = 15 if name == "latent_manifold.png" else 16
            save_grid(imgs, self._hw(), os.path.join(run_dir, name), cols, plt)
        self._elbo_curves(run_dir, plt)
        self.train(was)

    def _elbo_curves(self, run_dir, plt):
        """elbo_curves.png from the trainer's metrics.csv (the loss is the negative (beta-)ELBO per example)."""
        import csv

        path = os.path.join(run_dir, "metrics.csv")
        if not os.path.exists(path):
            return
        with open(path) as f:
            rows = list(csv.DictReader(f))
        if not rows or "train_loss" not in rows[0]:
            return
        epochs = [int(float(r.get("epoch", i + 1))) for i, r in enumerate(rows)]
        fig = plt.figure(figsize=(5, 3.5))
        for key, label in (("train_loss", "train"), ("test_loss", "test")):
            if key in rows[0]:
                plt.plot(epochs, [-float(r[key]) for r in rows], label=label)
        name = "ELBO" if self.beta == 1 else f"beta-ELBO (beta={self.beta:g})"
        plt.xlabel("epoch")
        plt.ylabel(f"{name} (nats per example)")
        plt.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(run_dir, "elbo_curves.png"), dpi=100)
        plt.close(fig)

    def _hw(self):
        if len(self.input_shape) == 3:
            return self.input_shape[1:]
        side = int(round(math.sqrt(int(np.prod(self.input_shape)))))
        return (side, side)


def save_grid(images, hw, path, cols, plt):
    """Tile images (N, ...) reshaped to hw into rows of ``cols`` and save as a grey PNG."""
    h, w = hw
    imgs = np.asarray(images, dtype=np.float64).reshape(-1, h, w)
    rows = math.ceil(len(imgs) / cols)
    canvas = np.ones((rows * (h + 1) + 1, cols * (w + 1) + 1))
    for i, im in enumerate(imgs):
        r, c = divmod(i, cols)
        canvas[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + c * (w + 1): 1 + c * (w + 1) + w] = im
    fig = plt.figure(figsize=(cols * 0.5, rows * 0.5))
    plt.imshow(canvas, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    plt.axis("off")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def _pixel_stats(spec):
    """(mean, std, scale) that map the dataset's standardized inputs back to pixels in [0, 1]."""
    extra = getattr(spec, "extra", {}) or {}
    mean, std = extra.get("mean", 0.0), extra.get("std", 1.0)
    name = extra.get("name", "")
    scale = 16.0 if name == "digits" else 1.0  # sklearn digits pixels run 0..16
    return np.asarray(mean, dtype=np.float32), np.asarray(std, dtype=np.float32), scale


@register_model("vae")
def build_vae(spec, latent_dim=2, arch=None, likelihood="bernoulli", beta=1.0, hidden=(256, 128)):
    """Variational autoencoder (Gaussian encoder, Bernoulli decoder on binarized pixels, 2-D latent)."""
    if isinstance(hidden, str):
        hidden = tuple(int(h) for h in hidden.split(",") if h.strip())
    shape = tuple(spec.input_shape)
    if arch is None:
        arch = "conv" if len(shape) == 3 else "mlp"
    mean, std, scale = _pixel_stats(spec)
    return VAE(shape, int(latent_dim), arch, likelihood, float(beta), hidden, mean, std, scale)


build_vae.train_defaults = {"epochs": 30, "batch_size": 64, "lr": 1e-3, "optimizer": "adam", "threads": 1}

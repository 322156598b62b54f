"""Probability benchmarks (issue 10), mathdl against PyTorch, each library alone in a fresh process.

Cases (float32):
  mvn      a batch of 256 MultivariateNormal (d = 16, scale_tril parameters): log_prob of 256 points plus
           rsample((32,)), then backward of both to loc and scale_tril
  vae      one training step of an MLP VAE on digit-sized data (64-256-128-8 encoder, 8-128-256-64 Bernoulli
           decoder, batch 128): encode, rsample, decode, ELBO with analytic KL, backward, Adam
  realnvp  one training step of a RealNVP flow (4 affine couplings with 64-128-128-128 conditioners and
           alternating masks, d = 64, batch 128): -log p(x), backward, Adam

Every round starts one fresh process per library (order alternating); each reports the median of its
steps; the table shows medians over rounds and the ratio mathdl / torch per thread count.

    python benchmarks/bench_probability.py [--rounds 3] [--steps 20] [--threads 1,2] [--cases mvn,vae,realnvp]
"""

from __future__ import annotations

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository root
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import case_table_main  # noqa: E402

CASES = ["mvn", "vae", "realnvp"]
B, D_MVN, D = 256, 16, 64


def _arrays():
    import numpy as np

    rng = np.random.default_rng(0)
    loc = rng.standard_normal((B, D_MVN)).astype(np.float32)
    L = np.tril(rng.standard_normal((B, D_MVN, D_MVN)) * 0.1).astype(np.float32)
    L[:, np.arange(D_MVN), np.arange(D_MVN)] = 1.0 + rng.random((B, D_MVN)).astype(np.float32)
    x = rng.standard_normal((B, D_MVN)).astype(np.float32)
    data = (rng.random((128, D)) > 0.5).astype(np.float32)
    real = rng.standard_normal((128, D)).astype(np.float32)
    return loc, L, x, data, real


def _mathdl_cases():
    import mathdl as md
    from mathdl import nn
    from mathdl.distributions import MultivariateNormal
    from mathdl.flows import AffineCoupling, Flow, alternating_mask
    from mathdl.models.vae import VAE

    loc_np, L_np, x_np, data_np, real_np = _arrays()
    loc = md.tensor(loc_np, requires_grad=True)
    L = md.tensor(L_np, requires_grad=True)
    x = md.tensor(x_np)

    def mvn():
        d = MultivariateNormal(loc, scale_tril=L, validate_args=False)
        (d.log_prob(x).sum() + d.rsample((32,)).sum()).backward()

    md.manual_seed(0)
    vae = VAE((D,), latent_dim=8, hidden=(256, 128))
    vopt = md.optim.Adam(vae.parameters(), lr=1e-3)
    data = md.tensor(data_np)

    def vae_step():
        loss = -vae.elbo(data)[0].mean()
        vopt.zero_grad()
        loss.backward()
        vopt.step()

    flow = Flow([AffineCoupling(alternating_mask(D, even=i % 2 == 0), hidden=128) for i in range(4)],
                event_shape=(D,))
    for layer in flow.layers:  # non-trivial weights (the last layer starts at zero)
        layer.net[-1].weight.array[...] = 0.01
    fopt = md.optim.Adam(flow.parameters(), lr=1e-3)
    real = md.tensor(real_np)
    del nn

    def realnvp():
        loss = -flow.log_prob(real).mean()
        fopt.zero_grad()
        loss.backward()
        fopt.step()

    return {"mvn": mvn, "vae": vae_step, "realnvp": realnvp}


def _torch_cases(torch):
    from torch import nn

    td = torch.distributions
    loc_np, L_np, x_np, data_np, real_np = _arrays()
    loc = torch.tensor(loc_np, requires_grad=True)
    L = torch.tensor(L_np, requires_grad=True)
    x = torch.tensor(x_np)

    def mvn():
        d = td.MultivariateNormal(loc, scale_tril=L, validate_args=False)
        (d.log_prob(x).sum() + d.rsample((32,)).sum()).backward()

    torch.manual_seed(0)
    enc = nn.Sequential(nn.Linear(D, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 16))
    dec = nn.Sequential(nn.Linear(8, 128), nn.ReLU(), nn.Linear(128, 256), nn.ReLU(), nn.Linear(256, D))
    vopt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3)
    data = torch.tensor(data_np)

    def vae_step():
        h = enc(data)
        mu, logvar = h[:, :8], h[:, 8:]
        q = td.Independent(td.Normal(mu, torch.exp(0.5 * logvar), validate_args=False), 1)
        z = q.rsample()
        rec = -nn.functional.binary_cross_entropy_with_logits(dec(z), data, reduction="none").sum(-1)
        p = td.Independent(td.Normal(torch.zeros(8), torch.ones(8), validate_args=False), 1)
        loss = -(rec - td.kl_divergence(q, p)).mean()
        vopt.zero_grad()
        loss.backward()
        vopt.step()

    masks = [torch.tensor([(j % 2 == (0 if i % 2 == 0 else 1)) for j in range(D)], dtype=torch.float32)
             for i in range(4)]
    nets = [nn.Sequential(nn.Linear(D, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 2 * D))
            for _ in range(4)]
    scales = [nn.Parameter(torch.ones(D)) for _ in range(4)]
    for n in nets:
        with torch.no_grad():
            n[-1].weight.fill_(0.01)
            n[-1].bias.zero_()
    fopt = torch.optim.Adam([p for n in nets for p in n.parameters()] + scales, lr=1e-3)
    real = torch.tensor(real_np)

    def log_prob(y):
        total = torch.zeros(y.shape[0])
        for m, net, sc in reversed(list(zip(masks, nets, scales))):
            h = net(y * m)
            s, t = sc * torch.tanh(h[:, :D]) * (1 - m), h[:, D:] * (1 - m)
            y = y * m + (1 - m) * ((y - t) * torch.exp(-s))
            total = total - s.sum(-1)
        return (-0.5 * y * y - 0.5 * math.log(2 * math.pi)).sum(-1) + total

    def realnvp():
        loss = -log_prob(real).mean()
        fopt.zero_grad()
        loss.backward()
        fopt.step()

    return {"mvn": mvn, "vae": vae_step, "realnvp": realnvp}


def make_cases(lib, threads):
    if lib == "torch":
        import torch

        return _torch_cases(torch)
    return _mathdl_cases()


def main(argv=None):
    case_table_main(__file__, CASES, make_cases, argv, description=__doc__.splitlines()[0],
                    title="probability benchmarks", steps=20, show_load=True)


if __name__ == "__main__":
    main()

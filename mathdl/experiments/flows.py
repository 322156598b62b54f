"""Normalizing flows: variational fitting of 2-D energies, density estimation, and flow posteriors in a VAE.

Claims:
 (1) Rezende & Mohamed 2015 (Figure 3): planar flows fit the unnormalized densities exp(-U_i), i = 1..4, by
     minimizing the reverse KL, better as the flow gets longer (K = 2, 8, 32).
 (2) Dinh et al. 2017; Papamakarios et al. 2017; Durkan et al. 2019: RealNVP, MAF and rational-quadratic
     spline flows reach a higher test log-likelihood than a Gaussian on two moons and on dequantized digits.
 (3) Rezende & Mohamed 2015; Kingma et al. 2016: a VAE whose diagonal-Gaussian posterior is refined by
     (amortized) planar flows or by IAF reaches a higher test log-likelihood than the plain VAE.

Setups:
 (1) loss = E_q[log q(x) + beta_t U(x)] with beta_t annealed from 0.01 to 1 over the first half (as the
     paper).  Reported: the variational free energy F = E_q[log q(x) + U(x)] = KL(q || p) - log Z (lower is
     better; 20,000 samples).  U2-U4 do not decay along z1, so exp(-U) is not normalizable on R^2 and only F
     is meaningful; for U1 also KL = F + log Z with Z integrated on a 400 x 400 grid over [-5, 5]^2.
 (2) two moons (as sklearn's make_moons, noise 0.05, standardized; 2,000 train / 1,000 test) in nats; digits (sklearn,
     64 pixels 0..16) dequantized u = (v + U(0,1)) / 17, logit-transformed y = logit(0.05 + 0.9 u), in
     bits/dim = -(log p(u) - 64 log 17) / (64 log 2).  Adam, same budget for every flow; 10% of the training
     set is held out and the parameters with the best validation log-likelihood are kept (early stopping).
 (3) binarized digits, MLP VAE with a 4-D latent; the encoder also outputs K planar flows' (u, w, b) per
     example, or a context for K IAF steps (MADE conditioned on it, order reversed between steps);
     ELBO = E[log p(x|z_K) + log p(z_K) - log q0(z_0) + sum log|det J_k|]; test log-likelihood by importance
     sampling (k = 200) with q_K.
Numbers: mean +- sd over seeds.  Verdicts by the stated rules in ``_verdicts``.

  python -m mathdl.experiments.flows [--quick] [--seeds 0,1,2] [--out DIR] [--parts energy,density,vae]
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np

from .output import pyplot, save_figure, write_json

__all__ = ["CLAIM", "energy", "U_FUNCTIONS", "fit_energy", "density_estimation", "flow_vae", "run", "main"]

CLAIM = ("planar flows fit 2-D energies better with depth; RealNVP/MAF/spline flows beat a Gaussian in test "
         "log-likelihood; planar-flow posteriors improve a VAE's test log-likelihood")


# ---------------------------------------------------------------------------------------------- (1) energies
def energy(name, z):
    """U1..U4 of Rezende & Mohamed (2015), Table 1, on z of shape (N, 2) (mathdl ops, differentiable)."""
    import mathdl as md

    z1, z2 = z[:, 0], z[:, 1]
    w1 = md.sin(2 * math.pi * z1 / 4)
    if name == "U1":
        r = md.sqrt((z * z).sum(-1))
        a = -0.5 * ((z1 - 2) / 0.6) ** 2
        b = -0.5 * ((z1 + 2) / 0.6) ** 2
        return 0.5 * ((r - 2) / 0.4) ** 2 - md.logsumexp(md.stack([a, b], -1), -1)
    if name == "U2":
        return 0.5 * ((z2 - w1) / 0.4) ** 2
    if name == "U3":
        w2 = 3 * md.exp(-0.5 * ((z1 - 1) / 0.6) ** 2)
        a = -0.5 * ((z2 - w1) / 0.35) ** 2
        b = -0.5 * ((z2 - w1 + w2) / 0.35) ** 2
        return -md.logsumexp(md.stack([a, b], -1), -1)
    if name == "U4":
        w3 = 3 * md.sigmoid((z1 - 1) / 0.3)
        a = -0.5 * ((z2 - w1) / 0.4) ** 2
        b = -0.5 * ((z2 - w1 + w3) / 0.35) ** 2
        return -md.logsumexp(md.stack([a, b], -1), -1)
    raise ValueError(f"energy: unknown name {name!r}; expected U1, U2, U3 or U4")


U_FUNCTIONS = ("U1", "U2", "U3", "U4")


def _grid(n=400, lim=5.0):
    g = np.linspace(-lim, lim, n)
    xx, yy = np.meshgrid(g, g)
    return g, np.stack([xx.ravel(), yy.ravel()], -1)


def log_partition(name):
    import mathdl as md

    g, pts = _grid()
    with md.no_grad():
        u = energy(name, md.tensor(pts)).numpy()
    dx = (g[1] - g[0]) ** 2
    m = (-u).max()
    return float(m + np.log(np.exp(-u - m).sum() * dx))


def fit_energy(name, K, steps, seed, batch=256, lr=1e-2):
    """Planar flow of length K fit to exp(-U) by reverse KL; returns (flow, free energy E_q[log q + U])."""
    import mathdl as md
    from mathdl.flows import Flow, PlanarFlow

    md.set_default_dtype("float64")
    try:
        md.manual_seed(seed)
        flow = Flow([PlanarFlow(2, init_scale=0.5) for _ in range(K)], event_shape=(2,))
        opt = md.optim.Adam(flow.parameters(), lr=lr)
        for t in range(steps):
            beta = min(1.0, 0.01 + t / max(1, steps // 2))
            x, lq = flow.rsample_and_log_prob(batch)
            loss = (lq + beta * energy(name, x)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with md.no_grad():
            x, lq = flow.rsample_and_log_prob(20_000)
            free_energy = float((lq + energy(name, x)).mean().item())
        return flow, free_energy
    finally:
        md.set_default_dtype("float32")


# ---------------------------------------------------------------------------------------------- (2) density
def _moons(seed, n=3000, noise=0.05):
    """Two interleaved half circles (as sklearn's make_moons) with Gaussian noise, standardized."""
    rng = np.random.default_rng(seed)
    t = rng.random(n) * math.pi
    upper = rng.random(n) < 0.5
    x = np.where(upper[:, None], np.stack([np.cos(t), np.sin(t)], -1),
                 np.stack([1 - np.cos(t), 0.5 - np.sin(t)], -1)) + noise * rng.normal(size=(n, 2))
    x = (x - x[:2000].mean(0)) / x[:2000].std(0)
    return x[:2000], x[2000:]


LAMBDA = 0.05


def _digits(seed):
    from sklearn.datasets import load_digits

    v = load_digits().data.astype(np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(v))
    v = v[idx]
    u = (v + rng.random(v.shape)) / 17.0
    s = LAMBDA + (1 - 2 * LAMBDA) * u
    y = np.log(s) - np.log1p(-s)
    logdet = (np.log(1 - 2 * LAMBDA) - np.log(s) - np.log1p(-s)).sum(-1)  # log |dy/du|
    n = int(0.8 * len(v))
    return (y[:n], logdet[:n]), (y[n:], logdet[n:])


def _make_flow(kind, d, hidden, layers=4):
    from mathdl import flows as fl

    mods = []
    for i in range(layers):
        if kind == "realnvp":
            mods += [fl.AffineCoupling(fl.alternating_mask(d, even=i % 2 == 0), hidden=hidden), fl.ActNorm(d)]
        elif kind == "maf":
            mods += [fl.MAF(d, hidden=(hidden, hidden)), fl.ReversePermutation(d)]
        elif kind == "spline":
            mods += [fl.RQSplineCoupling(fl.alternating_mask(d, even=i % 2 == 0), hidden=hidden, num_bins=8,
                                         tail_bound=4.0), fl.ActNorm(d)]
        else:
            raise ValueError(kind)
    if d > 2 and kind != "maf":  # mix the features between coupling layers on higher dimensions
        perm = np.random.default_rng(0).permutation(d)
        mods = [m for pair in zip(mods, [fl.Permutation(perm)] * len(mods)) for m in pair]
    return fl.Flow(mods, event_shape=(d,))


def _gaussian_ll(train, test):
    import mathdl as md
    from mathdl.distributions import MultivariateNormal

    mu = train.mean(0)
    cov = np.cov(train.T, bias=True) + 1e-6 * np.eye(train.shape[1])
    return MultivariateNormal(md.tensor(mu), covariance_matrix=md.tensor(cov)).log_prob(md.tensor(test)).numpy()


def _train_flow(flow, x, steps, batch, lr, seed, x_val=None):
    """Adam on -log p; with ``x_val`` the parameters with the best validation log-likelihood (checked 20 times
    over the run) are kept (early stopping: the digits training set is small)."""
    import mathdl as md

    opt = md.optim.Adam(flow.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    with md.no_grad():
        flow.log_prob(md.tensor(x[rng.choice(len(x), min(len(x), 512), replace=False)]))  # ActNorm init
    best, best_state, every = -np.inf, None, max(1, steps // 20)
    for t in range(steps):
        xb = md.tensor(x[rng.choice(len(x), batch, replace=False)])
        loss = -flow.log_prob(xb).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if x_val is not None and ((t + 1) % every == 0 or t + 1 == steps):
            with md.no_grad():
                val = float(flow.log_prob(md.tensor(x_val)).mean().item())
            if val > best:
                best, best_state = val, {k: v.array.copy() for k, v in flow.state_dict().items()}
    if best_state is not None:
        flow.load_state_dict({k: md.tensor(v) for k, v in best_state.items()})
    flow.eval()
    return flow


def density_estimation(dataset, seed, steps, hidden, batch=128, lr=1e-3, kinds=("realnvp", "maf", "spline")):
    """Test log-likelihood per model: nats per example (moons) or bits/dim (digits)."""
    import mathdl as md

    md.set_default_dtype("float64")
    try:
        md.manual_seed(seed)
        if dataset == "moons":
            train, test = _moons(seed)
            train, val = train[:1800], train[1800:]
            res = {"gaussian": float(_gaussian_ll(train, test).mean())}
            for k in kinds:
                flow = _train_flow(_make_flow(k, 2, hidden), train, steps, batch, lr, seed, val)
                with md.no_grad():
                    res[k] = float(flow.log_prob(md.tensor(test)).numpy().mean())
            return res
        (ytr, _), (yte, ldte) = _digits(seed)
        n_val = len(ytr) // 10
        ytr, yval = ytr[n_val:], ytr[:n_val]
        d = ytr.shape[1]

        def bpd(ll_y):
            return float(-((ll_y + ldte) - d * math.log(17)).mean() / (d * math.log(2)))

        res = {"gaussian": bpd(_gaussian_ll(ytr, yte))}
        for k in kinds:
            flow = _train_flow(_make_flow(k, d, hidden), ytr, steps, batch, lr, seed, yval)
            with md.no_grad():
                res[k] = bpd(flow.log_prob(md.tensor(yte)).numpy())
        return res
    finally:
        md.set_default_dtype("float32")


# ---------------------------------------------------------------------------------------------- (3) flow VAE
def _binarized_digits(seed):
    from sklearn.datasets import load_digits

    v = (load_digits().data >= 8).astype(np.float64)
    idx = np.random.default_rng(seed).permutation(len(v))
    n = int(0.8 * len(v))
    return v[idx[:n]], v[idx[n:]]


class _FlowVAE:
    """Encoder -> (mu, log sigma, context); z_0 = mu + sigma eps refined by K flow steps; Bernoulli decoder.

    kind="planar": the encoder outputs each step's (u, w, b) per example (amortized planar flows);
    kind="iaf": K IAF steps (MADE with the encoder's context added to its first hidden layer)."""

    def __init__(self, d_in, latent, K, hidden, kind="planar", context=16):
        from mathdl import nn
        from mathdl.flows import IAF

        self.latent, self.K, self.kind = latent, K, kind
        n_flow = K * (2 * latent + 1) if kind == "planar" else context
        self.enc = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent + n_flow))
        self.dec = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, d_in))
        self.iaf = [IAF(latent, hidden=(32,), context_features=context) for _ in range(K)] if kind == "iaf" else []

    def parameters(self):
        ps = list(self.enc.parameters()) + list(self.dec.parameters())
        for f in self.iaf:
            ps += list(f.parameters())
        return ps

    def log_weights(self, x, k):
        """log p(x, z_K) - log q_K(z_K | x) for k samples per example: shape (k, B)."""
        import mathdl as md
        from mathdl.nn import functional as F

        L, K = self.latent, self.K
        h = self.enc(x)
        mu, log_s = h[:, :L], h[:, L:2 * L]
        b = x.shape[0]
        eps = md.randn(k, b, L, dtype=x.dtype)
        z = mu + md.exp(log_s) * eps
        log_q = (-0.5 * eps * eps - log_s - 0.5 * math.log(2 * math.pi)).sum(-1)
        if self.kind == "iaf" and K:
            ctx = md.broadcast_to(h[:, 2 * L:].unsqueeze(0), (k, b, h.shape[1] - 2 * L)).reshape(k * b, -1)
            zf = z.reshape(k * b, L)
            for j, f in enumerate(self.iaf):
                zf, ld = f(zf, ctx)
                log_q = log_q - ld.reshape(k, b)
                if j < K - 1:
                    zf = md.flip(zf, (1,))  # reverse the order between IAF steps
            z = zf.reshape(k, b, L)
        for j in range(K if self.kind == "planar" else 0):
            off = 2 * L + j * (2 * L + 1)
            u, w, bb = h[:, off:off + L], h[:, off + L:off + 2 * L], h[:, off + 2 * L]
            wu = (w * u).sum(-1, keepdim=True)
            u = u + (-1 + F.softplus(wu) - wu) * w / ((w * w).sum(-1, keepdim=True) + 1e-8)
            t = md.tanh((z * w).sum(-1) + bb)
            z = z + t.unsqueeze(-1) * u
            log_q = log_q - md.log(md.abs(1 + (1 - t * t) * (w * u).sum(-1)) + 1e-12)
        logits = self.dec(z.reshape(k * b, L)).reshape(k, b, -1)
        xk = x.unsqueeze(0)
        log_px = -(F.softplus(logits) - xk * logits).sum(-1)
        log_pz = (-0.5 * z * z - 0.5 * math.log(2 * math.pi)).sum(-1)
        return log_px + log_pz - log_q


def flow_vae(seed, K, steps, hidden=128, latent=4, batch=64, lr=1e-3, k_test=200, kind="planar"):
    """(test ELBO, test IWAE_k log-likelihood) in nats for a VAE with K posterior flow steps (K=0: Gaussian)."""
    import mathdl as md

    md.set_default_dtype("float64")
    try:
        md.manual_seed(seed)
        train, test = _binarized_digits(seed)
        m = _FlowVAE(train.shape[1], latent, K, hidden, kind)
        opt = md.optim.Adam(m.parameters(), lr=lr)
        rng = np.random.default_rng(seed)
        for _ in range(steps):
            xb = md.tensor(train[rng.choice(len(train), batch, replace=False)])
            loss = -m.log_weights(xb, 1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with md.no_grad():
            xt = md.tensor(test)
            elbo = float(m.log_weights(xt, 1).mean().item())
            lw = m.log_weights(xt, k_test)
            ll = float((md.logsumexp(lw, 0) - math.log(k_test)).mean().item())
        return elbo, ll
    finally:
        md.set_default_dtype("float32")


# ---------------------------------------------------------------------------------------------- run
def _ms(values):
    a = np.asarray(values, dtype=np.float64)
    return {"mean": float(a.mean()), "sd": float(a.std()), "values": a.tolist()}


def _config(quick):
    if quick:
        return {"Ks": (2, 8), "energy_steps": 20, "energies": ("U1",), "density_steps": 10, "hidden": 8,
                "digits": False, "vae_steps": 10, "vae_Ks": (0, 2), "k_test": 5}
    return {"Ks": (2, 8, 32), "energy_steps": 3000, "energies": U_FUNCTIONS, "density_steps": 2000, "hidden": 64,
            "digits": True, "vae_steps": 3000, "vae_Ks": (0, 4, 8), "k_test": 200}


def run(quick=False, seeds=(0, 1, 2), out=None, parts=("energy", "density", "vae"), log=print, **overrides):
    """All parts for each seed; returns the numbers (mean, sd, values) and the verdicts.  ``overrides`` replace
    entries of the configuration (``energy_steps``, ``Ks``, ``energies``, ``density_steps``, ``hidden``,
    ``digits``, ``vae_steps``, ``vae_Ks``, ``k_test``)."""
    cfg = _config(quick)
    unknown = set(overrides) - set(cfg)
    if unknown:
        raise ValueError(f"flows.run: unknown options {sorted(unknown)}; expected some of {sorted(cfg)}")
    cfg.update(overrides)
    res = {"claim": CLAIM, "seeds": list(seeds), "config": {k: list(v) if isinstance(v, tuple) else v
                                                            for k, v in cfg.items()}}
    flows_for_plot = {}
    if "energy" in parts:
        res["energy_free_energy"], res["energy_kl"] = {}, {}
        for name in cfg["energies"]:
            log_z = log_partition(name) if name == "U1" else None
            for K in cfg["Ks"]:
                fs = []
                for s in seeds:
                    flow, f = fit_energy(name, K, cfg["energy_steps"], s)
                    fs.append(f)
                    if s == seeds[0]:
                        flows_for_plot[(name, K)] = flow
                res["energy_free_energy"][f"{name} K={K}"] = _ms(fs)
                msg = f"[flows] {name} planar K={K}: free energy {np.mean(fs):.3f} +- {np.std(fs):.3f}"
                if log_z is not None:
                    res["energy_kl"][f"{name} K={K}"] = _ms(np.asarray(fs) + log_z)
                    msg += f", KL(q||p) {np.mean(fs) + log_z:.3f}"
                log(msg)
    if "density" in parts:
        res["density"] = {}
        for ds in (("moons", "digits") if cfg["digits"] else ("moons",)):
            per = [density_estimation(ds, s, cfg["density_steps"], cfg["hidden"]) for s in seeds]
            res["density"][ds] = {k: _ms([p[k] for p in per]) for k in per[0]}
            unit = "bits/dim" if ds == "digits" else "nats"
            log(f"[flows] {ds} test log-likelihood ({unit}): " + ", ".join(
                f"{k} {v['mean']:.3f} +- {v['sd']:.3f}" for k, v in res["density"][ds].items()))
    if "vae" in parts:
        res["flow_vae"] = {}
        for kind in ("planar", "iaf"):
            for K in cfg["vae_Ks"]:
                if K == 0 and kind == "iaf":
                    continue
                vals = [flow_vae(s, K, cfg["vae_steps"], k_test=cfg["k_test"], kind=kind) for s in seeds]
                key = "K=0" if K == 0 else f"{kind} K={K}"
                res["flow_vae"][key] = {"elbo": _ms([v[0] for v in vals]),
                                        "log_likelihood": _ms([v[1] for v in vals])}
                log(f"[flows] VAE {key}: test ELBO {np.mean([v[0] for v in vals]):.3f}, "
                    f"log-likelihood {np.mean([v[1] for v in vals]):.3f} +- {np.std([v[1] for v in vals]):.3f}")
    res["verdicts"] = _verdicts(res, cfg)
    log(f"[flows] verdicts: {res['verdicts']}")
    if out:
        os.makedirs(out, exist_ok=True)
        write_json(out, "flows.json", res)
        if flows_for_plot:
            _plot_energies(flows_for_plot, cfg, os.path.join(out, "flows_energies.png"))
    return res


def _verdicts(res, cfg):
    """(1) holds if the free energy (equivalently the KL) at K=max is below that at K=min for every energy;
    (2) holds if every flow beats the Gaussian on every dataset (higher nats / lower bits per dim); (3) holds
    if both largest-K flow VAEs (planar, IAF) have a higher test log-likelihood than K=0.  'holds partly'
    when some but not all comparisons pass."""
    out = {}

    def grade(flags):
        return "holds" if all(flags) else ("holds partly" if any(flags) else "does not hold")

    if "energy_free_energy" in res:
        k0, k1 = min(cfg["Ks"]), max(cfg["Ks"])
        fe = res["energy_free_energy"]
        out["energy"] = grade([fe[f"{u} K={k1}"]["mean"] < fe[f"{u} K={k0}"]["mean"] for u in cfg["energies"]])
    if "density" in res:
        flags = []
        for ds, r in res["density"].items():
            for k, v in r.items():
                if k != "gaussian":
                    better = v["mean"] < r["gaussian"]["mean"] if ds == "digits" else v["mean"] > r["gaussian"]["mean"]
                    flags.append(better)
        out["density"] = grade(flags)
    if "flow_vae" in res:
        k = max(cfg["vae_Ks"])
        base = res["flow_vae"]["K=0"]["log_likelihood"]["mean"]
        out["flow_vae"] = grade([res["flow_vae"][f"{kind} K={k}"]["log_likelihood"]["mean"] > base
                                 for kind in ("planar", "iaf")])
    return out


def _plot_energies(flows, cfg, path):
    plt = pyplot()

    import mathdl as md

    names, Ks = cfg["energies"], cfg["Ks"]
    fig, axes = plt.subplots(len(names), 1 + len(Ks), figsize=(2.2 * (1 + len(Ks)), 2.2 * len(names)),
                             squeeze=False)
    g, pts = _grid(200, 4.0)
    for i, name in enumerate(names):
        with md.no_grad():
            u = energy(name, md.tensor(pts)).numpy().reshape(len(g), len(g))
        axes[i, 0].imshow(np.exp(-u), origin="lower", extent=(-4, 4, -4, 4), cmap="viridis")
        axes[i, 0].set_title(f"exp(-{name})", fontsize=8)
        for j, K in enumerate(Ks):
            md.set_default_dtype("float64")
            try:
                x = flows[(name, K)].sample(20_000).numpy()
            finally:
                md.set_default_dtype("float32")
            axes[i, j + 1].hist2d(x[:, 0], x[:, 1], bins=100, range=[[-4, 4], [-4, 4]], cmap="viridis")
            axes[i, j + 1].set_title(f"planar K={K}", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m mathdl.experiments.flows", description=CLAIM)
    p.add_argument("--quick", action="store_true", help="a tiny configuration (seconds)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--out", default="runs/flows", help="output folder")
    p.add_argument("--parts", default="energy,density,vae", help="which parts to run (comma-separated)")
    p.add_argument("--energy-steps", type=int, help="Adam steps per energy fit (full: 3000)")
    p.add_argument("--density-steps", type=int, help="Adam steps per density model (full: 2000)")
    p.add_argument("--vae-steps", type=int, help="Adam steps per flow VAE (full: 3000)")
    a = p.parse_args(argv)
    over = {k: v for k, v in (("energy_steps", a.energy_steps), ("density_steps", a.density_steps),
                              ("vae_steps", a.vae_steps)) if v is not None}
    run(a.quick, tuple(int(s) for s in a.seeds.split(",")), a.out, tuple(a.parts.split(",")), **over)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

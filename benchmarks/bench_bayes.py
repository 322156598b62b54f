"""Bayesian deep learning benchmarks (issue 11).

  step      one training step (forward, loss, backward, Adam) of a 64-256-128-10 MLP, batch 128:
            deterministic (nn.Linear, cross-entropy) vs Bayes by Backprop (BayesLinear with local
            reparameterization, cross-entropy + KL/N); prints both and the cost ratio BBB / deterministic,
            and the same two steps in PyTorch (a hand-written local-reparameterization layer) when installed
  laplace   K-FAC Laplace fit (all Linear/Conv2d layers, GGN Kronecker factors over the 1437 training
            images) of the digits CNN (LeNet 16-32 channels on 1x8x8), plus the marginal-likelihood
            prior-precision search (seconds)
  predict   the predictive of each method per 1,000 inputs on the digits MLP: deterministic softmax, MC dropout
            (T=20), BBB (20 samples), last-layer Laplace (full, probit), K-FAC Laplace (all, probit),
            ensemble of 5, SWAG (20 samples)

Each library runs in its own fresh process (one case per process); the medians over ``--rounds`` are printed.

    python benchmarks/bench_bayes.py [--rounds 3] [--threads 1] [--cases step,laplace,predict]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository root
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import alternating_rounds, has_torch, median_by_key, median_time, run_child, set_child_threads  # noqa: E402

CASES = ["step", "laplace", "predict"]


def _mathdl_step():
    import numpy as np

    import mathdl as md
    from mathdl import nn
    from mathdl.bayes import BayesLinear, kl_divergence
    from mathdl.nn import functional as F

    rng = np.random.default_rng(0)
    x = md.tensor(rng.standard_normal((128, 64)).astype(np.float32))
    y = md.tensor(rng.integers(0, 10, 128))
    md.manual_seed(0)
    det = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    bbb = nn.Sequential(BayesLinear(64, 256), nn.ReLU(), BayesLinear(256, 128), nn.ReLU(), BayesLinear(128, 10))
    o1, o2 = md.optim.Adam(det.parameters()), md.optim.Adam(bbb.parameters())

    def step_det():
        loss = F.cross_entropy(det(x), y)
        o1.zero_grad()
        loss.backward()
        o1.step()

    def step_bbb():
        loss = F.cross_entropy(bbb(x), y) + kl_divergence(bbb) * (1 / 1437)
        o2.zero_grad()
        loss.backward()
        o2.step()

    t_det, t_bbb = median_time(step_det, 20, 3), median_time(step_bbb, 20, 3)
    return {"deterministic_step_s": t_det, "bbb_step_s": t_bbb, "ratio": t_bbb / t_det}


def _torch_step():
    import numpy as np
    import torch
    import torch.nn.functional as F

    class BL(torch.nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.mu = torch.nn.Parameter(torch.randn(o, i) / i ** 0.5)
            self.rho = torch.nn.Parameter(torch.full((o, i), -5.0))
            self.bmu = torch.nn.Parameter(torch.zeros(o))
            self.brho = torch.nn.Parameter(torch.full((o,), -5.0))

        def forward(self, x):
            s, bs = F.softplus(self.rho), F.softplus(self.brho)
            m = F.linear(x, self.mu, self.bmu)
            v = F.linear(x * x, s * s, bs * bs)
            return m + torch.sqrt(v + 1e-16) * torch.randn_like(m)

        def kl(self):
            out = 0
            for mu, rho in ((self.mu, self.rho), (self.bmu, self.brho)):
                s = F.softplus(rho)
                out = out + (-torch.log(s) + (s * s + mu * mu) / 2 - 0.5).sum()
            return out

    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((128, 64)).astype(np.float32))
    y = torch.tensor(rng.integers(0, 10, 128))
    torch.manual_seed(0)
    L, R = torch.nn.Linear, torch.nn.ReLU
    det = torch.nn.Sequential(L(64, 256), R(), L(256, 128), R(), L(128, 10))
    bbb = torch.nn.Sequential(BL(64, 256), R(), BL(256, 128), R(), BL(128, 10))
    o1, o2 = torch.optim.Adam(det.parameters()), torch.optim.Adam(bbb.parameters())

    def step_det():
        loss = F.cross_entropy(det(x), y)
        o1.zero_grad()
        loss.backward()
        o1.step()

    def step_bbb():
        loss = F.cross_entropy(bbb(x), y) + sum(m.kl() for m in bbb if isinstance(m, BL)) / 1437
        o2.zero_grad()
        loss.backward()
        o2.step()

    t_det, t_bbb = median_time(step_det, 20, 3), median_time(step_bbb, 20, 3)
    return {"deterministic_step_s": t_det, "bbb_step_s": t_bbb, "ratio": t_bbb / t_det}


def _mathdl_laplace():
    import numpy as np

    import mathdl as md
    from mathdl.bayes import Laplace
    from mathdl.data import load_dataset
    from mathdl.experiments.uncertainty import train_classifier
    from mathdl.models import build_model

    spec = load_dataset("digits_image")
    x, y = (np.asarray(a) for a in spec.train.arrays)
    md.manual_seed(0)
    net = build_model("cnn", spec)
    train_classifier(net, x.astype(np.float32), y.astype(np.int64), 2, 0)
    t0 = time.perf_counter()
    la = Laplace(net, subset="all", hessian_structure="kron").fit((x, y), batch_size=256)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    la.optimize_prior_precision()
    t_opt = time.perf_counter() - t0
    t0 = time.perf_counter()
    la.predict_proba(x[:1000])
    t_pred = time.perf_counter() - t0
    return {"kfac_fit_s": t_fit, "prior_precision_s": t_opt, "predict_per_1000_s": t_pred,
            "num_params": la.num_params, "n": int(len(x))}


def _mathdl_predict():
    import copy

    import numpy as np

    import mathdl as md
    from mathdl.bayes import SWAG, BBBPredictive, DeepEnsemble, Laplace, MCDropout, bayesify
    from mathdl.experiments.uncertainty import _mlp, _softmax_model, prepare, train_classifier

    x, y, xt, yt, xo, c = prepare("digits", 0)
    md.manual_seed(0)
    base = train_classifier(_mlp(64, c, 128), x, y, 3, 0)
    drop = train_classifier(_mlp(64, c, 128, 0.2), x, y, 1, 0)
    bbb = bayesify(copy.deepcopy(base))
    ll = Laplace(base, subset="last_layer", hessian_structure="full").fit((x, y))
    lk = Laplace(base, subset="all", hessian_structure="kron").fit((x, y))
    members = [copy.deepcopy(base) for _ in range(5)]
    net = copy.deepcopy(base)
    sw = SWAG(net)
    for _ in range(3):
        sw.collect_model(net)
    z = np.concatenate([xt, xo, xt, xo, xt, xo])[:1000] if len(xt) + len(xo) < 1000 else np.concatenate([xt, xo])
    z = np.resize(z, (1000, 64)).astype(np.float32)
    fns = {"deterministic": lambda: _softmax_model(base, z), "mc_dropout": lambda: MCDropout(drop, 20).predict_proba(z),
           "bbb": lambda: BBBPredictive(bbb, 20).predict_proba(z), "laplace_last": lambda: ll.predict_proba(z),
           "laplace_kfac": lambda: lk.predict_proba(z), "ensemble": lambda: DeepEnsemble(members).predict_proba(z),
           "swag": lambda: sw.predict_proba(z, num_samples=20)}
    return {k: median_time(f, 5, 1) for k, f in fns.items()}


def _child(case, lib, threads):
    set_child_threads(lib, threads)
    if lib == "torch":
        res = _torch_step()
    else:
        res = {"step": _mathdl_step, "laplace": _mathdl_laplace, "predict": _mathdl_predict}[case]()
    print(json.dumps(res))


def main(argv=None):
    ap = argparse.ArgumentParser(description="Bayesian deep learning benchmarks")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    for case in args.cases.split(","):
        libs = ["mathdl", "torch"] if case == "step" else ["mathdl"]
        runs = alternating_rounds(libs, args.rounds, lambda lib, case=case: run_child(
            __file__, [case, lib, args.threads], args.threads, label=f"{case}/{lib}")
            if lib == "mathdl" or has_torch() else None)
        for lib, rs in runs.items():
            if not rs:
                print(f"{case} [{lib}]: {'not installed' if lib == 'torch' and not has_torch() else 'failed'}")
                continue
            med = median_by_key(rs)
            body = ", ".join(f"{k} {v:.3g}" if k in ("ratio", "num_params", "n") else f"{k} {v * 1e3:.2f} ms"
                             for k, v in med.items())
            print(f"{case} [{lib}, {args.threads} thread(s), median of {len(rs)} rounds]: {body}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

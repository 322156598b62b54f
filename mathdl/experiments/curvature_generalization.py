"""Curvature at the minima SGD finds, and how it relates to generalization.

Claims measured here:
  1. (Keskar et al. 2017; Jastrzebski et al. 2018) minima reached with large batches / small
     learning rates are sharper (larger top Hessian eigenvalue lambda_max, larger trace) and
     generalize worse than those reached with small batches / large learning rates.
  2. (Sagun et al. 2017; Ghorbani, Krishnan & Xiao 2019) the Hessian at the end of training is not
     positive definite: a small mass of negative eigenvalues remains.
  3. (Papyan 2020) the spectrum of a C-class classifier has about C outliers above the bulk.

Setup: scikit-learn digits (1,437 training, 360 test images), an MLP 64-32-32-10 (ReLU), SGD
(momentum 0.9) with several (batch size, learning rate) pairs and seeds, epoch by epoch until the
training loss is below 0.01 (at most 3,000 steps).  At the end: lambda_max and the top 20
eigenvalues by Lanczos, the trace by Hutch++, the negative fraction / mass by stochastic Lanczos
quadrature (``mathdl.analysis.spectrum``), all on the Hessian of the full training loss; the
test error and the generalization gap.

Rules (over the runs that reached a minimum, training accuracy >= 99%; a Spearman correlation
rho grades *holds* if rho >= 0.5, *holds partly* if 0 < rho < 0.5, *does not hold* otherwise):
  1a. rho between the batch size and lambda_max at learning rate 0.02 (sharper with larger batches);
  1b. rho between lambda_max and the test error (sharper generalizes worse);
      claim 1 *holds* if 1a and 1b hold, *holds partly* if one does.
  2. *holds* if the 95% interval of the mean negative fraction over runs lies above 0.
  3. the number of outliers = position of the largest ratio lambda_i / lambda_(i+1) among the top
     20; *holds* if its median over runs is within C +- 2.

  python -m mathdl.experiments.curvature_generalization [--quick] [--seeds 0,1,2] [--max-steps 3000] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from .output import pyplot, save_figure, write_json

__all__ = ["CLAIM", "RULE", "CONFIGS", "train_run", "measure", "verdicts", "run", "main"]

CLAIM = ("Large-batch / small-step minima are sharper and generalize worse (Keskar et al. 2017); Hessians at minima "
         "keep negative eigenvalues (Sagun et al. 2017); a C-class classifier has about C outlier eigenvalues "
         "(Papyan 2020).")
RULE = ("1a: Spearman rho(batch, lambda_max) and 1b: rho(lambda_max, test error) over runs at minima, each >= 0.5 "
        "holds, > 0 holds partly; claim 1 holds if both hold, partly if one; 2: the interval of the mean negative "
        "fraction over runs above 0; 3: median outlier count within C +- 2.")
CONFIGS = ((16, 0.02), (64, 0.02), (256, 0.02), (1437, 0.02), (64, 0.005), (64, 0.05))


def _digits():
    from ..data import load_dataset

    spec = load_dataset("digits")
    return (spec.train.arrays[0].astype(np.float32), spec.train.arrays[1].astype(np.int64),
            spec.test.arrays[0].astype(np.float32), spec.test.arrays[1].astype(np.int64))


def train_run(batch, lr, max_steps, seed, hidden=(32, 32), data=None, target_loss=0.01):
    """SGD with momentum 0.9, epoch by epoch, until the training loss is below ``target_loss`` or
    ``max_steps`` steps are done; returns (model, train loss, train acc, test acc, test loss, steps)."""
    import mathdl
    import mathdl.nn.functional as F
    from mathdl import optim
    from mathdl.analysis.params import evaluate_loss
    from mathdl.models.mlp import MLP

    xtr, ytr, xte, yte = data or _digits()
    mathdl.manual_seed(seed)
    model = MLP(64, hidden, 10, "relu")
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    rng = np.random.default_rng(seed)
    steps, train_xy = 0, (mathdl.tensor(xtr), mathdl.tensor(ytr))
    while steps < max_steps:
        order = rng.permutation(len(xtr))
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            loss = F.cross_entropy(model(mathdl.tensor(xtr[idx])), mathdl.tensor(ytr[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
        if evaluate_loss(model, train_xy, accuracy=False)[0] < target_loss:
            break
    model.eval()
    tr_loss, tr_acc = evaluate_loss(model, train_xy)
    te_loss, te_acc = evaluate_loss(model, (mathdl.tensor(xte), mathdl.tensor(yte)))
    return model, tr_loss, tr_acc, te_acc, te_loss, steps


def measure(model, x, y, top=20, probes=4, steps=40, trace_matvecs=30, seed=0):
    """Spectral numbers of the training-loss Hessian."""
    import mathdl
    from mathdl.analysis.operators import model_hessian
    from mathdl.analysis.spectrum import extreme_eigenpairs, hutchpp_trace, negative_curvature, slq

    H = model_hessian(model, None, (mathdl.tensor(x), mathdl.tensor(y)))
    vals = extreme_eigenpairs(H, top, "LA", tol=1e-4, seed=seed, return_eigenvectors=False)[::-1]
    tr = hutchpp_trace(H, trace_matvecs, seed=seed)
    res = slq(H, probes, steps, seed=seed, check=False)
    neg = negative_curvature(H, res, extremes=(min(res.range()[0], 0.0), vals[0]))
    pos = np.maximum(vals, 1e-12)
    outliers = int(np.argmax(pos[:-1] / pos[1:])) + 1
    return {"lambda_max": float(vals[0]), "top": vals.tolist(), "trace": tr.estimate, "trace_stderr": tr.stderr,
            "negative_fraction": neg["fraction"], "negative_fraction_interval": neg["fraction_interval"],
            "negative_mass": neg["mass"], "lambda_min_slq": res.range()[0], "outliers": outliers}


def _spearman(a, b):
    from scipy.stats import spearmanr

    r = spearmanr(a, b).statistic
    return float(r) if np.isfinite(r) else 0.0


def verdicts(rows):
    """The numbers and verdicts of the rules from the per-run rows."""
    from mathdl.analysis.spectrum import _interval

    minima = [r for r in rows if r["train_acc"] >= 0.99] or rows  # only runs that reached a minimum
    rho = _spearman([r["lambda_max"] for r in minima], [1 - r["test_acc"] for r in minima])
    rho_tr = _spearman([r["trace"] for r in minima], [1 - r["test_acc"] for r in minima])
    base_lr = [r for r in minima if r["lr"] == 0.02] or minima
    rho_b = _spearman([r["batch"] for r in base_lr], [r["lambda_max"] for r in base_lr])
    frac, ci = _interval([r["negative_fraction"] for r in rows])
    med = float(np.median([r["outliers"] for r in rows]))

    def grade(x):
        return "holds" if x >= 0.5 else ("holds partly" if x > 0 else "does not hold")

    v1a, v1b = grade(rho_b), grade(rho)
    good = [v1a, v1b].count("holds")
    return {"verdict": "holds" if good == 2 else ("holds partly" if good == 1 else "does not hold"),
            "verdicts": {"sharper_with_batch": v1a, "sharpness_vs_error": v1b,
                         "negative_curvature_at_minima": "holds" if ci[0] > 0 else "does not hold",
                         "C_outliers": "holds" if abs(med - 10) <= 2 else "does not hold"},
            "spearman_batch_lambda_max": rho_b, "spearman_lambda_max_test_error": rho,
            "spearman_trace_test_error": rho_tr, "negative_fraction_mean": frac, "negative_fraction_interval": ci,
            "median_outliers": med, "runs_at_minima": len(minima)}


def plot(rows, path):
    plt = pyplot()

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for r in rows:
        lab = f"b={r['batch']}, lr={r['lr']:g}" if r["seed"] == rows[0]["seed"] else None
        c = f"C{CONFIGS.index((r['batch'], r['lr'])) % 10}" if (r["batch"], r["lr"]) in CONFIGS else "k"
        axes[0].scatter(r["lambda_max"], 1 - r["test_acc"], color=c, label=lab)
        axes[1].scatter(r["trace"], 1 - r["test_acc"], color=c)
        axes[2].semilogy(range(1, len(r["top"]) + 1), np.maximum(r["top"], 1e-6), ".-", color=c, alpha=0.6)
    axes[0].set_xlabel("lambda_max")
    axes[1].set_xlabel("trace")
    for ax in axes[:2]:
        ax.set_ylabel("test error")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    axes[2].axvline(10.5, color="gray", ls=":")
    axes[2].set_xlabel("index")
    axes[2].set_ylabel("top eigenvalues")
    axes[2].set_title("outliers above the bulk (C = 10)")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    return path


def run(quick=False, seeds=(0, 1, 2), out=None, max_steps=None, configs=None, log=print):
    t0 = time.perf_counter()
    data = _digits()
    if quick:
        seeds, max_steps = tuple(seeds)[:1], max_steps or 20
        configs = configs or ((64, 0.05), (1437, 0.05))
        mkw = {"top": 3, "probes": 2, "steps": 10, "trace_matvecs": 6}
        n = 200
    else:
        max_steps, configs, mkw, n = max_steps or 3000, configs or CONFIGS, {}, None
    rows = []
    for s in seeds:
        for batch, lr in configs:
            model, tr_loss, tr_acc, te_acc, te_loss, steps = train_run(batch, lr, max_steps, s, data=data)
            m = measure(model, data[0][:n], data[1][:n], seed=s, **mkw)
            rows.append({"seed": s, "batch": batch, "lr": lr, "steps": steps, "train_loss": tr_loss,
                         "train_acc": tr_acc, "test_acc": te_acc, "test_loss": te_loss, "gap": tr_acc - te_acc, **m})
            log(f"  seed {s} batch {batch:5d} lr {lr:<5g}: {steps} steps, train loss {tr_loss:.3g}, acc {tr_acc:.3f}, "
                f"test acc {te_acc:.3f}, "
                f"lambda_max {m['lambda_max']:.3g}, trace {m['trace']:.3g}, negative fraction "
                f"{m['negative_fraction']:.3f}, outliers {m['outliers']}")
    v = verdicts(rows)
    figures = []
    if out:
        os.makedirs(out, exist_ok=True)
        figures.append(plot(rows, os.path.join(out, "curvature_generalization.png")))
    summary = {"claim": CLAIM, "rule": RULE, **v,
               "setup": {"data": "digits", "model": "MLP 64-32-32-10 ReLU", "optimizer": "SGD momentum 0.9",
                         "max_steps": max_steps, "stop": "train loss < 0.01",
                         "configs": [list(c) for c in configs], "seeds": list(seeds)},
               "runs": rows, "figures": figures,
               "seconds": time.perf_counter() - t0}
    if out:
        write_json(out, "curvature_generalization.json", summary)
    log(f"claim: {CLAIM}")
    log(f"  1a. Spearman(batch size, lambda_max) at lr 0.02 = {v['spearman_batch_lambda_max']:.2f} -> "
        f"{v['verdicts']['sharper_with_batch']}")
    log(f"  1b. Spearman(lambda_max, test error) over the {v['runs_at_minima']} runs at minima = "
        f"{v['spearman_lambda_max_test_error']:.2f} (trace: {v['spearman_trace_test_error']:.2f}) -> "
        f"{v['verdicts']['sharpness_vs_error']}")
    log(f"  2. negative fraction {v['negative_fraction_mean']:.3f}, 95% interval over runs "
        f"{v['negative_fraction_interval'][0]:.3f}-{v['negative_fraction_interval'][1]:.3f} -> "
        f"{v['verdicts']['negative_curvature_at_minima']}")
    log(f"  3. median outlier count {v['median_outliers']:g} (C = 10) -> {v['verdicts']['C_outliers']}")
    log(f"rule: {RULE}\nverdict (claim 1 = 1a and 1b): {v['verdict']}")
    return summary


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m mathdl.experiments.curvature_generalization", description=CLAIM)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--max-steps", type=int, default=None, help="SGD steps at most per run (default 3000)")
    p.add_argument("--out", default="runs/curvature_generalization")
    a = p.parse_args(argv)
    run(a.quick, tuple(int(s) for s in a.seeds.split(",")), a.out, a.max_steps)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

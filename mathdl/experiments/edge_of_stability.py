"""Edge of stability: under full-batch gradient descent with step eta, the sharpness rises to 2/eta.

Claim (Cohen, Kaur, Li, Kolter & Talwalkar 2021): with full-batch GD at step size eta, the top
eigenvalue of the training-loss Hessian, lambda_max (the sharpness), first grows (progressive
sharpening) until it reaches about 2/eta, then hovers there while the loss keeps falling,
non-monotonically.  (For a quadratic, GD diverges along an eigendirection with lambda > 2/eta.)

Setup: scikit-learn digits (1,437 training images, 64 standardized features), an MLP 64-h-h-10
(tanh), the square loss L = (1/2N) sum_i ||f(x_i) - onehot(y_i)||^2 (Cohen et al.'s MSE setting),
full-batch GD at several step sizes; lambda_max by Lanczos (``eigsh``, which="LA") on the Hessian of
the full training loss every few steps.

Rule: for each (eta, seed), the mean sharpness over the last third of training, divided by 2/eta.
The claim *holds* if every run's ratio lies in [0.8, 1.2], *holds partly* if the median run does,
else *does not hold*.

  python -m mathdl.experiments.edge_of_stability [--quick] [--seeds 0,1,2] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from .output import pyplot, save_figure, write_json

__all__ = ["CLAIM", "RULE", "run", "train_gd", "main"]

CLAIM = ("Under full-batch gradient descent with step size eta, the top Hessian eigenvalue rises to about 2/eta "
         "and hovers there (the edge of stability; Cohen et al. 2021).")
RULE = ("ratio = mean sharpness over the last third of training / (2/eta); holds if every run's ratio is in "
        "[0.8, 1.2], holds partly if the median run's is, else does not hold.")


def _digits(n=None):
    from ..data import load_dataset

    spec = load_dataset("digits")
    x, y = spec.train.arrays[0], spec.train.arrays[1]
    if n:
        x, y = x[:n], y[:n]
    return x.astype(np.float32), y.astype(np.int64)


def _mse(out, target):
    from ..nn import functional as F

    return F.mse_loss(out, target) * (out.shape[-1] / 2.0)


def train_gd(lr, steps, every=10, seed=0, hidden=(32, 32), n=None, tol=1e-3, log=None):
    """Full-batch GD; returns dict of steps, losses, sharpness (lambda_max at every ``every`` steps)."""
    import mathdl
    from mathdl.analysis.operators import model_hessian
    from mathdl.analysis.params import get_flat, loss_and_gradient, set_flat
    from mathdl.analysis.spectrum import extreme_eigenpairs
    from mathdl.models.mlp import MLP

    x, y = _digits(n)
    mathdl.manual_seed(seed)
    model = MLP(64, hidden, 10, "tanh")
    data = (mathdl.tensor(x), mathdl.tensor(np.eye(10, dtype=np.float32)[y]))
    params = [p for p in model.parameters()]
    H = model_hessian(model, _mse, data)
    rec = {"step": [], "loss": [], "sharp_step": [], "sharpness": []}
    theta = get_flat(params)
    for k in range(steps + 1):
        if k % every == 0:
            lam = extreme_eigenpairs(H, 1, "LA", tol=tol, seed=seed + k, check=False, return_eigenvectors=False)[0]
            rec["sharp_step"].append(k)
            rec["sharpness"].append(float(lam))
        loss, g = loss_and_gradient(model, data, _mse)
        rec["step"].append(k)
        rec["loss"].append(loss)
        if not np.isfinite(loss):
            break
        if k < steps:
            theta = theta - lr * g
            set_flat(params, theta)
        if log and k % max(steps // 5, 1) == 0:
            log(f"  eta {lr:g} step {k}: loss {loss:.4f}, sharpness {rec['sharpness'][-1]:.2f} (2/eta = {2 / lr:.1f})")
    return rec


def _verdict(ratios):
    ratios = np.asarray(ratios, dtype=np.float64)
    inside = (ratios >= 0.8) & (ratios <= 1.2)
    if inside.all():
        return "holds"
    if 0.8 <= np.median(ratios) <= 1.2:
        return "holds partly"
    return "does not hold"


def plot(results, path):
    plt = pyplot()

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for i, (lr, runs) in enumerate(results.items()):
        for j, rec in enumerate(runs):
            kw = {"color": f"C{i}", "alpha": 0.8, "label": f"eta = {lr:g}" if j == 0 else None}
            axes[0].plot(rec["step"], rec["loss"], **kw)
            axes[1].plot(rec["sharp_step"], rec["sharpness"], **kw)
        axes[1].axhline(2 / float(lr), color=f"C{i}", ls="--", lw=1)
    axes[0].set_yscale("log")
    axes[0].set_title("training loss (full-batch GD)")
    axes[1].set_title("sharpness lambda_max; dashed: 2/eta")
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    return path


def run(quick=False, seeds=(0, 1, 2), out=None, lrs=None, steps=None, log=print):
    """Train at each step size and seed; returns claim, setup, per-run ratios with spread, verdict, figures."""
    t0 = time.perf_counter()
    if quick:
        lrs = lrs or (0.5,)
        steps = steps or 30
        seeds = tuple(seeds)[:1]
        kw = {"every": 15, "n": 200, "hidden": (16,)}
    else:
        lrs = lrs or (0.3, 0.5)
        steps = steps or 1000
        kw = {"every": 40, "hidden": (32, 32)}
    results, rows = {}, []
    for lr in lrs:
        results[lr] = []
        for s in seeds:
            rec = train_gd(lr, steps, seed=s, log=log if not quick else None, **kw)
            results[lr].append(rec)
            sh = np.asarray(rec["sharpness"])
            tail = sh[len(sh) * 2 // 3:]
            rows.append({"eta": lr, "seed": s, "two_over_eta": 2 / lr, "sharpness_final_third": float(tail.mean()),
                         "ratio": float(tail.mean() * lr / 2), "sharpness_init": float(sh[0]),
                         "sharpness_max": float(sh.max()), "final_loss": rec["loss"][-1]})
    ratios = [r["ratio"] for r in rows]
    verdict = _verdict(ratios)
    figures = []
    if out:
        os.makedirs(out, exist_ok=True)
        figures.append(plot(results, os.path.join(out, "edge_of_stability.png")))
    summary = {"claim": CLAIM, "rule": RULE, "verdict": verdict,
               "setup": {"data": "digits train split", "model": f"MLP 64-{kw['hidden']}-10 tanh", "loss": "MSE/2",
                         "optimizer": "full-batch GD", "etas": list(lrs), "steps": steps, "seeds": list(seeds),
                         **{k: v for k, v in kw.items() if k != "hidden"}},
               "runs": rows, "ratio_mean": float(np.mean(ratios)), "ratio_std": float(np.std(ratios)),
               "figures": figures, "seconds": time.perf_counter() - t0}
    if out:
        write_json(out, "edge_of_stability.json", summary)
    log(f"claim: {CLAIM}")
    for r in rows:
        log(f"  eta {r['eta']:g} seed {r['seed']}: sharpness {r['sharpness_init']:.2f} -> "
            f"{r['sharpness_final_third']:.2f} over the last third (2/eta = {r['two_over_eta']:.1f}, "
            f"ratio {r['ratio']:.2f})")
    log(f"ratio (sharpness / (2/eta)): {summary['ratio_mean']:.2f} +- {summary['ratio_std']:.2f}")
    log(f"rule: {RULE}\nverdict: {verdict}")
    return summary


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m mathdl.experiments.edge_of_stability", description=CLAIM)
    p.add_argument("--quick", action="store_true", help="a tiny configuration (seconds)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--out", default="runs/edge_of_stability", help="output folder")
    p.add_argument("--steps", type=int, default=None, help="GD steps per run")
    a = p.parse_args(argv)
    run(a.quick, tuple(int(s) for s in a.seeds.split(",")), a.out, steps=a.steps)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

"""Reverse-mode automatic differentiation against central finite differences: time and error.

Claim (the article, Table 2): automatic differentiation computes gradients in 0.1 of the time of
numerical differentiation (gradient computation time 1.0 -> 0.1).

Reverse mode gives the whole gradient of a scalar loss L(theta) in one forward and one backward pass
(a small constant times the cost of L, whatever the number of parameters P); central differences

    dL/dtheta_i ~ (L(theta + h e_i) - L(theta - h e_i)) / (2 h),   h = 1e-6,

need 2P evaluations of L, and carry an error O(h^2) + O(eps / h).

Setup: an MLP 16-w-w-1 (tanh) in float64 on a fixed batch of 64 inputs, mean squared error, for
widths w giving P from ~50 to ~10^4 (quick: to ~2,000).  Times: the median of repeated runs of
``loss.backward()`` (forward included) and of the 2P forward evaluations (no graph), per seed
(different weights and data); error: max |g_FD - g_AD| / max |g_AD|.

Rule: ratio = time(FD) / time(AD).  *holds* if the mean ratio >= 10 at every P >= 1,000; *holds only
partly* if at some of them; *does not hold* otherwise.

  python -m mathdl.experiments.autodiff_speed [--quick] [--seeds 5] [--out DIR]
"""

from __future__ import annotations

import os
import time

import numpy as np

from . import verdict as V
from .output import pyplot, save_figure, write_json

__all__ = ["gradients", "run", "main"]


def _model(width, seed):
    import mathdl as md
    from mathdl import nn

    md.manual_seed(seed)
    return nn.Sequential(nn.Linear(16, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(),
                         nn.Linear(width, 1)).double()


def gradients(width, seed, h=1e-6, reps=5):
    """(P, AD seconds, FD seconds, relative max error of FD) for one network."""
    import mathdl as md

    model = _model(width, seed)
    rng = np.random.default_rng(seed)
    x = md.tensor(rng.standard_normal((64, 16)))
    y = md.tensor(rng.standard_normal((64, 1)))
    params = list(model.parameters())
    P = int(sum(p.numel() for p in params))

    def loss():
        return ((model(x) - y) ** 2).mean()

    ad_times = []
    for _ in range(reps):
        for p in params:
            p.grad = None
        t0 = time.perf_counter()
        loss().backward()
        ad_times.append(time.perf_counter() - t0)
    g_ad = np.concatenate([p.grad.numpy().ravel() for p in params])

    g_fd = np.empty(P)
    t0 = time.perf_counter()
    with md.no_grad():
        i = 0
        for p in params:
            flat = p.array.reshape(-1)  # a view: the perturbation is seen by the forward pass
            for j in range(flat.size):
                old = flat[j]
                flat[j] = old + h
                up = float(loss().item())
                flat[j] = old - h
                down = float(loss().item())
                flat[j] = old
                g_fd[i] = (up - down) / (2 * h)
                i += 1
    fd_time = time.perf_counter() - t0
    err = float(np.abs(g_fd - g_ad).max() / max(np.abs(g_ad).max(), 1e-300))
    return P, float(np.median(ad_times)), fd_time, err


def run(quick=False, seeds=(0, 1, 2, 3, 4), out=None, log=print, widths=None):
    """Time and error per width and seed; returns the record (setup, measurement, numbers, verdict, figures)."""
    widths = tuple(widths or ((2, 8, 24, 40) if quick else (2, 8, 24, 48, 96)))
    seeds = tuple(int(s) for s in seeds)
    rows = []
    for w in widths:
        for s in seeds:
            P, t_ad, t_fd, err = gradients(w, s)
            rows.append({"width": w, "P": P, "seed": s, "ad_seconds": t_ad, "fd_seconds": t_fd, "ratio": t_fd / t_ad,
                         "fd_rel_error": err})
            log(f"[autodiff_speed] P={P} seed {s}: AD {t_ad * 1e3:.2f} ms, FD {t_fd * 1e3:.1f} ms, ratio "
                f"{t_fd / t_ad:.1f}, FD error {err:.2g}")
    sizes = sorted({r["P"] for r in rows})
    numbers = {str(P): {k: V.spread([r[k] for r in rows if r["P"] == P])
                        for k in ("ad_seconds", "fd_seconds", "ratio", "fd_rel_error")} for P in sizes}
    big = [P for P in sizes if P >= 1000]
    rule = ("ratio = time(central differences) / time(reverse-mode AD) for the full gradient; holds if the mean ratio "
            ">= 10 at every P >= 1,000, holds only partly if at some, else does not hold")
    if not big:
        verdict = V.not_testable("no network with P >= 1,000 parameters was measured")
    else:
        ok = [P for P in big if numbers[str(P)]["ratio"]["mean"] >= 10]
        why = ", ".join(f"P={P}: ratio {numbers[str(P)]['ratio']['mean']:.3g}" for P in big)
        verdict = V.Verdict(V.HOLDS if len(ok) == len(big) else V.PARTLY if ok else V.DOES_NOT_HOLD, rule, why)
    figures = []
    if out:
        os.makedirs(out, exist_ok=True)
        figures.append(_plot(sizes, numbers, os.path.join(out, "autodiff_speed.png")))
    setup = (f"MLP 16-w-w-1 (tanh), float64, batch 64, MSE; widths {list(widths)} (P = {sizes}); AD: median of 5 "
             f"backward() calls (forward included); FD: central differences, h = 1e-6, 2P forward passes; seeds "
             f"{list(seeds)}; times are wall-clock on a shared machine")
    measurement = "; ".join(f"P={P}: AD {numbers[str(P)]['ad_seconds']['mean'] * 1e3:.3g} ms, FD "
                            f"{numbers[str(P)]['fd_seconds']['mean'] * 1e3:.3g} ms, ratio "
                            f"{V.fmt_spread(numbers[str(P)]['ratio'])}, FD error "
                            f"{numbers[str(P)]['fd_rel_error']['mean']:.2g}" for P in sizes)
    rec = {"setup": setup, "measurement": measurement, "numbers": {"by_P": numbers, "runs": rows},
           "verdict": verdict.as_dict(), "figures": figures}
    if out:
        write_json(out, "autodiff_speed.json", rec)
    return rec


def _plot(sizes, numbers, path):
    plt = pyplot()

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    for key, label in (("ad_seconds", "reverse-mode AD"), ("fd_seconds", "central differences")):
        a.errorbar(sizes, [numbers[str(P)][key]["mean"] for P in sizes],
                   yerr=[numbers[str(P)][key]["std"] for P in sizes], marker="o", capsize=3, label=label)
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("parameters P")
    a.set_ylabel("seconds per gradient")
    a.legend()
    b.plot(sizes, [numbers[str(P)]["fd_rel_error"]["mean"] for P in sizes], "o-")
    b.set_xscale("log")
    b.set_yscale("log")
    b.set_xlabel("parameters P")
    b.set_ylabel("max |FD - AD| / max |AD|")
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)


def main(argv=None):
    from .reproduce import experiment_main

    return experiment_main(run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":  # pragma: no cover
    main()

"""Three optimizer claims of the article, measured on data that is here.

1. **Adam vs SGD** (Table 2: Adam's convergence speed 1.0 -> 1.5).  Steps until the full training
   cross-entropy first falls below a target (0.1; checked every 10 steps), MLP 64-128-10 and the
   digits CNN (:func:`mathdl.experiments.classifier_runs.digits_cnn`), batch 64, plain SGD (lr 0.1) and
   Adam (lr 1e-3, PyTorch's default), same initialization and batch order per seed.  A run that never
   reaches the target counts as the step budget.  speed-up = mean steps(SGD) / mean steps(Adam).
   Rule: holds if the speed-up >= 1.5 with Welch p < 0.05 on the steps, for both models; holds only
   partly if Adam is faster (p < 0.05) but by less, or on one model only; else does not hold.
2. **L-BFGS vs first-order methods** (Table 2: training time 100 -> 70 at equal quality).  Full-batch
   tasks: L2-regularized logistic regression on breast cancer (30 standardized features, lambda 1e-2;
   unregularized, the separable data has no minimum) and an MLP 64-32-10 (tanh)
   on 500 digits; full-batch gradient descent (lr 0.5), Adam (lr 0.01) and L-BFGS (lr 1, strong-Wolfe
   line search, 4 iterations a step, the history kept across steps).  Equal quality: the target loss
   of a task and seed is the highest of the methods' lowest losses (every method reaches it);
   measured: wall time until each method first reaches it (L-BFGS's step returns the loss at its
   start, so its time is counted one step late: against it).  ratio = time(L-BFGS) / time(the faster
   first-order method).  Rule: holds if the mean ratio <= 0.7 on every task, holds only partly if < 1
   on some task, else does not hold.
   The PINN (:func:`mathdl.experiments.pinn.solve_poisson`, 1-D Poisson): Adam alone against Adam
   then L-BFGS, error and time, reported alongside.
3. **Lookahead** (section VI: +1.2% accuracy, 30% fewer training runs).  MLP 64-128-10 on digits;
   inner SGD (momentum 0.9) at lr in (0.01, 0.03, 0.1, 0.3) and Adam at lr in (3e-4, 1e-3, 3e-3,
   1e-2), alone and wrapped in Lookahead (k 5, alpha 0.5).  Per seed: the mean test accuracy over the
   learning rates (robustness to the choice: "fewer training runs" to tune it) and its std across the
   learning rates.  Rule: accuracy gain vs +0.012 (verdict.improvement, per inner optimizer) and the
   spread across learning rates 30% lower; holds if both hold for both inner optimizers, holds only
   partly if something holds, else does not hold.

  python -m mathdl.experiments.optimizers [--quick] [--seeds 5] [--out DIR] [--parts adam,lbfgs,lookahead]
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from . import verdict as V
from .classifier_runs import accuracy, digits_cnn, full_loss, load_arrays, mlp, train
from .output import pyplot, save_figure

__all__ = ["adam_vs_sgd", "lbfgs_time", "lookahead", "run", "main"]


def _cfg(x):
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in x.items()}


# --------------------------------------------------------------------------------------------- 1. Adam vs SGD
def adam_vs_sgd(quick=False, seeds=(0, 1, 2, 3, 4), out=None, log=print, max_steps=None, target=0.1,
                models=("mlp", "cnn")):
    from mathdl import optim

    if out:
        os.makedirs(out, exist_ok=True)

    max_steps = max_steps or (1000 if quick else 3000)
    steps = {m: {"sgd": [], "adam": []} for m in models}
    curves = {}
    for s in seeds:
        xtr, ytr, _, _, c = load_arrays("digits", seed=s)
        for m in models:
            for name in ("sgd", "adam"):
                model = mlp((64, 128, c), "relu", seed=s) if m == "mlp" else digits_cnn(seed=s, num_classes=c)
                opt = optim.SGD(model.parameters(), lr=0.1) if name == "sgd" else optim.Adam(model.parameters(),
                                                                                           lr=1e-3)
                trace = []

                def check(k, model=model, trace=trace, xtr=xtr, ytr=ytr):
                    trace.append((k, full_loss(model, xtr, ytr)))
                    model.train()
                    return trace[-1][1] <= target

                train(model, xtr, ytr, opt, max_steps, seed=s, num_classes=c, every=10, on_check=check)
                reached = next((k for k, v in trace if v <= target), None)
                steps[m][name].append(reached if reached is not None else max_steps)
                if s == seeds[0]:
                    curves[(m, name)] = trace
            log(f"[optimizers] adam_vs_sgd seed {s} {m}: steps to loss {target}: SGD {steps[m]['sgd'][-1]}, "
                f"Adam {steps[m]['adam'][-1]}")
    numbers, grades, why = {}, [], []
    for m in models:
        sgd, adam = np.asarray(steps[m]["sgd"], float), np.asarray(steps[m]["adam"], float)
        speedup = float(sgd.mean() / adam.mean())
        p = V.welch_p(sgd, adam)
        sig = (not np.isnan(p)) and p < 0.05
        numbers[m] = {"sgd_steps": V.spread(sgd), "adam_steps": V.spread(adam), "speedup": speedup, "welch_p": p}
        grades.append(V.HOLDS if speedup >= 1.5 and sig else V.PARTLY if speedup > 1 and sig else V.DOES_NOT_HOLD)
        why.append(f"{m}: speed-up {speedup:.3g} (Welch p {p:.3g}) -> {grades[-1]}")
    rule = ("per model, speed-up = mean steps(SGD) / mean steps(Adam) to the target loss; holds if >= 1.5 with Welch "
            "p < 0.05 for every model; holds only partly if some model is faster with Adam (p < 0.05); else does "
            "not hold")
    verdict = V.Verdict(V.HOLDS if all(g == V.HOLDS for g in grades) else V.PARTLY
                        if any(g != V.DOES_NOT_HOLD for g in grades) else V.DOES_NOT_HOLD, rule, "; ".join(why))
    figures = [_plot_curves(curves, os.path.join(out, "adam_vs_sgd.png"), "step", "full training loss", target)] \
        if out else []
    setup = (f"digits; {', '.join(models)} (MLP 64-128-10 ReLU; CNN conv8-conv16-linear), batch 64, SGD lr 0.1 vs "
             f"Adam lr 1e-3; steps until the full training loss <= {target} (checked every 10 steps, budget "
             f"{max_steps}); seeds {list(seeds)}")
    measurement = "; ".join(f"{m}: SGD {V.fmt_spread(numbers[m]['sgd_steps'])} steps, Adam "
                            f"{V.fmt_spread(numbers[m]['adam_steps'])} steps, speed-up {numbers[m]['speedup']:.3g}"
                            for m in models)
    return {"setup": setup, "measurement": measurement,
            "numbers": {"models": numbers, "config": {"max_steps": max_steps, "target": target}},
            "verdict": verdict.as_dict(), "figures": figures}


# --------------------------------------------------------------------------------------------- 2. L-BFGS
L2 = {"logreg": 1e-2, "mlp": 0.0}


def _full_batch_task(name, seed):
    if name == "logreg":
        xtr, ytr, _, _, c = load_arrays("breast_cancer", seed=seed)
        mu, sd = xtr.mean(0), xtr.std(0) + 1e-8
        return (xtr - mu) / sd, ytr, (xtr.shape[1], c), "tanh"
    xtr, ytr, _, _, c = load_arrays("digits", seed=seed)
    return xtr[:500], ytr[:500], (64, 32, c), "tanh"


def _time_to_losses(task, method, seed, budget):
    """Train full batch; returns [(seconds, loss)] after every step (time excludes nothing: the closure's
    forward/backward evaluations are the cost)."""
    import mathdl as md
    import mathdl.nn.functional as F
    from mathdl import optim

    x, y, sizes, act = _full_batch_task(task, seed)
    model = mlp(sizes, act, seed=seed)
    xt, yt = md.tensor(x), md.tensor(y)
    if method == "lbfgs":
        opt = optim.LBFGS(model.parameters(), lr=1, max_iter=4, line_search_fn="strong_wolfe")
        steps = budget["lbfgs"]
    elif method == "adam":
        opt, steps = optim.Adam(model.parameters(), lr=0.01), budget["first_order"]
    else:
        opt, steps = optim.SGD(model.parameters(), lr=0.5), budget["first_order"]

    lam = L2[task]

    def objective():
        loss = F.cross_entropy(model(xt), yt)
        if lam:  # ridge penalty on the weights (not the biases): a unique minimum on separable data
            loss = loss + 0.5 * lam * sum((p * p).sum() for n, p in model.named_parameters() if "weight" in n)
        return loss

    def closure():
        opt.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    trace, t0 = [], time.perf_counter()
    for _ in range(steps):
        loss = opt.step(closure) if method == "lbfgs" else closure()
        if method != "lbfgs":
            opt.step()
        trace.append((time.perf_counter() - t0, float(loss.item())))
    with md.no_grad():
        final = float(objective().item())
    trace.append((time.perf_counter() - t0, final))
    return trace


def lbfgs_time(quick=False, seeds=(0, 1, 2, 3, 4), out=None, log=print, tasks=("logreg", "mlp"), pinn=True,
               budget=None):
    from .pinn import solve_poisson

    if out:
        os.makedirs(out, exist_ok=True)

    budget = budget or ({"first_order": 300, "lbfgs": 75} if quick else {"first_order": 3000, "lbfgs": 500})
    methods = ("gd", "adam", "lbfgs")
    per = {t: {m: [] for m in methods} for t in tasks}
    ratios = {t: [] for t in tasks}
    targets = {t: [] for t in tasks}
    curves = {}
    for s in seeds:
        for t in tasks:
            traces = {m: _time_to_losses(t, m, s, budget) for m in methods}
            target = max(min(v for _, v in tr) for tr in traces.values())
            targets[t].append(target)
            times = {m: next(sec for sec, v in tr if v <= target) for m, tr in traces.items()}
            for m in methods:
                per[t][m].append(times[m])
            ratios[t].append(times["lbfgs"] / min(times["gd"], times["adam"]))
            if s == seeds[0]:
                curves.update({(t, m): tr for m, tr in traces.items()})
            log(f"[optimizers] lbfgs_time seed {s} {t}: target loss {target:.4g}; seconds " + ", ".join(
                f"{m} {times[m]:.3f}" for m in methods))
    numbers = {t: {"seconds": {m: V.spread(v) for m, v in per[t].items()}, "ratio": V.spread(ratios[t]),
                   "target_loss": V.spread(targets[t])} for t in tasks}
    if pinn:
        adam_steps = 300 if quick else 2000
        runs = {"adam": [solve_poisson(s, adam_steps=adam_steps, lbfgs_steps=0)[:2] for s in seeds[:2]],
                "adam+lbfgs": [solve_poisson(s, adam_steps=adam_steps // 10, lbfgs_steps=4)[:2] for s in seeds[:2]]}
        numbers["pinn_poisson"] = {k: {"rel_l2_error": V.spread([r[0] for r in v]),
                                       "seconds": V.spread([r[1] for r in v])} for k, v in runs.items()}
        numbers["pinn_poisson"]["adam_steps"] = adam_steps
        log(f"[optimizers] PINN: {numbers['pinn_poisson']}")
    means = {t: numbers[t]["ratio"]["mean"] for t in tasks}
    rule = ("ratio = time(L-BFGS) / time(faster of GD and Adam) to the same target loss; holds if the mean ratio <= "
            "0.7 on every full-batch task, holds only partly if < 1 on some task, else does not hold")
    why = ", ".join(f"{t}: mean ratio {r:.3g}" for t, r in means.items())
    verdict = V.Verdict(V.HOLDS if all(r <= 0.7 for r in means.values()) else V.PARTLY
                        if any(r < 1 for r in means.values()) else V.DOES_NOT_HOLD, rule, why)
    figures = [_plot_curves(curves, os.path.join(out, "lbfgs_time.png"), "seconds", "full-batch training loss")] \
        if out else []
    setup = (f"full batch: L2-regularized (1e-2) logistic regression on breast cancer (standardized) and MLP "
             f"64-32-10 (tanh) on 500 digits; "
             f"GD lr 0.5 and Adam lr 0.01 ({budget['first_order']} steps) vs L-BFGS (strong Wolfe, 4 iterations a "
             f"step, {budget['lbfgs']} steps); time to the highest of the methods' lowest losses; seeds {list(seeds)}"
             + ("; PINN (1-D Poisson): Adam alone vs Adam then L-BFGS, first two seeds" if pinn else ""))
    measurement = "; ".join(f"{t}: " + ", ".join(f"{m} {V.fmt_spread(numbers[t]['seconds'][m], unit=' s')}"
                                                 for m in methods) + f", ratio {V.fmt_spread(numbers[t]['ratio'])}"
                            for t in tasks)
    if pinn:
        pn = numbers["pinn_poisson"]
        measurement += "; PINN " + ", ".join(f"{k}: error {V.fmt_spread(pn[k]['rel_l2_error'])} in "
                                             f"{V.fmt_spread(pn[k]['seconds'], unit=' s')}" for k in runs)
    return {"setup": setup, "measurement": measurement, "numbers": {**numbers, "budget": budget},
            "verdict": verdict.as_dict(), "figures": figures}


# --------------------------------------------------------------------------------------------- 3. Lookahead
LRS = {"sgd": (0.01, 0.03, 0.1, 0.3), "adam": (3e-4, 1e-3, 3e-3, 1e-2)}


def lookahead(quick=False, seeds=(0, 1, 2, 3, 4), out=None, log=print, steps=None, lrs=None):
    from mathdl import optim

    if out:
        os.makedirs(out, exist_ok=True)

    steps = steps or (400 if quick else 1500)
    lrs = lrs or LRS
    acc = {(inner, la): [] for inner in lrs for la in (False, True)}  # per seed: list over lrs
    for s in seeds:
        xtr, ytr, xte, yte, c = load_arrays("digits", seed=s)
        for inner, grid in lrs.items():
            for la in (False, True):
                row = []
                for lr in grid:
                    model = mlp((64, 128, c), "relu", seed=s)
                    opt = (optim.SGD(model.parameters(), lr=lr, momentum=0.9) if inner == "sgd"
                           else optim.Adam(model.parameters(), lr=lr))
                    if la:
                        opt = optim.Lookahead(opt, k=5, alpha=0.5)
                    train(model, xtr, ytr, opt, steps, seed=s, num_classes=c)
                    row.append(accuracy(model, xte, yte))
                acc[(inner, la)].append(row)
            log(f"[optimizers] lookahead seed {s} {inner}: " + ", ".join(
                f"{'Lookahead' if la else 'alone'} {np.round(acc[(inner, la)][-1], 3).tolist()}"
                for la in (False, True)))
    numbers, grades, why = {}, [], []
    for inner in lrs:
        base, la = np.asarray(acc[(inner, False)]), np.asarray(acc[(inner, True)])
        v = V.improvement(la.mean(1), base.mean(1), 0.012,
                          what=f"Lookahead({inner}) - {inner} accuracy (mean over lrs)")
        sd_base, sd_la = float(base.std(1, ddof=1).mean()), float(la.std(1, ddof=1).mean())
        robust = sd_la <= 0.7 * sd_base
        numbers[inner] = {"alone": V.spread(base.mean(1)), "lookahead": V.spread(la.mean(1)),
                          "std_over_lrs_alone": sd_base, "std_over_lrs_lookahead": sd_la,
                          "per_lr_alone": base.mean(0).tolist(), "per_lr_lookahead": la.mean(0).tolist(),
                          "accuracy_verdict": v.as_dict(), "spread_30pct_lower": robust}
        grades += [v.verdict, V.HOLDS if robust else V.DOES_NOT_HOLD]
        why.append(f"{inner}: {v.why} -> {v.verdict}; std over lrs {sd_base:.4f} -> {sd_la:.4f} "
                   f"({'>= 30% lower' if robust else 'not 30% lower'})")
    rule = ("per inner optimizer: accuracy gain (mean over the learning-rate grid) vs +0.012 with Welch p < 0.05, and "
            "std of the accuracy across learning rates at least 30% lower; holds if all hold, holds only partly "
            "if some hold or hold partly, else does not hold")
    verdict = V.Verdict(V.HOLDS if all(g == V.HOLDS for g in grades) else V.PARTLY
                        if any(g != V.DOES_NOT_HOLD for g in grades) else V.DOES_NOT_HOLD, rule, "; ".join(why))
    figures = [_plot_lookahead(numbers, lrs, os.path.join(out, "lookahead.png"))] if out else []
    names = {"sgd": "SGD (momentum 0.9)", "adam": "Adam"}
    setup = (f"digits, MLP 64-128-10 (ReLU), batch 64, {steps} steps; " + " and ".join(
        f"{names[k]} lr {list(v)}" for k, v in lrs.items()) + f", alone and in Lookahead(k=5, alpha=0.5); seeds "
        f"{list(seeds)}")
    measurement = "; ".join(
        f"{inner}: alone {V.fmt_spread(numbers[inner]['alone'])}, Lookahead {V.fmt_spread(numbers[inner]['lookahead'])}"
        f" (std over lrs {numbers[inner]['std_over_lrs_alone']:.3f} -> {numbers[inner]['std_over_lrs_lookahead']:.3f})"
        for inner in lrs)
    return {"setup": setup, "measurement": measurement,
            "numbers": {"optimizers": numbers, "lrs": {k: list(v) for k, v in lrs.items()}, "steps": steps},
            "verdict": verdict.as_dict(), "figures": figures}


# --------------------------------------------------------------------------------------------- plots, run
def _plot_curves(curves, path, xlabel, ylabel, target=None):
    plt = pyplot()

    groups = sorted({k[0] for k in curves})
    fig, axes = plt.subplots(1, len(groups), figsize=(4.6 * len(groups), 3.4), squeeze=False)
    for ax, g in zip(axes[0], groups):
        for (gg, name), tr in curves.items():
            if gg == g and tr:
                a = np.asarray(tr, float)
                ax.plot(a[:, 0], a[:, 1], label=name)
        if target is not None:
            ax.axhline(target, color="k", ls="--", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(g)
        ax.legend()
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)


def _plot_lookahead(numbers, lrs, path):
    plt = pyplot()

    fig, axes = plt.subplots(1, len(lrs), figsize=(4.6 * len(lrs), 3.4), squeeze=False)
    for ax, inner in zip(axes[0], lrs):
        ax.plot(lrs[inner], numbers[inner]["per_lr_alone"], "o-", label=inner)
        ax.plot(lrs[inner], numbers[inner]["per_lr_lookahead"], "s-", label=f"Lookahead({inner})")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("test accuracy (mean over seeds)")
        ax.legend()
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)


PARTS = {"adam": adam_vs_sgd, "lbfgs": lbfgs_time, "lookahead": lookahead}


def run(quick=False, seeds=(0, 1, 2, 3, 4), out=None, parts=("adam", "lbfgs", "lookahead"), log=print):
    """All three parts; returns {part: record}."""
    seeds = tuple(int(s) for s in seeds)
    res = {}
    for p in parts:
        folder = os.path.join(out, p) if out else None
        if folder:
            os.makedirs(folder, exist_ok=True)
        res[p] = PARTS[p](quick=quick, seeds=seeds, out=folder, log=log)
        if folder:
            with open(os.path.join(folder, f"{p}.json"), "w") as f:
                json.dump(res[p], f, indent=2)
    return res


def main(argv=None):
    from .reproduce import experiment_main

    return experiment_main(run, __doc__.splitlines()[0], argv, options=[
        ("--parts", {"default": ("adam", "lbfgs", "lookahead"), "type": lambda t: tuple(t.split(","))})])


if __name__ == "__main__":  # pragma: no cover
    main()

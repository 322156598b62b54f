"""Swish, GELU, PReLU and Mish against ReLU in the same MLP.

Claim (the article, section V): Swish, x * sigmoid(x), beat ReLU by 0.5% top-1 (small models);
GELU, x * Phi(x), and the learnable PReLU, max(0, x) + a * min(0, x), also improve on ReLU; Mish,
x * tanh(softplus(x)), by up to 1%.

Setup: scikit-learn digits (64 features) and MNIST-1D (40 features, 4,000 train / 1,000 test), an
MLP d-128-128-10 whose two activations are the one under test, everything else fixed per seed
(initialization, batch order): Adam lr 1e-3, batch 64, a fixed number of steps; test accuracy.
Seeds 0..4: mean, std and the 95% interval of the mean.

Rule (per dataset and activation, mathdl.experiments.verdict.improvement): the gain over ReLU in
test accuracy against the claimed gain (Swish 0.005, Mish 0.01, GELU and PReLU 0: "improve"), with
Welch's t-test.  The claim *holds* if every activation holds on every dataset, *holds only partly* if
at least one comparison holds or holds partly, *does not hold* otherwise.

  python -m mathdl.experiments.activations [--quick] [--seeds 5] [--out DIR]
"""

from __future__ import annotations

import os

from . import verdict as V
from .classifier_runs import accuracy, load_arrays, mlp, train
from .output import pyplot, save_figure, write_json

__all__ = ["CLAIMED", "run", "main"]

CLAIMED = {"swish": 0.005, "gelu": 0.0, "prelu": 0.0, "mish": 0.01}
ACTIVATIONS = ("relu", "swish", "gelu", "prelu", "mish")


def _config(quick):
    if quick:
        return {"datasets": ("digits", "mnist1d"), "steps": 1000, "hidden": 64, "n_train": None}
    return {"datasets": ("digits", "mnist1d"), "steps": 3000, "hidden": 128, "n_train": None}


def run(quick=False, seeds=(0, 1, 2, 3, 4), out=None, log=print, **overrides):
    """Train every activation per dataset and seed; returns the record (setup, measurement, numbers, verdict,
    figures).  ``overrides`` replace configuration entries (``datasets``, ``steps``, ``hidden``, ``n_train``)."""
    from mathdl import optim

    cfg = {**_config(quick), **overrides}
    seeds = tuple(int(s) for s in seeds)
    acc = {ds: {a: [] for a in ACTIVATIONS} for ds in cfg["datasets"]}
    for ds in cfg["datasets"]:
        for s in seeds:
            xtr, ytr, xte, yte, c = load_arrays(ds, seed=s)
            if cfg["n_train"]:
                xtr, ytr = xtr[:cfg["n_train"]], ytr[:cfg["n_train"]]
            for a in ACTIVATIONS:
                h = cfg["hidden"]
                model = mlp((xtr.shape[1], h, h, c), a, seed=s)
                train(model, xtr, ytr, optim.Adam(model.parameters(), lr=1e-3), cfg["steps"], seed=s, num_classes=c)
                acc[ds][a].append(accuracy(model, xte, yte))
            log(f"[activations] {ds} seed {s}: " + ", ".join(f"{a} {acc[ds][a][-1]:.3f}" for a in ACTIVATIONS))
    numbers = {ds: {a: V.spread(v) for a, v in d.items()} for ds, d in acc.items()}
    comparisons, grades = {}, []
    for ds in acc:
        for a, claimed in CLAIMED.items():
            v = V.improvement(acc[ds][a], acc[ds]["relu"], claimed, what=f"{a} - ReLU test accuracy", paired=True)
            comparisons[f"{ds}/{a}"] = v.as_dict()
            grades.append(v.verdict)
    rule = ("per dataset and activation: the gain over ReLU in test accuracy vs the claimed gain (Swish 0.005, Mish "
            "0.01, GELU/PReLU 0) with Welch p < 0.05 (verdict.improvement); holds if every comparison holds, holds "
            "only partly if at least one holds or holds partly, else does not hold")
    why = "; ".join(f"{k}: {c['verdict']} ({c['why']})" for k, c in comparisons.items())
    if all(g == V.HOLDS for g in grades):
        verdict = V.Verdict(V.HOLDS, rule, why)
    elif any(g in (V.HOLDS, V.PARTLY) for g in grades):
        verdict = V.Verdict(V.PARTLY, rule, why)
    else:
        verdict = V.Verdict(V.DOES_NOT_HOLD, rule, why)
    figures = []
    if out:
        os.makedirs(out, exist_ok=True)
        figures.append(_plot(numbers, os.path.join(out, "activations.png")))
    setup = (f"{', '.join(cfg['datasets'])}; MLP d-{cfg['hidden']}-{cfg['hidden']}-10 with each activation, Adam lr "
             f"1e-3, batch 64, {cfg['steps']} steps" + (f", first {cfg['n_train']} training examples" if cfg["n_train"]
                                                        else "") + f"; seeds {list(seeds)}")
    measurement = "; ".join(f"{ds}: " + ", ".join(f"{a} {V.fmt_spread(numbers[ds][a])}" for a in ACTIVATIONS)
                            for ds in numbers)
    rec = {"setup": setup, "measurement": measurement, "numbers": {"accuracy": numbers, "comparisons": comparisons,
                                                                    "config": {k: (list(v) if isinstance(v, tuple)
                                                                                   else v) for k, v in cfg.items()}},
           "verdict": verdict.as_dict(), "figures": figures}
    if out:
        write_json(out, "activations.json", rec)
    return rec


def _plot(numbers, path):
    plt = pyplot()

    fig, axes = plt.subplots(1, len(numbers), figsize=(5 * len(numbers), 3.5), squeeze=False)
    for ax, (ds, d) in zip(axes[0], numbers.items()):
        means = [d[a]["mean"] for a in ACTIVATIONS]
        err = [[m - d[a]["ci95"][0] if d[a]["n"] > 1 else 0 for a, m in zip(ACTIVATIONS, means)],
               [d[a]["ci95"][1] - m if d[a]["n"] > 1 else 0 for a, m in zip(ACTIVATIONS, means)]]
        ax.bar(ACTIVATIONS, means, yerr=err, capsize=4, color=["grey"] + ["C0"] * 4)
        ax.set_ylim(min(means) - 0.05, min(1.0, max(means) + 0.03))
        ax.set_title(f"{ds}: test accuracy (95% CI of the mean)")
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)


def main(argv=None):
    from .reproduce import experiment_main

    return experiment_main(run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":  # pragma: no cover
    main()

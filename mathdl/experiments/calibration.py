"""Is softmax + cross-entropy better calibrated than softmax + squared error?

Claim (the article, section V): cross-entropy loss with a softmax output gives more accurate
probability estimates than other losses such as mean squared error.

Setup: scikit-learn digits and MNIST-1D; the same MLP d-128-128-10 (ReLU) with a softmax output
p = softmax(z), trained per seed from the same initialization and batch order either on the
cross-entropy -log p_y or on the squared error sum_k (p_k - [k = y])^2 (the Brier loss), Adam lr
1e-3, batch 64.  Scored on the test split with :mod:`mathdl.metrics`: expected calibration error
(15 equal-width confidence bins, ECE = sum_b |B_b|/n |acc(B_b) - conf(B_b)|), NLL and accuracy.

Rule (mathdl.experiments.verdict.improvement, lower is better, claimed gain 0): per dataset, CE's
ECE and NLL against MSE's with Welch's t-test.  *holds* if CE is significantly better on both
metrics on every dataset, *holds only partly* if on some, *does not hold* if on none.

  python -m mathdl.experiments.calibration [--quick] [--seeds 5] [--out DIR]
"""

from __future__ import annotations

import os

from . import verdict as V
from .classifier_runs import load_arrays, mlp, probabilities, train
from .output import pyplot, save_figure, write_json

__all__ = ["run", "main"]

LOSSES = ("ce", "mse")
METRICS = ("ece", "nll", "accuracy")


def _config(quick):
    if quick:
        return {"datasets": ("digits", "mnist1d"), "steps": 1000, "hidden": 64, "n_train": None}
    return {"datasets": ("digits", "mnist1d"), "steps": 3000, "hidden": 128, "n_train": None}


def run(quick=False, seeds=(0, 1, 2, 3, 4), out=None, log=print, **overrides):
    """Train with each loss per dataset and seed; returns the record (setup, measurement, numbers, verdict,
    figures).  ``overrides``: ``datasets``, ``steps``, ``hidden``, ``n_train``."""
    from mathdl import metrics, optim

    cfg = {**_config(quick), **overrides}
    seeds = tuple(int(s) for s in seeds)
    vals = {ds: {loss: {m: [] for m in METRICS} for loss in LOSSES} for ds in cfg["datasets"]}
    diagrams = {}
    for ds in cfg["datasets"]:
        for s in seeds:
            xtr, ytr, xte, yte, c = load_arrays(ds, seed=s)
            if cfg["n_train"]:
                xtr, ytr = xtr[:cfg["n_train"]], ytr[:cfg["n_train"]]
            for loss in LOSSES:
                model = mlp((xtr.shape[1], cfg["hidden"], cfg["hidden"], c), "relu", seed=s)
                train(model, xtr, ytr, optim.Adam(model.parameters(), lr=1e-3), cfg["steps"], seed=s, loss=loss,
                      num_classes=c)
                p = probabilities(model, xte)
                vals[ds][loss]["ece"].append(metrics.expected_calibration_error(p, yte))
                vals[ds][loss]["nll"].append(metrics.nll(p, yte))
                vals[ds][loss]["accuracy"].append(metrics.accuracy(p, yte))
                if s == seeds[0]:
                    diagrams[(ds, loss)] = p, yte
            log(f"[calibration] {ds} seed {s}: " + ", ".join(
                f"{loss} ECE {vals[ds][loss]['ece'][-1]:.4f} NLL {vals[ds][loss]['nll'][-1]:.3f}" for loss in LOSSES))
    numbers = {ds: {loss: {m: V.spread(v) for m, v in d.items()} for loss, d in dd.items()} for ds, dd in vals.items()}
    comparisons, wins = {}, []
    for ds in vals:
        for m in ("ece", "nll"):
            v = V.improvement(vals[ds]["ce"][m], vals[ds]["mse"][m], 0.0, higher_is_better=False, paired=True,
                              what=f"{m.upper()} reduction (MSE - CE)")
            comparisons[f"{ds}/{m}"] = v.as_dict()
            wins.append(v.verdict == V.HOLDS)
    rule = ("per dataset, CE's ECE and NLL against MSE's: CE better with Welch p < 0.05 counts as a win; holds if "
            "every comparison is a win, holds only partly if some are, else does not hold")
    why = "; ".join(f"{k}: {c['why']}" for k, c in comparisons.items())
    verdict = V.Verdict(V.HOLDS if all(wins) else V.PARTLY if any(wins) else V.DOES_NOT_HOLD, rule, why)
    figures = []
    if out:
        os.makedirs(out, exist_ok=True)
        figures.append(_plot(diagrams, os.path.join(out, "calibration.png")))
    setup = (f"{', '.join(cfg['datasets'])}; MLP d-{cfg['hidden']}-{cfg['hidden']}-10 (ReLU), softmax output trained "
             f"on cross-entropy or on squared error of the probabilities (Brier), Adam lr 1e-3, batch 64, "
             f"{cfg['steps']} steps" + (f", first {cfg['n_train']} training examples" if cfg["n_train"] else "")
             + f"; ECE with 15 bins; seeds {list(seeds)}")
    measurement = "; ".join(
        f"{ds} {loss}: ECE {V.fmt_spread(numbers[ds][loss]['ece'])}, NLL {V.fmt_spread(numbers[ds][loss]['nll'])}, "
        f"accuracy {V.fmt_spread(numbers[ds][loss]['accuracy'])}" for ds in numbers for loss in LOSSES)
    rec = {"setup": setup, "measurement": measurement,
           "numbers": {"metrics": numbers, "comparisons": comparisons,
                       "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()}},
           "verdict": verdict.as_dict(), "figures": figures}
    if out:
        write_json(out, "calibration.json", rec)
    return rec


def _plot(diagrams, path):
    """Reliability diagrams of the first seed: accuracy against confidence per bin, per dataset and loss."""
    plt = pyplot()

    from mathdl.metrics import reliability_diagram

    fig, axes = plt.subplots(1, len(diagrams), figsize=(3.6 * len(diagrams), 3.4), squeeze=False)
    for ax, ((ds, loss), (p, y)) in zip(axes[0], diagrams.items()):
        reliability_diagram(p, y, None, title=f"{ds}, {loss}", ax=ax)
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)


def main(argv=None):
    from .reproduce import experiment_main

    return experiment_main(run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":  # pragma: no cover
    main()

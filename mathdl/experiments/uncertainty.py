"""Which uncertainty methods know what they do not know? (Gal & Ghahramani 2016; Blundell et al.
2015; Ritter et al. 2018; Lakshminarayanan et al. 2017; Maddox et al. 2019)

Claim (the article): Bayesian neural networks give useful uncertainty — it cites an AUROC of 0.936
for BNN uncertainty in diabetic retinopathy.  That data is not here; what is measured instead is
whether each method's uncertainty beats a deterministic network's on data that is here.

Setup.  Digits (scikit-learn 8x8, 64 standardized features): train on classes 0-4, test on the
test split's 0-4 (in-domain) and use its 5-9 as out-of-distribution inputs.  Breast cancer (30
features, 2 classes): in-domain only (no OOD set).  Model: an MLP 64 (30) -> 128 -> 5 (2), ReLU,
Adam (lr 1e-3, batch 64) with weight decay 1e-4; per seed (3 by default):

* ``deterministic``: the MLP's softmax;
* ``mc_dropout``: the same MLP with dropout p=0.2 after the hidden layer, T=30 passes;
* ``bbb``: BayesLinear layers (Gaussian prior sigma=1, rho_0=-5, local reparameterization),
  ELBO with KL weight 1/N, 30 samples;
* ``laplace_last``: full-GGN Laplace of the deterministic net's last layer, prior precision by
  marginal likelihood, probit predictive;
* ``laplace_kfac``: K-FAC-GGN Laplace of all the deterministic net's weights, same;
* ``ensemble``: 5 deterministic nets from different initializations and data orders;
* ``swag``: from the deterministic net, SGD (lr 0.01, momentum 0.9) for 20 more epochs, one
  snapshot per epoch, rank K=20, 30 samples.

Metrics (:mod:`mathdl.metrics`): accuracy, NLL, Brier, ECE (15 bins), misclassification AUROC and
OOD AUROC of the predictive entropy.  Verdict rule: for each method and each of NLL, ECE,
misclassification AUROC and OOD AUROC, the gain over the deterministic net and Welch's p over the
seeds; a method "beats" the deterministic net on a metric when the gain is positive with p < 0.05.
Overall: holds if every Bayesian method beats it on OOD AUROC (digits), holds only partly if some
do, does not hold if none does.

    python -m mathdl.experiments.uncertainty [--quick] [--seeds 3] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from .verdict import DOES_NOT_HOLD, HOLDS, PARTLY, Verdict, fmt_spread, spread, welch_p
from .output import pyplot, save_figure, write_json

__all__ = ["run", "METHODS", "prepare", "train_classifier"]

METHODS = ("deterministic", "mc_dropout", "bbb", "laplace_last", "laplace_kfac", "ensemble", "swag")
METRICS = ("accuracy", "nll", "brier", "ece", "misclassification_auroc", "ood_auroc")
HIGHER = {"accuracy": True, "nll": False, "brier": False, "ece": False, "misclassification_auroc": True,
          "ood_auroc": True}

FULL = dict(epochs=40, bbb_epochs=150, swag_epochs=20, members=5, samples=30, hidden=128)
QUICK = dict(epochs=4, bbb_epochs=4, swag_epochs=3, members=2, samples=4, hidden=32)


# ---------------------------------------------------------------------- data
def prepare(dataset, seed):
    """(x_train, y_train, x_test, y_test, x_ood or None, num_classes) as float32/int64 arrays."""
    from ..data import load_dataset

    spec = load_dataset(dataset, seed=seed)
    xtr, ytr = (np.asarray(a) for a in spec.train.arrays)
    xte, yte = (np.asarray(a) for a in spec.test.arrays)
    xtr, xte = xtr.astype(np.float32), xte.astype(np.float32)
    ytr, yte = ytr.astype(np.int64), yte.astype(np.int64)
    if dataset == "digits":
        ood = xte[yte >= 5]
        return xtr[ytr < 5], ytr[ytr < 5], xte[yte < 5], yte[yte < 5], ood, 5
    return xtr, ytr, xte, yte, None, int(spec.num_classes)


# ---------------------------------------------------------------------- training
def train_classifier(model, x, y, epochs, seed, lr=1e-3, batch_size=64, weight_decay=1e-4, loss_fn=None,
                     optimizer=None, on_epoch=None):
    """Minibatch training of ``model`` on arrays (x, y); ``loss_fn(model, xb, yb, i, num_batches)``
    defaults to cross-entropy; ``on_epoch(model, epoch)`` runs after each epoch."""
    from .. import optim, tensor
    from ..nn import functional as F

    rng = np.random.default_rng(seed)
    opt = optimizer or optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    n = len(x)
    nb = (n + batch_size - 1) // batch_size
    model.train()
    for ep in range(epochs):
        perm = rng.permutation(n)
        for i in range(nb):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            xb, yb = tensor(x[idx]), tensor(y[idx])
            loss = F.cross_entropy(model(xb), yb) if loss_fn is None else loss_fn(model, xb, yb, i, nb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if on_epoch is not None:
            on_epoch(model, ep)
    model.eval()
    return model


def _mlp(d, c, hidden, dropout=0.0):
    from ..models.mlp import MLP

    return MLP(d, (hidden,), c, "relu", dropout)


def _softmax_model(model, x):
    from .. import no_grad, tensor

    model.eval()
    with no_grad():
        f = model(tensor(x)).numpy().astype(np.float64)
    f -= f.max(1, keepdims=True)
    e = np.exp(f)
    return e / e.sum(1, keepdims=True)


def fit_methods(x, y, c, seed, cfg, methods=METHODS, timings=None):
    """Train every method on (x, y); returns {method: predict_proba(x) callable}."""
    from .. import manual_seed
    from ..bayes import SWAG, BBBPredictive, DeepEnsemble, Laplace, MCDropout, kl_divergence
    from ..bayes.bbb import bayesify, elbo_loss
    from ..optim import SGD

    d = x.shape[1]
    preds = {}
    timings = {} if timings is None else timings

    def timed(name, fn):
        t0 = time.perf_counter()
        out = fn()
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
        return out

    def det(s):
        manual_seed(s)
        return train_classifier(_mlp(d, c, cfg["hidden"]), x, y, cfg["epochs"], s)

    base = timed("deterministic", lambda: det(seed))
    preds["deterministic"] = lambda z: _softmax_model(base, z)
    if "mc_dropout" in methods:
        def mcd():
            manual_seed(seed)
            return MCDropout(train_classifier(_mlp(d, c, cfg["hidden"], 0.2), x, y, cfg["epochs"], seed),
                             cfg["samples"])
        m = timed("mc_dropout", mcd)
        preds["mc_dropout"] = m.predict_proba
    if "bbb" in methods:
        def bbb():
            manual_seed(seed)
            net = bayesify(_mlp(d, c, cfg["hidden"]), prior_sigma=1.0, posterior_rho_init=-5.0)
            n = len(x)

            def loss(model, xb, yb, i, nb):
                return elbo_loss(model(xb), yb, kl_divergence(model), 1.0 / n)
            train_classifier(net, x, y, cfg["bbb_epochs"], seed, weight_decay=0.0, loss_fn=loss)
            return BBBPredictive(net, cfg["samples"])
        m = timed("bbb", bbb)
        preds["bbb"] = m.predict_proba
    if "laplace_last" in methods:
        def ll():
            la = Laplace(base, subset="last_layer", hessian_structure="full").fit((x, y))
            la.optimize_prior_precision()
            return la
        la_last = timed("laplace_last", ll)
        preds["laplace_last"] = la_last.predict_proba
    if "laplace_kfac" in methods:
        def lk():
            la = Laplace(base, subset="all", hessian_structure="kron").fit((x, y))
            la.optimize_prior_precision()
            return la
        la_k = timed("laplace_kfac", lk)
        preds["laplace_kfac"] = la_k.predict_proba
    if "ensemble" in methods:
        def ens():
            return DeepEnsemble([base] + [det(seed + 1000 * k) for k in range(1, cfg["members"])])
        e = timed("ensemble", ens)
        preds["ensemble"] = e.predict_proba
    if "swag" in methods:
        def swag():
            import copy

            net = copy.deepcopy(base)
            sw = SWAG(net, max_num_models=max(2, min(20, cfg["swag_epochs"])))
            opt = SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
            train_classifier(net, x, y, cfg["swag_epochs"], seed + 7, optimizer=opt,
                             on_epoch=lambda model, ep: sw.collect_model(model))
            return sw
        sw = timed("swag", swag)
        preds["swag"] = lambda z, sw=sw: sw.predict_proba(z, cfg["samples"])
    return preds


def evaluate(probs, y, probs_ood=None):
    from .. import metrics

    out = {"accuracy": metrics.accuracy(probs, y), "nll": metrics.nll(probs, y), "brier": metrics.brier_score(probs, y),
           "ece": metrics.expected_calibration_error(probs, y)}
    wrong = probs.argmax(1) != y
    out["misclassification_auroc"] = (metrics.misclassification_auroc(probs, y)[0] if 0 < wrong.sum() < len(y)
                                      else float("nan"))
    if probs_ood is not None:
        ent = metrics.predictive_entropy
        out["ood_auroc"] = metrics.ood_auroc(ent(probs), ent(probs_ood))[0]
    return out


def _diagrams(all_probs, y, path, title):
    plt = pyplot()

    from ..metrics import reliability_diagram

    names = list(all_probs)
    cols = 4
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.3 * rows))
    axes = np.atleast_1d(axes).ravel()
    for ax, name in zip(axes, names):
        reliability_diagram(all_probs[name], y, None, title=name, ax=ax)
    for ax in axes[len(names):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)
    return path


def _compare(per_seed, methods, metrics_):
    out = {}
    base = per_seed["deterministic"]
    for m in methods:
        if m == "deterministic":
            continue
        out[m] = {}
        for k in metrics_:
            a, b = np.asarray(per_seed[m][k]), np.asarray(base[k])
            a, b = a[np.isfinite(a)], b[np.isfinite(b)]  # misclassification AUROC is undefined with no errors
            if a.size == 0 or b.size == 0:
                continue
            gain = float(a.mean() - b.mean()) if HIGHER[k] else float(b.mean() - a.mean())
            p = welch_p(a, b)
            out[m][k] = {"gain": gain, "p": p, "beats": bool(gain > 0 and not np.isnan(p) and p < 0.05)}
    return out


def run(quick=False, seeds=(0, 1, 2), out=None, datasets=("digits", "breast_cancer"), methods=METHODS, log=print):
    """Train and score every method per seed; returns {"numbers", "comparison", "verdict", "summary", ...}."""
    cfg = QUICK if quick else FULL
    seeds = tuple(int(s) for s in seeds)
    numbers, comparison, figures, timings = {}, {}, [], {}
    if out:
        os.makedirs(out, exist_ok=True)
    t_start = time.perf_counter()
    for ds in datasets:
        per_seed = {m: {k: [] for k in METRICS} for m in methods}
        for s in seeds:
            x, y, xt, yt, xo, c = prepare(ds, s)
            preds = fit_methods(x, y, c, s, cfg, methods, timings)
            probs_seed = {}
            for m in methods:
                p = preds[m](xt)
                po = preds[m](xo) if xo is not None else None
                probs_seed[m] = p
                for k, v in evaluate(p, yt, po).items():
                    per_seed[m][k].append(v)
            if out and s == seeds[0]:
                figures.append(os.path.basename(_diagrams(probs_seed, yt, os.path.join(out, f"reliability_{ds}.png"),
                                                          f"{ds}, seed {s}")))
            log(f"{ds} seed {s}: " + ", ".join(f"{m} acc {per_seed[m]['accuracy'][-1]:.3f}" for m in methods))
        mets = [k for k in METRICS if per_seed["deterministic"][k]]
        numbers[ds] = {m: {k: spread([v for v in per_seed[m][k] if np.isfinite(v)]) for k in mets
                           if np.isfinite(per_seed[m][k]).any()} for m in methods}
        comparison[ds] = _compare(per_seed, methods, mets)
    summary = []
    for ds, comp in comparison.items():
        for m, row in comp.items():
            wins = [f"{k} by {v['gain']:+.3g} (p={v['p']:.2g})" for k, v in row.items() if v["beats"]]
            worse = [f"{k} by {-v['gain']:.3g} (p={v['p']:.2g})" for k, v in row.items()
                     if v["gain"] < 0 and not np.isnan(v["p"]) and v["p"] < 0.05]
            summary.append(f"{ds}: {m} beats the deterministic net on " + (", ".join(wins) if wins else "nothing")
                           + (f"; is significantly worse on {', '.join(worse)}" if worse else "")
                           + (f"; OOD AUROC gain {row['ood_auroc']['gain']:+.4f} (p={row['ood_auroc']['p']:.2g})"
                              if "ood_auroc" in row else ""))
    verdict = _verdict(comparison)
    result = {"numbers": numbers, "comparison": comparison, "summary": summary, "verdict": verdict.as_dict(),
              "figures": figures, "config": {"quick": bool(quick), "seeds": list(seeds), **cfg},
              "time_s": time.perf_counter() - t_start, "method_time_s": timings,
              "setup": ("digits 0-4 in-domain / 5-9 OOD and breast cancer; MLP hidden "
                        f"{cfg['hidden']}, {cfg['epochs']} epochs; {len(seeds)} seeds")}
    result["measurement"] = "; ".join(
        f"{ds} {m} OOD AUROC {fmt_spread(numbers[ds][m]['ood_auroc'])}" for ds in numbers for m in numbers[ds]
        if "ood_auroc" in numbers[ds][m])
    if out:
        write_json(out, "uncertainty.json", result, default=float)
        with open(os.path.join(out, "uncertainty.md"), "w") as f:
            f.write(table(result))
    return result


def _verdict(comparison):
    rule = ("holds if every method beats the deterministic net's OOD AUROC on digits (gain > 0, Welch p < 0.05); "
            "holds only partly if some do; does not hold if none does")
    comp = comparison.get("digits")
    if not comp:
        from .verdict import not_testable

        return not_testable("digits (the OOD task) was not run")
    winners = [m for m, row in comp.items() if row.get("ood_auroc", {}).get("beats")]
    why = f"{len(winners)} of {len(comp)} methods beat it on OOD AUROC: {', '.join(winners) or 'none'}"
    if len(winners) == len(comp):
        return Verdict(HOLDS, rule, why)
    return Verdict(PARTLY if winners else DOES_NOT_HOLD, rule, why)


def table(result) -> str:
    """A markdown table per dataset: mean ± std over seeds of every metric and method."""
    lines = []
    for ds, rows in result["numbers"].items():
        mets = [k for k in METRICS if any(k in r for r in rows.values())]
        lines.append(f"\n### {ds}\n")
        lines.append("| method | " + " | ".join(mets) + " |")
        lines.append("|---" * (len(mets) + 1) + "|")
        for m, r in rows.items():
            n = r["accuracy"]["n"]

            def cell(k, r=r, n=n):
                if k not in r:
                    return "—"
                return f"{r[k]['mean']:.3f} ± {r[k]['std']:.3f}" + (f" (n={r[k]['n']})" if r[k]["n"] != n else "")
            lines.append(f"| {m} | " + " | ".join(cell(k) for k in mets) + " |")
    lines.append("\n" + "\n".join(result["summary"]))
    lines.append(f"\nverdict: {result['verdict']['verdict']} ({result['verdict']['why']})\n")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default="runs/uncertainty")
    args = ap.parse_args(argv)
    res = run(args.quick, tuple(range(args.seeds)), args.out)
    print(table(res))
    print(f"({res['time_s']:.1f} s; written to {args.out})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

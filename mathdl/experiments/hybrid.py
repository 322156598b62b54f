"""Does a neural network feeding soft evidence to a Bayesian network beat both alone?

Claim (the article): a hybrid of a neural network and a Bayesian network outperformed both
standalone parts.

Setup: breast cancer (scikit-learn, 569 cases, standardized; diagnosis D: 0 malignant, 1 benign).
The Bayesian network's structure (given, not learned):

    D -> Size      (mean area, tertiles of the training set: 3 states)
    D -> Texture   (mean texture, tertiles: 3 states)
    D, Size -> Shape (mean concave points, tertiles: 3 states)
    D -> Morph     (latent, 3 states; observed only through soft evidence)

* **BN alone**: CPTs by maximum likelihood (counts, add-one smoothing) on the training set; p(D |
  Size, Texture, Shape) by variable elimination (Morph sums out).
* **NN alone**: an MLP 10 -> 16 -> 2 (ReLU) on the ten "worst" features (columns 20-29), Adam on
  the cross-entropy.
* **hybrid**: the same MLP's softmax over 3 outputs is soft evidence lambda(Morph); the posterior
  p(D | Size, Texture, Shape, lambda) by exact inference (:mod:`mathdl.bayes.network`); the MLP and
  all CPTs (initialized from the counts) are trained together end to end by maximizing the
  conditional log-likelihood Σ_n log p(D = y_n | evidence_n).

The hybrid sees the union of both parts' inputs (discretized mean features + worst features).
Scores on the test split: accuracy and NLL, 3 seeds (split and initialization per seed).
Verdict rule: holds if the hybrid's mean NLL is below both parts' with Welch p < 0.05 against each;
holds only partly if it is below both but significantly so against only one or none; does not hold
if it is not below both.

    python -m mathdl.experiments.hybrid [--quick] [--seeds 3] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from .verdict import DOES_NOT_HOLD, HOLDS, PARTLY, Verdict, fmt_spread, spread, welch_p
from .output import write_json

__all__ = ["run", "STRUCTURE", "build_network"]

STRUCTURE = {"D": [], "Size": ["D"], "Texture": ["D"], "Shape": ["D", "Size"], "Morph": ["D"]}
CARD = {"D": 2, "Size": 3, "Texture": 3, "Shape": 3, "Morph": 3}
COLUMNS = {"Size": 3, "Texture": 1, "Shape": 7}   # mean area, mean texture, mean concave points
NN_COLUMNS = list(range(20, 30))                   # the "worst" features

FULL = dict(steps=400, lr=0.01)
QUICK = dict(steps=25, lr=0.02)


def build_network():
    from ..bayes import DiscreteBayesianNetwork

    return DiscreteBayesianNetwork(CARD, STRUCTURE)


def _discretize(xtr, xte):
    out_tr, out_te = {}, {}
    for v, c in COLUMNS.items():
        cuts = np.quantile(xtr[:, c], [1 / 3, 2 / 3])
        out_tr[v] = np.searchsorted(cuts, xtr[:, c], side="right")
        out_te[v] = np.searchsorted(cuts, xte[:, c], side="right")
    return out_tr, out_te


def _mlp(out):
    from .. import nn

    return nn.Sequential(nn.Linear(len(NN_COLUMNS), 16), nn.ReLU(), nn.Linear(16, out)).double()


def _fit(params, loss_fn, steps, lr):
    from .. import optim

    opt = optim.Adam(params, lr=lr)
    for _ in range(steps):
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()


def _scores(probs, y):
    from .. import metrics

    p = np.clip(np.asarray(probs, np.float64), 1e-12, 1)
    p = p / p.sum(1, keepdims=True)
    return {"accuracy": metrics.accuracy(p, y), "nll": metrics.nll(p, y)}


def run_seed(seed, cfg):
    from .. import manual_seed, no_grad, softmax, tensor
    from ..data import load_dataset
    from ..nn import functional as F

    spec = load_dataset("breast_cancer", seed=seed)
    xtr, ytr = (np.asarray(a) for a in spec.train.arrays)
    xte, yte = (np.asarray(a) for a in spec.test.arrays)
    xtr, xte = xtr.astype(np.float64), xte.astype(np.float64)
    ytr, yte = ytr.astype(np.int64), yte.astype(np.int64)
    dtr, dte = _discretize(xtr, xte)
    ntr, nte = tensor(xtr[:, NN_COLUMNS]), tensor(xte[:, NN_COLUMNS])
    out = {}

    # BN alone: counts
    bn = build_network()
    rng = np.random.default_rng(seed)
    bn.fit_counts({**dtr, "D": ytr, "Morph": rng.integers(0, 3, len(ytr))})
    with no_grad():
        out["bn"] = _scores(bn.marginal("D", evidence=dte).numpy(), yte)

    # NN alone
    manual_seed(seed)
    nn_alone = _mlp(2)
    yt = tensor(ytr)
    _fit(list(nn_alone.parameters()), lambda: F.cross_entropy(nn_alone(ntr), yt), cfg["steps"], cfg["lr"])
    with no_grad():
        out["nn"] = _scores(softmax(nn_alone(nte), dim=1).numpy(), yte)

    # hybrid: the NN's softmax is soft evidence on Morph; CPTs start from the counts
    manual_seed(seed)
    enc = _mlp(3)
    hyb = build_network()
    hyb.fit_counts({**dtr, "D": ytr, "Morph": rng.integers(0, 3, len(ytr))})
    onehot = tensor(np.eye(2)[ytr])

    def hybrid_loss():
        logp = hyb.log_marginal("D", evidence=dtr, soft_evidence={"Morph": softmax(enc(ntr), dim=1)})
        return -(logp * onehot).sum() / len(ytr)

    _fit(list(enc.parameters()) + list(hyb.parameters()), hybrid_loss, cfg["steps"], cfg["lr"])
    with no_grad():
        p = hyb.marginal("D", evidence=dte, soft_evidence={"Morph": softmax(enc(nte), dim=1)}).numpy()
    out["hybrid"] = _scores(p, yte)
    return out


def run(quick=False, seeds=(0, 1, 2), out=None, log=print):
    cfg = QUICK if quick else FULL
    t0 = time.perf_counter()
    per = {m: {"accuracy": [], "nll": []} for m in ("hybrid", "nn", "bn")}
    for s in seeds:
        r = run_seed(int(s), cfg)
        for m in per:
            for k in per[m]:
                per[m][k].append(r[m][k])
        log(f"seed {s}: " + ", ".join(f"{m} acc {r[m]['accuracy']:.3f} nll {r[m]['nll']:.3f}" for m in per))
    numbers = {m: {k: spread(v) for k, v in d.items()} for m, d in per.items()}
    comparison = {}
    for other in ("nn", "bn"):
        comparison[other] = {
            "nll_gain": float(np.mean(per[other]["nll"]) - np.mean(per["hybrid"]["nll"])),
            "nll_p": welch_p(per["hybrid"]["nll"], per[other]["nll"]),
            "accuracy_gain": float(np.mean(per["hybrid"]["accuracy"]) - np.mean(per[other]["accuracy"])),
            "accuracy_p": welch_p(per["hybrid"]["accuracy"], per[other]["accuracy"]),
        }
    verdict = _verdict(comparison)
    result = {"numbers": numbers, "comparison": comparison, "verdict": verdict.as_dict(),
              "structure": {v: ps for v, ps in STRUCTURE.items()}, "cardinalities": CARD,
              "config": {"quick": bool(quick), "seeds": [int(s) for s in seeds], **cfg},
              "time_s": time.perf_counter() - t0,
              "setup": "breast cancer; BN D->Size,Texture,Morph; D,Size->Shape; NN 10->16 on the worst features",
              "measurement": "; ".join(f"{m}: accuracy {fmt_spread(numbers[m]['accuracy'])}, "
                                       f"NLL {fmt_spread(numbers[m]['nll'])}" for m in numbers),
              "figures": []}
    if out:
        os.makedirs(out, exist_ok=True)
        write_json(out, "hybrid.json", result, default=float)
    return result


def _verdict(comparison):
    rule = ("holds if the hybrid's mean test NLL is below both the NN's and the BN's with Welch p < 0.05 against "
            "each; holds only partly if below both but not significantly against both; does not hold otherwise")
    below = all(c["nll_gain"] > 0 for c in comparison.values())
    sig = [k for k, c in comparison.items() if c["nll_gain"] > 0 and not np.isnan(c["nll_p"]) and c["nll_p"] < 0.05]
    why = "; ".join(f"NLL gain over {k} {c['nll_gain']:+.4f} (p={c['nll_p']:.3g}), accuracy gain "
                    f"{c['accuracy_gain']:+.4f}" for k, c in comparison.items())
    if below and len(sig) == len(comparison):
        return Verdict(HOLDS, rule, why)
    return Verdict(PARTLY if below else DOES_NOT_HOLD, rule, why)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default="runs/hybrid")
    args = ap.parse_args(argv)
    res = run(args.quick, tuple(range(args.seeds)), args.out)
    print("| model | accuracy | NLL |\n|---|---|---|")
    for m, r in res["numbers"].items():
        print(f"| {m} | {fmt_spread(r['accuracy'])} | {fmt_spread(r['nll'])} |")
    print(f"verdict: {res['verdict']['verdict']} — {res['verdict']['why']}")
    print(f"({res['time_s']:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

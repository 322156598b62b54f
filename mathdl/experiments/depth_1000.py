"""Training 1,001-layer networks: with skip connections and without.

Claim (the article, section III and Table 2): ResNet's ReLU activations and skip connections let
networks grow from 50 to more than 1,000 layers and still train.

:mod:`mathdl.experiments.depth` (not this module's) compares residual and plain networks up to 110
layers and runs one forward/backward pass through 1,001 layers; this module *trains* 1,001-layer
networks, built and trained by that module's functions (``depth._model``, ``depth.train_budget``):
the CIFAR-layout bottleneck ResNet of depth 9n + 2 = 1,001 (n = 111 bottleneck blocks per stage,
stage widths 4, 8, 16, x4 in the bottleneck outputs) and the same network without its skip connections, on
scikit-learn digits as 1 x 8 x 8 images, SGD (momentum 0.9, weight decay 5e-4, cosine decay from
lr 0.05), batch 32, 300 steps (quick: 30 for the residual net, 10 for the plain one).
The residual net's last BatchNorm scale in every block starts at 0 ("zero-init
residual", Goyal et al. 2017), so each block starts as the identity: without it the sum of 333
post-activation branches makes the initial logits explode (mathdl's ResNet is post-activation,
unlike He et al.'s pre-activation ResNet-1001).  The plain net keeps its default initialization
(zeroing its scales would zero its signal).

Rule: the residual net "trains" in a run when its mean training loss over the last 10% of steps is
finite and at most 0.9 times its initial loss.  *holds* if it trains in every run and reaches a test accuracy
>= 0.9 (full budget) in every run; *holds only partly* if it trains but stays below 0.9 (e.g. the quick
budget); *does not hold* if it does not train.  The plain net is reported for contrast.

  python -m mathdl.experiments.depth_1000 [--quick] [--seeds 2] [--steps 300] [--out DIR]
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from . import verdict as V
from .output import pyplot, save_figure, write_json

__all__ = ["DEPTH", "train_deep", "run", "main"]

DEPTH = 1001


def train_deep(residual, steps, seed, width=4, batch=32, lr=0.05, depth=DEPTH):
    """Train one network of ``depth`` layers; returns its losses, test accuracy and seconds."""
    import mathdl as md
    from mathdl.models.resnet import Bottleneck

    from .depth import _blas_limit, _data, _model, train_budget

    spec, train, test = _data(seed)
    md.manual_seed(seed)
    model = _model(spec, depth, residual, width, block="bottleneck")
    if residual:
        for m in model.modules():
            if isinstance(m, Bottleneck):
                m.bn3.weight.array[...] = 0.0
    t0 = time.perf_counter()
    with _blas_limit(1), np.errstate(all="ignore"):
        losses, acc = train_budget(model, train, test, steps, batch=batch, lr=lr, seed=seed)
    tail = losses[-max(1, steps // 10):]
    final = float(np.mean(tail))
    return {"residual": residual, "seed": seed, "depth": depth, "losses": losses, "initial_loss": losses[0],
            "final_loss": final if math.isfinite(final) else None, "test_accuracy": acc,
            "trains": bool(math.isfinite(final) and final <= 0.9 * losses[0]),
            "parameters": int(sum(p.numel() for p in model.parameters())), "seconds": time.perf_counter() - t0}


def run(quick=False, seeds=(0, 1), out=None, log=print, steps=None, depth=DEPTH):
    """Residual and plain ``depth``-layer networks per seed; returns the record."""
    steps = steps or (30 if quick else 300)
    plain_steps = 10 if quick else steps
    seeds = tuple(int(s) for s in seeds)[:1 if quick else 2]
    runs = []
    for s in seeds:
        for residual in (True, False):
            r = train_deep(residual, steps if residual else plain_steps, s, depth=depth)
            runs.append(r)
            log(f"[depth_1000] seed {s} {'residual' if residual else 'plain'}: loss {r['initial_loss']:.3f} -> "
                f"{'NaN' if r['final_loss'] is None else format(r['final_loss'], '.3g')}, test accuracy "
                f"{r['test_accuracy']:.3f} ({r['seconds']:.0f} s)")
    res = [r for r in runs if r["residual"]]
    plain = [r for r in runs if not r["residual"]]
    rule = ("the residual net trains in a run when its mean training loss over the last 10% of steps is finite and "
            "at most 0.9 times its initial loss; holds if it trains and reaches test accuracy >= 0.9 in every run, "
            "holds only partly if it trains but stays below 0.9, does not hold if it does not train")
    why = "; ".join(f"seed {r['seed']} residual: loss {r['initial_loss']:.3g} -> "
                    f"{'NaN' if r['final_loss'] is None else format(r['final_loss'], '.3g')}, test accuracy "
                    f"{r['test_accuracy']:.3f}" for r in res)
    if all(r["trains"] for r in res):
        word = V.HOLDS if all(r["test_accuracy"] >= 0.9 for r in res) else V.PARTLY
    else:
        word = V.DOES_NOT_HOLD
    verdict = V.Verdict(word, rule, why)
    figures = []
    if out:
        os.makedirs(out, exist_ok=True)
        figures.append(_plot(runs, os.path.join(out, "depth_1000.png")))
    acc = {k: V.spread([r["test_accuracy"] for r in rs]) for k, rs in (("residual", res), ("plain", plain))}
    setup = (f"digits 1x8x8; CIFAR-layout bottleneck network of {depth} layers (width 4, "
             f"{res[0]['parameters']:,} parameters), residual (zero-init last BN of each block) vs plain; SGD momentum "
             f"0.9, lr 0.05 cosine, batch 32, {steps} steps ({plain_steps} for the plain net) "
             f"(mathdl.experiments.depth's model and training loop); "
             f"seeds {list(seeds)}")
    measurement = "; ".join(
        f"{'residual' if r['residual'] else 'plain'} seed {r['seed']}: training loss {r['initial_loss']:.3g} -> "
        f"{'diverged (NaN)' if r['final_loss'] is None else format(r['final_loss'], '.3g')}, test accuracy "
        f"{r['test_accuracy']:.3f}" for r in runs)
    rec = {"setup": setup, "measurement": measurement,
           "numbers": {"test_accuracy": acc, "runs": [{k: v for k, v in r.items()} for r in runs], "steps": steps},
           "verdict": verdict.as_dict(), "figures": figures}
    if out:
        write_json(out, "depth_1000.json", rec, default=lambda o: None)
    return rec


def _plot(runs, path):
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for r in runs:
        y = np.asarray(r["losses"], float)
        ax.plot(np.arange(len(y)), np.where(np.isfinite(y), y, np.nan),
                label=f"{'residual' if r['residual'] else 'plain'} (seed {r['seed']})")
    ax.axhline(math.log(10), color="grey", ls="--", lw=1, label="chance (ln 10)")
    ax.set_yscale("log")
    ax.set_xlabel("SGD step")
    ax.set_ylabel("training loss")
    ax.set_title(f"{runs[0]['depth']}-layer networks on digits")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)


def main(argv=None):
    from .reproduce import experiment_main

    return experiment_main(run, __doc__.splitlines()[0], argv, seeds=2, options=[("--steps", {"type": int})])


if __name__ == "__main__":  # pragma: no cover
    main()

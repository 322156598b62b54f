"""Mixed precision (float16 autocast + loss scaling) against float32: step time and accuracy.

Claim (the article, Table 1): mixed precision training nearly doubles the training speed while
keeping the model's accuracy (training speed 1 -> 2).

Mixed precision (Micikevicius et al. 2018), as :mod:`mathdl.amp` does it: inside
``autocast(dtype=float16)`` matrix products take float16 inputs, while softmax, losses and
normalizations stay float32; the parameters stay float32 (master weights); the loss is multiplied by
S before backward and the gradients divided by S (``GradScaler``), skipping steps with inf/NaN and
halving S then, so that small gradients do not underflow float16.

Setup: scikit-learn digits, MLP 64-256-256-10 (ReLU; quick 128), Adam lr 1e-3, batch 128, 1,000
steps (quick 100), the same initialization and batch order per seed in every precision; step time =
wall time of the training steps / their number; test accuracy at the end.  Three ways:

* ``float32``;
* ``amp``: :mod:`mathdl.amp` as a user would call it (``autocast`` + ``GradScaler``); whether autocast
  actually lowers any op's precision is checked and reported (``autocast_effective``);
* ``float16_master``: the recipe itself, written out — a float16 copy of the network computes the
  forward and backward passes (inputs and weights float16), the loss is taken in float32 and scaled by
  S (dynamic: halved and the step skipped on inf/NaN, doubled after 200 good steps), the float16
  gradients are unscaled into the float32 master weights, Adam updates those, and the float16 copy is
  refreshed from them.

Rule: accuracy parity first — if the mean accuracy of ``float16_master`` (the one that computes in
float16) is more than 1 point below float32's, the claim *does not hold* (that is testable on any
hardware).  The speed half needs hardware with fast float16 matrix products (GPU tensor cores); NumPy
on a CPU has none (its float16 matrix product has no BLAS kernel and is far slower than float32), so
here the verdict is *not testable here*, with the CPU speed ratios reported.
Given such hardware, the rule would be: speed-up = t(float32) / t(mixed) >= 1.8 holds, >= 1.2 holds
only partly.

  python -m mathdl.experiments.mixed_precision [--quick] [--seeds 5] [--out DIR]
"""

from __future__ import annotations

import os
import time

import numpy as np

from . import verdict as V
from .classifier_runs import accuracy, load_arrays, mlp, train
from .output import pyplot, save_figure, write_json

__all__ = ["autocast_effective", "run", "main"]

PRECISIONS = ("float32", "amp", "float16_master")


def autocast_effective():
    """Whether a Linear layer's forward under ``mathdl.amp.autocast(float16)`` computes in float16."""
    import mathdl as md
    from mathdl import backend, nn
    from mathdl.amp import autocast

    md.manual_seed(0)
    layer = nn.Linear(16, 8)
    x = md.randn(4, 16)
    with md.no_grad():
        with autocast("cpu", dtype=backend.float16):
            y = layer(x).numpy()
        ref = layer(x).numpy()
    return bool(y.dtype == np.float16 or not np.array_equal(y.astype(np.float32), ref))


def _float16_master(seed, steps, hidden, batch):
    """Mixed precision by hand (module docstring); returns (ms per step, accuracy, skipped steps)."""
    import mathdl as md
    import mathdl.nn.functional as F
    from mathdl import optim

    xtr, ytr, xte, yte, c = load_arrays("digits", seed=seed)
    master = mlp((64, hidden, hidden, c), "relu", seed=seed)
    work = mlp((64, hidden, hidden, c), "relu", seed=seed).half()
    opt = optim.Adam(master.parameters(), lr=1e-3)
    pm, pw = list(master.parameters()), list(work.parameters())
    scale, good, skipped = 2.0 ** 12, 0, 0
    rng = np.random.default_rng(seed)
    order, pos = rng.permutation(len(xtr)), 0
    work.train()
    t0 = time.perf_counter()
    for _ in range(steps):
        if pos + batch > len(order):
            order, pos = rng.permutation(len(xtr)), 0
        idx = order[pos:pos + batch]
        pos += batch
        for p in pw:
            p.grad = None
        loss = F.cross_entropy(work(md.tensor(xtr[idx].astype(np.float16))).float(), md.tensor(ytr[idx]))
        (loss * scale).backward()
        grads = [p.grad.numpy().astype(np.float32) / scale for p in pw]
        if not all(np.isfinite(g).all() for g in grads):
            scale, good, skipped = scale / 2, 0, skipped + 1
            continue
        for p, g in zip(pm, grads):
            p.grad = md.tensor(g)
        opt.step()
        for p16, p32 in zip(pw, pm):
            p16.array[...] = p32.array.astype(np.float16)
        good += 1
        if good % 200 == 0:
            scale *= 2
    ms = 1e3 * (time.perf_counter() - t0) / steps
    return {"ms_per_step": ms, "accuracy": accuracy(master, xte, yte), "skipped_steps": skipped}


def _one(seed, precision, steps, hidden, batch):
    if precision == "float16_master":
        return _float16_master(seed, steps, hidden, batch)
    import mathdl as md
    from mathdl import backend, optim
    from mathdl.amp import GradScaler, autocast

    xtr, ytr, xte, yte, c = load_arrays("digits", seed=seed)
    model = mlp((64, hidden, hidden, c), "relu", seed=seed)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    hook = None
    scaler = None
    if precision == "amp":
        scaler = GradScaler("cpu")

        def hook(closure):
            with autocast("cpu", dtype=backend.float16):
                loss = closure()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            return loss

    md.manual_seed(seed)
    t0 = time.perf_counter()
    train(model, xtr, ytr, opt, steps, batch=batch, seed=seed, num_classes=c, step_hook=hook)
    ms = 1e3 * (time.perf_counter() - t0) / steps
    return {"ms_per_step": ms, "accuracy": accuracy(model, xte, yte),
            "skipped_steps": int(scaler.skipped_steps) if scaler else 0}


def run(quick=False, seeds=(0, 1, 2, 3, 4), out=None, log=print, steps=None, hidden=None, batch=128):
    """Both precisions per seed; returns the record (setup, measurement, numbers, verdict, figures)."""
    steps = steps or (100 if quick else 1000)
    hidden = hidden or (128 if quick else 256)
    seeds = tuple(int(s) for s in seeds)
    effective = autocast_effective()
    per = {p: [] for p in PRECISIONS}
    for s in seeds:
        for prec in per:
            per[prec].append(_one(s, prec, steps, hidden, batch))
        log(f"[mixed_precision] seed {s}: " + ", ".join(
            f"{p} {per[p][-1]['ms_per_step']:.2f} ms/step, accuracy {per[p][-1]['accuracy']:.3f}" for p in per))
    numbers = {p: {k: V.spread([r[k] for r in rows]) for k in ("ms_per_step", "accuracy", "skipped_steps")}
               for p, rows in per.items()}
    t32 = numbers["float32"]["ms_per_step"]["mean"]
    speedup = {p: t32 / numbers[p]["ms_per_step"]["mean"] for p in PRECISIONS[1:]}
    drop = numbers["float32"]["accuracy"]["mean"] - numbers["float16_master"]["accuracy"]["mean"]
    numbers["speedup_cpu"] = speedup
    numbers["accuracy_drop"] = drop
    numbers["autocast_effective"] = effective
    rule = ("does not hold if float16 compute with float32 master weights loses more than 1 point of mean test "
            "accuracy; otherwise the speed half needs fast float16 matrix products (a GPU): not testable on this "
            "CPU; with them, t(float32)/t(mixed) >= 1.8 holds, >= 1.2 holds only partly")
    why = (f"accuracy drop (float16_master) {drop:+.4f}; CPU speed ratios t(float32)/t(.): "
           + ", ".join(f"{p} {v:.3g}" for p, v in speedup.items())
           + ("" if effective else "; mathdl.amp.autocast changed no op's precision here (no op consults it), so "
              "the amp row is float32 with loss scaling"))
    if drop > 0.01:
        verdict = V.Verdict(V.DOES_NOT_HOLD, rule, why + " (accuracy not kept)")
    else:
        verdict = V.Verdict(V.NOT_TESTABLE, rule, why + "; accuracy kept, but NumPy has no fast float16 GEMM, so the "
                            "speed of mixed precision cannot be measured on this CPU")
    figures = []
    if out:
        os.makedirs(out, exist_ok=True)
        figures.append(_plot(numbers, os.path.join(out, "mixed_precision.png")))
    setup = (f"digits, MLP 64-{hidden}-{hidden}-10 (ReLU), Adam lr 1e-3, batch {batch}, {steps} steps; float32 vs "
             f"mathdl.amp autocast(float16) + GradScaler vs float16 compute with float32 master weights and dynamic "
             f"loss scaling, on this CPU (shared machine); seeds {list(seeds)}")
    measurement = "; ".join(f"{p}: {V.fmt_spread(numbers[p]['ms_per_step'], unit=' ms/step')}, accuracy "
                            f"{V.fmt_spread(numbers[p]['accuracy'])}" for p in per) + \
        f"; autocast effective: {effective}"
    rec = {"setup": setup, "measurement": measurement, "numbers": numbers, "verdict": verdict.as_dict(),
           "figures": figures}
    if out:
        write_json(out, "mixed_precision.json", rec)
    return rec


def _plot(numbers, path):
    plt = pyplot()

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    keys = PRECISIONS
    a.bar(keys, [numbers[k]["ms_per_step"]["mean"] for k in keys],
          yerr=[numbers[k]["ms_per_step"]["std"] for k in keys], capsize=4)
    a.set_yscale("log")
    a.set_ylabel("ms per training step (CPU)")
    b.bar(keys, [numbers[k]["accuracy"]["mean"] for k in keys], yerr=[numbers[k]["accuracy"]["std"] for k in keys],
          capsize=4)
    b.set_ylim(0.5, 1.0)
    b.set_ylabel("test accuracy")
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)


def main(argv=None):
    from .reproduce import experiment_main

    return experiment_main(run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":  # pragma: no cover
    main()

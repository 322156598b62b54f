"""Depth: skip connections make very deep ReLU networks trainable (He et al. 2016).

A residual block outputs y = relu(x + F(x)), so dy/dx = D (I + dF/dx) with D the ReLU mask: the
identity term carries the gradient to early layers whatever F does.  A plain network
y = relu(F(x)) multiplies one dF/dx per block, and the product drifts (vanishes or explodes) with
depth.  This script measures it on real data (scikit-learn digits as 1x8x8 images):

1. a 1,001-layer residual network (bottleneck blocks, 9n + 2 layers, small width) runs forward
   and backward; its first and last layers get finite, non-zero gradients;
2. residual against plain networks (CIFAR layout, basic blocks) at depths 8, 32 and 110:
   the norm of every conv layer's weight gradient at initialization, and the training loss
   after the same budget of SGD steps.

Writes ``depth_summary.csv``, ``depth_summary.md`` (the table), ``depth_grad_norms.csv``
(per layer), ``depth_loss_curves.csv`` and ``depth.png``.

  python -m mathdl.experiments.depth --out DIR [--quick] [--steps 150] [--width 8]
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import time

import numpy as np

from .output import pyplot, save_figure, write_json

__all__ = ["layer_grad_norms", "train_budget", "deep_forward_backward", "run", "main"]


def _blas_limit(threads):
    """Tiny matrices run fastest on one BLAS thread (and threads thrash on a busy machine)."""
    try:
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=threads, user_api="blas")
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()


def _data(seed=0):
    from ..data import load_dataset

    spec = load_dataset("digits_image", seed=seed)

    def arrays(ds):
        xs, ys = zip(*[ds[i] for i in range(len(ds))])
        return np.stack(xs).astype(np.float32), np.asarray(ys, dtype=np.int64)

    return spec, arrays(spec.train), arrays(spec.test)


def _model(spec, depth, residual, width, block="basic"):
    from ..models.resnet import resnet_cifar

    return resnet_cifar(spec, depth=depth, block=block, residual=residual, width=width)


def _conv_weights(model):
    from .. import nn

    return [(name, m.weight) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)
            and "shortcut" not in name]


def layer_grad_norms(model, x, y):
    """||dL/dW_l|| for every conv layer l (input to output order) at the current weights."""
    import mathdl
    import mathdl.nn.functional as F

    model.train()
    model.zero_grad()
    loss = F.cross_entropy(model(mathdl.tensor(x)), mathdl.tensor(y))
    loss.backward()
    return [float(np.linalg.norm(w.grad.numpy())) for _, w in _conv_weights(model)], float(loss.item())


def train_budget(model, train, test, steps, batch=64, lr=0.05, seed=0):
    """SGD (momentum 0.9, weight decay 5e-4, cosine decay) for ``steps`` steps; returns the
    per-step training losses and the final test accuracy."""
    import mathdl
    import mathdl.nn.functional as F
    from mathdl import optim

    xtr, ytr = train
    rng = np.random.default_rng(seed)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    losses = []
    order = rng.permutation(len(xtr))
    pos = 0
    model.train()
    for k in range(steps):
        if pos + batch > len(order):
            order, pos = rng.permutation(len(xtr)), 0
        idx = order[pos:pos + batch]
        pos += batch
        for g in opt.param_groups:
            g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * k / steps))
        opt.zero_grad()
        loss = F.cross_entropy(model(mathdl.tensor(xtr[idx])), mathdl.tensor(ytr[idx]))
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    model.eval()
    with mathdl.no_grad():
        acc = float((model(mathdl.tensor(test[0])).numpy().argmax(1) == test[1]).mean())
    return losses, acc


def deep_forward_backward(spec, x, y, depth=1001, width=4):
    """Forward and backward through a ``depth``-layer bottleneck ResNet; gradient norms of the
    first and last conv layers and the time taken."""
    import mathdl

    mathdl.manual_seed(0)
    model = _model(spec, depth, True, width, block="bottleneck")
    t0 = time.perf_counter()
    norms, loss = layer_grad_norms(model, x, y)
    seconds = time.perf_counter() - t0
    n_conv = len(_conv_weights(model))
    return {"depth": depth, "width": width, "conv_layers": n_conv, "batch": len(x), "loss": loss,
            "grad_norm_first": norms[0], "grad_norm_last": norms[-1],
            "all_finite": bool(np.all(np.isfinite(norms))), "min_grad_norm": float(min(norms)),
            "seconds_forward_backward": seconds,
            "parameters": int(sum(p.numel() for p in model.parameters()))}


def run(out, depths=(8, 32, 110), width=8, steps=150, batch=64, deep_depth=1001, deep_width=4, seed=0,
        threads=1, log=print):
    """The whole experiment; returns the summary rows and writes the files into ``out``."""
    import mathdl

    os.makedirs(out, exist_ok=True)
    spec, train, test = _data(seed)
    rng = np.random.default_rng(seed)
    probe = rng.choice(len(train[0]), 128, replace=False)
    xp, yp = train[0][probe], train[1][probe]
    rows, norms_rows, curves = [], [], {}
    with _blas_limit(threads):
        deep = None
        if deep_depth:
            deep = deep_forward_backward(spec, xp[:16], yp[:16], deep_depth, deep_width)
            log(f"[depth] {deep['depth']}-layer residual net ({deep['conv_layers']} convs, width {deep_width}): "
                f"forward+backward {deep['seconds_forward_backward']:.1f}s, loss {deep['loss']:.3f}, "
                f"grad norm first/last conv {deep['grad_norm_first']:.3g}/{deep['grad_norm_last']:.3g}")
        for depth in depths:
            for residual in (True, False):
                kind = "residual" if residual else "plain"
                mathdl.manual_seed(seed)
                model = _model(spec, depth, residual, width)
                norms, _ = layer_grad_norms(model, xp, yp)
                for i, v in enumerate(norms):
                    norms_rows.append({"depth": depth, "kind": kind, "layer": i + 1, "grad_norm": v})
                t0 = time.perf_counter()
                losses, acc = train_budget(model, train, test, steps, batch, seed=seed)
                secs = time.perf_counter() - t0
                curves[(depth, kind)] = losses
                tail = losses[-max(1, steps // 10):]
                row = {
                    "depth": depth, "kind": kind, "conv_layers": len(norms),
                    "grad_norm_first": norms[0], "grad_norm_last": norms[-1],
                    "first_over_last": norms[0] / norms[-1] if norms[-1] else float("inf"),
                    "initial_loss": losses[0], "final_train_loss": float(np.mean(tail)),
                    "test_accuracy": acc, "train_seconds": secs,
                }
                rows.append(row)
                log(f"[depth] {kind:>8} {depth:4d}: grad norm first/last {norms[0]:.3g}/{norms[-1]:.3g}, "
                    f"train loss after {steps} steps {row['final_train_loss']:.4f}, test acc {acc:.3f} "
                    f"({secs:.1f}s)")
    _write(out, rows, norms_rows, curves, deep, steps)
    return rows, deep


def _write(out, rows, norms_rows, curves, deep, steps):
    with open(os.path.join(out, "depth_summary.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with open(os.path.join(out, "depth_grad_norms.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["depth", "kind", "layer", "grad_norm"])
        w.writeheader()
        w.writerows(norms_rows)
    with open(os.path.join(out, "depth_loss_curves.csv"), "w", newline="") as f:
        w = csv.writer(f)
        keys = sorted(curves)
        w.writerow(["step"] + [f"{k}{d}" for d, k in keys])
        for i in range(steps):
            w.writerow([i + 1] + [f"{curves[k][i]:.6f}" for k in keys])
    lines = [
        "# Residual vs plain networks (digits 1x8x8, CIFAR-layout, basic blocks)", "",
        f"Training budget: {steps} SGD steps. Gradient norms at initialization, one batch of 128.", "",
        "| depth | network | conv layers | grad norm layer 1 | grad norm last | first/last | "
        "train loss (end) | test acc |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['depth']} | {r['kind']} | {r['conv_layers']} | {r['grad_norm_first']:.3g} | "
                     f"{r['grad_norm_last']:.3g} | {r['first_over_last']:.3g} | {r['final_train_loss']:.4f} | "
                     f"{r['test_accuracy']:.3f} |")
    if deep:
        lines += ["", f"A {deep['depth']}-layer residual network (bottleneck blocks, width {deep['width']}, "
                      f"{deep['conv_layers']} conv layers, {deep['parameters']} parameters) ran forward and "
                      f"backward on a batch of {deep['batch']} in {deep['seconds_forward_backward']:.1f} s: "
                      f"loss {deep['loss']:.3f}, gradient norm of the first conv {deep['grad_norm_first']:.3g}, "
                      f"of the last {deep['grad_norm_last']:.3g}, all finite: {deep['all_finite']}."]
        write_json(out, "depth_deep.json", deep)
    with open(os.path.join(out, "depth_summary.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    _plot(out, norms_rows, curves)


def _plot(out, norms_rows, curves):
    plt = pyplot()

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.5))
    depths = sorted({r["depth"] for r in norms_rows})
    colors = dict(zip(depths, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for (depth, kind) in sorted(curves):
        pts = [r for r in norms_rows if r["depth"] == depth and r["kind"] == kind]
        style = "-" if kind == "residual" else "--"
        a1.semilogy([r["layer"] / len(pts) for r in pts], [max(r["grad_norm"], 1e-30) for r in pts], style,
                    color=colors[depth], label=f"{kind} {depth}")
        loss = np.asarray(curves[(depth, kind)])
        k = max(1, len(loss) // 20)
        smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
        a2.semilogy(np.arange(len(smooth)) + k, smooth, style, color=colors[depth], label=f"{kind} {depth}")
    a1.set_xlabel("conv layer (fraction of depth)")
    a1.set_ylabel("||dL/dW|| at initialization")
    a1.set_title("per-layer gradient norms")
    a2.set_xlabel("SGD step")
    a2.set_ylabel("training loss (moving average)")
    a2.set_title("training loss")
    a1.legend(fontsize=8)
    a2.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, os.path.join(out, "depth.png"), dpi=110)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m mathdl.experiments.depth", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="depth_results", help="output directory")
    ap.add_argument("--quick", action="store_true", help="tiny run for tests: depths 8 and 14, 10 steps, "
                                                         "a 101-layer deep net")
    ap.add_argument("--depths", default="8,32,110")
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--deep-depth", type=int, default=1001, help="9n+2 bottleneck layers (0 to skip)")
    ap.add_argument("--deep-width", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    depths = tuple(int(d) for d in args.depths.split(","))
    steps, deep_depth, width = args.steps, args.deep_depth, args.width
    if args.quick:
        depths, steps, deep_depth, width = (8, 14), 10, 101, 4
    rows, deep = run(args.out, depths, width, steps, args.batch, deep_depth, args.deep_width, args.seed,
                     args.threads)
    with open(os.path.join(args.out, "depth_summary.md")) as f:
        print(f.read())
    return rows, deep


if __name__ == "__main__":
    main()

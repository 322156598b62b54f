"""Skip connections make the loss landscape smoother and more convex (Li et al. 2018).

Claim (Li, Xu, Taylor, Studer & Goldstein 2018, "Visualizing the loss landscape of neural nets"):
on filter-normalized 2-D slices, residual networks have smooth, nearly convex basins, while their
plain counterparts (the same network without skip connections) become chaotic and non-convex as
depth grows; the map of |lambda_min / lambda_max| of the Hessian over the slice is near 0 for
ResNets and large for plain networks.

Setup: the CIFAR-layout ResNet and plain network (``mathdl.models.resnet``, basic blocks, option-A
shortcuts, BatchNorm) on scikit-learn digits as 1 x 8 x 8 images, trained with SGD (momentum 0.9,
weight decay 5e-4, cosine decay; ``mathdl.experiments.depth.train_budget``).  Around the trained
weights: a 2-D slice along two filter-normalized, orthogonalized Gaussian directions (BatchNorm and
biases ignored), the loss evaluated in eval mode on a fixed training subset.  Two convexity numbers:
  * Hessian map: |min(lambda_min, 0) / lambda_max| of the full Hessian (Lanczos at both ends) on a
    coarse sub-grid, as Li et al. map it;
  * surface map: the same ratio for the 2 x 2 Hessian of the plotted surface (finite differences)
    at every interior grid point.

Rule: per seed and depth, compare the mean Hessian-map ratio of the plain network with the
ResNet's.  *Holds* if plain > residual in every comparison, *holds partly* in a majority, *does not
hold* otherwise.  (Depth 56, Li et al.'s headline case, costs ~3x depth 20: pass ``--depths 20,56``.)

  python -m mathdl.experiments.landscape_skip [--quick] [--depths 20] [--seeds 0] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from .output import pyplot, save_figure, write_json

__all__ = ["CLAIM", "RULE", "run", "main"]

CLAIM = ("Skip connections keep the loss landscape smooth and nearly convex: on filter-normalized 2-D slices, "
         "|lambda_min/lambda_max| is near 0 for ResNets and larger for plain networks (Li et al. 2018).")
RULE = ("mean Hessian-map |lambda_min/lambda_max| of plain vs residual per (seed, depth); holds if plain > residual "
        "in every comparison, holds partly in a majority, else does not hold.")


def _one(spec, train, test, depth, residual, cfg, seed, log):
    import mathdl
    from mathdl.analysis import landscape as L

    from .depth import _model, train_budget

    mathdl.manual_seed(seed)
    model = _model(spec, depth, residual, cfg["width"])
    _, acc = train_budget(model, train, test, cfg["steps"], cfg["batch"], cfg["lr"], seed)
    model.eval()
    idx = np.random.default_rng(seed).choice(len(train[0]), cfg["samples"], replace=False)
    data = (mathdl.tensor(train[0][idx]), mathdl.tensor(train[1][idx]))
    dirs = L.random_directions(model, seed=seed)
    surf = L.slice_2d(model, data, dirs, L.grid(cfg["span"], cfg["points"]), progress=False,
                      kind="resnet" if residual else "plain")
    map_idx = idx[:cfg["map_samples"]]
    map_data = (mathdl.tensor(train[0][map_idx]), mathdl.tensor(train[1][map_idx]))
    ratio = L.convexity_map(model, map_data, dirs, L.grid(cfg["span"], cfg["map_points"]), tol=cfg["tol"],
                            seed=seed)
    sc = L.surface_convexity(surf) if cfg["points"] >= 3 else np.zeros((1, 1))
    name = f"{'resnet' if residual else 'plain'}{depth}"
    log(f"  {name} seed {seed}: test accuracy {acc:.3f}, centre loss {surf.centre_loss:.3f}, max loss on the slice "
        f"{surf.loss.max():.3f}, Hessian |lmin/lmax| mean {np.mean(ratio):.3f}, surface ratio mean "
        f"{np.mean(np.minimum(sc, 10)):.3f}")
    return {"name": name, "depth": depth, "residual": residual, "seed": seed, "test_acc": acc,
            "centre_loss": surf.centre_loss, "landscape": surf, "hessian_ratio": ratio,
            "hessian_ratio_mean": float(np.mean(ratio)), "surface_ratio_mean": float(np.mean(np.minimum(sc, 10))),
            "surface_nonconvex_fraction": float(np.mean(sc > 0.1))}


def plot(results, path):
    plt = pyplot()

    first = [r for r in results if r["seed"] == results[0]["seed"]]
    fig, axes = plt.subplots(2, len(first), figsize=(4.6 * len(first), 8), squeeze=False)
    for j, r in enumerate(first):
        s = r["landscape"]
        X, Y = np.meshgrid(s.xs, s.ys, indexing="ij")
        cs = axes[0, j].contour(X, Y, np.log10(np.maximum(s.loss, 1e-6)), levels=25, cmap="viridis")
        axes[0, j].clabel(cs, fontsize=6, fmt="%.1f")
        axes[0, j].set_title(f"{r['name']}: log10 loss (filter-normalized)")
        im = axes[1, j].imshow(r["hessian_ratio"].T, origin="lower", cmap="magma", vmin=0,
                               vmax=max(0.5, max(float(q["hessian_ratio"].max()) for q in first)),
                               extent=(s.xs[0], s.xs[-1], s.ys[0], s.ys[-1]))
        axes[1, j].set_title(f"{r['name']}: |lambda_min/lambda_max|")
        fig.colorbar(im, ax=axes[1, j])
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    return path


def run(quick=False, seeds=(0, 1, 2), out=None, depths=None, width=None, log=print):
    from .depth import _blas_limit, _data

    t0 = time.perf_counter()
    if quick:
        seeds, depths = tuple(seeds)[:1], depths or (8,)
        cfg = {"width": width or 2, "steps": 2, "batch": 16, "lr": 0.05, "samples": 16, "map_samples": 8,
               "points": 3, "span": 1.0, "map_points": 1, "tol": 0.3}
    else:
        depths = depths or (20,)
        cfg = {"width": width or 8, "steps": 300, "batch": 64, "lr": 0.05, "samples": 256, "map_samples": 64,
               "points": 15, "span": 1.0, "map_points": 3, "tol": 1e-2}
    spec, train, test = _data(0)
    results = []
    with _blas_limit(1):
        for s in seeds:
            for d in depths:
                for residual in (True, False):
                    results.append(_one(spec, train, test, d, residual, cfg, s, log))
    comps = []
    for s in seeds:
        for d in depths:
            res = next(r for r in results if r["seed"] == s and r["depth"] == d and r["residual"])
            pl = next(r for r in results if r["seed"] == s and r["depth"] == d and not r["residual"])
            comps.append({"seed": s, "depth": d, "resnet": res["hessian_ratio_mean"], "plain": pl["hessian_ratio_mean"],
                          "plain_more_nonconvex": pl["hessian_ratio_mean"] > res["hessian_ratio_mean"]})
    wins = sum(c["plain_more_nonconvex"] for c in comps)
    verdict = "holds" if wins == len(comps) else ("holds partly" if wins > len(comps) / 2 else "does not hold")
    figures = []
    if out:
        os.makedirs(out, exist_ok=True)
        figures.append(plot(results, os.path.join(out, "landscape_skip.png")))

    def stat(key, residual):
        v = [r[key] for r in results if r["residual"] == residual]
        return float(np.mean(v)), float(np.std(v))

    summary = {"claim": CLAIM, "rule": RULE, "verdict": verdict,
               "setup": {**cfg, "depths": list(depths), "seeds": list(seeds), "data": "digits 1x8x8"},
               "comparisons": comps,
               "hessian_ratio": {"resnet": stat("hessian_ratio_mean", True),
                                 "plain": stat("hessian_ratio_mean", False)},
               "surface_ratio": {"resnet": stat("surface_ratio_mean", True),
                                 "plain": stat("surface_ratio_mean", False)},
               "runs": [{k: (v.to_dict() if k == "landscape" else v.tolist() if isinstance(v, np.ndarray) else v)
                         for k, v in r.items()} for r in results],
               "figures": figures, "seconds": time.perf_counter() - t0}
    if out:
        write_json(out, "landscape_skip.json", summary)
    log(f"claim: {CLAIM}")
    for k in ("hessian_ratio", "surface_ratio"):
        r, p = summary[k]["resnet"], summary[k]["plain"]
        log(f"  {k.replace('_', ' ')} (mean +- std): resnet {r[0]:.3f} +- {r[1]:.3f}, plain {p[0]:.3f} +- {p[1]:.3f}")
    log(f"rule: {RULE}\nverdict: {verdict} ({wins}/{len(comps)} comparisons)")
    return summary


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m mathdl.experiments.landscape_skip", description=CLAIM)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (each costs minutes at depth 20)")
    p.add_argument("--depths", default=None, help="comma-separated CIFAR depths 6n+2 (default 20)")
    p.add_argument("--width", type=int, default=None, help="channels of the first stage (default 8)")
    p.add_argument("--out", default="runs/landscape_skip")
    a = p.parse_args(argv)
    run(a.quick, tuple(int(s) for s in a.seeds.split(",")), a.out,
        tuple(int(d) for d in a.depths.split(",")) if a.depths else None, a.width)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

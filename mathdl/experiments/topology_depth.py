"""Topology of representations simplifies with depth, faster with ReLU than with tanh.

Claim (Naitzat, Zhitnikov & Lim 2020, "Topology of deep neural networks"): a deep network trained
to near-perfect accuracy on two entangled classes changes the topology of each class's point cloud
layer by layer until both are topologically simple, Betti numbers (b0, b1) = (1, 0); ReLU networks
(non-homeomorphic maps that fold and glue) reduce the Betti numbers faster than tanh networks
(homeomorphisms on their image).

Data, built here after the paper's descriptions:
  D-I   (2-D) class 0: nine disks of radius 0.2 on a 3 x 3 grid (Betti (9, 0));
        class 1: a disk of radius 2 with nine holes of radius 0.35 around them (Betti (1, 9)).
  D-II  (3-D) class 0: nine balls of radius 0.2 on a 3 x 3 grid in the plane z = 0 (Betti (9, 0));
        class 1: the slab [-2, 2]^2 x [-0.15, 0.15] pierced by nine vertical cylinders of radius 0.35
        around them (Betti (1, 9)): D-I thickened into space.
  D-III (3-D) two linked solid tori, one per class (each Betti (1, 1)), the classic entangled pair.
Betti numbers of each class at every layer (the outputs of the activation modules and the logits):
Vietoris-Rips on the k-nearest-neighbour graph's hop-count geodesic metric (k = 10, scale 1.5 hops,
i.e. the clique complex of the kNN graph), on 300 farthest-point landmarks; the same at every layer
whatever its scale.  At the input these give the stated Betti numbers.

Networks: MLP 2 (or 3) -> 15 x depth -> 2 with ReLU and with tanh, Adam, trained to >= 99% training
accuracy where the budget allows (the accuracy is reported).

Rule: a run "simplifies" when both classes reach (1, 0) at the last hidden layer (the logits, a
2-D linear read-out of it, are shown but not judged: a kNN graph of a squashed 2-D cloud makes
spurious loops); its complexity is
sum over layers of (b0 - 1) + b1 over both classes.  The claim *holds* if every trained (>= 99%)
ReLU and tanh run simplifies and ReLU's mean complexity is lower than tanh's; *holds partly* if only
one of the two parts holds; else *does not hold*.

  python -m mathdl.experiments.topology_depth [--quick] [--datasets D-I,D-II,D-III] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from .output import pyplot, save_figure

__all__ = ["CLAIM", "RULE", "make_dataset", "layer_betti", "run", "main"]

CLAIM = ("Through the layers of a well-trained network the Betti numbers of each class fall to (1, 0), faster "
         "with ReLU than with tanh (Naitzat, Zhitnikov & Lim 2020).")
RULE = ("complexity = sum over layers and both classes of (b0 - 1) + b1; holds if every trained (>= 99%) ReLU and "
        "tanh run reaches (1, 0) for both classes at the last hidden layer and ReLU's mean complexity < tanh's; holds "
        "partly if one part holds.")

_CENTRES = np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=np.float64)


def _ball(rng, m, d, r):
    v = rng.standard_normal((m, d))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v * r * rng.uniform(0, 1, (m, 1)) ** (1 / d)


def _rejection(rng, m, d, R, keep):
    out, have = [], 0
    while have < m:
        p = rng.uniform(-R, R, (4 * m, d))
        p = p[(np.linalg.norm(p, axis=1) <= R) & keep(p)]
        out.append(p)
        have += len(p)
    return np.concatenate(out)[:m]


def _torus(rng, m, R, r, centre=(0, 0, 0), axis="z"):
    """Uniform-ish samples of a solid torus (ring radius R, tube radius r) around ``axis``."""
    u = rng.uniform(0, 2 * np.pi, m)
    ring = np.c_[np.cos(u), np.sin(u), np.zeros(m)]
    off = _ball(rng, m, 2, r)  # in the (radial, z) plane
    p = ring * (R + off[:, :1]) + np.c_[np.zeros(m), np.zeros(m), off[:, 1]]
    if axis == "x":  # ring in the (y, z) plane
        p = p[:, [2, 0, 1]]
    return p + np.asarray(centre, dtype=np.float64)


def make_dataset(name, n=1500, seed=0):
    """(X (2n, d) float32, y (2n,) int64) for "D-I", "D-II" or "D-III" (n points per class)."""
    rng = np.random.default_rng(seed)
    if name == "D-I":
        a = _CENTRES[rng.integers(0, 9, n)] + _ball(rng, n, 2, 0.2)
        b = _rejection(rng, n, 2, 2.0, lambda p: np.min(np.linalg.norm(p[:, None] - _CENTRES[None], axis=2), 1) > 0.35)
    elif name == "D-II":
        c3 = np.c_[_CENTRES, np.zeros(9)]
        a = c3[rng.integers(0, 9, n)] + _ball(rng, n, 3, 0.2)
        out, have = [], 0
        while have < n:  # the slab [-2, 2]^2 x [-0.15, 0.15] minus nine vertical cylinders of radius 0.35
            p = np.c_[rng.uniform(-2, 2, (4 * n, 2)), rng.uniform(-0.15, 0.15, 4 * n)]
            p = p[np.min(np.linalg.norm(p[:, None, :2] - _CENTRES[None], axis=2), 1) > 0.35]
            out.append(p)
            have += len(p)
        b = np.concatenate(out)[:n]
    elif name == "D-III":
        a = _torus(rng, n, 1.0, 0.25)
        b = _torus(rng, n, 1.0, 0.25, centre=(1.0, 0, 0), axis="x")
    else:
        raise ValueError(f"make_dataset: unknown dataset {name!r}; expected 'D-I', 'D-II' or 'D-III'")
    X = np.concatenate([a, b]).astype(np.float32)
    y = np.r_[np.zeros(n, np.int64), np.ones(n, np.int64)]
    return X, y


def _train(X, y, activation, depth, width, steps, seed, lr=3e-3, batch=256):
    import mathdl
    import mathdl.nn.functional as F
    from mathdl import optim
    from mathdl.models.mlp import MLP

    mathdl.manual_seed(seed)
    model = MLP(X.shape[1], (width,) * depth, 2, activation)
    opt = optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    for k in range(steps):
        idx = rng.choice(len(X), batch, replace=False)
        for g in opt.param_groups:
            g["lr"] = lr * (0.1 if k > 0.8 * steps else 1.0)
        loss = F.cross_entropy(model(mathdl.tensor(X[idx])), mathdl.tensor(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with mathdl.no_grad():
        acc = float((model(mathdl.tensor(X)).numpy().argmax(1) == y).mean())
    return model, acc


def layer_betti(model, X, y, k=10, scale=1.5, n_points=300, seed=0):
    """[(layer, [(b0, b1) of class 0, (b0, b1) of class 1])] for the input, each activation and the logits."""
    from mathdl.analysis.topology import capture_activations, persistent_homology

    names = [n for n, m in model.named_modules() if type(m).__name__ in ("ReLU", "Tanh")]
    last = [n for n, m in model.named_modules() if n and not list(m.children())][-1]
    acts = capture_activations(model, X, names + [last], include_input=True)
    rows = []
    for layer in ["input", *names, last]:
        per = []
        for c in (0, 1):
            p = persistent_homology(acts[layer][y == c], 1, "geodesic", k=k, n_points=n_points, seed=seed, hops=True)
            per.append(p.betti(scale))
        rows.append((layer, per))
    return rows


def _complexity(rows):
    return int(sum((b0 - 1) + b1 for _, per in rows for b0, b1 in per))


def plot(results, path):
    plt = pyplot()

    names = list(results)
    fig, axes = plt.subplots(len(names), 2, figsize=(10, 3.2 * len(names)), squeeze=False)
    for i, ds in enumerate(names):
        for act, style in (("relu", "-"), ("tanh", "--")):
            for run in results[ds][act]:
                rows = run["betti"]
                for c in (0, 1):
                    axes[i, c].plot(range(len(rows)), [per[c][0] for _, per in rows], style, color="C0", alpha=0.7,
                                    label=f"b0 {act}" if run is results[ds][act][0] else None)
                    axes[i, c].plot(range(len(rows)), [per[c][1] for _, per in rows], style, color="C3", alpha=0.7,
                                    label=f"b1 {act}" if run is results[ds][act][0] else None)
        for c in (0, 1):
            axes[i, c].set_title(f"{ds}, class {c}")
            axes[i, c].set_xlabel("layer (0 = input)")
            axes[i, c].set_ylabel("Betti number")
            axes[i, c].grid(alpha=0.3)
            axes[i, c].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    return path


def run(quick=False, seeds=(0, 1, 2), out=None, datasets=None, log=print):
    t0 = time.perf_counter()
    if quick:
        datasets = datasets or ("D-I",)
        seeds = tuple(seeds)[:1]
        cfg = {"n": 150, "depth": 2, "width": 15, "steps": 60, "n_points": 60}
    else:
        datasets = datasets or ("D-I", "D-II", "D-III")
        cfg = {"n": 1500, "depth": 9, "width": 15, "steps": 3000, "n_points": 300}
    results, table = {}, []
    for ds in datasets:
        results[ds] = {"relu": [], "tanh": []}
        for s in seeds:
            X, y = make_dataset(ds, cfg["n"], s)
            for act in ("relu", "tanh"):
                model, acc = _train(X, y, act, cfg["depth"], cfg["width"], cfg["steps"], s)
                rows = layer_betti(model, X, y, n_points=cfg["n_points"], seed=s)
                simple = all(tuple(b) == (1, 0) for b in rows[-2][1])  # the last hidden representation
                entry = {"seed": s, "accuracy": acc, "betti": rows, "complexity": _complexity(rows),
                         "simplifies": simple}
                results[ds][act].append(entry)
                table.append({"dataset": ds, "activation": act, "seed": s, "accuracy": acc,
                              "complexity": entry["complexity"], "simplifies": simple,
                              "input": rows[0][1], "last_hidden": rows[-2][1], "logits": rows[-1][1],
                              "betti": [per for _, per in rows]})
                log(f"  {ds} {act:4s} seed {s}: train accuracy {acc:.3f}, Betti per layer (class 0 | class 1): "
                    + " ".join(f"{p[0]}|{p[1]}" for _, p in rows))
    trained = [r for r in table if r["accuracy"] >= 0.99]
    part1 = bool(trained) and all(r["simplifies"] for r in trained)
    cx = {a: [r["complexity"] for r in table if r["activation"] == a] for a in ("relu", "tanh")}
    part2 = float(np.mean(cx["relu"])) < float(np.mean(cx["tanh"]))
    verdict = "holds" if part1 and part2 else ("holds partly" if part1 or part2 else "does not hold")
    figures = []
    if out:
        os.makedirs(out, exist_ok=True)
        figures.append(plot(results, os.path.join(out, "topology_depth.png")))
    summary = {"claim": CLAIM, "rule": RULE, "verdict": verdict, "setup": {**cfg, "datasets": list(datasets),
               "seeds": list(seeds), "metric": "kNN hop geodesic, k=10, scale 1.5"},
               "table": table, "complexity_mean": {a: float(np.mean(v)) for a, v in cx.items()},
               "complexity_std": {a: float(np.std(v)) for a, v in cx.items()},
               "trained_runs": len(trained), "all_trained_simplify": part1, "figures": figures,
               "seconds": time.perf_counter() - t0}
    if out:
        with open(os.path.join(out, "topology_depth.json"), "w") as f:
            json.dump(summary, f, indent=2, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
    log(f"claim: {CLAIM}")
    log(f"topological complexity (mean +- std): ReLU {np.mean(cx['relu']):.1f} +- {np.std(cx['relu']):.1f}, "
        f"tanh {np.mean(cx['tanh']):.1f} +- {np.std(cx['tanh']):.1f}; {len(trained)}/{len(table)} runs reached 99%, "
        f"all of them end at (1, 0): {part1}")
    log(f"rule: {RULE}\nverdict: {verdict}")
    return summary


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m mathdl.experiments.topology_depth", description=CLAIM)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--datasets", default=None, help="comma-separated among D-I,D-II,D-III")
    p.add_argument("--out", default="runs/topology_depth")
    a = p.parse_args(argv)
    run(a.quick, tuple(int(s) for s in a.seeds.split(",")), a.out,
        tuple(a.datasets.split(",")) if a.datasets else None)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

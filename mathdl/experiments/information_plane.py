"""The information plane: is there a compression phase, and does it depend on the activation?

Claim (Shwartz-Ziv & Tishby 2017): training a deep network has two phases in the information plane
(I(X;T), I(T;Y)) of each hidden layer T: a fitting phase where both grow, then a long compression
phase where I(X;T) falls.  Saxe et al. (2018) report that the compression appears with the
double-saturating tanh but not with ReLU.

Setup: Shwartz-Ziv & Tishby's 12-bit task, built here: the 4,096 inputs x in {0, 1}^12; each bit is
a vertex v_i of the icosahedron (12 points spread evenly on the sphere); the label is
y = [ ||sum_i x_i v_i||^2 > theta ], a spherically symmetric function (it depends on the x_i only
through the Gram matrix v_i . v_j, so it is invariant under rotations of the sphere), with theta the
value that makes the classes as balanced as the function allows (the balance is reported).  A
12-10-7-5-4-3-2 network, tanh or ReLU, Adam on 85% of the inputs; I(X;T) and I(T;Y) of every layer
by binning (30 bins per unit over the layer's range: [-1, 1] for tanh, [0, max] for ReLU) on all
4,096 inputs at log-spaced epochs.  Estimates depend on the bin count: a sweep is reported at the end.

Rule: compression c = max of I(X;T) after the fitting phase minus its final value, for the last
hidden layer (3 units), averaged over seeds; the fitting phase ends at the first epoch where I(T;Y)
reaches 95% of its final value (earlier drops of I(X;T), e.g. from units dying at the start, are
not compression).  The claim of a compression phase *holds* if c >= 0.5 bit for both
activations, *holds partly* if for one only (Saxe et al.'s finding if that one is tanh), else *does
not hold*.

  python -m mathdl.experiments.information_plane [--quick] [--seeds 0,1,2] [--epochs 2000] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from .output import pyplot, save_figure, write_json

__all__ = ["CLAIM", "RULE", "twelve_bit_task", "train_and_measure", "compression", "run", "main"]

CLAIM = ("Training has a compression phase in which I(X;T) of the hidden layers falls (Shwartz-Ziv & Tishby 2017); "
         "Saxe et al. (2018) find it with tanh but not with ReLU.")
RULE = ("c = max I(X;T) after fitting (I(T;Y) >= 95% of final) - final I(X;T) of the last hidden layer (bits, "
        "binning, mean over seeds); holds if c >= 0.5 for tanh and ReLU, holds partly if for one only, else does not "
        "hold.")
SIZES = (12, 10, 7, 5, 4, 3, 2)


def twelve_bit_task():
    """(X (4096, 12) float32 in {0, 1}, y (4096,) int64, theta): labels of a spherically symmetric function."""
    phi = (1 + 5 ** 0.5) / 2
    v = []
    for a in (-1, 1):
        for b in (-1, 1):
            v += [(0, a, b * phi), (a, b * phi, 0), (b * phi, 0, a)]
    V = np.array(v, dtype=np.float64)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    X = ((np.arange(4096)[:, None] >> np.arange(12)[None]) & 1).astype(np.float64)
    f = np.round(((X @ V) ** 2).sum(1), 9)
    values = np.unique(f)
    balance = [abs((f > t).mean() - 0.5) for t in values]
    theta = float(values[int(np.argmin(balance))])
    return X.astype(np.float32), (f > theta).astype(np.int64), theta


def compression(points, fitted=0.95):
    """Bits of I(X;T) lost after fitting: the fitting phase ends at the first epoch where I(T;Y) reaches
    ``fitted`` x its final value; compression = max I(X;T) from then on - final I(X;T)."""
    pts = np.asarray(points, dtype=np.float64)
    end = int(np.argmax(pts[:, 1] >= fitted * pts[-1, 1]))
    return float(pts[end:, 0].max() - pts[-1, 0])


def _model(activation, seed):
    import mathdl
    from mathdl.models.mlp import MLP

    mathdl.manual_seed(seed)
    return MLP(SIZES[0], SIZES[1:-1], SIZES[-1], activation)


def _epochs_to_record(epochs, n):
    return sorted(set(np.unique(np.geomspace(1, epochs, n).astype(int)).tolist()) | {0})


def train_and_measure(activation, epochs, seed, n_records=30, bins=30, lr=1e-3, batch=256):
    """Train on 85% of the task; returns {"epochs": [...], "points": {layer: [(ixt, ity), ...]}, ...}."""
    import mathdl
    import mathdl.nn.functional as F
    from mathdl import optim
    from mathdl.analysis.information import binned_information
    from mathdl.analysis.topology import capture_activations

    X, y, _ = twelve_bit_task()
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(X))
    tr, te = perm[:int(0.85 * len(X))], perm[int(0.85 * len(X)):]
    model = _model(activation, seed)
    layers = [n for n, m in model.named_modules() if type(m).__name__ in ("ReLU", "Tanh")]
    layers.append([n for n, m in model.named_modules() if n and not list(m.children())][-1])
    opt = optim.Adam(model.parameters(), lr=lr)
    record = _epochs_to_record(epochs, n_records)
    out = {"epochs": [], "points": {n: [] for n in layers}, "test_acc": [], "layers": layers}

    def measure(ep):
        acts = capture_activations(model, X, layers, batch_size=4096)
        for n in layers:
            T = acts[n]
            rng_ = (-1.0, 1.0) if activation == "tanh" and n != layers[-1] else (float(T.min()), float(T.max()))
            out["points"][n].append(binned_information(T, y, bins, value_range=rng_))
        model.eval()
        with mathdl.no_grad():
            out["test_acc"].append(float((model(mathdl.tensor(X[te])).numpy().argmax(1) == y[te]).mean()))
        out["epochs"].append(ep)

    measure(0)
    for ep in range(1, epochs + 1):
        model.train()
        order = rng.permutation(tr)
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            loss = F.cross_entropy(model(mathdl.tensor(X[idx])), mathdl.tensor(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        if ep in record:
            measure(ep)
    acts = capture_activations(model, X, layers[-2:], batch_size=4096)
    out["bin_sweep_last_hidden"] = {b: binned_information(acts[layers[-2]], y, b)[0] for b in (10, 30, 100)}
    return out


def plot(results, path, h_x=12.0, h_y=1.0):
    plt = pyplot()

    acts = list(results)
    fig, axes = plt.subplots(1, len(acts), figsize=(6 * len(acts), 4.5), squeeze=False)
    for ax, act in zip(axes[0], acts):
        res = results[act][0]
        ep = np.asarray(res["epochs"], dtype=np.float64)
        for k, n in enumerate(res["layers"]):
            pts = np.asarray(res["points"][n])
            ax.plot(pts[:, 0], pts[:, 1], "-", color=f"C{k}", alpha=0.4, lw=1)
            sc = ax.scatter(pts[:, 0], pts[:, 1], c=np.log10(ep + 1), cmap="viridis", s=14, zorder=3)
            ax.annotate(f"layer {k + 1}", pts[-1], fontsize=7)
        fig.colorbar(sc, ax=ax, label="log10(epoch + 1)")
        ax.axvline(h_x, color="gray", ls=":", lw=1)
        ax.axhline(h_y, color="gray", ls=":", lw=1)
        ax.set_xlabel("I(X;T) (bits)")
        ax.set_ylabel("I(T;Y) (bits)")
        ax.set_title(f"{act}: information plane (seed {res.get('seed', 0)})")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    return path


def run(quick=False, seeds=(0, 1, 2), out=None, epochs=None, log=print):
    t0 = time.perf_counter()
    X, y, theta = twelve_bit_task()
    if quick:
        seeds, epochs, n_records = tuple(seeds)[:1], epochs or 1, 2
    else:
        epochs, n_records = epochs or 1500, 30
    results, comp = {}, {}
    for act in ("tanh", "relu"):
        results[act] = []
        for s in seeds:
            r = train_and_measure(act, epochs, s, n_records)
            r["seed"] = s
            results[act].append(r)
        last_hidden = results[act][0]["layers"][-2]
        comp[act] = [compression(r["points"][last_hidden]) for r in results[act]]
    c = {a: float(np.mean(v)) for a, v in comp.items()}
    yes = [a for a in c if c[a] >= 0.5]
    verdict = "holds" if len(yes) == 2 else ("holds partly" if yes else "does not hold")
    figures = []
    if out:
        os.makedirs(out, exist_ok=True)
        figures.append(plot(results, os.path.join(out, "information_plane.png")))
    summary = {"claim": CLAIM, "rule": RULE, "verdict": verdict,
               "setup": {"task": "12-bit, 4096 inputs", "theta": theta, "p_y1": float(y.mean()),
                         "network": "-".join(map(str, SIZES)), "epochs": epochs, "seeds": list(seeds),
                         "estimator": "binning, 30 bins"},
               "compression_bits": comp, "compression_mean": c,
               "compression_std": {a: float(np.std(v)) for a, v in comp.items()},
               "final_test_acc": {a: [r["test_acc"][-1] for r in results[a]] for a in results},
               "bin_sweep_last_hidden": {a: results[a][0]["bin_sweep_last_hidden"] for a in results},
               "trajectories": {a: [{"epochs": r["epochs"], "points": r["points"]} for r in results[a]]
                                for a in results},
               "figures": figures, "seconds": time.perf_counter() - t0}
    if out:
        write_json(out, "information_plane.json", summary)
    log(f"claim: {CLAIM}")
    log(f"12-bit task: p(y=1) = {y.mean():.3f}; {epochs} epochs; seeds {list(seeds)}")
    for a in c:
        log(f"  {a}: compression of the last hidden layer {c[a]:.2f} +- {summary['compression_std'][a]:.2f} bits, "
            f"test accuracy {np.mean(summary['final_test_acc'][a]):.3f}, I(X;T) by bins (10/30/100): "
            + "/".join(f"{v:.2f}" for v in summary["bin_sweep_last_hidden"][a].values()))
    note = {"holds partly": " (only " + ", ".join(yes) + " compresses"
            + ("; as Saxe et al. report)" if yes == ["tanh"] else ")")}.get(verdict, "")
    log(f"rule: {RULE}\nverdict: {verdict}{note}")
    return summary


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m mathdl.experiments.information_plane", description=CLAIM)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--out", default="runs/information_plane")
    a = p.parse_args(argv)
    run(a.quick, tuple(int(s) for s in a.seeds.split(",")), a.out, a.epochs)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

"""``mathdl analyze {spectrum,landscape,topology,information} --checkpoint PATH``.

Rebuilds the model of a checkpoint written by ``mathdl train`` (its config names the model, the
dataset and their options), takes ``--samples`` examples of a split, and runs one instrument:

* ``spectrum``: Hessian of the mean loss over the examples (eval mode): the top ``--top-k`` and
  the smallest eigenvalue by Lanczos, the Hutch++ trace, the SLQ density (linear and log axes),
  negative curvature (fraction, count, mass with intervals, |lambda_min/lambda_max|).
* ``landscape``: a 2-D filter-normalized random slice (``--kind random``), a 1-D one
  (``random1d``), the top-two Hessian eigenvector plane (``hessian``), or the interpolation from
  ``--from`` (another checkpoint of the same model) to this one (``interpolate``).
* ``topology``: persistent homology of each ``--layers`` representation (per class with
  ``--per-class``), Betti numbers at ``--scale`` and Betti curves.
* ``information``: I(X;T) and I(T;Y) per layer (binning over a sweep of bin counts, the KDE bound).

Writes PNGs and ``<command>.json`` into ``--out`` (default ``<checkpoint folder>/analysis``) and
prints a summary.  Bad input raises ``ValueError`` with one line (the ``mathdl`` command prints it).

Under ``mpiexec -n N mathdl analyze ...`` (N > 1) the work is split over the ranks and the numbers
are the single-process ones: ``landscape`` splits its grid points (and, for ``--kind hessian``, the
batches of the Hessian products that find the directions); ``spectrum`` splits the batches of every
Hessian-vector product and sums them in the single-process order
(:class:`mathdl.distributed.analysis.ShardedOperator`), so Lanczos, Hutch++ and SLQ run in lockstep
on every rank.  ``topology`` and ``information`` are not split: rank 0 computes them alone.  Only
rank 0 prints, plots and writes files; an error on any rank ends the whole job (exit code 2).
"""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np

__all__ = ["add_parser", "run", "load_checkpoint"]

ACTIVATIONS = ("ReLU", "Tanh", "GELU", "Sigmoid", "SiLU", "ELU", "LeakyReLU", "Softplus", "Mish", "PReLU")


def add_parser(subparsers):
    p = subparsers.add_parser(
        "analyze", help="Hessian spectra, loss landscapes, topology and information of a trained model",
        description="Analyse a checkpoint written by 'mathdl train': the Hessian spectrum, loss-landscape slices, "
                    "persistent homology of layer representations, or the information plane. Writes PNGs and a "
                    "JSON into --out.")
    sub = p.add_subparsers(dest="analysis", metavar="ANALYSIS", parser_class=type(p))
    sub.required = True

    def common(q, samples, split):
        q.add_argument("--checkpoint", required=True, help="checkpoint.safetensors written by 'mathdl train'")
        q.add_argument("--out", help="output folder (default: <checkpoint folder>/analysis)")
        q.add_argument("--split", choices=("train", "test"), default=split, help=f"data split (default {split})")
        q.add_argument("--samples", type=int, default=samples, help=f"examples used (default {samples}; 0 = all)")
        q.add_argument("--batch-size", type=int, default=256, help="examples per forward pass (default 256)")
        q.add_argument("--seed", type=int, default=0, help="seed for the example subset and random vectors")
        q.add_argument("--data-dir", help="directory holding file-based datasets, if different from training")
        q.add_argument("--no-progress", action="store_true", help="no progress bars")

    s = sub.add_parser("spectrum", help="Hessian eigenvalues, trace, spectral density, negative curvature")
    common(s, 512, "train")
    s.add_argument("--top-k", type=int, default=5, help="number of top eigenvalues (default 5)")
    s.add_argument("--probes", type=int, default=8, help="SLQ probe vectors (default 8)")
    s.add_argument("--lanczos-steps", type=int, default=60, help="Lanczos steps per probe (default 60)")
    s.add_argument("--trace-matvecs", type=int, default=60, help="Hessian-vector products for Hutch++ (default 60)")

    ls = sub.add_parser("landscape", help="loss along filter-normalized random / Hessian planes, or interpolation")
    common(ls, 512, "train")
    ls.add_argument("--kind", choices=("random", "random1d", "hessian", "interpolate"), default="random")
    ls.add_argument("--points", type=int, default=21, help="grid points per axis; odd, so the centre is on it")
    ls.add_argument("--span", type=float, default=1.0, help="the grid covers [-span, span] (default 1)")
    ls.add_argument("--from", dest="from_checkpoint", help="for --kind interpolate: the start checkpoint")
    ls.add_argument("--log", action="store_true", help="plot log10 of the loss")

    t = sub.add_parser("topology", help="persistent homology (Betti numbers) of layer representations")
    common(t, 1000, "test")
    t.add_argument("--layers", help="comma-separated module names (default: every activation module and the output)")
    t.add_argument("--points", type=int, default=300, help="farthest-point landmarks per cloud (default 300)")
    t.add_argument("--maxdim", type=int, default=1, choices=(0, 1, 2), help="highest homology dimension")
    t.add_argument("--metric", choices=("euclidean", "geodesic"), default="euclidean")
    t.add_argument("--k", type=int, default=10, help="neighbours of the geodesic metric's kNN graph")
    t.add_argument("--scale", type=float, default=None,
                   help="scale for Betti numbers (default: 1.5 x the largest nearest-neighbour distance of the "
                        "landmarks)")
    t.add_argument("--per-class", action="store_true", help="one point cloud per class")
    t.add_argument("--max-memory", type=float, default=None, help="memory guard in GiB")

    i = sub.add_parser("information", help="I(X;T) and I(T;Y) of layer representations (information plane)")
    common(i, 0, "train")
    i.add_argument("--layers", help="comma-separated module names (default: every activation module and the output)")
    i.add_argument("--bins", default="2,4,8,16,30,64", help="bin counts of the sweep (default 2,4,8,16,30,64)")
    i.add_argument("--noise-var", type=float, default=0.1, help="noise variance of the KDE bound (default 0.1)")
    p.set_defaults(_analyze_run=run)
    return p


# ============================================================================ loading
def load_checkpoint(path, data_dir=None):
    """(model in eval mode, dataset spec, config) of a 'mathdl train' checkpoint; ValueError otherwise."""
    from .. import data, models  # noqa: F401  (registration)
    from ..data.registry import load_dataset
    from ..models.registry import build_model
    from ..serialization import load

    if not os.path.exists(path):
        raise ValueError(f"checkpoint {path!r} does not exist")
    try:
        state = load(path)
    except Exception as e:  # CheckpointError is a ValueError; anything else is not a checkpoint either
        raise ValueError(f"{path!r} is not a readable checkpoint: {' '.join(str(e).split())}") from None
    if not isinstance(state, dict) or state.get("kind") != "mathdl-train" or "config" not in state:
        raise ValueError(f"{path!r} is not a training checkpoint written by 'mathdl train'")
    cfg = dict(state["config"])
    opts = dict(cfg.get("data_options") or {})
    if data_dir:
        opts["root"] = os.path.expanduser(data_dir)
    spec = load_dataset(cfg["dataset"], **opts)
    model = build_model(cfg["model"], spec, **(cfg.get("model_options") or {}))
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, ValueError, KeyError) as e:
        raise ValueError(f"{path!r}: the weights do not fit the model its config builds ({cfg['model']} on "
                         f"{cfg['dataset']}): {' '.join(str(e).split())[:300]}") from None
    model.eval()
    return model, spec, cfg, state


def _arrays(dataset):
    arrays = getattr(dataset, "arrays", None)
    if arrays is not None and len(arrays) >= 2:
        return np.asarray(arrays[0]), np.asarray(arrays[1])
    xs, ys = zip(*[dataset[i] for i in range(len(dataset))])
    return np.stack([np.asarray(x) for x in xs]), np.asarray(ys)


def _examples(spec, split, samples, seed):
    x, y = _arrays(spec.train if split == "train" else spec.test)
    if samples and samples < len(x):
        idx = np.sort(np.random.default_rng(seed).choice(len(x), samples, replace=False))
        x, y = x[idx], y[idx]
    return x, y


def _loader(x, y, batch_size):
    from ..data import DataLoader, TensorDataset

    if batch_size < 1:
        raise ValueError(f"--batch-size must be positive, got {batch_size}")
    return DataLoader(TensorDataset(x, y), batch_size=batch_size)


def _loss_fn(spec):
    from ..nn import functional as F

    if spec.task == "regression":
        return lambda out, y: F.mse_loss(out.reshape(y.shape), y)
    if spec.task == "classification":
        return F.cross_entropy
    C = spec.num_classes
    return lambda out, y: F.cross_entropy(out.reshape(-1, C), y.reshape(-1), ignore_index=-100)


def _out_dir(args):
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "analysis")
    os.makedirs(out, exist_ok=True)
    return out


def _layers(model, text):
    from .topology import layer_names

    if text:
        names = [n.strip() for n in text.split(",") if n.strip()]
        known = set(layer_names(model))
        bad = [n for n in names if n not in known]
        if bad:
            raise ValueError(f"no layer named {bad[0]!r}; the layers are: {', '.join(layer_names(model))}")
        return names
    leaves = [n for n, m in model.named_modules() if n and not list(m.children())]
    names = [n for n, m in model.named_modules() if n and type(m).__name__ in ACTIVATIONS]
    if leaves and leaves[-1] not in names:
        names.append(leaves[-1])  # the output layer
    return names or leaves


def _main():
    from ..distributed.group import is_main_process

    return is_main_process()


def _say(*args, **kwargs):
    """print, on rank 0 only."""
    if _main():
        print(*args, **kwargs)


def _dump(obj, path):
    def fix(o):
        if isinstance(o, dict):
            return {str(k): fix(v) for k, v in o.items()}
        if isinstance(o, list | tuple):
            return [fix(v) for v in o]
        if isinstance(o, np.ndarray):
            return fix(o.tolist())
        if isinstance(o, np.generic):
            return fix(o.item())
        if isinstance(o, float) and not math.isfinite(o):
            return str(o)
        return o

    with open(path, "w") as f:
        json.dump(fix(obj), f, indent=2)
    return path


# ============================================================================ commands
def _spectrum(args, model, spec, cfg, out):
    from .operators import model_hessian
    from .spectrum import plot_density, spectrum_summary

    x, y = _examples(spec, args.split, args.samples, args.seed)
    H = model_hessian(model, _loss_fn(spec), _loader(x, y, args.batch_size), distributed=True)
    _say(f"Hessian of the {args.split} loss over {len(x)} examples: {H.num_params:,} parameters", file=sys.stderr)
    res = spectrum_summary(H, k=args.top_k, num_probes=args.probes, lanczos_steps=args.lanczos_steps,
                           trace_matvecs=args.trace_matvecs, seed=args.seed, progress=not args.no_progress and _main())
    if not _main():
        return 0
    png = plot_density(res["slq"], os.path.join(out, "spectrum_density.png"),
                       title=f"Hessian spectrum: {cfg['model']} on {cfg['dataset']}")
    neg = res["negative_curvature"]
    summary = {k: v for k, v in res.items() if k not in ("slq", "top_eigenvectors")}
    grid, phi = res["slq"].density(num=400)
    summary["density"] = {"grid": grid, "phi": phi}
    js = _dump(summary, os.path.join(out, "spectrum.json"))
    top = ", ".join(f"{v:.4g}" for v in res["top_eigenvalues"])
    _say(f"top eigenvalues: {top}")
    _say(f"smallest eigenvalue: {res['lambda_min']:.4g}   |lambda_min/lambda_max| = {neg['ratio']:.4g}")
    _say(f"trace (Hutch++): {res['trace']:.4g} +- {res['trace_stderr']:.2g}")
    _say(f"negative eigenvalues: {neg['fraction'] * 100:.2f}% ({neg['count']:.0f} of {res['n']}, 95% interval "
         f"{neg['count_interval'][0]:.0f}-{neg['count_interval'][1]:.0f}), negative mass {neg['mass']:.3g}")
    _say(f"wrote {png}, {js}")
    return 0


def _landscape(args, model, spec, cfg, out):
    from . import landscape as L

    x, y = _examples(spec, args.split, args.samples, args.seed)
    data = _loader(x, y, args.batch_size)
    loss_fn = _loss_fn(spec)
    progress = not args.no_progress and _main()
    coords = L.grid(args.span, args.points)
    if args.kind == "interpolate":
        if not args.from_checkpoint:
            raise ValueError("--kind interpolate needs --from CHECKPOINT (the start point)")
        other, _, ocfg, _ = load_checkpoint(args.from_checkpoint, args.data_dir)
        if (ocfg["model"], ocfg.get("model_options")) != (cfg["model"], cfg.get("model_options")):
            raise ValueError(f"--from holds a different model ({ocfg['model']}) than --checkpoint ({cfg['model']})")
        alphas = np.union1d(np.linspace(-0.5, 1.5, args.points), [0.0, 1.0])
        res = L.interpolate(model, other.state_dict(), model.state_dict(), data, alphas, loss_fn, progress,
                            distributed=True)
    elif args.kind == "random1d":
        res = L.slice_1d(model, data, L.random_direction(model, seed=args.seed), coords, loss_fn, progress=progress,
                         distributed=True)
    else:
        if args.kind == "hessian":
            vals, dirs = L.hessian_directions(model, data, loss_fn, k=2, seed=args.seed, distributed=True)
            _say(f"top Hessian eigenvalues {vals[0]:.4g}, {vals[1]:.4g}", file=sys.stderr)
        else:
            dirs = L.random_directions(model, seed=args.seed)
        res = L.slice_2d(model, data, dirs, coords, coords, loss_fn, progress=progress, kind=args.kind,
                         distributed=True)
    if not _main():
        return 0
    pngs = L.plot_landscape(res, os.path.join(out, f"landscape_{args.kind}"),
                            title=f"{cfg['model']} on {cfg['dataset']}: {args.kind}", log=args.log)
    js = _dump(res.to_dict(), os.path.join(out, f"landscape_{args.kind}.json"))
    loss = np.asarray(res.loss)
    if args.kind == "interpolate":
        at = {a: float(v) for a, v in zip(res.xs, loss)}
        where = (f"loss at --from (alpha 0) {res.centre_loss:.4g}, at --checkpoint (alpha 1) "
                 f"{at.get(1.0, float('nan')):.4g}")
    else:
        where = f"centre loss {res.centre_loss:.4g} (the {args.split} loss)"
    _say(f"{args.kind} landscape over {loss.size} points: {where}, min {np.nanmin(loss):.4g}, "
         f"max {np.nanmax(loss):.4g}")
    _say(f"wrote {', '.join(pngs)}, {js}")
    return 0


def _topology(args, model, spec, cfg, out):
    from . import topology as T

    if args.points < 3:
        raise ValueError(f"--points must be at least 3, got {args.points}")
    names = _layers(model, args.layers)
    x, y = _examples(spec, args.split, args.samples, args.seed)
    acts = T.capture_activations(model, x, names, args.batch_size, include_input=True)
    limit = None if args.max_memory is None else args.max_memory * 2 ** 30
    groups = {"all": np.ones(len(x), bool)}
    if args.per_class:
        if spec.task != "classification":
            raise ValueError("--per-class needs a classification dataset")
        groups = {f"class {c}": y == c for c in np.unique(y)}
    table, results = [], {}
    for layer in ["input", *names]:
        for g, mask in groups.items():
            X = acts[layer][mask]
            p = T.persistent_homology(X, maxdim=args.maxdim, metric=args.metric, k=args.k, n_points=args.points,
                                      max_memory=limit, seed=args.seed)
            scale = args.scale if args.scale is not None else _default_scale(X, p)
            betti = p.betti(scale)
            table.append((layer, g, scale, betti))
            results[f"{layer}/{g}"] = {"scale": scale, "betti": betti, **p.to_dict()}
            if g == next(iter(groups)):
                safe = layer.replace(".", "_")
                T.plot_diagrams(p, os.path.join(out, f"topology_{safe}_diagram.png"), f"{layer} ({g})")
                T.plot_barcode(p, os.path.join(out, f"topology_{safe}_barcode.png"), f"{layer} ({g})")
    js = _dump({"layers": ["input", *names], "table": table, "results": results}, os.path.join(out, "topology.json"))
    print(f"Betti numbers (b0, b1{', b2' if args.maxdim == 2 else ''}) of {args.split} representations "
          f"({args.metric} metric, {args.points} landmarks):")
    for layer, g, scale, betti in table:
        print(f"  {layer:20s} {g:10s} scale {scale:8.3g}: {betti}")
    print(f"wrote diagrams and barcodes (topology_*.png), {js}")
    return 0


def _default_scale(X, p):
    """1.5 x the largest nearest-neighbour distance among the landmarks: every point is joined to a
    neighbour, so b0 counts clusters farther apart than the sampling density."""
    from scipy.spatial import cKDTree

    idx = p.extras.get("landmarks")
    Z = X if idx is None else X[np.asarray(idx)]
    if len(Z) < 2:
        return 0.0
    return 1.5 * float(cKDTree(Z).query(Z, 2)[0][:, 1].max())


def _information(args, model, spec, cfg, out):
    from . import information as I

    if spec.task != "classification":
        raise ValueError(f"information needs a classification dataset; {cfg['dataset']} is {spec.task}")
    try:
        bins = [int(b) for b in str(args.bins).split(",") if b.strip()]
    except ValueError:
        raise ValueError(f"--bins must be comma-separated integers, got {args.bins!r}") from None
    names = _layers(model, args.layers)
    x, y = _examples(spec, args.split, args.samples, args.seed)
    from .topology import capture_activations

    acts = capture_activations(model, x, names, args.batch_size)
    x_ids = np.unique(x.reshape(len(x), -1), axis=0, return_inverse=True)[1].ravel()
    res = {"bins": {}, "kde": None}
    for b in bins:
        res["bins"][b] = I.information_plane(acts, y, "binning", n_bins=b, x_ids=x_ids)
    if len(x) <= 4000:
        res["kde"] = I.information_plane(acts, y, "kde", noise_var=args.noise_var)
    js = _dump(res, os.path.join(out, "information.json"))
    base = res["bins"][bins[len(bins) // 2]]
    print(f"H(X) = {base['H_X']:.3f} bits, H(Y) = {base['H_Y']:.3f} bits over {len(x)} {args.split} examples")
    print("layer                 " + "  ".join(f"bins={b:<4d}" for b in bins) + ("   KDE" if res["kde"] else ""))
    for n in names:
        cells = "  ".join(f"{res['bins'][b]['points'][n][0]:4.2f}/{res['bins'][b]['points'][n][1]:4.2f}"
                          for b in bins)
        kde = f"   {res['kde']['points'][n][0]:.2f}/{res['kde']['points'][n][1]:.2f}" if res["kde"] else ""
        print(f"  {n:20s}{cells}{kde}   (I(X;T)/I(T;Y))")
    flags = [f for r in res["bins"].values() for f in r["bound_violations"] + r["dpi_violations"]]
    if flags:
        print(f"flagged ({len(flags)}): " + "; ".join(sorted(set(flags))[:5]))
    I.plot_information_plane({n: [base["points"][n]] for n in names}, os.path.join(out, "information_plane.png"),
                             h_x=base["H_X"], h_y=base["H_Y"])
    print(f"wrote {os.path.join(out, 'information_plane.png')}, {js}")
    return 0


def run(args) -> int:
    """Run ``mathdl analyze``; returns the exit code (bad input raises ValueError)."""
    if getattr(args, "samples", 0) is not None and args.samples < 0:
        raise ValueError(f"--samples must be >= 0, got {args.samples}")
    from ..distributed import group

    if group.launched_by_mpi() is None:
        return _run(args)
    group.init()
    if group.get_world_size() == 1:
        return _run(args)
    try:
        return _run(args)
    except (ValueError, FileNotFoundError) as e:  # the other ranks may wait in a collective: end them all
        print(f"mathdl analyze: error: rank {group.get_rank()} of {group.get_world_size()}: {' '.join(str(e).split())}",
              file=sys.stderr)
        group.abort_job(2)
        raise


def _run(args):
    model, spec, cfg, _ = load_checkpoint(args.checkpoint, args.data_dir)
    if args.analysis in ("topology", "information") and not _main():
        return 0  # not split over ranks: rank 0 computes it alone
    out = _out_dir(args) if _main() else None
    cmd = {"spectrum": _spectrum, "landscape": _landscape, "topology": _topology, "information": _information}
    return cmd[args.analysis](args, model, spec, cfg, out)

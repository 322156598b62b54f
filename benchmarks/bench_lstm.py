"""LSTM training step, mathdl against PyTorch eager, each library alone in a fresh process.

A 2-layer LSTM (input 256, hidden 256), sequence 64, batch 32, time-major input; one step =
forward, mean-squared error against a fixed target, backward and an Adam update.  Both libraries
start from the same weights.  Every round starts one fresh process per library (the order
alternates between rounds, so background load affects both alike); each process reports the
median of its steps, and the table shows the median over rounds and the ratio mathdl / PyTorch
(and the fastest process of each, less sensitive to other programs' load),
for each thread count (1 and 2 unless ``--threads`` says otherwise), plus the peak resident
memory growth of the steps.

    python benchmarks/bench_lstm.py [--rounds 3] [--steps 10] [--threads 1,2] [--profile] [--numpy-road]
                                    [--python-steps] [--no-split]

mathdl's float32 LSTM runs each time step's elementwise part as one compiled kernel (numba,
mathdl/ops/recurrent_kernels.py) and its whole time loop as one compiled call, split over the hidden
units at two threads and more.  For before/after comparisons: ``--numpy-road`` times the NumPy array
code instead (MATHDL_FUSED_RNN=0), ``--python-steps`` the compiled kernels called from a Python loop
over the steps (MATHDL_RNN_LOOPS=0), ``--no-split`` the compiled loops without the split
(MATHDL_RNN_SPLIT=0).

(In one process each library's idle BLAS/OpenMP threads spin on the cores the other needs,
which misreports multi-threaded ratios; hence the separate processes.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository root
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import (THREAD_VARS, alternating_rounds, has_torch, load_runtime, reset_peak, rss_mb,  # noqa: E402
                     run_child, set_child_threads, thread_counts, time_samples)

LAYERS, IN, HIDDEN, SEQ, BATCH = 2, 256, 256, 64, 32


def _data():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((SEQ, BATCH, IN)).astype(np.float32)
    y = rng.standard_normal((SEQ, BATCH, HIDDEN)).astype(np.float32)
    return x, y


def _weights(names_shapes):
    """The same initial weights for both libraries: U(-1/sqrt(H), 1/sqrt(H)) (both libraries' default
    distribution) from a seeded NumPy generator, so that neither process imports the other library."""
    import numpy as np

    rng = np.random.default_rng(1)
    b = 1 / np.sqrt(HIDDEN)
    return {k: rng.uniform(-b, b, shape).astype(np.float32) for k, shape in names_shapes}


def mathdl_step():
    import mathdl
    import mathdl.nn.functional as F
    from mathdl.nn.modules.recurrent import LSTM

    x, y = _data()
    mathdl.manual_seed(0)
    model = LSTM(IN, HIDDEN, LAYERS)
    w = _weights([(k, tuple(v.shape)) for k, v in model.state_dict().items()])
    model.load_state_dict({k: mathdl.tensor(v) for k, v in w.items()})
    opt = mathdl.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = mathdl.tensor(x), mathdl.tensor(y)

    def step():
        opt.zero_grad()
        out, _ = model(xt)
        loss = F.mse_loss(out, yt)
        loss.backward()
        opt.step()
        return loss

    return step


def torch_step(threads):
    import torch

    torch.set_num_threads(threads)
    x, y = _data()
    torch.manual_seed(0)
    model = torch.nn.LSTM(IN, HIDDEN, LAYERS)
    w = _weights([(k, tuple(v.shape)) for k, v in model.state_dict().items()])
    model.load_state_dict({k: torch.tensor(v) for k, v in w.items()})
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = torch.tensor(x), torch.tensor(y)

    def step():
        opt.zero_grad()
        out, _ = model(xt)
        loss = torch.nn.functional.mse_loss(out, yt)
        loss.backward()
        opt.step()
        return loss

    return step


def child(lib, threads, steps, warmup=2):
    """Runs in the fresh process: prints {"median": s, "peak_mb": MB} as JSON (MB: the peak resident
    memory during the steps above the resident memory once the model and optimizer exist)."""
    set_child_threads(lib, threads)
    if lib == "mathdl":
        load_runtime()  # numba and LLVM's JIT, as torch's libraries are loaded by its import
    step = mathdl_step() if lib == "mathdl" else torch_step(threads)
    base = rss_mb("VmRSS")
    reset_peak()
    times = sorted(time_samples(step, steps, warmup))
    peak = rss_mb("VmHWM")
    print(json.dumps({"median": times[len(times) // 2], "peak_mb": float("nan") if base is None else peak - base}))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="fresh processes per library and thread count")
    ap.add_argument("--steps", type=int, default=10, help="timed steps per process (after 2 warm-up steps)")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--profile", action="store_true", help="profile mathdl's step (cProfile, own time)")
    ap.add_argument("--numpy-road", action="store_true",
                    help="mathdl without its compiled recurrent kernels (MATHDL_FUSED_RNN=0)")
    ap.add_argument("--python-steps", action="store_true",
                    help="mathdl's compiled kernels called from a Python loop over steps (MATHDL_RNN_LOOPS=0)")
    ap.add_argument("--no-split", action="store_true",
                    help="mathdl's compiled loops not split over hidden units (MATHDL_RNN_SPLIT=0)")
    ap.add_argument("--child", choices=("mathdl", "torch"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    # read by the child processes' mathdl.ops.recurrent
    for flag, var in ((args.numpy_road, "MATHDL_FUSED_RNN"), (args.python_steps, "MATHDL_RNN_LOOPS"),
                      (args.no_split, "MATHDL_RNN_SPLIT")):
        if flag:
            os.environ[var] = "0"
    counts = thread_counts(ap, args.threads)
    if args.child:
        child(args.child, counts[0], args.steps)
        return
    if args.profile:
        import cProfile
        import pstats

        for v in THREAD_VARS:
            os.environ[v] = str(counts[0])
        step = mathdl_step()
        step()
        pr = cProfile.Profile()
        pr.enable()
        for _ in range(args.steps):
            step()
        pr.disable()
        pstats.Stats(pr).sort_stats("tottime").print_stats(20)
        return
    libs = ["mathdl", "torch"] if has_torch() else ["mathdl"]
    print(f"LSTM training step: {LAYERS} layers, input {IN}, hidden {HIDDEN}, seq {SEQ}, batch {BATCH}, MSE, Adam; "
          f"median over {args.rounds} fresh processes x {args.steps} steps"
          + ("; mathdl on its NumPy road" if args.numpy_road else "")
          + ("; mathdl's steps from Python" if args.python_steps else "")
          + ("; mathdl's loops unsplit" if args.no_split else ""))
    for n in counts:
        res = alternating_rounds(libs, args.rounds, lambda lib, n=n: run_child(
            __file__, [lib, "--threads", n, "--steps", args.steps], n, label=lib))
        res = {lib: v for lib, v in res.items() if v}
        if "mathdl" not in res:
            continue
        med = {lib: sorted(x["median"] for x in v)[len(v) // 2] for lib, v in res.items()}
        best = {lib: min(x["median"] for x in v) for lib, v in res.items()}
        mem = {lib: max(x["peak_mb"] for x in v) for lib, v in res.items()}
        line = f"{n} thread{'s' if n > 1 else ' '}: mathdl {med['mathdl'] * 1e3:8.2f} ms ({mem['mathdl']:6.1f} MB)"
        if "torch" in med:
            line += (f"   torch {med['torch'] * 1e3:8.2f} ms ({mem['torch']:6.1f} MB)   "
                     f"ratio {med['mathdl'] / med['torch']:5.2f}x   (best process: {best['mathdl'] * 1e3:.1f} / "
                     f"{best['torch'] * 1e3:.1f} ms = {best['mathdl'] / best['torch']:.2f}x)")
        print(line, flush=True)


if __name__ == "__main__":
    main()

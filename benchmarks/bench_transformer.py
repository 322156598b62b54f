"""Transformer training step: mathdl against PyTorch eager, same work, same process.

A 2-layer TransformerEncoder (d_model 128, 4 heads, feed-forward 512, dropout 0.1, post-norm,
batch_first), input (batch 16, sequence 64, 128), a linear head to 10 classes per position,
cross-entropy, backward and an Adam step.  Both frameworks start from the same weights.

    python benchmarks/bench_transformer.py [--steps 30] [--threads N] [--profile]

Prints the median step time of each, the ratio mathdl/torch, and with ``--profile`` the
mathdl ops that take the most time (cProfile, sorted by own time).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import mathdl
import mathdl.nn as nn
import mathdl.nn.functional as F
import mathdl.optim

D, H, FF, L, N, LAYERS, C = 128, 4, 512, 64, 16, 2, 10


class MdlModel(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        layer = nn.TransformerEncoderLayer(D, H, FF, dropout=dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, LAYERS)
        self.head = nn.Linear(D, C)

    def forward(self, x):
        return self.head(self.encoder(x))


def _median_time(step, steps, warmup=3):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def make_mathdl(x, y, dropout, state=None):
    mathdl.manual_seed(0)
    model = MdlModel(dropout)
    if state is not None:
        model.load_state_dict({k: mathdl.tensor(v) for k, v in state.items()})
    opt = mathdl.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = mathdl.tensor(x), mathdl.tensor(y)

    def step():
        opt.zero_grad()
        logits = model(xt)
        loss = F.cross_entropy(logits.reshape(-1, C), yt.reshape(-1))
        loss.backward()
        opt.step()
        return loss

    return step


def make_torch(x, y, dropout):
    import torch

    torch.manual_seed(0)

    class TModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            layer = torch.nn.TransformerEncoderLayer(D, H, FF, dropout=dropout, batch_first=True)
            self.encoder = torch.nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
            self.head = torch.nn.Linear(D, C)

        def forward(self, x):
            return self.head(self.encoder(x))

    model = TModel()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = torch.tensor(x), torch.tensor(y)

    def step():
        opt.zero_grad()
        logits = model(xt)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, C), yt.reshape(-1))
        loss.backward()
        opt.step()
        return loss

    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    return step, state


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, L, D)).astype(np.float32)
    y = rng.integers(0, C, (N, L)).astype(np.int64)
    print(f"transformer encoder training step: {LAYERS} layers, d_model {D}, {H} heads, ff {FF}, "
          f"seq {L}, batch {N}, dropout {args.dropout}, Adam")
    state = None
    t_torch = None
    try:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        tstep, state = make_torch(x, y, args.dropout)
        t_torch = _median_time(tstep, args.steps)
        print(f"torch  {torch.__version__:>8s}: {t_torch * 1e3:8.2f} ms/step (median of {args.steps}, "
              f"{torch.get_num_threads()} threads)")
    except ImportError:
        print("torch not installed: mathdl only")
    mstep = make_mathdl(x, y, args.dropout, state)
    t_mdl = _median_time(mstep, args.steps)
    print(f"mathdl {mathdl.__version__:>8s}: {t_mdl * 1e3:8.2f} ms/step (median of {args.steps}, "
          f"allocator tuned: {mathdl.backend.allocator_tuned})")
    if t_torch is not None:
        print(f"ratio mathdl/torch: {t_mdl / t_torch:.2f}x")
    if args.profile:
        import cProfile
        import pstats

        pr = cProfile.Profile()
        pr.enable()
        for _ in range(10):
            mstep()
        pr.disable()
        pstats.Stats(pr).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()

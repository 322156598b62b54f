"""Transformer training step: mathdl against PyTorch eager, each alone in a fresh process.

A 2-layer TransformerEncoder (d_model 128, 4 heads, feed-forward 512, dropout 0.1, post-norm,
batch_first), input (batch 16, sequence 64, 128), a linear head to 10 classes per position,
cross-entropy, backward and an Adam step.  Both start from the same weights (mathdl's, loaded
into torch by name).

    python benchmarks/bench_transformer.py [--threads 1,2] [--repeat 20] [--rounds 2]
    python benchmarks/bench_transformer.py --profile     (mathdl's hottest functions, cProfile)
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import isolated_main, set_threads_env_from_argv  # noqa: E402

set_threads_env_from_argv()

import numpy as np  # noqa: E402

import mathdl  # noqa: E402
import mathdl.nn as nn  # noqa: E402
import mathdl.nn.functional as F  # noqa: E402
import mathdl.optim  # noqa: E402

D, H, FF, L, N, LAYERS, C = 128, 4, 512, 64, 16, 2, 10
DROPOUT = 0.1
CASES = {"transformer": "Transformer encoder step, 2 layers, d 128, T 64, batch 16"}


class MdlModel(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        layer = nn.TransformerEncoderLayer(D, H, FF, dropout=dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, LAYERS)
        self.head = nn.Linear(D, C)

    def forward(self, x):
        return self.head(self.encoder(x))


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((N, L, D)).astype(np.float32), rng.integers(0, C, (N, L)).astype(np.int64)


def make_mathdl(x, y, dropout):
    mathdl.manual_seed(0)
    model = MdlModel(dropout)
    opt = mathdl.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = mathdl.tensor(x), mathdl.tensor(y)

    def step():
        opt.zero_grad()
        logits = model(xt)
        loss = F.cross_entropy(logits.reshape(-1, C), yt.reshape(-1))
        loss.backward()
        opt.step()
        return loss

    return step, model


def make_torch(x, y, dropout, state):
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
    model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = torch.tensor(x), torch.tensor(y)

    def step():
        opt.zero_grad()
        logits = model(xt)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, C), yt.reshape(-1))
        loss.backward()
        opt.step()
        return loss

    return step


def make_step(framework, case):
    x, y = _data()
    if framework == "torch":
        _, model = make_mathdl(x, y, DROPOUT)
        state = {k: np.ascontiguousarray(v.array) for k, v in model.state_dict().items()}
        step = make_torch(x, y, DROPOUT, state)
    else:
        step, _ = make_mathdl(x, y, DROPOUT)
    loss = float(step().item())
    return step, (loss if DROPOUT == 0 else None)


def profile(steps=10):
    import cProfile
    import pstats

    step, _ = make_mathdl(*_data(), DROPOUT)
    step()
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(steps):
        step()
    pr.disable()
    pstats.Stats(pr).sort_stats("tottime").print_stats(25)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--profile" in argv:
        return profile()
    return isolated_main(__file__, CASES, make_step, argv, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    main()

"""MLP training step, mathdl.nn + mathdl.optim against PyTorch eager, each alone in a fresh process.

A 784-512-512-10 ReLU MLP, batch 128, float32: forward, cross-entropy, backward and an Adam
step through nn.Linear / nn.ReLU / nn.Sequential, F.cross_entropy and optim.Adam, from the same
weights and batch (the first losses are compared).  Also timed: the Adam step alone on the same
670k parameters ("adam" case).

  python benchmarks/bench_mlp_train.py [--threads 1,2] [--repeat 50] [--rounds 2] [--cases mlp_adam,adam]
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import isolated_main, set_threads_env_from_argv  # noqa: E402

set_threads_env_from_argv()

import numpy as np  # noqa: E402

SIZES = [784, 512, 512, 10]
BATCH = 128
CASES = {"mlp_adam": "MLP 784-512-512-10 step, Adam, batch 128", "adam": "Adam step alone (670k parameters)"}


def _data():
    rng = np.random.default_rng(0)
    weights = []
    for i, o in zip(SIZES[:-1], SIZES[1:]):
        bound = 1 / np.sqrt(i)
        weights.append((rng.uniform(-bound, bound, (o, i)).astype(np.float32),
                        rng.uniform(-bound, bound, o).astype(np.float32)))
    return weights, rng.standard_normal((BATCH, SIZES[0])).astype(np.float32), rng.integers(0, SIZES[-1], BATCH)


def make_step(framework, case):
    weights, x_np, y_np = _data()
    if framework == "torch":
        import torch

        layers = []
        for i, (w, b) in enumerate(weights):
            lin = torch.nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
            layers += [lin] + ([torch.nn.ReLU()] if i < len(weights) - 1 else [])
        model = torch.nn.Sequential(*layers)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
        ce = torch.nn.functional.cross_entropy
    else:
        import mathdl as md
        import mathdl.nn as nn
        import mathdl.nn.functional as F

        layers = []
        for i, (w, b) in enumerate(weights):
            lin = nn.Linear(w.shape[1], w.shape[0])
            lin.weight.array[...] = w
            lin.bias.array[...] = b
            layers += [lin] + ([nn.ReLU()] if i < len(weights) - 1 else [])
        model = nn.Sequential(*layers)
        opt = md.optim.Adam(model.parameters(), lr=1e-3)
        x, y = md.tensor(x_np), md.tensor(y_np)
        ce = F.cross_entropy

    def step():
        opt.zero_grad()
        loss = ce(model(x), y)
        loss.backward()
        opt.step()
        return loss

    first = float(step().item())
    if case == "adam":
        return opt.step, None
    return step, first


def main(argv=None):
    return isolated_main(__file__, CASES, make_step, argv, description=__doc__.splitlines()[0], repeat=50,
                         warmup=10)


if __name__ == "__main__":
    main()

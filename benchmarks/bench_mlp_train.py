"""Training-step benchmark (issue 3, item 10): mathdl.nn + mathdl.optim vs PyTorch eager.

A 784-512-512-10 ReLU MLP, batch 128, float32: forward, cross-entropy, backward and an Adam
step, through ``nn.Linear``/``nn.ReLU``/``nn.Sequential``, ``F.cross_entropy`` and
``optim.Adam`` (falling back to plain mathdl ops for any of these that is missing, which the
output says).  Both frameworks start from the same weights and see the same batch; PyTorch runs
on all the machine's cores (``torch.set_num_threads``), samples alternate between the two.
Also timed: the optimizer step alone (Adam, SGD with momentum) on the same 670k parameters.

Run:  python benchmarks/bench_mlp_train.py [--repeat 50] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import paired_times, row, try_torch  # noqa: E402

import mathdl as md  # noqa: E402
import mathdl.optim as optim  # noqa: E402

SIZES = [784, 512, 512, 10]
BATCH = 128


def build_mathdl(weights):
    """The model as a callable plus its parameter list; says which API it used."""
    try:
        import mathdl.nn as nn

        layers = []
        for i, (w, b) in enumerate(weights):
            lin = nn.Linear(w.shape[1], w.shape[0])
            lin.weight.data[...] = w
            lin.bias.data[...] = b
            layers.append(lin)
            if i < len(weights) - 1:
                layers.append(nn.ReLU())
        model = nn.Sequential(*layers)
        return model, list(model.parameters()), "nn.Sequential(nn.Linear, nn.ReLU)"
    except (ImportError, AttributeError, TypeError):
        params = []
        for w, b in weights:
            params += [md.tensor(w.copy(), requires_grad=True), md.tensor(b.copy(), requires_grad=True)]

        def model(x):
            h = x
            for i in range(0, len(params), 2):
                h = h @ params[i].T + params[i + 1]
                if i < len(params) - 2:
                    h = md.relu(h)
            return h

        return model, params, "mathdl ops (nn.Linear not available)"


def loss_fn_mathdl():
    try:
        import mathdl.nn.functional as F

        return F.cross_entropy, "F.cross_entropy"
    except (ImportError, AttributeError):
        def ce(logits, y):
            logp = md.log_softmax(logits, dim=1)
            return -md.take_along_dim(logp, y.reshape(-1, 1), dim=1).mean()

        return ce, "log_softmax + gather (F.cross_entropy not available)"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for PyTorch and NumPy's BLAS (default: all cores, as PyTorch does)")
    args = ap.parse_args(argv)
    torch = try_torch()
    if args.threads:
        if torch is not None:
            torch.set_num_threads(args.threads)
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(args.threads)
        except ImportError:
            print("(threadpoolctl not installed: NumPy's BLAS keeps its own thread count)")
    if hasattr(os, "getloadavg"):
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    rng = np.random.default_rng(0)
    weights = []
    for i, o in zip(SIZES[:-1], SIZES[1:]):
        bound = 1 / np.sqrt(i)
        weights.append((rng.uniform(-bound, bound, (o, i)).astype(np.float32),
                        rng.uniform(-bound, bound, o).astype(np.float32)))
    x_np = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y_np = rng.integers(0, SIZES[-1], BATCH)

    model, params, how = build_mathdl(weights)
    ce, how_loss = loss_fn_mathdl()
    opt = optim.Adam(params, lr=1e-3)
    x, y = md.tensor(x_np), md.tensor(y_np)
    nparams = sum(p.numel() for p in params)
    print(f"mathdl model: {how}; loss: {how_loss}; {nparams} parameters, batch {BATCH}, float32")

    def step():
        opt.zero_grad()
        loss = ce(model(x), y)
        loss.backward()
        opt.step()
        return loss

    t_step = t_adam = t_sgd = None
    if torch is not None:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
        tlayers = []
        for i, (w, b) in enumerate(weights):
            lin = torch.nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
            tlayers.append(lin)
            if i < len(weights) - 1:
                tlayers.append(torch.nn.ReLU())
        tmodel = torch.nn.Sequential(*tlayers)
        topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
        tx, ty = torch.from_numpy(x_np), torch.from_numpy(y_np)

        def t_step():
            topt.zero_grad()
            loss = torch.nn.functional.cross_entropy(tmodel(tx), ty)
            loss.backward()
            topt.step()
            return loss

        # same start, same batch: the first losses agree
        a, b = step().item(), t_step().item()
        print(f"first-step loss: mathdl {a:.6f}  torch {b:.6f}")
        tparams = list(tmodel.parameters())
        topt2 = torch.optim.Adam(tparams, lr=1e-3)
        tsgd = torch.optim.SGD(tparams, lr=1e-3, momentum=0.9)

        def t_adam():
            topt2.step()

        def t_sgd():
            tsgd.step()
    else:
        step()

    print()
    ratio = row("train step (fwd + CE + bwd + Adam)", *paired_times(step, t_step, args.repeat, args.warmup))
    opt2 = optim.Adam(params, lr=1e-3)
    sgd = optim.SGD(params, lr=1e-3, momentum=0.9)
    row("Adam step alone", *paired_times(opt2.step, t_adam, args.repeat, args.warmup, inner=5))
    row("SGD(momentum) step alone", *paired_times(sgd.step, t_sgd, args.repeat, args.warmup, inner=5))
    return ratio


if __name__ == "__main__":
    main()

"""Engine benchmarks (issue 2): mathdl vs PyTorch eager, same work, same run.

(a) per-op overhead: 16x16 float32 add, forward only and forward+backward;
(b) a 784-512-512-10 ReLU MLP forward+backward, batch 128, written with mathdl ops directly;
(c) the Hessian-vector product of that MLP's loss (reverse-over-reverse).

Run:  python benchmarks/bench_engine.py
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import paired_times, row, thread_arg, try_torch  # noqa: E402

import mathdl as md  # noqa: E402
from mathdl.autograd import grad  # noqa: E402


def bench_add(torch):
    print("\n(a) per-op overhead, 16x16 float32 add")
    a = md.randn(16, 16, requires_grad=True)
    b = md.randn(16, 16, requires_grad=True)
    an, bn = md.randn(16, 16), md.randn(16, 16)
    gradient_ones = md.ones(16, 16)

    def fb():
        a.grad = b.grad = None
        (a + b).backward(gradient_ones)

    t_ng = t_f = t_fb = None
    if torch is not None:
        ta = torch.randn(16, 16, requires_grad=True)
        tb = torch.randn(16, 16, requires_grad=True)
        tan, tbn = torch.randn(16, 16), torch.randn(16, 16)
        g1 = torch.ones(16, 16)

        def t_ng():
            return tan + tbn

        def t_f():
            return ta + tb

        def t_fb():
            ta.grad = tb.grad = None
            (ta + tb).backward(g1)

    row("add, no grad", *paired_times(lambda: an + bn, t_ng, repeat=50, inner=1000))
    row("add, forward (inputs require grad)", *paired_times(lambda: a + b, t_f, repeat=50, inner=1000))
    return row("add, forward + backward", *paired_times(fb, t_fb, repeat=50, inner=300))


def _mlp_params(rng, dtype):
    sizes = [784, 512, 512, 10]
    params = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(i)
        params.append(rng.uniform(-bound, bound, (o, i)).astype(dtype))
        params.append(rng.uniform(-bound, bound, (o,)).astype(dtype))
    return params


def md_mlp_loss(x, y_onehot, params):
    w1, b1, w2, b2, w3, b3 = params
    h = md.relu(x @ w1.T + b1)
    h = md.relu(h @ w2.T + b2)
    logits = h @ w3.T + b3
    return -(md.log_softmax(logits, dim=1) * y_onehot).sum() / x.shape[0]


def torch_mlp_loss(torch, x, y, params):
    w1, b1, w2, b2, w3, b3 = params
    h = torch.relu(x @ w1.T + b1)
    h = torch.relu(h @ w2.T + b2)
    logits = h @ w3.T + b3
    return torch.nn.functional.cross_entropy(logits, y)


def bench_mlp(torch):
    print("\n(b) 784-512-512-10 ReLU MLP, batch 128, float32, forward + backward (mathdl ops)")
    rng = np.random.default_rng(0)
    arrays = _mlp_params(rng, np.float32)
    x_np = rng.standard_normal((128, 784)).astype(np.float32)
    y_np = rng.integers(0, 10, 128)
    params = [md.tensor(a, requires_grad=True) for a in arrays]
    x = md.tensor(x_np)
    y1 = md.tensor(np.eye(10, dtype=np.float32)[y_np])

    def step():
        for p in params:
            p.grad = None
        md_mlp_loss(x, y1, params).backward()

    tstep = None
    if torch is not None:
        tp = [torch.tensor(a, requires_grad=True) for a in arrays]
        tx, ty = torch.tensor(x_np), torch.tensor(y_np)

        def tstep():
            for p in tp:
                p.grad = None
            torch_mlp_loss(torch, tx, ty, tp).backward()

        step()
        tstep()
        err = max(float(np.abs(p.grad.numpy() - q.grad.numpy()).max()) for p, q in zip(params, tp))
        print(f"   (max |grad difference| vs torch: {err:.2e})")
    return row("MLP forward+backward", *paired_times(step, tstep, repeat=40))


def bench_hvp(torch):
    print("\n(c) Hessian-vector product of the MLP loss (reverse over reverse)")
    rng = np.random.default_rng(1)
    arrays = _mlp_params(rng, np.float32)
    vec = [rng.standard_normal(a.shape).astype(np.float32) for a in arrays]
    x_np = rng.standard_normal((128, 784)).astype(np.float32)
    y_np = rng.integers(0, 10, 128)
    params = [md.tensor(a, requires_grad=True) for a in arrays]
    vs = [md.tensor(v) for v in vec]
    x = md.tensor(x_np)
    y1 = md.tensor(np.eye(10, dtype=np.float32)[y_np])

    def hv():
        loss = md_mlp_loss(x, y1, params)
        gs = grad(loss, params, create_graph=True)
        dot = sum((g * v).sum() for g, v in zip(gs, vs))
        return grad(dot, params)

    thv = None
    if torch is not None:
        tp = [torch.tensor(a, requires_grad=True) for a in arrays]
        tv = [torch.tensor(v) for v in vec]
        tx, ty = torch.tensor(x_np), torch.tensor(y_np)

        def thv():
            loss = torch_mlp_loss(torch, tx, ty, tp)
            gs = torch.autograd.grad(loss, tp, create_graph=True)
            dot = sum((g * v).sum() for g, v in zip(gs, tv))
            return torch.autograd.grad(dot, tp)

        ours_r, theirs_r = hv(), thv()
        err = max(float(np.abs(a.numpy() - b.numpy()).max()) for a, b in zip(ours_r, theirs_r))
        print(f"   (max |Hv difference| vs torch: {err:.2e})")
    return row("MLP loss Hessian-vector product", *paired_times(hv, thv, repeat=20, warmup=3))


def main():
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    thread_arg(ap)
    args = ap.parse_args()
    torch = try_torch(args.threads)
    print(f"mathdl {md.__version__}; allocator tuned: {md.backend.allocator_tuned}; "
          f"threads: {args.threads or os.cpu_count()}")
    bench_add(torch)
    bench_mlp(torch)
    bench_hvp(torch)


if __name__ == "__main__":
    main()

"""Engine benchmarks: mathdl against PyTorch eager, each alone in a fresh process.

  add16   per-op overhead: a 16x16 float32 add, forward + backward (time per call)
  mlp_fb  a 784-512-512-10 ReLU MLP written with mathdl ops directly, forward + backward, batch 128
  hvp     the Hessian-vector product of that MLP's loss (reverse over reverse)

  python benchmarks/bench_engine.py [--threads 1,2] [--repeat 30] [--rounds 2] [--cases add16,mlp_fb,hvp]
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import isolated_main, set_threads_env_from_argv  # noqa: E402

set_threads_env_from_argv()

import numpy as np  # noqa: E402

CASES = {"add16": "per-op overhead: 16x16 add, forward + backward", "mlp_fb": "MLP 784-512-512-10 forward + backward",
         "hvp": "HVP of that MLP's loss"}
INNER = {"add16": 300}


def _mlp_params(rng, dtype):
    sizes = [784, 512, 512, 10]
    params = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(i)
        params.append(rng.uniform(-bound, bound, (o, i)).astype(dtype))
        params.append(rng.uniform(-bound, bound, (o,)).astype(dtype))
    return params


def md_mlp_loss(md, x, y_onehot, params):
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


def make_step(framework, case):
    rng = np.random.default_rng(0)
    if case == "add16":
        a0, b0, g0 = (rng.standard_normal((16, 16)).astype(np.float32) for _ in range(3))
        if framework == "torch":
            import torch

            a, b = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
            g = torch.tensor(g0)
        else:
            import mathdl as md

            a, b = md.tensor(a0, requires_grad=True), md.tensor(b0, requires_grad=True)
            g = md.tensor(g0)

        def fb():
            a.grad = b.grad = None
            (a + b).backward(g)

        return fb, None
    arrays = _mlp_params(rng, np.float32)
    vec = [rng.standard_normal(a.shape).astype(np.float32) for a in arrays]
    x_np = rng.standard_normal((128, 784)).astype(np.float32)
    y_np = rng.integers(0, 10, 128)
    if framework == "torch":
        import torch

        params = [torch.tensor(a, requires_grad=True) for a in arrays]
        vs = [torch.tensor(v) for v in vec]
        x, y = torch.tensor(x_np), torch.tensor(y_np)
        loss_fn = lambda: torch_mlp_loss(torch, x, y, params)  # noqa: E731
        grad = torch.autograd.grad
    else:
        import mathdl as md
        from mathdl.autograd import grad

        params = [md.tensor(a, requires_grad=True) for a in arrays]
        vs = [md.tensor(v) for v in vec]
        x, y1 = md.tensor(x_np), md.tensor(np.eye(10, dtype=np.float32)[y_np])
        loss_fn = lambda: md_mlp_loss(md, x, y1, params)  # noqa: E731

    if case == "mlp_fb":
        def step():
            for p in params:
                p.grad = None
            loss = loss_fn()
            loss.backward()
            return loss

        return step, float(step().item())

    def hv():
        gs = grad(loss_fn(), params, create_graph=True)
        dot = sum((g * v).sum() for g, v in zip(gs, vs))
        return grad(dot, params)

    return hv, None


def main(argv=None):
    return isolated_main(__file__, CASES, make_step, argv, description=__doc__.splitlines()[0], repeat=30,
                         warmup=5, inner=INNER)


if __name__ == "__main__":
    main()

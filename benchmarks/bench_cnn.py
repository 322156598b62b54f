"""CNN training steps, mathdl against PyTorch eager, each alone in a fresh process.

* LeNet-like: conv 1->16 3x3, ReLU, maxpool 2, conv 16->32 3x3, ReLU, maxpool 2, Linear(800->10);
  input 28x28x1, batch 64.
* ResNet-20 (CIFAR layout, option-A shortcuts, batch norm): input 3x32x32, batch 32.

One step = forward + cross-entropy + backward + SGD(momentum 0.9) update, from the same weights
(the first losses are compared).  For each thread count (``--threads 1,2`` by default, any list)
and round, one fresh process per library times its steps; printed: medians, the ratio
mathdl / PyTorch and the peak resident-memory growth of the steps (VmHWM, Linux).  That growth
includes what a library loads on first use: for mathdl, numba's runtime when its first compiled
kernel runs in the first step (Winograd transforms, max pooling): about 50-70 MB with numba's
on-disk cache warm, about 120 MB while it compiles (the first run after a source change).

  python benchmarks/bench_cnn.py [--threads 1,2] [--repeat 20] [--rounds 2] [--cases lenet,resnet20]
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import isolated_main, set_threads_env_from_argv  # noqa: E402

set_threads_env_from_argv()  # thread variables fixed before NumPy loads OpenBLAS

import numpy as np  # noqa: E402

CASES = {"lenet": (64, (1, 28, 28)), "resnet20": (32, (3, 32, 32))}
DESCRIPTIONS = {"lenet": "LeNet-like CNN step, batch 64, 1x28x28", "resnet20": "ResNet-20 step, batch 32, 3x32x32"}


# --------------------------------------------------------------------------- models
def mathdl_model(case):
    import mathdl
    from mathdl import nn

    mathdl.manual_seed(0)
    if case == "lenet":
        return nn.Sequential(nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(800, 10))
    from mathdl.data.registry import DatasetSpec
    from mathdl.models import build_model

    return build_model("resnet20", DatasetSpec(None, None, (3, 32, 32), 10))


def torch_model(case, torch):
    tnn = torch.nn
    if case == "lenet":
        return tnn.Sequential(tnn.Conv2d(1, 16, 3), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Conv2d(16, 32, 3), tnn.ReLU(),
                              tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(800, 10))

    class Block(tnn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(cout)
            self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(cout)
            self.stride, self.extra = stride, cout - cin

        def forward(self, x):
            y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            s = x
            if self.stride != 1 or self.extra:
                s = x[:, :, ::self.stride, ::self.stride]
                lo = self.extra // 2
                s = tnn.functional.pad(s, (0, 0, 0, 0, lo, self.extra - lo))
            return torch.relu(y + s)

    class ResNet20(tnn.Module):
        def __init__(self):
            super().__init__()
            self.stem = tnn.Sequential(tnn.Conv2d(3, 16, 3, 1, 1, bias=False), tnn.BatchNorm2d(16), tnn.ReLU())
            blocks, c = [], 16
            for i, w in enumerate((16, 32, 64)):
                for j in range(3):
                    blocks.append(Block(c, w, 2 if i and not j else 1))
                    c = w
            self.blocks = tnn.Sequential(*blocks)
            self.fc = tnn.Linear(64, 10)

        def forward(self, x):
            return self.fc(self.blocks(self.stem(x)).mean((2, 3)))

    return ResNet20()


def copy_weights(src, dst, torch):
    """mathdl parameters and buffers -> the torch model (same order of registration)."""
    sp = [p for _, p in src.named_parameters()]
    dp = list(dst.parameters())
    assert len(sp) == len(dp), (len(sp), len(dp))
    with torch.no_grad():
        for a, b in zip(sp, dp):
            assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
            b.copy_(torch.from_numpy(np.ascontiguousarray(a.array)))


# --------------------------------------------------------------------------- steps
def mathdl_step_fn(case, model=None):
    import mathdl
    import mathdl.nn.functional as F
    from mathdl import optim

    batch, shape = CASES[case]
    model = model or mathdl_model(case)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = mathdl.tensor(rng.standard_normal((batch,) + shape).astype(np.float32))
    y = mathdl.tensor(rng.integers(0, 10, batch))

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, step


def torch_step_fn(case, torch, model=None):
    batch, shape = CASES[case]
    model = model or torch_model(case, torch)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((batch,) + shape).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 10, batch))

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, step


def make_step(framework, case):
    """(step, first-step loss) for one library; torch starts from mathdl's weights."""
    if framework == "torch":
        import torch

        tm = torch_model(case, torch)
        copy_weights(mathdl_model(case), tm, torch)
        _, step = torch_step_fn(case, torch, tm)
    else:
        _, step = mathdl_step_fn(case)
    return step, float(step().item())


def main(argv=None):
    return isolated_main(__file__, DESCRIPTIONS, make_step, argv, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    main()

"""GPU training steps: mathdl on CuPy against PyTorch CUDA (eager), float32 and float16.

Workloads: the MLP 784-512-512-10 with Adam (batch 128), ResNet-20 with SGD+momentum (batch 32,
3x32x32) and a 2-layer transformer encoder (d 128, 4 heads, ff 512, T 64, batch 16) with Adam.
float16 runs both libraries with float16 weights and inputs (no loss scaling: a timing, not a
training recipe).  Each framework runs in its own fresh process (``--child``); a step's time is the
median over ``--steps`` steps, each followed by a device synchronisation.

    python benchmarks/bench_gpu.py [--steps 30] [--cases mlp,resnet20,transformer] [--dtypes float32,float16]

Needs a GPU with CuPy (and PyTorch for the comparison); prints 'no GPU' and exits 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

SHAPES = {"mlp": (128, (784,), 10), "resnet20": (32, (3, 32, 32), 10), "transformer": (16, (64,), 10)}


def _median(step, sync, steps, warmup=5):
    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _data(case, dtype):
    batch, shape, classes = SHAPES[case]
    rng = np.random.default_rng(0)
    if case == "transformer":
        x = rng.standard_normal((batch, 64, 128)).astype(dtype)
        y = rng.integers(0, classes, (batch, 64))
    else:
        x = rng.standard_normal((batch,) + shape).astype(dtype)
        y = rng.integers(0, classes, batch)
    return x, y


def run_mathdl(case, dtype, steps):
    import cupy

    import mathdl as md
    import mathdl.nn.functional as F
    from mathdl import nn, optim

    md.manual_seed(0)
    if case == "mlp":
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    elif case == "resnet20":
        from bench_cnn import mathdl_model

        model = mathdl_model("resnet20")
    else:
        from bench_transformer import MdlModel

        model = MdlModel(0.1)
    model.to("cuda")
    if dtype == "float16":
        model.half()
    opt = (optim.SGD(model.parameters(), lr=0.01, momentum=0.9) if case == "resnet20"
           else optim.Adam(model.parameters(), lr=1e-3, eps=1e-4 if dtype == "float16" else 1e-8))
    x, y = _data(case, np.dtype(dtype))
    xt, yt = md.tensor(x).to("cuda"), md.tensor(y).to("cuda")

    def step():
        opt.zero_grad()
        out = model(xt)
        loss = F.cross_entropy(out.reshape(-1, 10).float(), yt.reshape(-1))
        loss.backward()
        opt.step()

    return _median(step, cupy.cuda.Device().synchronize, steps)


def run_torch(case, dtype, steps):
    import torch

    torch.manual_seed(0)
    dev = torch.device("cuda")
    if case == "mlp":
        tnn = torch.nn
        model = tnn.Sequential(tnn.Linear(784, 512), tnn.ReLU(), tnn.Linear(512, 512), tnn.ReLU(), tnn.Linear(512, 10))
    elif case == "resnet20":
        from bench_cnn import torch_model

        model = torch_model("resnet20", torch)
    else:
        class TModel(torch.nn.Module):
            def __init__(self):
                super().__init__()
                layer = torch.nn.TransformerEncoderLayer(128, 4, 512, dropout=0.1, batch_first=True)
                self.encoder = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
                self.head = torch.nn.Linear(128, 10)

            def forward(self, x):
                return self.head(self.encoder(x))

        model = TModel()
    model = model.to(dev)
    if dtype == "float16":
        model = model.half()
    opt = (torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9) if case == "resnet20"
           else torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-4 if dtype == "float16" else 1e-8))
    x, y = _data(case, np.dtype(dtype))
    xt, yt = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)

    def step():
        opt.zero_grad()
        out = model(xt)
        loss = torch.nn.functional.cross_entropy(out.reshape(-1, 10).float(), yt.reshape(-1))
        loss.backward()
        opt.step()

    return _median(step, torch.cuda.synchronize, steps)


def _child(framework, case, dtype, steps):
    fn = run_mathdl if framework == "mathdl" else run_torch
    try:
        print(json.dumps({"time": fn(case, dtype, steps)}))
    except Exception as e:  # report, do not hide: the parent prints it
        print(json.dumps({"error": f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"}))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--cases", default="mlp,resnet20,transformer")
    ap.add_argument("--dtypes", default="float32,float16")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(*args.child[:2], args.child[2].split(":")[0], int(args.child[2].split(":")[1]))
        return 0
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError
    except Exception:
        print("no GPU (CuPy with a CUDA device is needed): nothing to measure")
        return 0
    print(f"{'workload':<26} {'mathdl':>12} {'torch':>12} {'ratio':>8}")
    for case in args.cases.split(","):
        for dtype in args.dtypes.split(","):
            res = {}
            for fw in ("mathdl", "torch"):
                out = subprocess.run([sys.executable, __file__, "--child", fw, case, f"{dtype}:{args.steps}"],
                                     capture_output=True, text=True)
                lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
                res[fw] = json.loads(lines[-1]) if lines else {"error": (out.stderr or "no output")[-300:]}
            m, t = res["mathdl"], res["torch"]
            name = f"{case} {dtype}"
            if "error" in m or "error" in t:
                print(f"{name:<26} mathdl: {m.get('error', '%.3f ms' % (m.get('time', 0) * 1e3))}; "
                      f"torch: {t.get('error', '%.3f ms' % (t.get('time', 0) * 1e3))}")
                continue
            print(f"{name:<26} {m['time'] * 1e3:9.3f} ms {t['time'] * 1e3:9.3f} ms {m['time'] / t['time']:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

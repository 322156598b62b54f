"""GPU training steps: mathdl on CuPy against PyTorch CUDA (eager), float32 and float16 autocast,
with the kernel launches per step.

Workloads (tests/device/launch_count.py builds the mathdl models): the MLP 784-512-512-10 with
Adam (batch 128), ResNet-20 (mathdl.models, batch norm) with SGD+momentum (batch 32, 3x32x32) and
a 2-layer transformer encoder (d 128, 4 heads, ff 512, dropout 0.1, T 64, batch 16) with Adam.

dtypes: ``float32``; ``amp16``: autocast to float16 (float32 master weights; mathdl.amp.autocast
and torch.autocast, no loss scaling: a timing, not a training recipe); ``half``: float16 weights
and inputs throughout (model.half()).

mathdl variants (``--variants``): ``now`` the code as it is; ``conv`` with conv.py's three conv
Functions routed to mathdl/ops/conv_device.py; ``wired`` also with the fused kernels of
mathdl/ops/device_kernels.py (Adam, SGD, batch norm).  ``conv`` and ``wired`` monkeypatch the
dispatch proposed for conv.py / adam.py / sgd.py / normalization.py (launch_count.conv_dispatch and
kernels_dispatch), so they measure it before those files are edited.

Each (framework, workload, dtype, variant) runs in its own fresh process (``--child``); a step's
time is the median over ``--steps`` steps, each followed by a device synchronisation.  Launch
counts come from the emulated CuPy (tests/device/emulated_cupy.py, on the CPU): every ufunc, copy,
GEMM, reduction and fused kernel is one launch; "syncs" are device-to-host reads.  The amp16
counts use batch 2 (NumPy's float16 products are slow; past conv.py's CPU tiles the counts do not
depend on the batch).

    python benchmarks/bench_gpu.py [--steps 30] [--cases mlp,resnet20,transformer]
                                   [--dtypes float32,amp16] [--variants now,conv,wired] [--no-launches]

Without a GPU (CuPy with a CUDA device) it prints 'no GPU' and the launch counts, and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "device"))

import numpy as np  # noqa: E402

SHAPES = {"mlp": (128, (784,), 10), "resnet20": (32, (3, 32, 32), 10), "transformer": (16, (64, 128), 10)}
DTYPES = ("float32", "amp16", "half")
VARIANTS = ("now", "conv", "wired")


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
    x = rng.standard_normal((batch,) + shape).astype(np.float16 if dtype == "half" else np.float32)
    y = rng.integers(0, classes, (batch, 64) if case == "transformer" else batch)
    return x, y


def run_mathdl(case, dtype, steps, variant="now"):
    import cupy

    import launch_count
    import mathdl as md
    import mathdl.nn.functional as F

    patch = launch_count.Patch()
    if variant in ("conv", "wired"):
        launch_count.conv_dispatch(patch)
    if variant == "wired":
        launch_count.kernels_dispatch(patch)
    model, make_opt, _ = launch_count.build(case)
    model.to("cuda")
    if dtype == "half":
        model.half()
    opt = make_opt(model.parameters())
    if dtype == "half" and hasattr(opt, "param_groups") and "eps" in opt.param_groups[0]:
        for group in opt.param_groups:
            group["eps"] = 1e-4
    x, y = _data(case, dtype)
    xt, yt = md.tensor(x).to("cuda"), md.tensor(y).to("cuda")

    def step():
        opt.zero_grad()
        ctx = md.amp.autocast("cuda", dtype="float16") if dtype == "amp16" else contextlib.nullcontext()
        with ctx:
            out = model(xt)
        loss = F.cross_entropy(out.reshape(-1, 10).float(), yt.reshape(-1))
        loss.backward()
        opt.step()

    try:
        return _median(step, cupy.cuda.Device().synchronize, steps)
    finally:
        patch.undo()


def run_torch(case, dtype, steps, variant=None):
    import torch

    torch.manual_seed(0)
    dev = torch.device("cuda")
    tnn = torch.nn
    if case == "mlp":
        model = tnn.Sequential(tnn.Linear(784, 512), tnn.ReLU(), tnn.Linear(512, 512), tnn.ReLU(), tnn.Linear(512, 10))
    elif case == "resnet20":
        from bench_cnn import torch_model

        model = torch_model("resnet20", torch)
    else:
        class TModel(tnn.Module):
            def __init__(self):
                super().__init__()
                layer = tnn.TransformerEncoderLayer(128, 4, 512, dropout=0.1, batch_first=True)
                self.encoder = tnn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
                self.head = tnn.Linear(128, 10)

            def forward(self, x):
                return self.head(self.encoder(x))

        model = TModel()
    model = model.to(dev)
    if dtype == "half":
        model = model.half()
    opt = (torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9) if case == "resnet20"
           else torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-4 if dtype == "half" else 1e-8))
    x, y = _data(case, dtype)
    xt, yt = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)

    def step():
        opt.zero_grad()
        ctx = torch.autocast("cuda", dtype=torch.float16) if dtype == "amp16" else contextlib.nullcontext()
        with ctx:
            out = model(xt)
        loss = torch.nn.functional.cross_entropy(out.reshape(-1, 10).float(), yt.reshape(-1))
        loss.backward()
        opt.step()

    return _median(step, torch.cuda.synchronize, steps)


def _child(framework, case, dtype, steps, variant):
    fn = run_mathdl if framework == "mathdl" else run_torch
    try:
        print(json.dumps({"time": fn(case, dtype, steps, variant)}))
    except Exception as e:  # report, do not hide: the parent prints it
        print(json.dumps({"error": f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"}))


def _run_child(framework, case, dtype, steps, variant):
    out = subprocess.run([sys.executable, __file__, "--child", framework, case, dtype, str(steps), variant],
                         capture_output=True, text=True)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": (out.stderr or "no output")[-300:]}


def launch_counts(case, dtype, variant):
    """Launches and syncs per step on the emulated device (CPU), for the table."""
    import launch_count

    if dtype == "half":
        return None
    amp = "float16" if dtype == "amp16" else None
    r = launch_count.count_step(case, dispatch=variant in ("conv", "wired"), kernels=variant == "wired", amp=amp,
                                batch=2 if amp else None)
    return int(r["launches"]), int(r["syncs"])


def _gpu_available():
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def _fmt(res):
    return f"{res['time'] * 1e3:8.3f} ms" if "time" in res else "   error   "


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--cases", default="mlp,resnet20,transformer")
    ap.add_argument("--dtypes", default="float32,amp16", help=f"any of {','.join(DTYPES)}")
    ap.add_argument("--variants", default="now,conv,wired", help=f"mathdl variants, any of {','.join(VARIANTS)}")
    ap.add_argument("--no-launches", action="store_true", help="skip the launch counts (emulated, on the CPU)")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        fw, case, dtype, steps, variant = args.child
        _child(fw, case, dtype, int(steps), variant)
        return 0
    cases, dtypes, variants = args.cases.split(","), args.dtypes.split(","), args.variants.split(",")
    for name, given, allowed in (("dtype", dtypes, DTYPES), ("variant", variants, VARIANTS),
                                 ("case", cases, tuple(SHAPES))):
        bad = [v for v in given if v not in allowed]
        if bad:
            ap.error(f"unknown {name} {bad}; expected some of {allowed}")
    gpu = _gpu_available()
    if not gpu:
        print("no GPU (CuPy with a CUDA device is needed): no timings; launch counts only")
    head = f"{'workload':<22} {'variant':<7}" + (f" {'torch':>11} {'mathdl':>11} {'ratio':>6}" if gpu else "")
    print(head + ("" if args.no_launches else f" {'launches':>9} {'syncs':>6}"))
    errors = []
    for case in cases:
        for dtype in dtypes:
            torch_res = _run_child("torch", case, dtype, args.steps, "now") if gpu else None
            for variant in variants:
                line = f"{case + ' ' + dtype:<22} {variant:<7}"
                if gpu:
                    m = _run_child("mathdl", case, dtype, args.steps, variant)
                    ratio = f"{m['time'] / torch_res['time']:5.2f}x" if "time" in m and "time" in torch_res else "  -  "
                    line += f" {_fmt(torch_res)} {_fmt(m)} {ratio:>6}"
                    errors += [f"{case} {dtype} {fw}: {r['error']}" for fw, r in (("torch", torch_res), (variant, m))
                               if "error" in r]
                if not args.no_launches:
                    counts = launch_counts(case, dtype, variant)
                    line += "" if counts is None else f" {counts[0]:9d} {counts[1]:6d}"
                print(line, flush=True)
    for e in dict.fromkeys(errors):
        print("error:", e)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""CNN training steps, mathdl against PyTorch eager (same run, same shapes, same weights).

* LeNet-like: conv 1->16 3x3, ReLU, maxpool 2, conv 16->32 3x3, ReLU, maxpool 2, Linear(800->10);
  input 28x28x1, batch 64.
* ResNet-20 (CIFAR layout, option-A shortcuts, batch norm): input 3x32x32, batch 32.

One step = forward + cross-entropy + backward + SGD(momentum 0.9) update.  Prints the median
step time of each framework (steps of the two alternate, so that load from other processes on
a shared machine affects both alike) and the ratio mathdl / PyTorch, then the peak memory of one
step: each framework runs in a fresh subprocess and reports its resident-set growth
(peak RSS, VmHWM reset through /proc/self/clear_refs, minus the RSS before building the model; Linux only).

  python benchmarks/bench_cnn.py [--repeat 20] [--threads 1] [--no-memory] [--cases lenet,resnet20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# BLAS threads must be fixed before NumPy loads OpenBLAS: one thread unless --threads N says
# otherwise (--threads 0: the libraries' defaults).  On a shared 2-core machine, OpenBLAS worker
# threads that spin while another process holds the core made a ResNet-20 step 10x slower.
_THREADS = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
if _THREADS != "0":
    for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = _THREADS
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _timing import fmt, median_time, paired_times, row  # noqa: E402

CASES = {"lenet": (64, (1, 28, 28)), "resnet20": (32, (3, 32, 32))}


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
            b.copy_(torch.from_numpy(np.ascontiguousarray(a.data)))


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


# --------------------------------------------------------------------------- memory (subprocess)
def _rss_mb(field="VmRSS"):
    """Resident memory from /proc/self/status (VmRSS now, VmHWM the peak since the last reset)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise OSError(field)


def _reset_peak():
    """Linux: writing 5 to clear_refs resets VmHWM (the peak RSS) to the current RSS."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _memory_child(framework, case, steps):
    if framework == "torch":
        import torch

        make = lambda: torch_step_fn(case, torch)  # noqa: E731
    else:
        import mathdl  # noqa: F401

        make = lambda: mathdl_step_fn(case)  # noqa: E731
    _reset_peak()
    before = _rss_mb()
    _, step = make()
    for _ in range(steps):
        step()
    print(json.dumps({"peak_mb": _rss_mb("VmHWM") - before}))


def peak_memory(framework, case, steps=3):
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", framework, case, str(steps)],
                         capture_output=True, text=True, env=dict(os.environ))
    if out.returncode != 0:
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]


# --------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS and torch threads for both frameworks (default 1; 0 = library defaults)")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--cases", default="lenet,resnet20")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _memory_child(args.child[0], args.child[1], int(args.child[2]))
        return
    from _timing import try_torch

    # try_torch(n) limits NumPy's BLAS (threadpoolctl) and torch to n threads alike; without n it
    # would give both all cores, so the number asked for is passed on (0: library defaults)
    torch = try_torch(args.threads or None)
    if torch is not None and args.threads:
        torch.set_num_interop_threads(1)
    import mathdl

    try:
        from threadpoolctl import threadpool_info

        blas = ",".join(str(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas")
    except ImportError:  # pragma: no cover
        blas = "?"
    print(f"numpy {np.__version__}, mathdl allocator tuned: {mathdl.backend.allocator_tuned}, "
          f"cores: {os.cpu_count()}, BLAS threads: {blas}, "
          f"torch threads: {torch.get_num_threads() if torch else 'n/a'}")
    results = {}
    for case in args.cases.split(","):
        batch, shape = CASES[case]
        model, step = mathdl_step_fn(case)
        t_torch = tstep = None
        if torch is not None:  # same weights, same batch: the first losses must agree
            tm = torch_model(case, torch)
            copy_weights(model, tm, torch)
            _, tstep = torch_step_fn(case, torch, tm)
            l_ours, l_torch = float(step().item()), float(tstep().item())
            print(f"{case}: first-step loss mathdl {l_ours:.6f}, torch {l_torch:.6f}")
            assert abs(l_ours - l_torch) < 1e-3 * max(1.0, abs(l_torch)), (l_ours, l_torch)
        if tstep is not None:  # alternate the two steps so that background load hits both alike
            t_ours, t_torch = paired_times(step, tstep, repeat=args.repeat, warmup=3)
        else:
            t_ours = median_time(step, repeat=args.repeat, warmup=3)
        ratio = row(f"{case} step (batch {batch}, {'x'.join(map(str, shape))})", t_ours, t_torch)
        results[case] = {"mathdl_s": t_ours, "torch_s": t_torch, "ratio": ratio}
    if not args.no_memory:
        print("peak memory of the training steps (RSS growth, fresh subprocess each):")
        for case in args.cases.split(","):
            ours = peak_memory("mathdl", case)
            theirs = peak_memory("torch", case) if torch is not None else None
            results[case].update(mathdl_peak_mb=ours, torch_peak_mb=theirs)
            t = f"{theirs:8.1f} MB" if theirs is not None else "     n/a"
            print(f"  {case:<10} mathdl {ours:8.1f} MB   torch {t}")
    for case, r in results.items():
        if r["torch_s"]:
            print(f"{case}: mathdl {fmt(r['mathdl_s'])}  torch {fmt(r['torch_s'])}  ratio {r['ratio']:.2f}x")
    return results


if __name__ == "__main__":
    main()

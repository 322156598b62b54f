"""Data-parallel scaling on one machine: 1 and N MPI processes against one process with N threads.

For each model the global batch B is fixed and one training step (forward, cross-entropy,
backward, SGD momentum step) is timed in three set-ups, each in fresh processes:

* ``1p x 1t``  one process, 1 BLAS thread, batch B;
* ``Np x 1t``  ``mpiexec -n N``, 1 BLAS thread each, batch B/N each, gradients averaged by
  DistributedDataParallel (one all-reduce bucket per 25 MB);
* ``1p x Nt``  one process, N BLAS threads, batch B.

Printed per set-up: median step time, samples/s, speed-up over ``1p x 1t``, and for the MPI
run the communication separated out: ``sync`` is the median time the end of backward waited for
the gradient all-reduces (what overlap did not hide), and a standalone all-reduce of a float32
vector of the model's size gives the time and the bus bandwidth 2 (N-1)/N * bytes / time (the
quantity of the ring all-reduce model in the README).

Models: MLP 784-512-512-10 (ReLU), batch 128; ResNet-20 (CIFAR, 3x32x32), batch 32.

  python benchmarks/bench_distributed.py [--procs 2] [--models mlp,resnet20] [--steps 20] [--json out.json]

mathdl only: PyTorch's counterpart (torch.distributed over gloo) is a different transport, so a
ratio would measure transports rather than mathdl.  On a shared machine, figures move with the
other processes' load: re-run for clean numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = {"mlp": 128, "resnet20": 32}


# --------------------------------------------------------------------------- worker (one process of a set-up)
def _build(name):
    import mathdl
    from mathdl import nn

    mathdl.manual_seed(0)
    if name == "mlp":
        return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)), (784,)
    from mathdl.data.registry import DatasetSpec
    from mathdl.models import build_model

    return build_model("resnet20", DatasetSpec(None, None, (3, 32, 32), 10)), (3, 32, 32)


def worker(args):
    import numpy as np

    import mathdl
    from mathdl import distributed as dist
    from mathdl import nn

    rank, world, _ = dist.init()
    model, shape = _build(args.model)
    batch = args.batch // world
    net = dist.DistributedDataParallel(model) if world > 1 else model
    opt = mathdl.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(rank)
    x = mathdl.tensor(rng.standard_normal((batch,) + shape).astype(np.float32))
    y = mathdl.tensor(rng.integers(0, 10, batch))
    times, syncs = [], []
    for i in range(args.warmup + args.steps):
        dist.barrier()
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
            syncs.append(net.last_sync_wait_s if world > 1 else 0.0)
    n_params = sum(int(p.array.size) for p in model.parameters())
    out = {"step_s": statistics.median(times), "sync_s": statistics.median(syncs), "params": n_params,
           "world": world, "batch": args.batch}
    if world > 1:  # a standalone all-reduce of the gradient's size
        vec = np.ones(n_params, dtype=np.float32)
        for _ in range(3):
            dist.all_reduce(vec)
        samples = []
        for _ in range(10):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(vec)
            samples.append(time.perf_counter() - t0)
        t = statistics.median(samples)
        out["allreduce_s"] = t
        out["busbw_GBps"] = 2 * (world - 1) / world * vec.nbytes / t / 1e9
    # every rank's step time: the slowest rank sets the pace
    worst = np.array([out["step_s"]])
    dist.all_reduce(worst, "max")
    out["step_s_max_rank"] = float(worst[0])
    if rank == 0:
        print("RESULT " + json.dumps(out), flush=True)


# --------------------------------------------------------------------------- driver
def _env(threads):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI_", "PMIX_", "PRTE_"))}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run(cmd, threads):
    proc = subprocess.run(cmd, env=_env(threads), capture_output=True, text=True, cwd=ROOT)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"benchmark worker failed ({' '.join(cmd)}):\n{proc.stderr[-2000:]}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--procs", type=int, default=2, help="MPI processes (and threads of the threaded run)")
    p.add_argument("--models", default="mlp,resnet20")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        args.model = args.worker
        return worker(args)
    n = args.procs
    mpiexec = shutil.which("mpiexec") or os.path.join(os.path.dirname(sys.executable), "mpiexec")
    version = subprocess.run([mpiexec, "--version"], capture_output=True, text=True).stdout
    flags = ["--allow-run-as-root", "--oversubscribe"] if ("Open MPI" in version or "prte" in version.lower()) else []
    me = os.path.abspath(__file__)
    results = {}
    print(f"data-parallel training step, {n} processes vs 1, global batch fixed (median of {args.steps} steps)")
    print(f"{'model':10s} {'set-up':9s} {'step':>9s} {'samples/s':>10s} {'speed-up':>9s}   communication")
    for name in args.models.split(","):
        batch = MODELS[name]
        common = ["--worker", name, "--batch", str(batch), "--steps", str(args.steps), "--warmup", str(args.warmup)]
        runs = {
            "1p x 1t": _run([sys.executable, me, *common], 1),
            f"{n}p x 1t": _run([mpiexec, *flags, "-n", str(n), sys.executable, me, *common], 1),
            f"1p x {n}t": _run([sys.executable, me, *common], n),
        }
        base = runs["1p x 1t"]["step_s"]
        for setup, r in runs.items():
            step = r.get("step_s_max_rank", r["step_s"])
            comm = ""
            if r["world"] > 1:
                comm = (f"sync wait {r['sync_s'] * 1e3:.2f} ms/step; all-reduce of {r['params'] * 4 / 2**20:.2f} MB "
                        f"{r['allreduce_s'] * 1e3:.2f} ms = {r['busbw_GBps']:.2f} GB/s bus bandwidth")
            print(f"{name:10s} {setup:9s} {step * 1e3:7.2f}ms {batch / step:10.0f} {base / step:8.2f}x   {comm}")
        results[name] = runs
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

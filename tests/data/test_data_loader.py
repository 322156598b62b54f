"""DataLoader, TensorDataset, Subset, random_split: coverage, determinism, shapes, errors."""

import numpy as np
import pytest

import mathdl
from mathdl.data import ConcatDataset, DataLoader, Dataset, Subset, TensorDataset, TransformDataset, random_split


def _ds(n=23):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n) % 4
    return TensorDataset(x, y)


def _labels(loader):
    return np.concatenate([y.array for _, y in loader])


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("batch_size", [1, 5, 23, 40])
def test_every_example_once(shuffle, batch_size):
    ds = TensorDataset(np.arange(23, dtype=np.float32)[:, None], np.arange(23))
    loader = DataLoader(ds, batch_size=batch_size, shuffle=shuffle, seed=3)
    seen = _labels(loader)
    assert sorted(seen.tolist()) == list(range(23))
    assert len(loader) == -(-23 // batch_size)
    sizes = [len(y.array) for _, y in loader]
    assert sizes[:-1] == [batch_size] * (len(sizes) - 1) and sum(sizes) == 23


def test_drop_last():
    loader = DataLoader(_ds(23), batch_size=5, drop_last=True, shuffle=True, seed=0)
    sizes = [x.shape[0] for x, _ in loader]
    assert sizes == [5, 5, 5, 5] and len(loader) == 4


def test_batch_types_and_values():
    x, y = next(iter(DataLoader(_ds(), batch_size=4)))
    assert isinstance(x, mathdl.Tensor) and isinstance(y, mathdl.Tensor)
    assert x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x.array, np.arange(12, dtype=np.float32).reshape(4, 3))
    np.testing.assert_array_equal(y.array, [0, 1, 2, 3])


def test_seeded_shuffle_is_deterministic_and_differs_per_epoch():
    a = DataLoader(_ds(), batch_size=4, shuffle=True, seed=7)
    b = DataLoader(_ds(), batch_size=4, shuffle=True, seed=7)
    e1a, e2a = _labels(a).tolist(), _labels(a).tolist()
    e1b = _labels(b).tolist()
    assert e1a == e1b
    xs_a = np.concatenate([x.array[:, 0] for x, _ in DataLoader(_ds(), 4, shuffle=True, seed=7)])
    assert not np.array_equal(xs_a, np.sort(xs_a))  # shuffled
    b.set_epoch(1)
    assert _labels(b).tolist() == e2a  # epoch 1's order reproduced on its own (exact resume)
    order1 = np.concatenate([x.array[:, 0] for x, _ in DataLoader(_ds(), 4, shuffle=True, seed=8)])
    assert not np.array_equal(order1, xs_a)


def test_shuffle_uses_mathdl_generator():
    mathdl.manual_seed(5)
    a = np.concatenate([x.array[:, 0] for x, _ in DataLoader(_ds(), 4, shuffle=True)])
    mathdl.manual_seed(5)
    b = np.concatenate([x.array[:, 0] for x, _ in DataLoader(_ds(), 4, shuffle=True)])
    np.testing.assert_array_equal(a, b)


class _Pairs(Dataset):
    """Examples built in Python: (array, int, float, dict)."""

    def __len__(self):
        return 6

    def __getitem__(self, i):
        return np.full((2,), i, dtype=np.float32), i, float(i) / 2, {"k": np.int32(i)}


def test_default_collate_mixed_fields():
    x, y, z, d = next(iter(DataLoader(_Pairs(), batch_size=3)))
    assert x.shape == (3, 2) and y.dtype == np.int64 and z.dtype == np.float32
    assert d["k"].dtype == np.int64
    np.testing.assert_array_equal(z.array, [0.0, 0.5, 1.0])


def test_custom_collate():
    loader = DataLoader(_ds(6), batch_size=4, collate_fn=lambda b: len(b))
    assert list(loader) == [4, 2]


def test_random_split_partitions():
    ds = _ds(20)
    a, b, c = random_split(ds, [10, 6, 4], seed=0)
    idx = np.concatenate([a.indices, b.indices, c.indices])
    assert sorted(idx.tolist()) == list(range(20))
    a2, _, _ = random_split(ds, [10, 6, 4], seed=0)
    np.testing.assert_array_equal(a.indices, a2.indices)
    f1, f2 = random_split(ds, [0.75, 0.25], seed=1)
    assert (len(f1), len(f2)) == (15, 5)
    x, y = a[0]
    np.testing.assert_array_equal(x, ds[int(a.indices[0])][0])
    # Subset batches through the loader's fast path equal item-by-item access
    xb, yb = next(iter(DataLoader(a, batch_size=10)))
    np.testing.assert_array_equal(yb.array, [ds[int(i)][1] for i in a.indices])


def test_random_split_errors():
    with pytest.raises(ValueError, match="sum to 7.*20 examples"):
        random_split(_ds(20), [3, 4])


def test_tensor_dataset_errors_and_transform():
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    ds = TensorDataset(np.ones((4, 2), np.float32), np.arange(4), transform=lambda x: x * 2)
    x, _ = next(iter(DataLoader(ds, batch_size=4)))
    np.testing.assert_array_equal(x.array, 2 * np.ones((4, 2)))
    t = TransformDataset(_ds(4), lambda x: x + 1)
    assert t[0][0][0] == 1.0 and len(t) == 4
    tensors = TensorDataset(mathdl.zeros(3, 2), mathdl.tensor([1, 2, 3]))
    assert tensors[2][1] == 3


def test_concat_and_subset():
    c = ConcatDataset([_ds(3), _ds(4)])
    assert len(c) == 7 and c[3][1] == 0 and c[-1][1] == 3
    with pytest.raises(IndexError):
        c[7]
    s = Subset(_ds(10), [9, 0])
    assert s[0][1] == 9 % 4


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_ds(), batch_size=0)

"""Datasets: indexable collections of examples.

A :class:`Dataset` has ``__len__`` and ``__getitem__(i)`` returning one example, usually an
``(input, target)`` pair of NumPy arrays / scalars.  :class:`TensorDataset` wraps equally long
arrays; :class:`Subset` views some indices of another dataset; :func:`random_split` partitions a
dataset by a seeded permutation (mathdl's generator, or an explicit seed).

An :class:`IterableDataset` is a stream instead (``__iter__``, no indexing); :class:`ChainDataset`
chains several streams; :class:`StackDataset` zips equally long datasets into tuples or dicts.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset", "StackDataset",
           "TransformDataset", "random_split"]


class Dataset:
    """Base class: subclasses implement ``__len__`` and ``__getitem__``."""

    def __len__(self):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset that is a stream of examples: subclasses implement ``__iter__`` (a DataLoader
    batches consecutive examples; samplers and shuffling do not apply)."""

    def __iter__(self):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate over it instead of indexing")

    def __add__(self, other):
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """The examples of each iterable dataset in turn."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        for i, d in enumerate(self.datasets):
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset: dataset {i} ({type(d).__name__}) is not an IterableDataset")

    def __iter__(self):
        for d in self.datasets:
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


class StackDataset(Dataset):
    """Example i is ``(d1[i], d2[i], ...)`` (positional) or ``{"name": d[i], ...}`` (keywords)."""

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("StackDataset: give the datasets either positionally or as keywords, not both")
        if not args and not kwargs:
            raise ValueError("StackDataset: expected at least one dataset")
        self.datasets = args or kwargs
        lengths = {len(d) for d in (args or kwargs.values())}
        if len(lengths) != 1:
            raise ValueError(f"StackDataset: the datasets have different lengths {sorted(lengths)}")
        self._length = lengths.pop()

    def __len__(self):
        return self._length

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)


def _as_array(x):
    from ..autograd.tensor import Tensor

    if isinstance(x, Tensor):
        return backend.to_device(x.array, "cpu")
    return np.asarray(x)


class TensorDataset(Dataset):
    """Examples ``(a[i], b[i], ...)`` from arrays (or Tensors) sharing their first dimension.

    ``transform`` (optional) is applied to the first array's item (the input).
    """

    def __init__(self, *arrays, transform=None):
        if not arrays:
            raise ValueError("TensorDataset: expected at least one array")
        self.arrays = tuple(_as_array(a) for a in arrays)
        n = len(self.arrays[0])
        for k, a in enumerate(self.arrays):
            if len(a) != n:
                shapes = [tuple(x.shape) for x in self.arrays]
                raise ValueError(
                    f"TensorDataset: all arrays need the same first dimension; got shapes {shapes} "
                    f"(array {k} has {len(a)} rows, array 0 has {n})"
                )
        self.transform = transform

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        items = tuple(a[index] for a in self.arrays)
        if self.transform is not None:
            items = (self.transform(items[0]),) + items[1:]
        return items if len(items) > 1 else items[0]

    def get_batch(self, indices):
        """Fast path for :class:`~mathdl.data.DataLoader`: fancy-index every array at once."""
        if self.transform is not None:
            return None
        return tuple(a[indices] for a in self.arrays)


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices`` (in that order)."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return [self.dataset[int(i)] for i in self.indices[index]]
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices):
        fast = getattr(self.dataset, "get_batch", None)
        return fast(self.indices[indices]) if fast is not None else None


class ConcatDataset(Dataset):
    """The examples of several datasets, one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        self.offsets = np.cumsum([0] + [len(d) for d in self.datasets])

    def __len__(self):
        return int(self.offsets[-1])

    def __getitem__(self, index):
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"ConcatDataset: index {index} out of range for length {n}")
        k = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return self.datasets[k][index - int(self.offsets[k])]


class TransformDataset(Dataset):
    """Apply ``transform`` to the input (first element) of every example of ``dataset``."""

    def __init__(self, dataset, transform):
        self.dataset = dataset
        self.transform = transform

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        item = self.dataset[index]
        if isinstance(item, tuple):
            return (self.transform(item[0]),) + item[1:]
        return self.transform(item)


def _generator(generator=None, seed=None):
    if seed is not None:
        return np.random.default_rng(seed)
    if generator is None:
        return backend.rng.np
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)):
        return np.random.default_rng(int(generator))
    return generator.np  # mathdl.backend._RNG


def random_split(dataset, lengths, generator=None, seed=None):
    """Split ``dataset`` into non-overlapping :class:`Subset` s of the given lengths.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1 (remainders go
    to the first splits one by one, as in PyTorch).  The permutation comes from ``seed`` if
    given, else ``generator`` (a NumPy Generator or int seed), else mathdl's seeded generator.
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1.0):
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(int(x) != x or x < 0 for x in lengths):
        raise ValueError(
            f"random_split: lengths must be non-negative integers or fractions summing to 1, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: lengths {lengths} sum to {sum(lengths)}, but the dataset has {n} examples")
    perm = _generator(generator, seed).permutation(n)
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start:start + int(length)]))
        start += int(length)
    return out

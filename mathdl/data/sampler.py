"""Samplers: the order in which a DataLoader visits a dataset's indices (``torch.utils.data``'s).

  SequentialSampler(ds)                      0, 1, ..., n-1
  RandomSampler(ds)                          a uniformly random permutation of 0..n-1; with
                                             ``replacement`` num_samples i.i.d. uniform draws; without
                                             it, num_samples > n chains permutations (drawn lazily, as
                                             they are consumed)
  SubsetRandomSampler(indices)               a random permutation of the given indices
  WeightedRandomSampler(w, k, replacement)   k draws with P(i) = w_i / sum_j w_j (without replacement:
                                             successive draws renormalized over the indices left)
  BatchSampler(sampler, batch_size, drop_last)  lists of batch_size consecutive indices of ``sampler``

Randomness comes from ``generator`` (a :class:`mathdl.Generator` or a NumPy ``Generator``), else from
mathdl's global generator (``mathdl.manual_seed``), drawn anew at each ``iter()``.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import backend

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler"]


def numpy_generator(generator, who):
    """The NumPy Generator behind ``generator`` (None: mathdl's global one)."""
    if generator is None:
        return backend.rng.np
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(getattr(generator, "np", None), np.random.Generator):  # a mathdl.Generator
        return generator.np
    raise TypeError(f"{who}: generator must be a mathdl.Generator or a numpy.random.Generator, got "
                    f"{type(generator).__name__}")


def _positive_int(who, name, v, allow_none=False):
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
        raise ValueError(f"{who}: {name} must be a positive integer, got {v!r}")
    return int(v)


class Sampler:
    """Base class: an iterable over dataset indices (subclasses define ``__iter__`` and ``__len__``)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):  # pragma: no cover - abstract
        raise NotImplementedError


class SequentialSampler(Sampler):
    """Indices 0, 1, ..., len(data_source) - 1 in order."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """Random order (see the module docstring); ``num_samples`` defaults to len(data_source)."""

    def __init__(self, data_source, replacement: bool = False, num_samples=None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement must be a bool, got {replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = _positive_int("RandomSampler", "num_samples", num_samples, allow_none=True)
        self.generator = generator
        numpy_generator(generator, "RandomSampler")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, k = len(self.data_source), self.num_samples
        rng = numpy_generator(self.generator, "RandomSampler")
        if n == 0:
            return iter(())
        return self._draws(rng, n, k)

    def _draws(self, rng, n, k):
        """The indices, drawn as they are consumed (as PyTorch's, so ``num_samples=int(1e10)`` costs nothing
        up front): blocks of 32 i.i.d. draws with replacement, one permutation at a time without."""
        if self.replacement:
            for start in range(0, k, 32):
                yield from rng.integers(0, n, size=min(32, k - start)).tolist()
            return
        for _ in range(k // n):
            yield from rng.permutation(n).tolist()
        if k % n:
            yield from rng.permutation(n)[:k % n].tolist()

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order (a new one at each iteration)."""

    def __init__(self, indices, generator=None):
        self.indices = list(indices)
        self.generator = generator
        numpy_generator(generator, "SubsetRandomSampler")

    def __iter__(self):
        rng = numpy_generator(self.generator, "SubsetRandomSampler")
        return iter([self.indices[i] for i in rng.permutation(len(self.indices))])

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``."""

    def __init__(self, weights, num_samples, replacement: bool = True, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"WeightedRandomSampler: replacement must be a bool, got {replacement!r}")
        self.num_samples = _positive_int("WeightedRandomSampler", "num_samples", num_samples)
        w = np.asarray(weights.array if hasattr(weights, "array") and not isinstance(weights, np.ndarray) else weights,
                       dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights must be 1-D, got shape {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and not all zero")
        if not replacement and self.num_samples > np.count_nonzero(w):
            raise ValueError(f"WeightedRandomSampler: cannot draw {self.num_samples} samples without replacement "
                             f"from {np.count_nonzero(w)} non-zero weights")
        self.weights = w
        self.replacement = replacement
        self.generator = generator
        numpy_generator(generator, "WeightedRandomSampler")

    def __iter__(self):
        rng = numpy_generator(self.generator, "WeightedRandomSampler")
        p = self.weights / self.weights.sum()
        return iter(rng.choice(len(p), size=self.num_samples, replace=self.replacement, p=p).tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last shorter unless
    ``drop_last``)."""

    def __init__(self, sampler, batch_size, drop_last: bool):
        self.batch_size = _positive_int("BatchSampler", "batch_size", batch_size)
        if not isinstance(drop_last, bool):
            raise TypeError(f"BatchSampler: drop_last must be a bool, got {drop_last!r}")
        self.sampler = sampler
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

"""DataLoader: batches of examples as mathdl Tensors.

Each epoch visits every example once (``drop_last=True`` drops a final short batch).  With
``shuffle=True`` the order is a random permutation drawn from

* ``seed`` if given: epoch ``e`` uses ``numpy.random.default_rng((seed, e))``, so any epoch's order
  is reproducible on its own (exact resume: ``loader.set_epoch(e)``);
* else ``generator`` (a NumPy Generator), else mathdl's seeded generator
  (``mathdl.manual_seed``).

``collate_fn`` turns a list of examples into a batch; the default stacks each field into one
array and wraps it as a :class:`mathdl.Tensor` (floating data keeps its dtype, Python floats
become the default float dtype, integers become int64).
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor

__all__ = ["DataLoader", "default_collate"]


def _to_tensor(arr):
    arr = np.asarray(arr)
    if arr.dtype.kind in "iub" and arr.dtype != np.bool_:
        arr = arr.astype(np.int64, copy=False)
    return Tensor._make(np.ascontiguousarray(arr))


def default_collate(batch):
    """Stack a list of examples field by field into Tensors.

    Examples may be arrays, numbers, or tuples/lists/dicts of those.
    """
    first = batch[0]
    if isinstance(first, Tensor):
        return Tensor._make(np.stack([b.data for b in batch]))
    if isinstance(first, np.ndarray):
        return _to_tensor(np.stack(batch))
    if isinstance(first, bool | numbers.Integral):
        return Tensor._make(np.asarray(batch, dtype=np.int64))
    if isinstance(first, numbers.Real):
        return Tensor._make(np.asarray(batch, dtype=backend.get_default_dtype()))
    if isinstance(first, np.generic):
        return _to_tensor(np.asarray(batch))
    if isinstance(first, dict):
        return {k: default_collate([b[k] for b in batch]) for k in first}
    if isinstance(first, tuple | list):
        if any(len(b) != len(first) for b in batch):
            raise ValueError("default_collate: examples in a batch have different numbers of fields")
        return tuple(default_collate([b[i] for b in batch]) for i in range(len(first)))
    raise TypeError(f"default_collate: cannot batch examples of type {type(first).__name__}")


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size``.

    Args:
        dataset: a :class:`~mathdl.data.Dataset` (anything with ``__len__``/``__getitem__``).
        batch_size: examples per batch (positive int).
        shuffle: new random order every epoch (see the module docstring for the generator).
        drop_last: drop the last batch if it is smaller than ``batch_size``.
        collate_fn: list of examples -> batch (default :func:`default_collate`).
        seed: per-epoch seeded shuffling, independent of the global generator.
        generator: a NumPy Generator to draw permutations from (if no ``seed``).
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None,
                 seed=None, generator=None):
        if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.seed = seed
        self.generator = generator
        self.epoch = 0

    def set_epoch(self, epoch):
        """Make the next iteration use epoch ``epoch``'s order (only matters with ``seed``)."""
        self.epoch = int(epoch)

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self):
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        if self.seed is not None:
            rng = np.random.default_rng((int(self.seed), self.epoch))
        elif self.generator is not None:
            rng = self.generator
        else:
            rng = backend.rng.np
        return rng.permutation(n)

    def __iter__(self):
        order = self._order()
        self.epoch += 1
        fast = getattr(self.dataset, "get_batch", None) if self.collate_fn is None else None
        n = len(order)
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            idx = order[start:start + self.batch_size]
            if fast is not None:
                fields = fast(idx)
                if fields is not None:
                    out = tuple(_to_tensor(f) for f in fields)
                    yield out if len(out) > 1 else out[0]
                    continue
            examples = [self.dataset[int(i)] for i in idx]
            yield (self.collate_fn or default_collate)(examples)

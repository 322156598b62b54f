"""DataLoader: batches of examples as mathdl Tensors (``torch.utils.data.DataLoader``'s arguments).

The indices come from ``batch_sampler`` (lists of indices, one per batch), else from ``sampler``
grouped into ``batch_size`` (``drop_last=True`` drops a final short batch), else every example
once per epoch: in order, or with ``shuffle=True`` a random permutation drawn from

* ``seed`` if given: epoch ``e`` uses ``numpy.random.default_rng((seed, e))``, so any epoch's order
  is reproducible on its own (exact resume: ``loader.set_epoch(e)``);
* else ``generator`` (a :class:`mathdl.Generator` or NumPy Generator), else mathdl's seeded
  generator (``mathdl.manual_seed``).

An :class:`~mathdl.data.IterableDataset` is read as a stream in the calling thread and cut into
consecutive batches (no sampler, no shuffling).  ``batch_size=None`` turns automatic batching off:
each example (or each index of ``sampler``) is converted on its own with ``collate_fn`` (default
:func:`default_convert`: arrays become Tensors, nothing is stacked).

``num_workers > 0`` builds batches in that many threads, ``prefetch_factor`` batches each ahead
of the consumer, in order (threads, not processes: NumPy releases the GIL in its array work, and
batches need no pickling); ``worker_init_fn(worker_id)`` runs once in each worker thread, where
:func:`get_worker_info` describes the worker (it returns None elsewhere).
``pin_memory``, ``timeout`` and ``persistent_workers`` are accepted for compatibility (CPU memory
needs no pinning).

``collate_fn`` turns a list of examples into a batch; the default stacks each field into one
array and wraps it as a :class:`mathdl.Tensor` (floating data keeps its dtype, Python floats
become the default float dtype, integers become int64).
"""

from __future__ import annotations

import itertools
import numbers
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor
from ..backend import set_thread_stream
from .sampler import numpy_generator

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info", "WorkerInfo"]

_worker = threading.local()


class WorkerInfo:
    """What a worker thread knows about itself: ``id``, ``num_workers``, ``seed``, ``dataset``."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


def get_worker_info():
    """The :class:`WorkerInfo` of the calling DataLoader worker thread, or None outside workers."""
    return getattr(_worker, "info", None)


def default_convert(data):
    """Arrays (and NumPy scalars) inside ``data`` become Tensors; nothing is stacked."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (np.ndarray, np.generic)) and data.dtype.kind in "biuf":
        return _to_tensor(data)
    if isinstance(data, dict):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple | list):
        return type(data)(default_convert(v) for v in data)
    return data


def _to_tensor(arr):
    arr = np.asarray(arr)
    if arr.dtype.kind in "iub" and arr.dtype != np.bool_:
        arr = arr.astype(np.int64, copy=False)
    return Tensor._make(arr if arr.flags.c_contiguous else np.ascontiguousarray(arr))  # keeps 0-d arrays 0-d


def default_collate(batch):
    """Stack a list of examples field by field into Tensors.

    Examples may be arrays, numbers, or tuples/lists/dicts/namedtuples of those; strings (and other
    objects) are gathered into a list, as in PyTorch.
    """
    first = batch[0]
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, Tensor):
        return Tensor._make(np.stack([b.array for b in batch]))
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
        fields = [default_collate([b[i] for b in batch]) for i in range(len(first))]
        return type(first)(*fields) if hasattr(first, "_fields") else tuple(fields)
    raise TypeError(f"default_collate: cannot batch examples of type {type(first).__name__}")


class DataLoader:
    """Iterate over ``dataset`` in batches (see the module docstring).

    Args:
        dataset: a :class:`~mathdl.data.Dataset` (anything with ``__len__``/``__getitem__``).
        batch_size: examples per batch (positive int); 1 when ``batch_sampler`` is given.
        shuffle: new random order every epoch (excludes ``sampler`` and ``batch_sampler``).
        sampler: an iterable of indices (e.g. :class:`~mathdl.data.RandomSampler`).
        batch_sampler: an iterable of index lists, one per batch.
        num_workers: threads that build batches ahead (0: in the calling thread).
        collate_fn: list of examples -> batch (default :func:`default_collate`).
        pin_memory: accepted, no effect on CPU.
        drop_last: drop the last batch if it is smaller than ``batch_size``.
        worker_init_fn: called with the worker id in each worker thread before its first batch.
        generator: a mathdl.Generator or NumPy Generator for the shuffled order (if no ``seed``).
        prefetch_factor: batches each worker builds ahead (default 2 with workers).
        seed: per-epoch seeded shuffling, independent of the global generator.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", seed=None):
        from .dataset import IterableDataset

        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable and (shuffle or sampler is not None or batch_sampler is not None):
            raise ValueError("DataLoader: an IterableDataset is a stream; shuffle, sampler and batch_sampler do not "
                             "apply to it")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler is mutually exclusive with batch_size, shuffle, sampler "
                                 "and drop_last")
            batch_size = None
        elif batch_size is None:
            if drop_last:
                raise ValueError("DataLoader: batch_size=None (no automatic batching) is incompatible with drop_last")
        elif isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler is mutually exclusive with shuffle (the sampler sets the order)")
        for name, it in (("sampler", sampler), ("batch_sampler", batch_sampler)):
            if it is not None and not hasattr(it, "__iter__"):
                raise TypeError(f"DataLoader: {name} must be iterable, got {type(it).__name__}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative integer, got {num_workers!r}")
        if prefetch_factor is not None and (num_workers == 0 or not isinstance(prefetch_factor, numbers.Integral)
                                            or prefetch_factor < 1):
            raise ValueError(f"DataLoader: prefetch_factor must be a positive integer and needs num_workers > 0, "
                             f"got {prefetch_factor!r} with num_workers={num_workers}")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout must be >= 0, got {timeout!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {type(collate_fn).__name__}")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"DataLoader: worker_init_fn must be callable, got {type(worker_init_fn).__name__}")
        if generator is not None:
            numpy_generator(generator, "DataLoader")
        self.dataset = dataset
        self._auto_batch = batch_size is not None or batch_sampler is not None
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = int(num_workers)
        self.prefetch_factor = (prefetch_factor or 2) if num_workers else None
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.pin_memory = bool(pin_memory)
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.persistent_workers = bool(persistent_workers)
        self.seed = seed
        self.generator = generator
        self.epoch = 0

    def set_epoch(self, epoch):
        """Make the next iteration use epoch ``epoch``'s order (only matters with ``seed``)."""
        self.epoch = int(epoch)
        for s in (self.sampler, self.batch_sampler, getattr(self.batch_sampler, "sampler", None)):
            if hasattr(s, "set_epoch"):
                s.set_epoch(epoch)

    def __len__(self):
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        if self._iterable and not hasattr(self.dataset, "__len__"):
            raise TypeError(f"DataLoader: the IterableDataset {type(self.dataset).__name__} has no length")
        if self.batch_size is None:
            return len(self.sampler) if self.sampler is not None else len(self.dataset)
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self):
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        if self.seed is not None:
            rng = np.random.default_rng((int(self.seed), self.epoch))
        else:
            rng = numpy_generator(self.generator, "DataLoader")
        return rng.permutation(n)

    def _index_batches(self):
        """The index array of every batch of this epoch, lazily."""
        if self.batch_sampler is not None:
            return (np.asarray(list(b), dtype=np.int64) for b in self.batch_sampler)
        if self.sampler is not None:
            it = iter(self.sampler)
            batches = (list(itertools.islice(it, self.batch_size)) for _ in itertools.count())
            batches = itertools.takewhile(len, batches)
            if self.drop_last:
                batches = (b for b in batches if len(b) == self.batch_size)
            return (np.asarray(b, dtype=np.int64) for b in batches)
        order = self._order()
        n = len(order)
        stop = n - n % self.batch_size if self.drop_last else n
        return (order[start:start + self.batch_size] for start in range(0, stop, self.batch_size))

    def _fetch(self, idx):
        fast = getattr(self.dataset, "get_batch", None) if self.collate_fn is None else None
        if fast is not None:
            fields = fast(idx)
            if fields is not None:
                out = tuple(_to_tensor(f) for f in fields)
                return out if len(out) > 1 else out[0]
        examples = [self.dataset[int(i)] for i in idx]
        return (self.collate_fn or default_collate)(examples)

    def _stream(self):
        """Batches of an IterableDataset: consecutive examples, collated."""
        it = iter(self.dataset)
        if self.batch_size is None:
            for example in it:
                yield (self.collate_fn or default_convert)(example)
            return
        while True:
            examples = list(itertools.islice(it, self.batch_size))
            if not examples or (self.drop_last and len(examples) < self.batch_size):
                return
            yield (self.collate_fn or default_collate)(examples)

    def __iter__(self):
        if self._iterable:
            self.epoch += 1
            return self._stream()
        if not self._auto_batch:
            indices = self.sampler if self.sampler is not None else self._order()
            self.epoch += 1
            convert = self.collate_fn or default_convert
            return (convert(self.dataset[int(i)]) for i in indices)
        batches = self._index_batches()
        self.epoch += 1
        if self.num_workers == 0:
            return (self._fetch(idx) for idx in batches)
        return self._threaded(batches)

    def _threaded(self, batches):
        """Batches built by ``num_workers`` threads, ``prefetch_factor`` each ahead, yielded in order.
        Batch i goes to worker i mod num_workers (as PyTorch's workers take them), and each worker
        draws mathdl's random numbers from its own stream seeded with base_seed + its id, so the
        batches are the same from run to run whichever thread runs first."""
        base_seed = int(numpy_generator(self.generator, "DataLoader").integers(2**62))

        def init(wid):
            _worker.info = WorkerInfo(wid, self.num_workers, base_seed + wid, self.dataset)
            set_thread_stream(np.random.default_rng(base_seed + wid))
            if self.worker_init_fn is not None:
                self.worker_init_fn(wid)

        ahead = self.num_workers * self.prefetch_factor
        workers = [ThreadPoolExecutor(1, initializer=init, initargs=(w,), thread_name_prefix=f"mathdl-loader-{w}")
                   for w in range(self.num_workers)]
        count = itertools.count()

        def submit(idx):
            return workers[next(count) % self.num_workers].submit(self._fetch, idx)

        try:
            pending = deque(submit(idx) for idx in itertools.islice(batches, ahead))
            while pending:
                batch = pending.popleft().result()
                nxt = next(batches, None)
                if nxt is not None:
                    pending.append(submit(nxt))
                yield batch
        finally:
            for w in workers:
                w.shutdown(wait=True, cancel_futures=True)

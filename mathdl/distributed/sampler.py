"""DistributedSampler: each rank's disjoint share of a dataset's indices for one epoch.

For a dataset of n examples over N ranks, an epoch's order is

    pi = numpy.random.default_rng((seed, epoch)).permutation(n)     (shuffle=True)
    pi = 0, 1, ..., n-1                                             (shuffle=False)

(the same order as ``DataLoader(..., shuffle=True, seed=seed)`` after ``set_epoch(epoch)``, so
rank r's j-th batch of B/N together with the other ranks' j-th batches is exactly the
single-process j-th batch of B).  Every rank gets m examples:

* ``drop_last=False``: m = ceil(n/N); pi is padded to N*m by repeating its first indices
  (a few examples are seen twice in an epoch);
* ``drop_last=True``: m = floor(n/N); the last n - N*m of pi are dropped;

and rank r takes pi[r], pi[r+N], pi[r+2N], ... (``torch.utils.data.DistributedSampler``).
The shares are disjoint when n is divisible by N (and always with ``drop_last``), and together
they cover every example.  ``set_epoch(e)`` before each epoch gives a new order.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import group as _g

__all__ = ["DistributedSampler"]


class DistributedSampler:
    """Iterate over rank ``rank``'s indices of ``dataset`` (see the module docstring).

    ``num_replicas`` and ``rank`` default to the MPI job's world size and rank.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None:
            num_replicas = _g.get_world_size()
        if rank is None:
            rank = _g.get_rank()
        if not isinstance(num_replicas, numbers.Integral) or isinstance(num_replicas, bool) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive integer, got {num_replicas!r}")
        if not isinstance(rank, numbers.Integral) or isinstance(rank, bool) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in 0..{num_replicas - 1}, got {rank!r}")
        if not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"DistributedSampler: seed must be a non-negative integer, got {seed!r}")
        try:
            n = len(dataset)
        except TypeError:
            raise TypeError(f"DistributedSampler: dataset must have a length, got {type(dataset).__name__}") from None
        if n < num_replicas:
            raise ValueError(f"DistributedSampler: the dataset has {n} examples, fewer than the {num_replicas} ranks; "
                             "every rank needs at least one example")
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        if self.drop_last:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = -(-n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        """Use epoch ``epoch``'s order (call before each epoch; the same on every rank)."""
        if not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError(f"DistributedSampler.set_epoch: epoch must be a non-negative integer, got {epoch!r}")
        self.epoch = int(epoch)

    def indices(self):
        """This rank's indices for the current epoch, as an int64 array of length ``len(self)``."""
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng((self.seed, self.epoch)).permutation(n)
        else:
            order = np.arange(n)
        if self.total_size > n:
            reps = -(-(self.total_size - n) // n)
            order = np.concatenate([order] + [order] * reps)[:self.total_size]
        else:
            order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas].astype(np.int64)

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return self.num_samples

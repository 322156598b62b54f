"""What ``mathdl train`` needs to run data-parallel under ``mpiexec -n N``.

:func:`setup_training` returns a :class:`TrainingContext`; in a plain (single-process) run it
changes nothing: the model is returned as is and the loader is the usual shuffled DataLoader.
Under MPI with N ranks:

* the global batch B is split evenly: every rank takes B/N examples per step from its
  :class:`~mathdl.distributed.DistributedSampler` share (B not divisible by N is an error, so
  that a run means the same optimization whatever N is);
* the model is wrapped in :class:`~mathdl.distributed.DistributedDataParallel`, so gradients
  are averaged and every rank takes the same step;
* epoch sums (loss sum, correct counts, ...) are summed over ranks (``reduce_metrics``), and the
  divergence check uses every rank's loss (``all_finite``), so all ranks stop together;
* only rank 0 (``is_main``) prints, plots and writes checkpoints and metrics.

The order of examples is the single-process order (see the sampler), so a checkpoint written by
a run with N ranks resumes with any number of ranks, one included, and continues the same
optimization (to float rounding; exactly the same batches when the training set size is a
multiple of N).  With several machines, the run folder must be on a shared file system.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.tensor import Tensor
from ..data.loader import DataLoader
from . import collectives as C
from . import group as _g
from .ddp import DistributedDataParallel
from .sampler import DistributedSampler

__all__ = ["setup_training", "TrainingContext", "ShardLoader"]


class _Shard:
    """A view of ``dataset`` through the index array ``indices`` (``get_batch`` passes through)."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, indices
        if getattr(dataset, "get_batch", None) is not None:
            self.get_batch = self._get_batch

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return self.dataset[int(self.indices[i])]

    def _get_batch(self, idx):
        return self.dataset.get_batch(self.indices[np.asarray(idx)])


class ShardLoader:
    """Batches of ``batch_size`` from this rank's :class:`DistributedSampler` share, in the
    sampler's order; ``set_epoch`` and ``len`` as :class:`~mathdl.data.DataLoader`."""

    def __init__(self, dataset, sampler, batch_size, collate_fn=None, drop_last=False):
        self.dataset, self.sampler, self.collate_fn = dataset, sampler, collate_fn
        self.batch_size, self.drop_last = int(batch_size), bool(drop_last)
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        self.sampler.set_epoch(self.epoch)
        self.epoch += 1
        view = _Shard(self.dataset, self.sampler.indices())
        return iter(DataLoader(view, batch_size=self.batch_size, shuffle=False, drop_last=self.drop_last,
                               collate_fn=self.collate_fn))


class TrainingContext:
    """Everything the trainer asks of the distributed run; see :func:`setup_training`."""

    def __init__(self, model, loader, sampler, rank, world_size):
        self.model = model
        self.loader = loader
        self.sampler = sampler
        self.rank = rank
        self.world_size = world_size
        self.distributed = world_size > 1
        self.is_main = rank == 0

    def reduce_metrics(self, values, op="sum"):
        """``values`` (a dict of numbers) combined over the ranks: summed by default (epoch sums of
        losses and counts); integers stay integers.  Identity in a single-process run."""
        if not self.distributed or not values:
            return dict(values)
        keys = list(values)
        buf = np.array([float(values[k]) for k in keys], dtype=np.float64)
        C.all_reduce(buf, op)
        return {k: (int(round(v)) if isinstance(values[k], (int, np.integer)) and op == "sum" else float(v))
                for k, v in zip(keys, buf.tolist())}

    def all_finite(self, value):
        """True when ``value`` (this rank's loss) is finite on every rank: the same answer everywhere,
        so a divergence stops all ranks at the same step."""
        bad = 0.0 if math.isfinite(value) else 1.0
        if self.distributed:
            buf = np.array([bad])
            C.all_reduce(buf, "max")
            bad = float(buf[0])
        return bad == 0.0

    def global_loss(self, loss):
        """The loss averaged over the ranks (a detached scalar Tensor), e.g. for a closure optimizer
        (L-BFGS) whose line search must see the same value on every rank.  Identity when single."""
        if not self.distributed:
            return loss
        buf = np.array([float(loss.item())], dtype=np.float64)
        C.all_reduce(buf, "avg")
        return Tensor._make(np.asarray(buf[0], dtype=loss.dtype))

    def log(self, *args, **kwargs):
        """``print`` on rank 0, nothing elsewhere."""
        if self.is_main:
            print(*args, **kwargs)


def setup_training(cfg, model, train_dataset, batch_size, collate_fn=None, error=ValueError, bucket_cap_mb=25):
    """The :class:`TrainingContext` of this process for training ``model`` on ``train_dataset``
    with global batch ``batch_size`` (shuffled with ``cfg["seed"]``).  ``error`` is the exception
    class for a bad setting (the CLI passes its one-line error)."""
    seed = int(cfg.get("seed", 0)) if isinstance(cfg, dict) else int(cfg)
    if _g.launched_by_mpi() is None:
        loader = DataLoader(train_dataset, batch_size=batch_size, shuffle=True, seed=seed, collate_fn=collate_fn)
        return TrainingContext(model, loader, None, 0, 1)
    try:
        rank, world, _ = _g.init()
    except RuntimeError as e:
        raise error(str(e)) from None
    if world == 1:
        loader = DataLoader(train_dataset, batch_size=batch_size, shuffle=True, seed=seed, collate_fn=collate_fn)
        return TrainingContext(model, loader, None, 0, 1)
    if batch_size % world:
        raise error(f"--batch-size {batch_size} is not divisible by the {world} processes: every process takes "
                    f"batch-size / {world} examples per step; use a multiple of {world}")
    if len(train_dataset) < world:
        raise error(f"the training set has {len(train_dataset)} examples, fewer than the {world} processes")
    sampler = DistributedSampler(train_dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed)
    loader = ShardLoader(train_dataset, sampler, batch_size // world, collate_fn=collate_fn)
    ddp = DistributedDataParallel(model, bucket_cap_mb=bucket_cap_mb)
    return TrainingContext(ddp, loader, sampler, rank, world)

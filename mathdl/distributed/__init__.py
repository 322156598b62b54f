"""mathdl.distributed: data-parallel training and distributed analysis over MPI (mpi4py).

Run a script or ``mathdl train`` under ``mpiexec -n N`` (or ``srun``): each of the N processes
(ranks) holds the model, takes 1/N of every batch, and :class:`DistributedDataParallel` averages
the gradients, so the run follows the single-process one with the full batch.

* the process group: :func:`init`, :func:`get_rank`, :func:`get_world_size`,
  :func:`get_local_rank`, :func:`is_main_process`, fault handling (``group``);
* collectives on tensors without pickling, with a timeout (``collectives``);
* :class:`DistributedDataParallel` (``ddp``) and :class:`DistributedSampler` (``sampler``);
* analysis split over ranks: :func:`map_over_ranks`, :func:`allreduce_matvec` (``analysis``);
* the trainer's hook: :func:`setup_training` (``launch``).

Without a launcher everything works as a group of one process; mpi4py is imported only under one.
"""

from .analysis import ShardedOperator, allreduce_matvec, map_over_ranks, shard_range, split_work
from .collectives import (
    ReduceOp, Work, all_gather, all_gather_into_tensor, all_reduce, barrier, broadcast, reduce_scatter,
    reduce_scatter_tensor,
)
from .ddp import DistributedDataParallel
from .group import (
    DistributedTimeoutError, abort_job, get_local_rank, get_rank, get_timeout, get_world_size, init, is_initialized,
    is_main_process, launched_by_mpi, set_timeout,
)
from .launch import TrainingContext, setup_training
from .sampler import DistributedSampler

__all__ = [
    "init", "is_initialized", "get_rank", "get_world_size", "get_local_rank", "is_main_process", "launched_by_mpi",
    "abort_job", "get_timeout", "set_timeout", "DistributedTimeoutError", "ReduceOp", "Work", "all_reduce", "broadcast",
    "all_gather", "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor", "barrier",
    "DistributedDataParallel", "DistributedSampler", "shard_range", "split_work", "map_over_ranks",
    "allreduce_matvec", "ShardedOperator", "setup_training", "TrainingContext",
]

"""``mathdl.nn.parallel`` (PyTorch's ``torch.nn.parallel``): ``DataParallel``, ``data_parallel`` and, from
:mod:`mathdl.distributed`, ``DistributedDataParallel``."""

from .data_parallel import DataParallel, data_parallel

__all__ = ["DataParallel", "data_parallel", "DistributedDataParallel"]


def __getattr__(name):
    if name == "DistributedDataParallel":  # with the MPI tools, loaded on first use (it imports mathdl.nn)
        from ...distributed.ddp import DistributedDataParallel

        return DistributedDataParallel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

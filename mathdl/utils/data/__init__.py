"""``mathdl.utils.data``: PyTorch's ``torch.utils.data`` path to :mod:`mathdl.data` (Dataset,
DataLoader, the samplers, random_split, ...), with PyTorch's submodules (``dataloader``,
``dataset``, ``sampler``, ``distributed``) so that ``from torch.utils.data.dataloader import
DataLoader`` ports by changing the package name only."""

from ...data import *  # noqa: F401,F403
from ...data import __all__  # noqa: F401
from . import dataloader, dataset, sampler  # noqa: F401,E402


def __getattr__(name):
    if name == "DistributedSampler":  # with the MPI tools, loaded on first use
        from ...distributed.sampler import DistributedSampler

        return DistributedSampler
    if name == "distributed":
        import importlib

        return importlib.import_module(f"{__name__}.distributed")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

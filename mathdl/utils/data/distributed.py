"""``mathdl.utils.data.distributed`` (PyTorch's ``torch.utils.data.distributed``): DistributedSampler,
from :mod:`mathdl.distributed.sampler`."""

from ...distributed.sampler import DistributedSampler  # noqa: F401

__all__ = ["DistributedSampler"]

"""``mathdl.utils.data.sampler`` (PyTorch's ``torch.utils.data.sampler``): the samplers, from
:mod:`mathdl.data.sampler`."""

from ...data.sampler import *  # noqa: F401,F403
from ...data.sampler import __all__  # noqa: F401

"""``mathdl.utils.data``: PyTorch's ``torch.utils.data`` path to :mod:`mathdl.data` (Dataset,
DataLoader, the samplers, random_split, ...)."""

from ..data import *  # noqa: F401,F403
from ..data import __all__  # noqa: F401

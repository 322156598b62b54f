"""``mathdl.utils.data.dataloader`` (PyTorch's ``torch.utils.data.dataloader``): the DataLoader and
its collate functions, from :mod:`mathdl.data.loader`."""

from ...data.loader import *  # noqa: F401,F403
from ...data.loader import __all__  # noqa: F401

"""``mathdl.utils.data.dataset`` (PyTorch's ``torch.utils.data.dataset``): Dataset, TensorDataset,
Subset, ConcatDataset, random_split ..., from :mod:`mathdl.data.dataset`."""

from ...data.dataset import *  # noqa: F401,F403
from ...data.dataset import __all__  # noqa: F401

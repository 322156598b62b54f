"""Data: datasets, samplers, the DataLoader, transforms, bundled and file-based datasets, and the
registry (also reachable as ``mathdl.utils.data``, PyTorch's ``torch.utils.data``).

``mathdl.data.load_dataset(name)`` returns a :class:`DatasetSpec` for any registered dataset
(``mathdl.data.dataset_names()`` lists them).
"""

from . import transforms  # noqa: F401
from .dataset import (  # noqa: F401
    ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset, TensorDataset, TransformDataset,
    random_split,
)
from .loader import DataLoader, WorkerInfo, default_collate, default_convert, get_worker_info  # noqa: F401
from .sampler import (  # noqa: F401
    BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler, WeightedRandomSampler,
)
from .registry import DATASETS, DatasetSpec, dataset_names, load_dataset, register_dataset  # noqa: F401
from . import datasets, readers  # noqa: F401,E402  (registration)

import importlib as _importlib

# Modules that register datasets by being imported; a module still being written may be absent.
for _mod in ("sequences", "mnist1d"):
    try:
        _importlib.import_module(f"{__name__}.{_mod}")
    except ModuleNotFoundError as _e:  # pragma: no cover
        if _e.name != f"{__name__}.{_mod}":
            raise

__all__ = [
    "Dataset", "IterableDataset", "ChainDataset", "StackDataset", "TensorDataset", "Subset", "ConcatDataset",
    "TransformDataset", "random_split", "DataLoader", "default_collate", "default_convert", "get_worker_info",
    "WorkerInfo", "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
    "WeightedRandomSampler", "BatchSampler", "DatasetSpec", "DATASETS", "register_dataset", "load_dataset",
    "dataset_names", "transforms", "datasets", "readers",
]


def __getattr__(name):
    # torch.utils.data.DistributedSampler; it lives with the MPI tools and loads on first use
    if name == "DistributedSampler":
        from ..distributed.sampler import DistributedSampler

        return DistributedSampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Named dataset loaders, so that ``mathdl train --dataset NAME`` can find every dataset.

A loader is a function ``fn(seed=0, **options) -> DatasetSpec`` decorated with
``@register_dataset("name")``.  The :class:`DatasetSpec` it returns is the contract between the
data, the model builders (``mathdl.models.registry``) and the generic trainer in ``mathdl.cli``:

* ``train``, ``test``: :class:`mathdl.data.Dataset` objects whose items are
  ``(input array, target)``;
* ``input_shape``: the shape of one input (without the batch dimension);
* ``num_classes``: number of classes (classification) or vocabulary size (sequence tasks);
* ``task``: ``"classification"``, ``"sequence"`` (per-position targets; the trainer also reports
  exact-sequence accuracy) or ``"language_model"``;
* ``extra``: anything else a model or a command needs (class names, vocabulary, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["DatasetSpec", "DATASETS", "register_dataset", "load_dataset", "dataset_names"]

TASKS = ("classification", "sequence", "language_model", "regression")


@dataclass
class DatasetSpec:
    """A loaded dataset: train/test splits plus what a model builder needs to know."""

    train: Any
    test: Any
    input_shape: tuple
    num_classes: int
    task: str = "classification"
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.input_shape = tuple(int(s) for s in self.input_shape)
        if self.task not in TASKS:
            raise ValueError(f"DatasetSpec: unknown task {self.task!r}; expected one of {TASKS}")


DATASETS: dict = {}


def register_dataset(name, description=""):
    """Decorator registering ``fn(seed=0, **options) -> DatasetSpec`` under ``name``."""

    def deco(fn):
        doc = (fn.__doc__ or "").strip().splitlines()
        DATASETS[name] = (fn, description or (doc[0] if doc else ""))
        return fn

    return deco


def dataset_names():
    return sorted(DATASETS)


def load_dataset(name, seed=0, **options) -> DatasetSpec:
    """Load the registered dataset ``name`` (``ValueError`` listing the known names if unknown)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(dataset_names())}")
    spec = DATASETS[name][0](seed=seed, **options)
    if not isinstance(spec, DatasetSpec):
        raise TypeError(f"dataset loader {name!r} returned {type(spec).__name__}, expected DatasetSpec")
    return spec

"""Named dataset loaders, so that ``mathdl train --dataset NAME`` can find every dataset.

A loader is a function ``fn(seed=0, **options) -> DatasetSpec`` decorated with
``@register_dataset("name")`` (loaders whose split is fixed by their source, such as the file
readers and the text corpus, accept ``seed`` and ignore it).  The :class:`DatasetSpec` it
returns is the contract between the data, the model builders (``mathdl.models.registry``) and
the generic trainer in ``mathdl.cli``:

* ``train``, ``test``: :class:`mathdl.data.Dataset` objects whose items are
  ``(input array, target)``;
* ``input_shape``: the shape of one input (without the batch dimension);
* ``num_classes``: number of classes (classification), vocabulary size (sequence tasks) or
  number of outputs (regression);
* ``task``: ``"classification"``, ``"sequence"`` (per-position targets; the trainer also reports
  exact-sequence accuracy), ``"language_model"`` or ``"regression"``;
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


def registrar(table, name, description=""):
    """A decorator storing ``fn`` in ``table[name]`` as ``(fn, description)``; the description
    defaults to the first line of ``fn``'s docstring (shared with mathdl.models.registry)."""

    def deco(fn):
        doc = (fn.__doc__ or "").strip().splitlines()
        table[name] = (fn, description or (doc[0] if doc else ""))
        return fn

    return deco


def lookup(table, kind, name):
    """``table[name]``'s function; ``ValueError`` listing the known names if ``name`` is unknown."""
    if name not in table:
        raise ValueError(f"unknown {kind} {name!r}; available: {', '.join(sorted(table))}")
    return table[name][0]


def register_dataset(name, description=""):
    """Decorator registering ``fn(seed=0, **options) -> DatasetSpec`` under ``name``."""
    return registrar(DATASETS, name, description)


def dataset_names():
    return sorted(DATASETS)


def load_dataset(name, seed=0, **options) -> DatasetSpec:
    """Load the registered dataset ``name`` (``ValueError`` listing the known names if unknown)."""
    spec = lookup(DATASETS, "dataset", name)(seed=seed, **options)
    if not isinstance(spec, DatasetSpec):
        raise TypeError(f"dataset loader {name!r} returned {type(spec).__name__}, expected DatasetSpec")
    return spec

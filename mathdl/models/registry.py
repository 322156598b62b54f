"""Named model builders, so that ``mathdl train --model NAME`` can find every reference model.

``@register_model(name)`` decorates a builder ``fn(spec, **options) -> Module`` where ``spec`` is
the dataset's :class:`mathdl.data.registry.DatasetSpec` (``input_shape``, ``num_classes`` = classes
or vocabulary size, ``task``).  The builder's first docstring line is its description in
``mathdl train --help``.
"""

from __future__ import annotations

from ..data.registry import lookup, registrar

__all__ = ["MODELS", "register_model", "build_model", "model_names"]

MODELS: dict = {}


def register_model(name, description=""):
    """Decorator registering ``fn(spec, **options) -> Module`` under ``name``."""
    return registrar(MODELS, name, description)


def model_names():
    return sorted(MODELS)


def build_model(name, spec, **options):
    """Build the registered model ``name`` for dataset ``spec`` (``ValueError`` listing the names if unknown)."""
    return lookup(MODELS, "model", name)(spec, **options)

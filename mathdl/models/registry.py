"""Named model builders, so that ``mathdl train --model NAME`` can find every reference model.

``@register_model(name)`` decorates a builder ``fn(spec, **options) -> Module`` where ``spec`` is
the dataset's :class:`mathdl.data.registry.DatasetSpec` (``input_shape``, ``num_classes`` = classes
or vocabulary size, ``task``).  The builder's first docstring line is its description in
``mathdl train --help``.
"""

from __future__ import annotations

__all__ = ["MODELS", "register_model", "build_model", "model_names"]

MODELS: dict = {}


def register_model(name, description=""):
    """Decorator registering ``fn(spec, **options) -> Module`` under ``name``."""

    def deco(fn):
        doc = (fn.__doc__ or "").strip().splitlines()
        MODELS[name] = (fn, description or (doc[0] if doc else ""))
        return fn

    return deco


def model_names():
    return sorted(MODELS)


def build_model(name, spec, **options):
    """Build the registered model ``name`` for dataset ``spec`` (``ValueError`` listing the names if unknown)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(model_names())}")
    return MODELS[name][0](spec, **options)

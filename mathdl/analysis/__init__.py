"""Analysis tools: looking inside trained models.

* :mod:`mathdl.analysis.attention_maps`: attention weights of every head of a transformer as a
  PNG grid (layers x heads): ``attention_maps``, ``plot_attention_grid``, ``save_attention_maps``.

Submodules load on first use (``mathdl.analysis.save_attention_maps`` works without importing
matplotlib at package import).
"""

import importlib

__all__ = ["attention_maps", "plot_attention_grid", "save_attention_maps"]

_LAZY = {"attention_maps": "attention_maps", "plot_attention_grid": "attention_maps",
         "save_attention_maps": "attention_maps"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

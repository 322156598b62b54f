"""Analysis tools: looking inside trained models.

* :mod:`mathdl.analysis.spectrum`: Hessian (any symmetric operator) spectra: Lanczos extremes,
  Hutchinson / Hutch++ traces, stochastic Lanczos quadrature densities, negative curvature.
* :mod:`mathdl.analysis.landscape`: loss landscapes (Li et al. 2018): interpolation, filter-normalized
  random, Hessian and PCA slices, convexity maps, plots.
* :mod:`mathdl.analysis.topology`: persistent homology (ripser) of layer representations, Betti numbers.
* :mod:`mathdl.analysis.information`: the information plane: binning, KDE bounds, KSG.
* :mod:`mathdl.analysis.operators`, :mod:`mathdl.analysis.params`: operators and flat parameter vectors.
* :mod:`mathdl.analysis.attention_maps`: attention weights of every head of a transformer as a
  PNG grid (layers x heads): ``attention_maps``, ``plot_attention_grid``, ``save_attention_maps``.
* :mod:`mathdl.analysis.cli`: ``mathdl analyze {spectrum,landscape,topology,information}``.

Submodules load on first use (``mathdl.analysis.save_attention_maps`` works without importing
matplotlib at package import).
"""

import importlib

_SUBMODULES = ("attention_maps", "spectrum", "landscape", "topology", "information", "operators", "params", "cli")

_LAZY = {"attention_maps": "attention_maps", "plot_attention_grid": "attention_maps",
         "save_attention_maps": "attention_maps",
         "extreme_eigenpairs": "spectrum", "hutchinson_trace": "spectrum", "hutchpp_trace": "spectrum",
         "slq": "spectrum", "negative_curvature": "spectrum", "spectrum_summary": "spectrum",
         "model_hessian": "operators", "as_operator": "operators", "check_symmetric": "operators",
         "slice_1d": "landscape", "slice_2d": "landscape", "interpolate": "landscape",
         "random_directions": "landscape", "persistent_homology": "topology",
         "capture_activations": "topology", "ksg_mi": "information", "information_plane": "information"}

__all__ = sorted(set(_LAZY) | {"spectrum", "landscape", "topology", "information", "operators", "params"})


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

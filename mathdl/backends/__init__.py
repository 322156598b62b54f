"""``mathdl.backends``: PyTorch's ``torch.backends`` switches, answered for mathdl's backends.

mathdl computes with NumPy (and its BLAS) on the CPU and CuPy on a GPU; it has no cuDNN autotuner,
TF32 mode, MPS or oneDNN path of its own.  The switches programs set (``cudnn.benchmark = True``,
``cuda.matmul.allow_tf32 = True``...) are accepted and kept as plain attributes, and the questions
(``mps.is_available()``, ``cudnn.is_available()``) are answered honestly, so that a PyTorch program's
set-up lines run unchanged.  Setting one changes no numerics.
"""

from __future__ import annotations

from types import SimpleNamespace

from . import cpu, cuda, cudnn, mkldnn, mps, openmp  # noqa: F401

__all__ = ["cpu", "cuda", "cudnn", "mkldnn", "mps", "openmp", "opt_einsum"]

opt_einsum = SimpleNamespace(enabled=True, strategy="auto", is_available=lambda: True)

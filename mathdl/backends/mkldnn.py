"""``torch.backends.mkldnn``: mathdl does not use oneDNN; its CPU kernels are NumPy and BLAS."""

from __future__ import annotations

enabled = True


def is_available() -> bool:
    return False

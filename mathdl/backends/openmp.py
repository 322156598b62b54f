"""``torch.backends.openmp``: mathdl's threads are its own pool plus BLAS's (``mathdl.set_num_threads``)."""

from __future__ import annotations


def is_available() -> bool:
    return False

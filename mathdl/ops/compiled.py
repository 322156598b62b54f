"""Whether mathdl may use its compiled CPU loops (numba): the one switch for every kernel module.

Compiled loops (mathdl/ops/row_kernels.py, select_kernels.py, recurrent_kernels.py,
mathdl/physics/jet_kernels.py) replace NumPy array code where one fused pass measures faster.  They
are used when numba imports and the environment variable MATHDL_NO_NUMBA is not 1/true/yes; the
array code, which computes the same formulas, runs otherwise (and always on CuPy arrays).
"""

from __future__ import annotations

import os

__all__ = ["enabled"]

_enabled = None


def enabled() -> bool:
    """numba importable and not disabled by MATHDL_NO_NUMBA (decided once per process)."""
    global _enabled
    if _enabled is None:
        _enabled = False
        if os.environ.get("MATHDL_NO_NUMBA", "").lower() not in ("1", "true", "yes"):
            try:
                import numba  # noqa: F401
            except ImportError:
                pass
            else:
                _enabled = True
    return _enabled

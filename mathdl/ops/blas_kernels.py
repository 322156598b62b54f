"""Matrix products from compiled loops: ``gemm`` callable inside numba-compiled code, without the GIL.

  gemm(transa, transb, m, n, k, A, lda, B, ldb, C, ldc):   C = op(A) op(B)   (row-major, beta = 0)

with op(A) (m, k), op(B) (k, n), C (m, n); A, B, C 1-D contiguous float32 or float64 arrays whose
first entry is the matrix's first (slices of larger blocks: a leading dimension lda, ldb, ldc between
rows), transa / transb the characters 'n' or 't' as ints (ord).  A row-major matrix is the
column-major matrix of its transpose, so the product is BLAS's column-major C^T = op(B)^T op(A)^T:
xgemm(transb, transa, n, m, k, B, ldb, A, lda, C, ldc).  It goes through numba's own entry point
to SciPy's BLAS (numba_xxgemm, which numba's np.dot uses; SciPy is a dependency), so it links by
name and the calling loops can be cached on disk.  Loops that call it on several threads at once run
inside mathdl.parallel.blas_serial(): SciPy's OpenBLAS is then one thread per call, like NumPy's.

Use ``available()`` first (numba importable and enabled, SciPy's BLAS found).
"""

from __future__ import annotations

from . import compiled

__all__ = ["available", "gemm", "N", "T"]

N, T = ord("n"), ord("t")
_ok = None


def gemm(transa, transb, m, n, k, A, lda, B, ldb, C, ldc):  # pragma: no cover - replaced when compiled
    """C = op(A) op(B) (see the module docstring); only callable from compiled code."""
    raise RuntimeError("blas_kernels.gemm is only callable from numba-compiled code")


def available():
    """Whether ``gemm`` can be compiled: numba enabled and SciPy's BLAS importable."""
    global _ok
    if _ok is None:
        _ok = compiled.enabled() and _register()
    return _ok


def _register():
    try:
        import numpy as np
        from numba import types
        from numba.extending import overload
        from numba.np.linalg import ensure_blas

        ensure_blas()
        import scipy.linalg.cython_blas  # noqa: F401  (loaded now: mathdl.parallel's BLAS switch sees it)
    except Exception:  # pragma: no cover - SciPy is a dependency
        return False

    def external(dtype):
        p = types.CPointer(dtype)
        sig = types.intc(types.char, types.char, types.char, types.intp, types.intp, types.intp, p, p, types.intp,
                         p, types.intp, p, p, types.intp)
        return types.ExternalFunction("numba_xxgemm", sig)

    ext32, ext64 = external(types.float32), external(types.float64)

    @overload(gemm, jit_options=dict(nogil=True))
    def _gemm(transa, transb, m, n, k, A, lda, B, ldb, C, ldc):
        if A.dtype == types.float32:
            ext, kind = ext32, ord("s")
        elif A.dtype == types.float64:
            ext, kind = ext64, ord("d")
        else:  # pragma: no cover - callers pass float32 or float64
            return None

        def impl(transa, transb, m, n, k, A, lda, B, ldb, C, ldc):
            one = np.ones(1, A.dtype)
            zero = np.zeros(1, A.dtype)
            ext(kind, transb, transa, n, m, k, one.ctypes, B.ctypes, ldb, A.ctypes, lda, zero.ctypes, C.ctypes, ldc)

        return impl

    return True

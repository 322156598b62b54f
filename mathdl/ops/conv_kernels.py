"""col2im as one compiled scatter-add (numba): the input gradient's additions of a strided convolution.

  buf[c, n0 + m, a s_h + i d_h, b s_w + j d_w] += cols[c, i, j, m, a, b]

for every channel c, kernel offset (i, j), image m of the tile and output position (a, b) — the
adjoint of im2col (mathdl/ops/conv.py).  NumPy does it as kh kw strided additions, whose inner
loop is one output row (Wo entries, stride s): for short rows (1-D signals, small maps) the per-row
overhead dominates, e.g. MNIST-1D's 25-channel, length-10 layer with 100 images: 142 us as array
additions, 63 us here (loops in cols' memory order, (c, i, j, m, a, b): 25-40% faster than with
the images outside the offsets).  Same sums in the same order for every entry as the array code
(the offsets are added in (i, j) order), so results are bit-identical.  Used on C-contiguous NumPy float32/float64
arrays when mathdl.ops.compiled.enabled(); releases the GIL (tiles run on mathdl's threads).
"""

from __future__ import annotations

import numpy as np

from . import compiled

__all__ = ["col2im_available", "col2im_add"]

_kernel = None


def col2im_available(*arrays):
    """numba enabled and every array a C-contiguous NumPy array of one float dtype."""
    global _kernel
    dt = arrays[0].dtype
    if dt not in (np.float32, np.float64) or not all(
            type(a) is np.ndarray and a.dtype == dt and a.flags.c_contiguous for a in arrays):
        return False
    if _kernel is None:
        _kernel = _compile() if compiled.enabled() else False
    return _kernel is not False


def _compile():
    from numba import njit

    @njit(nogil=True, cache=True)
    def scatter(cols, buf, n0, sh, sw, dh, dw):
        C, kh, kw, n, Ho, Wo = cols.shape
        for c in range(C):  # cols read in memory order; one channel's block of buf stays in cache
            for i in range(kh):
                for j in range(kw):
                    for m in range(n):
                        for a in range(Ho):
                            r = a * sh + i * dh
                            for b in range(Wo):
                                buf[c, n0 + m, r, b * sw + j * dw] += cols[c, i, j, m, a, b]

    return scatter


def col2im_add(cols, buf, n0, stride, dil):
    """buf (C, N, Hp, Wp) += the scatter of cols (C, kh, kw, n, Ho, Wo) into images n0:n0+n."""
    _kernel(cols, buf, n0, stride[0], stride[1], dil[0], dil[1])

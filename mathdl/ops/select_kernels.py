"""ReLU and its gradient as one compiled select pass over contiguous float arrays (numba).

  relu        y_i = x_i if not (x_i <= 0) else 0          (a NaN input gives NaN, as torch)
  relu'       dx_i = g_i if not (y_i <= 0) else 0         (PyTorch's threshold_backward: g passes at
                                                           NaN; an inf or NaN of g where y <= 0 gives 0)
  add_relu    y_i = s_i if not (s_i <= 0) else 0, s_i = a_i + b_i   (a residual join, one pass)

NumPy's float32 ``maximum`` runs at about a third of a multiply's speed on these machines, and the
gradient as array code takes a compare, a product and a NaN test (three passes and a reduction);
each loop here is one pass at the speed of a multiply.  Used from MIN_ELEMENTS entries on
C-contiguous NumPy float32/float64 arrays (mathdl.ops.compiled.enabled()); the array code otherwise.
The loops release the GIL.
"""

from __future__ import annotations

import numpy as np

from .. import openmp_team
from .. import parallel as _parallel
from . import compiled
from ..parallel import MIN_PARALLEL_ELEMENTS_CNN, for_ranges

__all__ = ["usable", "relu", "relu_backward", "add_relu", "MIN_ELEMENTS"]

MIN_ELEMENTS = 1 << 15  # below, NumPy's call is as fast and small programs never load numba
_k = None


def _compile():
    from numba import njit

    opts = dict(cache=True, nogil=True, error_model="numpy")

    @njit(**opts)
    def fwd(x, y):
        z = x.dtype.type(0.0)
        for i in range(x.shape[0]):
            v = x[i]
            y[i] = v if not (v <= z) else z

    @njit(**opts)
    def bwd(y, g, out):
        z = g.dtype.type(0.0)
        for i in range(y.shape[0]):
            out[i] = g[i] if not (y[i] <= z) else z

    @njit(**opts)
    def add_fwd(a, b, y):
        z = a.dtype.type(0.0)
        for i in range(a.shape[0]):
            v = a[i] + b[i]
            y[i] = v if not (v <= z) else z

    # The same loops on the OpenMP team (mathdl/openmp_team.py): prange cuts the entries into one
    # contiguous range per thread (an elementwise pass: the same results for any cut).
    from numba import prange

    popts = dict(opts, parallel=True)

    @njit(**popts)
    def fwd_team(x, y):
        z = x.dtype.type(0.0)
        for i in prange(x.shape[0]):
            v = x[i]
            y[i] = v if not (v <= z) else z

    @njit(**popts)
    def bwd_team(y, g, out):
        z = g.dtype.type(0.0)
        for i in prange(y.shape[0]):
            out[i] = g[i] if not (y[i] <= z) else z

    @njit(**popts)
    def add_team(a, b, y):
        z = a.dtype.type(0.0)
        for i in prange(a.shape[0]):
            v = a[i] + b[i]
            y[i] = v if not (v <= z) else z

    return fwd, bwd, add_fwd, fwd_team, bwd_team, add_team


def _dense(a):
    """Its entries fill one block of memory in some axis order (C order, or a transposed view of
    such a block, as the channel-major outputs of convolutions), with positive strides."""
    if a.flags.c_contiguous:
        return True
    expected = a.itemsize
    for stride, dim in sorted(zip(a.strides, a.shape)):
        if dim > 1:
            if stride != expected:
                return False
            expected *= dim
    return True


def usable(*arrays):
    """Whether the loops apply to these arrays: NumPy float32/float64 of one dtype and one memory
    layout (strides), dense, from MIN_ELEMENTS entries, numba enabled."""
    global _k
    a = arrays[0]
    if type(a) is not np.ndarray or a.size < MIN_ELEMENTS or a.dtype not in (np.float32, np.float64):
        return False
    if not all(type(b) is np.ndarray and b.dtype == a.dtype and b.strides == a.strides for b in arrays):
        return False
    if not _dense(a):
        return False
    if _k is None:
        _k = _compile() if compiled.enabled() else False
    return _k is not False


def _flat(a):
    return np.ravel(a, order="K")  # a view, in memory order (dense)


# On the OpenMP team (a hand-off of about 2 us) the passes split from this many element-passes.
TEAM_MIN_WORK = 1 << 16


def _run(index, *arrays):
    """Loop ``index`` (0 relu, 1 its gradient, 2 add_relu) on the arrays' flat memory: for a CNN's 4-D
    activations on the OpenMP team (mathdl.parallel.on_team) as one prange call, else over contiguous
    chunks on mathdl's threads (from MIN_PARALLEL_ELEMENTS_CNN element-passes; the loops release the
    GIL).  Other ranks (an MLP's, a transformer's) stay off the team: their products run on BLAS's own
    threads, and the team's polling threads would take those threads' cores (the MLP step at 2
    threads 2.8 -> 9.0 ms when its ReLUs ran on the team)."""
    flats = [_flat(a) for a in arrays]
    n = flats[0].size
    work = len(flats) * n
    image = arrays[0].ndim == 4  # a CNN's activations: the team (not next to BLAS's own threads)
    team = _parallel.team_threads(work, TEAM_MIN_WORK) if image else 0
    if team:
        openmp_team.use_threads(team)
        _k[3 + index](*flats)
        return
    kernel = _k[index]
    for_ranges(lambda lo, hi: kernel(*(f[lo:hi] for f in flats)), n, len(flats) * n, align=16,
               min_work=MIN_PARALLEL_ELEMENTS_CNN, team=image)


def relu(x):
    """max(x, 0) with NaN kept, as a new array of x's memory layout."""
    y = np.empty_like(x)  # order "K": the same strides
    _run(0, x, y)
    return y


def add_relu(a, b):
    """max(a + b, 0) with NaN kept, as a new array of a's memory layout (a, b of one layout: see
    usable).  Into a new array, since in place (y aliasing a) the loop is not vectorized: 512K
    float32 entries in 77 us, against 263 us for NumPy's a + b then maximum, and 65 + 165 us for
    a + b then the select in place."""
    y = np.empty_like(a)
    _run(2, a, b, y)
    return y


def relu_backward(y, g):
    """g where not y <= 0, else 0, as a new array of g's memory layout."""
    out = np.empty_like(g)
    _run(1, y, g, out)
    return out

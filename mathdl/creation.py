"""Creating tensors: from data, filled, ranges, and random draws from the one seeded generator.

Floating results use the default dtype (float32 unless ``set_default_dtype`` says otherwise);
random draws come from ``mathdl.backend.rng`` so that ``manual_seed(s)`` fixes them all.
"""

from __future__ import annotations

import numpy as np

from . import backend
from .autograd.tensor import Tensor, _to_array
from .ops.shape import normalize_shape

_make = Tensor._make


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data``."""
    if isinstance(data, Tensor):
        data = data.array
    arr = _to_array(data, dtype, device)
    if arr is data or (isinstance(data, np.ndarray) and np.may_share_memory(arr, data)):
        arr = arr.copy()
    return _finish(arr, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """A tensor sharing ``data``'s memory where possible (no copy for a matching array)."""
    if isinstance(data, Tensor):
        if dtype is None or data.dtype == backend.as_dtype(dtype):
            return data
        return data.astype(dtype)
    return _make(_to_array(data, dtype, device))


def from_numpy(array):
    return _make(np.asarray(array))


def _size_kw(name, size, kw):
    """PyTorch's ``zeros(size=(2, 3))`` spelling beside ``zeros(2, 3)`` and ``zeros((2, 3))``;
    ``out=None``, ``layout`` and ``pin_memory`` are accepted with their defaults."""
    if "size" in kw:
        if size:
            raise TypeError(f"{name}(): size given both positionally and as size=")
        size = (kw.pop("size"),)
    if kw.pop("out", None) is not None:
        raise TypeError(f"{name}(): out= is not supported; assign the result instead")
    kw.pop("layout", None)
    kw.pop("pin_memory", None)
    if kw:
        raise TypeError(f"{name}() got an unexpected keyword argument {next(iter(kw))!r}")
    return size


def _finish(arr, requires_grad):
    """Wrap ``arr`` (no copy) as a leaf tensor, requiring grad if asked."""
    t = _make(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size, dtype=None, device=None, requires_grad=False, **kw):
    size = _size_kw("zeros", size, kw)
    xp = backend.module_for(device)
    return _finish(xp.zeros(normalize_shape(size), dtype=backend.as_dtype(dtype)), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, **kw):
    size = _size_kw("ones", size, kw)
    xp = backend.module_for(device)
    return _finish(xp.ones(normalize_shape(size), dtype=backend.as_dtype(dtype)), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, **kw):
    size = _size_kw("empty", size, kw)
    xp = backend.module_for(device)
    return _finish(xp.empty(normalize_shape(size), dtype=backend.as_dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    xp = backend.module_for(device)
    if dtype is None:
        dtype = backend.get_default_dtype() if isinstance(fill_value, float) else (
            backend.bool_ if isinstance(fill_value, bool) else backend.int64)
    return _finish(xp.full(normalize_shape((size,)), fill_value, dtype=backend.as_dtype(dtype)), requires_grad)


def _like(x, dtype, device):
    return (dtype if dtype is not None else x.dtype), (device if device is not None else x.device)


def zeros_like(x, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return zeros(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(x, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return ones(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(x, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return empty(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(x, fill_value, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return full(x.shape, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    xp = backend.module_for(device)
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        dtype = backend.get_default_dtype() if is_float else backend.int64
    return _finish(xp.arange(start, end, step, dtype=backend.as_dtype(dtype)), requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """``steps`` points from ``start`` to ``end``, as PyTorch computes them:
    x_i = start + i h for i < steps // 2 and x_i = end - (steps - 1 - i) h after, h = (end - start) / (steps - 1),
    in the result's dtype (float64 for integer dtypes, then truncated toward zero)."""
    start, end = (float(v) if isinstance(v, Tensor) else v for v in (start, end))
    steps = int(steps)
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    xp = backend.module_for(device)
    dt = backend.as_dtype(dtype)
    if dt.kind in "biu":  # PyTorch first converts the ends to the integer dtype
        work = np.dtype(np.float64)
        start, end = (float(np.asarray(v).astype(dt)) for v in (start, end))
    else:
        work = dt if dt in (backend.float32, backend.float64) else np.dtype(np.float32)
    if steps <= 1:
        arr = xp.full((steps,), start, dtype=work)
    else:
        a, b = work.type(start), work.type(end)
        h = (b - a) / work.type(steps - 1)
        i = xp.arange(steps, dtype=work)
        half = steps // 2
        arr = xp.empty(steps, dtype=work)
        arr[:half] = a + h * i[:half]
        arr[half:] = b - h * (work.type(steps - 1) - i[half:])
    return _finish(arr.astype(dt), requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    xp = backend.module_for(device)
    return _finish(xp.eye(n, m, dtype=backend.as_dtype(dtype)), requires_grad)


# --------------------------------------------------------------------------- random
def _gen(device, generator=None):
    return backend.generator_for(generator, backend.module_for(device))


def _float_dtype(dtype, who):
    dt = backend.as_dtype(dtype)
    if not backend.is_floating(dt):
        raise TypeError(f"{who}: expected a floating dtype, got {dt}")
    return dt


def _draw_dtype(dt):
    """The dtype NumPy's generator draws in (float32 or float64) before casting to ``dt``."""
    return np.float32 if dt == np.float32 else np.float64


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, **kw):
    size = _size_kw("rand", size, kw)
    """Uniform on [0, 1)."""
    dt = _float_dtype(dtype, "rand")
    arr = _gen(device, generator).random(normalize_shape(size), dtype=_draw_dtype(dt))
    return _finish(arr.astype(dt, copy=False), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, **kw):
    size = _size_kw("randn", size, kw)
    """Standard normal N(0, 1)."""
    dt = _float_dtype(dtype, "randn")
    arr = _gen(device, generator).standard_normal(normalize_shape(size), dtype=_draw_dtype(dt))
    return _finish(arr.astype(dt, copy=False), requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Draws from N(mean, std^2); ``mean`` and ``std`` may be tensors (broadcast together).

    The dtype defaults to that of a tensor ``mean``/``std``, else the default dtype."""
    if dtype is None:
        for v in (mean, std):
            if isinstance(v, Tensor) and backend.is_floating(v.dtype):
                dtype = v.dtype
                break
    dt = _float_dtype(dtype, "normal")
    m = mean.array if isinstance(mean, Tensor) else mean
    s = std.array if isinstance(std, Tensor) else std
    if np.any(np.asarray(s) < 0):
        raise ValueError("normal: std must be non-negative")
    if size is None or size == ():
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    else:
        shape = normalize_shape((size,))
    arr = _gen(device, generator).normal(m, s, shape)
    return _finish(arr.astype(dt, copy=False), requires_grad)


def randint(low, high=None, size=(), *, generator=None, dtype=None, device=None, requires_grad=False):
    """Integers drawn uniformly from [low, high) (int64 unless ``dtype`` says otherwise).

    Also callable as ``randint(high, size)``, as in PyTorch."""
    if isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: expected low < high, got [{low}, {high})")
    dt = backend.as_dtype(dtype) if dtype is not None else backend.int64
    draw = dt if dt.kind in "iu" else np.int64
    arr = _gen(device, generator).integers(low, high, normalize_shape((size,)), dtype=draw)
    return _make(arr.astype(dt, copy=False))


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0 .. n-1."""
    if int(n) < 0:
        raise ValueError(f"randperm: n must be non-negative, got {n}")
    dt = backend.as_dtype(dtype) if dtype is not None else backend.int64
    return _finish(_gen(device, generator).permutation(int(n)).astype(dt), requires_grad)


def rand_like(x, *, generator=None, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return rand(x.shape, generator=generator, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(x, *, generator=None, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return randn(x.shape, generator=generator, dtype=dtype, device=device, requires_grad=requires_grad)


def randint_like(x, low=0, high=None, *, generator=None, dtype=None, device=None):
    """Integers drawn uniformly from [low, high) in ``x``'s shape (``randint_like(x, high)`` too)."""
    if high is None:
        low, high = 0, low
    dtype, device = _like(x, dtype, device)
    return randint(low, high, x.shape, generator=generator, dtype=dtype, device=device)


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    """base ** linspace(start, end, steps)."""
    dt = backend.as_dtype(dtype)
    exps = linspace(start, end, steps, dtype=backend.float64 if dt.kind in "biu" else dt, device=device).array
    return _finish((base ** exps).astype(dt), requires_grad)


def scalar_tensor(s, dtype=None, device=None, requires_grad=False):
    """A 0-d tensor holding the number ``s`` (default float dtype)."""
    return tensor(float(s), dtype=dtype, device=device, requires_grad=requires_grad)

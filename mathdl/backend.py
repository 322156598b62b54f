"""Array backends, dtypes and the one random generator.

mathdl keeps every tensor's values in one array of an *array module*: ``numpy`` for the
``"cpu"`` device and ``cupy`` for ``"cuda"``.  Every gradient rule is written in mathdl ops,
and every op reaches its array module through :func:`xp_of`, so the same code runs on both
(Chainer's ``xp`` idea).

Also here: the dtype objects (``mathdl.float32`` ...), the default floating dtype, the
seeded generator behind every random op, and a one-time allocator tuning (glibc ``mallopt``)
that stops large temporaries from being returned to the OS and page-faulted back in on every
training step.  Set ``MATHDL_NO_MALLOPT=1`` to opt out.
"""

from __future__ import annotations

import ctypes
import os
import sys

import numpy as np

try:  # bfloat16 on CPU
    import ml_dtypes

    _bfloat16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - ml_dtypes is a hard dependency
    _bfloat16 = None

try:  # optional GPU backend
    import cupy as _cupy  # type: ignore

    _cupy_ndarray = _cupy.ndarray
except Exception:  # pragma: no cover - no GPU on CI
    _cupy = None
    _cupy_ndarray = ()


# --------------------------------------------------------------------------- dtypes
float16 = np.dtype(np.float16)
bfloat16 = _bfloat16
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

_DTYPE_NAMES = {
    "float16": float16, "half": float16, "bfloat16": bfloat16,
    "float32": float32, "float": float32, "float64": float64, "double": float64,
    "int8": int8, "uint8": uint8, "int16": int16, "int32": int32, "int": int64,
    "int64": int64, "long": int64, "bool": bool_,
}

_default_dtype = float32


def as_dtype(dtype) -> np.dtype:
    """Normalise anything that names a dtype (mathdl/NumPy dtype, type, or string)."""
    if dtype is None:
        return _default_dtype
    if isinstance(dtype, str):
        try:
            return _DTYPE_NAMES[dtype]
        except KeyError:
            raise TypeError(f"unknown dtype {dtype!r}; expected one of {sorted(_DTYPE_NAMES)}") from None
    if dtype is bool:
        return bool_
    if dtype is float:
        return _default_dtype
    if dtype is int:
        return int64
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"cannot interpret {dtype!r} as a dtype") from None


def is_floating(dtype) -> bool:
    return dtype.kind == "f" or dtype == _bfloat16


def set_default_dtype(dtype) -> None:
    """Set the floating dtype used by creation functions and Python-float data (float32 at start)."""
    global _default_dtype
    d = as_dtype(dtype)
    if not is_floating(d):
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {d}")
    _default_dtype = d


def get_default_dtype() -> np.dtype:
    return _default_dtype


# --------------------------------------------------------------------------- devices
def xp_of(array):
    """The array module (numpy or cupy) that holds ``array``."""
    if type(array) is np.ndarray or _cupy is None:
        return np
    return _cupy if isinstance(array, _cupy_ndarray) else np


def device_of(array) -> str:
    return "cuda" if _cupy is not None and isinstance(array, _cupy_ndarray) else "cpu"


def module_for(device: str):
    """The array module for a device name ("cpu" or "cuda")."""
    if device is None or device == "cpu":
        return np
    if str(device).startswith("cuda"):
        if _cupy is None:
            raise RuntimeError("device 'cuda' needs CuPy, which is not installed (pip install cupy-cuda12x)")
        return _cupy
    raise ValueError(f"unknown device {device!r}; expected 'cpu' or 'cuda'")


def to_device(array, device: str):
    xp = module_for(device)
    if xp is np:  # numpy arrays and numpy scalars (0-d op results) stay as they are
        return _cupy.asnumpy(array) if _cupy is not None and isinstance(array, _cupy_ndarray) else array
    return _cupy.asarray(array)


def cuda_is_available() -> bool:
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


# --------------------------------------------------------------------------- randomness
class _RNG:
    """One seeded generator for every random op (``manual_seed``)."""

    def __init__(self, seed=None):
        self.seed(seed)

    def seed(self, seed):
        self.initial_seed = seed
        self.np = np.random.default_rng(seed)
        self._cupy = None

    def for_module(self, xp):
        if xp is np:
            return self.np
        if self._cupy is None:
            s = self.initial_seed
            self._cupy = xp.random.default_rng(s if s is not None else None)
        return self._cupy


rng = _RNG(0)  # a fixed initial seed, like PyTorch: runs are repeatable until manual_seed says otherwise


def manual_seed(seed: int) -> None:
    """Seed the generator used by every random op: same seed, same numbers."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: expected a non-negative integer, got {seed!r}")
    rng.seed(int(seed))


def default_generator():
    return rng


# --------------------------------------------------------------------------- allocator
def _tune_allocator() -> bool:
    """Keep freed large blocks in the heap (glibc) so big temporaries are not page-faulted again.

    M_MMAP_THRESHOLD = -3, M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2 (glibc's mallopt codes).
    """
    if os.environ.get("MATHDL_NO_MALLOPT") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(-3, 32 << 20)  # serve blocks up to 32 MiB (glibc's maximum) from the heap
        ok &= libc.mallopt(-1, 1 << 31)  # do not trim the heap top below 2 GiB
        ok &= libc.mallopt(-2, 64 << 20)  # grow the heap in 64 MiB steps
        return bool(ok)
    except (OSError, AttributeError):
        return False


allocator_tuned = _tune_allocator()

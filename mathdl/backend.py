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
import threading

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
class device(str):
    """A device name, as PyTorch's ``torch.device``: ``device("cuda", 0) == "cuda:0"``, with
    ``.type`` and ``.index``.  It is a ``str``, so it goes wherever a device string goes."""

    def __new__(cls, type_or_name="cpu", index=None):
        name = str(type_or_name)
        if index is not None:
            name = f"{name}:{int(index)}"
        kind = name.split(":")[0]
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"device: unknown device type {kind!r}; expected 'cpu' or 'cuda'")
        return super().__new__(cls, name)

    @property
    def type(self):
        return self.split(":")[0]

    @property
    def index(self):
        parts = self.split(":")
        return int(parts[1]) if len(parts) > 1 else None

    def __repr__(self):
        return f"device(type={self.type!r}" + (f", index={self.index})" if self.index is not None else ")")


dtype = np.dtype  # the type of mathdl's dtype objects (``isinstance(x.dtype, mathdl.dtype)``)


def xp_of(array):
    """The array module (numpy or cupy) that holds ``array``."""
    if type(array) is np.ndarray or _cupy is None:
        return np
    return _cupy if isinstance(array, _cupy_ndarray) else np


def device_of(array) -> str:
    return "cuda" if _cupy is not None and isinstance(array, _cupy_ndarray) else "cpu"


_default_device = None  # set_default_device: where creation functions put tensors when no device= is given


def set_default_device(device) -> None:
    """PyTorch's ``torch.set_default_device``: the device of tensors made without ``device=``
    (``None`` or "cpu" restores the CPU)."""
    global _default_device
    if device is not None:
        module_for(device)  # checks the name (and that CuPy is there for "cuda")
        device = str(device)
    _default_device = None if device in (None, "cpu") else device


def get_default_device():
    """The device creation functions use without ``device=`` (PyTorch's ``torch.get_default_device``)."""
    return globals()["device"](_default_device or "cpu")


def module_for(device: str):
    """The array module for a device name ("cpu" or "cuda"); None means the default device."""
    if device is None:
        if _default_device is None:
            return np
        device = _default_device
    if device == "cpu":
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
class Generator:
    """A seeded source of random numbers (PyTorch's ``torch.Generator``).

    ``mathdl.default_generator`` backs every random op; pass ``generator=g`` to a random
    function to draw from ``g`` instead.  ``manual_seed(s)`` restarts the stream, so the same
    seed gives the same numbers; ``get_state``/``set_state`` save and restore it.
    NumPy's PCG64 draws on the CPU (CuPy's generator on the GPU, seeded from the same seed).
    """

    def __init__(self, device="cpu"):
        if device is not None and str(device) != "cpu" and not str(device).startswith("cuda"):
            raise ValueError(f"Generator: unknown device {device!r}; expected 'cpu' or 'cuda'")
        self.device = str(device or "cpu")
        self._seed = 67280421310721  # PyTorch's default seed
        self._reset()

    def _reset(self):
        self._np = np.random.default_rng(self._seed)
        self._cupy = None

    @property
    def np(self):
        """The NumPy generator behind this one.  In a DataLoader worker thread the default generator
        is that worker's own stream (seeded from the loader's base seed plus the worker's id, as
        PyTorch seeds each worker process), so a dataset that draws random numbers is reproducible
        from the seed whichever thread runs first."""
        if self is rng:
            own = getattr(_thread_streams, "np", None)
            if own is not None:
                return own
        return self._np

    def manual_seed(self, seed):
        """Restart the stream from ``seed`` (a non-negative integer); returns the generator."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"manual_seed: expected a non-negative integer, got {seed!r}")
        self._seed = int(seed)
        self._reset()
        return self

    def seed(self):
        """Seed from the operating system's entropy; returns the seed chosen."""
        self._seed = int.from_bytes(os.urandom(8), "little") >> 1
        self._reset()
        return self._seed

    def initial_seed(self):
        """The seed the stream was last started from."""
        return self._seed

    def get_state(self):
        """The generator's state (a dict that ``set_state`` accepts)."""
        return {"seed": self._seed, "numpy": self._np.bit_generator.state}

    def set_state(self, state):
        if not isinstance(state, dict) or "numpy" not in state:
            raise TypeError("set_state: expected a state returned by get_state()")
        self._seed = state.get("seed", self._seed)
        self._np.bit_generator.state = state["numpy"]
        self._cupy = None
        return self

    def for_module(self, xp):
        """The array module's generator (NumPy's or CuPy's) behind this one."""
        if xp is np:
            return self.np
        if self._cupy is None:
            self._cupy = xp.random.default_rng(self._seed)
        return self._cupy

    def __repr__(self):
        return f"<mathdl.Generator device={self.device!r} initial_seed={self._seed}>"


def generator_for(generator, xp=np):
    """The array-module generator that a random op draws from (``generator`` or the default)."""
    if generator is None:
        return rng.for_module(xp)
    if not isinstance(generator, Generator):
        raise TypeError(f"generator: expected a mathdl.Generator, got {type(generator).__name__}")
    return generator.for_module(xp)


# per-thread streams of the default generator (set by mathdl.data.loader in its worker threads)
_thread_streams = threading.local()


def set_thread_stream(generator):
    """Make ``generator`` (a NumPy Generator, or None to stop) the default generator's stream in the
    calling thread."""
    _thread_streams.np = generator


rng = Generator()
rng.manual_seed(0)  # a fixed initial seed: runs are repeatable until manual_seed says otherwise
default_generator = rng


def manual_seed(seed: int):
    """Seed the generator used by every random op: same seed, same numbers.  Returns it."""
    return rng.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the operating system's entropy; returns the seed."""
    return rng.seed()


def initial_seed() -> int:
    return rng.initial_seed()


def get_rng_state():
    return rng.get_state()


def set_rng_state(state) -> None:
    rng.set_state(state)


# --------------------------------------------------------------------------- dtype information
class finfo:
    """Machine limits of a floating dtype (PyTorch's ``torch.finfo``): bits, eps, max, min,
    tiny (smallest normal), smallest_normal, resolution, dtype."""

    def __init__(self, dtype=None):
        dt = as_dtype(dtype)
        if not is_floating(dt):
            raise TypeError(f"finfo: expected a floating dtype, got {dt}")
        info = ml_dtypes.finfo(dt) if dt == _bfloat16 else np.finfo(dt)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = float(info.resolution)
        self.dtype = str(dt.name)

    def __repr__(self):
        return (f"finfo(resolution={self.resolution}, min={self.min}, max={self.max}, eps={self.eps}, "
                f"smallest_normal={self.smallest_normal}, tiny={self.tiny}, dtype={self.dtype})")


class iinfo:
    """Machine limits of an integer dtype (PyTorch's ``torch.iinfo``): bits, min, max, dtype."""

    def __init__(self, dtype):
        dt = as_dtype(dtype)
        if dt.kind not in "iub":
            raise TypeError(f"iinfo: expected an integer dtype, got {dt}")
        info = np.iinfo(np.uint8 if dt.kind == "b" else dt)
        self.bits = 8 if dt.kind == "b" else int(info.bits)
        self.min = 0 if dt.kind == "b" else int(info.min)
        self.max = 1 if dt.kind == "b" else int(info.max)
        self.dtype = str(dt.name)

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


# torch-style dtype aliases (``mathdl.long``, ``mathdl.double`` ...)
half = float16
double = float64
long = int64
short = int16
byte = uint8
char = int8
# ``mathdl.float`` (float32) and ``mathdl.int`` (int32) are bound in mathdl/__init__.py: defined
# here they would shadow the builtins inside this module.


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

"""An emulated GPU array module: CuPy's rules, NumPy's arithmetic.

CI has no GPU, yet the device path must not call host-only code (SciPy, ``np.add.at``, an implicit
``np.asarray`` of device data).  This module behaves like CuPy where that matters:

* :class:`DeviceArray` holds a NumPy array but refuses implicit conversion to a host array
  (``np.asarray(d)`` raises ``TypeError``, as CuPy does), so any host-only library that receives it
  fails loudly;
* NumPy's functions and ufuncs work on it through ``__array_function__`` / ``__array_ufunc__`` and
  return device arrays, but refuse to mix device data with host arrays (CuPy's rule);
* the module namespace mirrors CuPy's (``asarray``, ``asnumpy``, ``ndarray``, ``random``,
  ``linalg``, ``cuda.runtime.getDeviceCount``), each function being NumPy's on unwrapped data.

Explicit transfers are allowed: ``asarray(host)`` (host to device), ``asnumpy(d)``/``d.get()``
(device to host), and scalar reads (``d.item()``, ``float(d)``, ``d.tolist()``), which CuPy also
allows (they synchronise).  ``install(backend)`` makes it mathdl's "cuda" module for a test.

Fused kernels (mathdl/ops/device_kernels.py) run their xp fallback through ``fused_launch``,
which counts it as the one launch the compiled CuPy kernel makes.

Launch counting (:data:`COUNTER`, a :class:`LaunchCounter`): on a GPU each kernel launch costs
about 5-10 us of host time, so the number of launches per training step bounds its speed whatever
the arithmetic.  Every call that does device work counts one launch, named after the call:

* a ufunc call (``x + y``, ``np.exp(x, out=o)``, ``matmul``, ``add.reduce``): 1;
* ``d[key] = v`` (a copy kernel): 1; a random draw, ``linalg`` routine, ``scatter_add``: 1;
* ``asarray`` of host data (a host-to-device copy): 1, also counted in ``transfers``;
* any other function or method that returns an array holding NEW memory (``copy``, ``sum``,
  ``concatenate``, ``ascontiguousarray`` of a strided view, ``zeros``, ``full``, advanced
  indexing, a ``reshape`` that must copy): 1; one that returns a view of its inputs (``reshape``,
  ``transpose``, basic slicing, ``as_strided``, ``broadcast_to``): 0; ``empty``/``empty_like``
  only allocate: 0;
* reads to the host (``get``, ``item``, ``float``, ``bool``, ``tolist``, ``asnumpy``) count in
  ``syncs``: each waits for the device to finish.

A real library function may launch several kernels where the emulation sees one call (CuPy's
``pad``, ``linalg``), so the counts are a lower bound per call, exact for ufuncs, copies and GEMMs.
"""

from __future__ import annotations

import collections
import contextlib
import types

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin


class HostConversionError(TypeError):
    pass


class LaunchCounter:
    """Device work seen through the emulated module: ``launches`` (kernels and copies), ``syncs``
    (device-to-host reads), ``transfers`` (host-to-device copies) and ``by_name`` (launches per call
    name, e.g. ``ufunc multiply.__call__``, ``numpy.concatenate``, ``ndarray.copy``, ``setitem``)."""

    def __init__(self):
        self.trace = False  # also count by call site (``by_site``: "file:line function" outside this module)
        self._paused = False
        self.reset()

    def reset(self):
        self.launches = self.syncs = self.transfers = 0
        self.by_name = collections.Counter()
        self.by_site = collections.Counter()

    def launch(self, name, n=1):
        if self._paused:
            return
        self.launches += n
        self.by_name[name] += n
        if self.trace:
            self.by_site[_call_site()] += n

    def sync(self, name):
        if self._paused:
            return
        self.syncs += 1
        self.by_name[f"sync {name}"] += 1
        if self.trace:
            self.by_site[f"sync {_call_site()}"] += 1

    def snapshot(self):
        return {"launches": self.launches, "syncs": self.syncs, "transfers": self.transfers}

    def fused(self, name, thunk):
        """Run ``thunk`` (a fused kernel's xp fallback) as ONE launch named ``fused <name>``."""
        paused, self._paused = self._paused, True
        try:
            out = thunk()
        finally:
            self._paused = paused
        self.launch(f"fused {name}")
        return out

    @contextlib.contextmanager
    def counting(self):
        """``with COUNTER.counting() as c:`` resets the counts, and leaves them in ``c`` afterwards."""
        self.reset()
        yield self


COUNTER = LaunchCounter()


def _call_site():
    """'path:line function' of the innermost frame outside this module and NumPy."""
    import sys

    f = sys._getframe(2)
    while f is not None and (f.f_code.co_filename == __file__ or "/numpy/" in f.f_code.co_filename):
        f = f.f_back
    if f is None:
        return "?"
    name = f.f_code.co_filename
    cut = name.rfind("/mathdl/")
    return f"{name[cut + 1:] if cut >= 0 else name.rsplit('/', 1)[-1]}:{f.f_lineno} {f.f_code.co_name}"

_ALLOCATE_ONLY = {"empty", "empty_like"}


def _raw_inputs(obj, found):
    if isinstance(obj, DeviceArray):
        found.append(obj._a)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _raw_inputs(v, found)
    elif isinstance(obj, dict):
        for v in obj.values():
            _raw_inputs(v, found)
    return found


def _new_memory(out, inputs):
    """Whether ``out`` (a NumPy result, or a tuple/list of them) holds memory none of ``inputs`` owns."""
    if isinstance(out, (tuple, list)):
        return any(_new_memory(o, inputs) for o in out)
    if not isinstance(out, (np.ndarray, np.generic)):
        return False
    if isinstance(out, np.generic):
        return True
    return not any(np.may_share_memory(out, a) for a in inputs)


def _count_call(name, out, args, kwargs=None):
    """Count one launch for a call whose result holds new device memory (see the module docstring)."""
    if name.rsplit(".", 1)[-1] in _ALLOCATE_ONLY:
        return
    inputs = _raw_inputs(args, [])
    if kwargs:
        _raw_inputs(kwargs, inputs)
    if _new_memory(out, inputs):
        COUNTER.launch(name)


def _unwrap(x, where):
    if isinstance(x, DeviceArray):
        return x._a
    if isinstance(x, np.ndarray):  # CuPy refuses 0-d host arrays too (NumPy scalars are fine)
        raise TypeError(f"{where}: a host numpy.ndarray of shape {x.shape} mixed with device arrays "
                        "(CuPy refuses implicit host-to-device transfers)")
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v, where) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v, where) for k, v in x.items()}
    return x


def _wrap(x):
    if isinstance(x, np.ndarray):
        return DeviceArray(x)
    if isinstance(x, np.generic):  # CuPy returns 0-d arrays where NumPy returns scalars
        return DeviceArray(np.asarray(x))
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


class DeviceArray(NDArrayOperatorsMixin):
    """An array "on the device": NumPy storage, CuPy's refusal of implicit host conversion."""

    __slots__ = ("_a",)
    __array_priority__ = 100

    def __init__(self, a):
        self._a = a

    # ------------------------------------------------------------------ what CuPy refuses
    def __array__(self, dtype=None, copy=None):
        raise HostConversionError(
            "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a NumPy "
            "array explicitly. (emulated device: host-only code received device data)")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        where = f"ufunc {ufunc.__name__}.{method}"
        if method == "at":
            raise TypeError(f"{where}: not available on the device (CuPy has no ufunc.at; use scatter_add)")
        if method == "accumulate" and ufunc.__name__ not in ("add", "multiply"):
            raise TypeError(f"{where}: not supported on the device (CuPy: `cupy_{ufunc.__name__}.accumulate` is not "
                            "supported yet)")
        if getattr(np, ufunc.__name__, None) is not ufunc:
            raise TypeError(f"{where}: a host-only ufunc (SciPy's?) received device data; CuPy has it only in "
                            "cupyx.scipy.special")
        given_out = kwargs.get("out")
        if given_out is not None:
            kwargs["out"] = _unwrap(given_out, where)
        out = getattr(ufunc, method)(*_unwrap(inputs, where), **kwargs)
        COUNTER.launch(where)
        if given_out is not None:  # return the caller's own device arrays, as CuPy does
            given = given_out if isinstance(given_out, tuple) else (given_out,)
            return given[0] if len(given) == 1 else given
        return _wrap(out)

    def __array_function__(self, func, types_, args, kwargs):
        where = f"numpy.{func.__name__}"
        if func.__name__ in _HOST_ONLY:
            raise TypeError(f"{where}: not available on the device")
        if func.__name__ == "repeat" and isinstance(args[1] if len(args) > 1 else kwargs.get("repeats"), DeviceArray):
            raise TypeError(f"{where}: repeats must be an int, list or tuple (CuPy takes no device array)")
        out = func(*_unwrap(args, where), **_unwrap(kwargs, where))
        _count_call(where, out, args, kwargs)
        return _wrap(out)

    # ------------------------------------------------------------------ explicit transfers
    def get(self):
        COUNTER.sync("get")
        return self._a.copy()

    def item(self):
        COUNTER.sync("item")
        return self._a.item()

    def tolist(self):
        COUNTER.sync("tolist")
        return self._a.tolist()

    def __float__(self):
        COUNTER.sync("float")
        return float(self._a)

    def __int__(self):
        COUNTER.sync("int")
        return int(self._a)

    def __index__(self):
        COUNTER.sync("index")
        return self._a.__index__()

    def __bool__(self):
        COUNTER.sync("bool")
        return bool(self._a)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(v) for v in self._a)

    def __repr__(self):
        return f"DeviceArray({self._a!r})"

    # ------------------------------------------------------------------ array protocol
    @property
    def shape(self):
        return self._a.shape

    @shape.setter
    def shape(self, value):
        self._a.shape = value

    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    # CuPy's flags have c_contiguous, f_contiguous and owndata only (no writeable, aligned, ...)
    flags = property(lambda self: types.SimpleNamespace(c_contiguous=self._a.flags.c_contiguous,
                                                        f_contiguous=self._a.flags.f_contiguous,
                                                        owndata=self._a.flags.owndata))
    T = property(lambda self: DeviceArray(self._a.T))
    mT = property(lambda self: DeviceArray(np.swapaxes(self._a, -1, -2)))
    real = property(lambda self: DeviceArray(self._a.real))
    imag = property(lambda self: DeviceArray(self._a.imag))
    base = property(lambda self: None if self._a.base is None else DeviceArray(self._a.base))
    device = property(lambda self: "emulated-cuda:0")

    def __getitem__(self, key):
        out = self._a[_index(key)]
        if not (isinstance(out, np.ndarray) and np.may_share_memory(out, self._a)):
            COUNTER.launch("getitem (gather)")  # advanced indexing or a scalar read into a 0-d array
        return _wrap(out)

    def __setitem__(self, key, value):
        if isinstance(value, np.ndarray):
            raise TypeError("setitem: a host numpy.ndarray assigned into device data (use asarray first)")
        self._a[_index(key)] = value._a if isinstance(value, DeviceArray) else value
        COUNTER.launch("setitem")

    def __getattr__(self, name):  # methods: reshape, sum, astype, copy, ...
        if name.startswith("__"):  # never hand out __array_interface__ & co: that is a host view
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if not callable(attr):
            return _wrap(attr)

        def method(*args, **kwargs):
            where = f"ndarray.{name}"
            out = attr(*_unwrap(args, where), **_unwrap(kwargs, where))
            if out is None:  # in place: fill, sort, put, ...
                COUNTER.launch(where)
            else:
                _count_call(where, out, (self, args), kwargs)
            return _wrap(out)

        return method

    def __reduce__(self):
        raise HostConversionError("pickling device data is a host transfer; call .get() first")


def _index(key):
    if isinstance(key, DeviceArray):
        return key._a
    if isinstance(key, tuple):
        return tuple(k._a if isinstance(k, DeviceArray) else k for k in key)
    return key


# numpy functions CuPy does not offer (or offers only on the host)
_HOST_ONLY = {"add_at"}


# ---------------------------------------------------------------------------- the module
def _wrap_function(fn, name):
    def f(*args, **kwargs):
        where = f"emulated_cupy.{name}"
        out = fn(*_unwrap(args, where), **_unwrap(kwargs, where))
        _count_call(where, out, args, kwargs)
        return _wrap(out)

    f.__name__ = name
    f.__wrapped__ = fn
    return f


class _Namespace(types.ModuleType):
    """A module whose every attribute is the NumPy one (from ``source``), wrapped for device arrays."""

    def __init__(self, name, source):
        super().__init__(name)
        self._source = source

    def __getattr__(self, name):
        attr = getattr(self._source, name)
        if isinstance(attr, (np.ufunc,)) or (callable(attr) and not isinstance(attr, type)):
            wrapped = attr if isinstance(attr, np.ufunc) else _wrap_function(attr, name)
            setattr(self, name, wrapped)
            return wrapped
        return attr


class _Generator:
    """``cupy.random.Generator``: NumPy's generator, results on the device."""

    def __init__(self, seed=None):
        self._g = np.random.default_rng(seed)

    def __getattr__(self, name):
        return _wrap_function(getattr(self._g, name), f"random.Generator.{name}")


def _asarray(a, dtype=None, order=None, **kw):
    if isinstance(a, DeviceArray):
        if dtype is None or a.dtype == np.dtype(dtype):
            return a
        COUNTER.launch("asarray (astype)")
        return DeviceArray(a._a.astype(dtype))
    COUNTER.launch("asarray (host to device)")
    COUNTER.transfers += 1
    return DeviceArray(np.array(a, dtype=dtype, order=order, copy=True) if isinstance(a, np.ndarray)
                       else np.asarray(_unwrap(a, "asarray"), dtype=dtype, order=order))


def _asnumpy(a, **kw):
    if isinstance(a, DeviceArray):
        COUNTER.sync("asnumpy")
    return a._a.copy() if isinstance(a, DeviceArray) else np.asarray(a)


def _array(a, dtype=None, copy=True, order="K", ndmin=0, **kw):
    inner = a._a if isinstance(a, DeviceArray) else _unwrap(a, "array") if not isinstance(a, np.ndarray) else a
    COUNTER.launch("array" if isinstance(a, DeviceArray) else "array (host to device)")
    if not isinstance(a, DeviceArray):
        COUNTER.transfers += 1
    return DeviceArray(np.array(inner, dtype=dtype, copy=True, order=order, ndmin=ndmin))


def _solve(a, b):
    """``cupy.linalg.solve``: a (..., M, M) and b (..., M) or (..., M, K) with a.shape[:-1] ==
    b.shape[:a.ndim - 1] (CuPy 14 does not broadcast batch dimensions; a batch of vectors is
    b.ndim == a.ndim - 1, where NumPy 2 reads such a b as matrices unless b is 1-D)."""
    a_, b_ = _unwrap(a, "linalg.solve"), _unwrap(b, "linalg.solve")
    if not ((a_.ndim == b_.ndim or a_.ndim == b_.ndim + 1) and a_.shape[:-1] == b_.shape[:a_.ndim - 1]):
        raise ValueError(f"emulated cupy.linalg.solve: a {a_.shape} and b {b_.shape} do not match (CuPy broadcasts "
                         "no batch dimensions)")
    COUNTER.launch("linalg.solve")
    if a_.ndim == b_.ndim + 1:
        return _wrap(np.linalg.solve(a_, b_[..., None])[..., 0])
    return _wrap(np.linalg.solve(a_, b_))


def _repeat(a, repeats, axis=None):
    """``cupy.repeat``: ``repeats`` must be an int or a host list/tuple, never a device array."""
    if isinstance(repeats, DeviceArray):
        raise TypeError("emulated cupy.repeat: repeats must be an int, list or tuple (CuPy takes no device array)")
    COUNTER.launch("repeat")
    return _wrap(np.repeat(_unwrap(a, "repeat"), repeats, axis=axis))


def make_module():
    """A fresh emulated ``cupy`` module."""
    mod = _Namespace("emulated_cupy", np)
    mod.ndarray = DeviceArray
    mod.asarray = _asarray
    mod.array = _array
    mod.asnumpy = _asnumpy
    mod.get_array_module = lambda *arrays: mod if any(isinstance(a, DeviceArray) for a in arrays) else np
    mod.linalg = _Namespace("emulated_cupy.linalg", np.linalg)
    mod.linalg.solve = _solve
    mod.repeat = _repeat
    mod.fft = _Namespace("emulated_cupy.fft", np.fft)
    mod.lib = types.SimpleNamespace(stride_tricks=_Namespace("emulated_cupy.lib.stride_tricks",
                                                             np.lib.stride_tricks))
    random = _Namespace("emulated_cupy.random", np.random)
    random.default_rng = lambda seed=None: _Generator(seed)
    random.Generator = _Generator
    mod.random = random
    runtime = types.SimpleNamespace(getDeviceCount=lambda: 1)
    mod.cuda = types.SimpleNamespace(runtime=runtime, Device=lambda i=0: types.SimpleNamespace(
        synchronize=lambda: None, id=i), get_device_id=lambda: 0)
    mod.is_emulated = True
    mod.fused_launch = COUNTER.fused  # mathdl.ops.device_kernels: a fused kernel's fallback counts as one launch
    return mod


def _scatter_add(a, slices, value):
    """``cupyx.scatter_add``: a[slices] += value, accumulating repeated indices."""
    COUNTER.launch("cupyx.scatter_add")
    np.add.at(a._a, _index(slices), value._a if isinstance(value, DeviceArray) else value)


def make_cupyx():
    """The emulated ``cupyx``: ``scatter_add`` and ``scipy.special`` on device arrays."""
    import scipy.special

    cupyx = types.ModuleType("cupyx")
    cupyx.scatter_add = _scatter_add
    cupyx_scipy = types.ModuleType("cupyx.scipy")
    special = types.ModuleType("cupyx.scipy.special")
    for name in dir(scipy.special):
        fn = getattr(scipy.special, name)
        if callable(fn) and not name.startswith("_"):
            setattr(special, name, _wrap_function(fn, f"cupyx.scipy.special.{name}"))
    cupyx_scipy.special = special
    cupyx.scipy = cupyx_scipy
    return cupyx, cupyx_scipy, special


def install(monkeypatch, backend):
    """Make the emulated module mathdl's "cuda" array module (and ``cupyx`` importable) for a test."""
    import sys

    mod = make_module()
    monkeypatch.setattr(backend, "_cupy", mod)
    monkeypatch.setattr(backend, "_cupy_ndarray", DeviceArray)
    cupyx, cupyx_scipy, special = make_cupyx()
    monkeypatch.setitem(sys.modules, "cupyx", cupyx)
    monkeypatch.setitem(sys.modules, "cupyx.scipy", cupyx_scipy)
    monkeypatch.setitem(sys.modules, "cupyx.scipy.special", special)
    return mod

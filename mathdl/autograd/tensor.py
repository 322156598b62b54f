"""The Tensor: one backend array plus the fields reverse-mode autodiff needs.

A Tensor ``t`` holds ``t.array`` (a numpy or cupy array), ``t.requires_grad``, ``t.grad``
(filled by ``backward``) and ``t._node``: the :class:`~mathdl.autograd.function.Function`
that produced it (``None`` for leaves).  ``t._version`` counts in-place changes so that a
tensor saved for backward and then modified is detected instead of giving a wrong gradient.

Operators and methods forward to the functions in :mod:`mathdl.ops`; the maths lives there.
"""

from __future__ import annotations

import weakref

import numpy as np

from .. import backend
from . import engine as _engine
from . import function as _function


class Tensor:
    __slots__ = ("array", "grad", "requires_grad", "_node", "_version", "_hooks", "__weakref__")
    __array_priority__ = 1000
    __array_ufunc__ = None  # make NumPy defer to our reflected operators

    def __init__(self, data, requires_grad: bool = False, dtype=None, device=None):
        if isinstance(data, Tensor):
            data = data.array
        arr = _to_array(data, dtype, device)
        self.array = arr
        self.grad = None
        self.requires_grad = False
        self._node = None
        self._version = 0
        self._hooks = None
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, requires_grad=False, node=None):
        t = object.__new__(cls)
        t.array = data
        t.grad = None
        t.requires_grad = requires_grad
        t._node = node
        t._version = 0
        t._hooks = None
        return t

    # ------------------------------------------------------------------ attributes
    @property
    def data(self):
        """PyTorch's ``.data``: a tensor sharing this one's array, cut from the graph, with
        ``requires_grad=False``.  Unlike :meth:`detach` it does not share the version counter, so
        in-place changes made through it (``p.data.add_(g, alpha=-lr)``) are invisible to
        autograd, exactly as in PyTorch.  The raw backend array is ``t.array``."""
        return Tensor._make(self.array)

    @data.setter
    def data(self, value):
        """``t.data = other`` swaps the array (shape and dtype may change, as in PyTorch)."""
        if isinstance(value, Tensor):
            value = value.array
        elif not hasattr(value, "shape") or not hasattr(value, "dtype"):
            raise TypeError(f"data: expected a Tensor, got {type(value).__name__}")
        if backend.device_of(value) != backend.device_of(self.array):
            raise RuntimeError(f"data: the new data is on {backend.device_of(value)} but the tensor is on "
                               f"{backend.device_of(self.array)}; move it with .to() first")
        self.array = value

    @property
    def shape(self):
        return self.array.shape

    @property
    def ndim(self):
        return self.array.ndim

    def dim(self):
        return self.array.ndim

    def size(self, dim=None):
        """The shape (PyTorch's ``size()``), or the length of one dimension."""
        if dim is None:
            return self.array.shape
        return self.array.shape[dim]

    def numel(self):
        return self.array.size

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self):
        return backend.device_of(self.array)

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    @property
    def T(self):
        return ops.permute(self, tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self):
        return ops.transpose(self, -2, -1)

    # ------------------------------------------------------------------ conversion
    def numpy(self):
        """The data as a NumPy array (shared, not copied)."""
        if backend.device_of(self.array) != "cpu":
            raise TypeError("numpy(): tensor is on 'cuda'; call .cpu() first")
        return self.array

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted, got shape {self.shape}")
        return self.array.reshape(()).item() if hasattr(self.array, "item") else float(self.array)

    def tolist(self):
        return backend.to_device(self.array, "cpu").tolist()

    def __array__(self, dtype=None, copy=None):
        arr = np.asarray(backend.to_device(self.array, "cpu"))  # 0-d op results may be NumPy scalars
        return arr.astype(dtype) if dtype is not None else arr

    def detach(self):
        """A tensor sharing the data, cut from the graph.  It shares the version counter too,
        so an in-place change made through it is still detected by ops that saved ``self``."""
        t = object.__new__(_Detached)
        t._base = self._base if type(self) is _Detached else self
        t.array = self.array
        t.grad = None
        t.requires_grad = False
        t._node = None
        t._hooks = None
        return t

    def detach_(self):
        self._node = None
        self.requires_grad = False
        return self

    def clone(self):
        return ops.clone(self)

    def contiguous(self, memory_format=None):
        """``self`` if its array is C-contiguous, else a C-contiguous copy (differentiable)."""
        if getattr(self.array, "flags", None) is None or self.array.flags.c_contiguous:
            return self
        return ops.clone(self)

    def requires_grad_(self, requires_grad: bool = True):
        if requires_grad and not backend.is_floating(self.array.dtype):
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {self.array.dtype}"
            )
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad_(False) is only allowed on leaf tensors; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def astype(self, dtype):
        return ops.cast(self, backend.as_dtype(dtype))

    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False, memory_format=None):
        """PyTorch's ``to``: ``to(dtype)``, ``to(device)`` (a name, a device, or a CUDA index), ``to(device,
        dtype)``, ``to(other)`` (other's dtype and device).  ``non_blocking`` and ``memory_format`` are
        accepted (NumPy and CuPy copies complete in order; arrays are C-ordered); ``copy=True`` always
        returns a new tensor."""
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, str) and (a == "cpu" or a.startswith("cuda")):
                device = a
            elif isinstance(a, int) and not isinstance(a, bool):  # PyTorch: an int is a CUDA device index
                device = f"cuda:{a}"
            else:
                dtype = a
        t = self
        if dtype is not None:
            t = ops.cast(t, backend.as_dtype(dtype))
        if device is not None:
            t = ops.to_device(t, device)
        if copy and t is self:
            t = ops.clone(self)
        return t

    def cpu(self, memory_format=None):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        """To the CUDA device ``device`` (an index, a name or a device; default the current one)."""
        if device is None:
            return self.to("cuda")
        return self.to(device if not isinstance(device, int) or isinstance(device, bool) else f"cuda:{device}")

    def float(self):
        return self.astype(backend.float32)

    def double(self):
        return self.astype(backend.float64)

    def half(self):
        return self.astype(backend.float16)

    def long(self):
        return self.astype(backend.int64)

    def int(self):
        return self.astype(backend.int32)

    def bool(self):
        return self.astype(backend.bool_)

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) (times ``gradient`` for non-scalars) into leaves' ``.grad``."""
        _engine.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward."""
        if self._node is None:
            return
        self._node.retained = weakref.ref(self)

    @property
    def retains_grad(self):
        n = self._node
        return n is not None and n.retained is not None and n.retained() is self

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a non-None result
        replaces the gradient.  Returns a handle with ``remove()``."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not require grad")
        if self._node is not None:
            if self._node.hooks is None:
                self._node.hooks = []
            hooks = self._node.hooks
        else:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def _mark_modified(self):
        """Record an in-place write into ``self.array``: bump the version counter, and if an op
        saved this array as its output for backward, make that backward refuse to run."""
        self._version += 1
        node = self._node
        if node is not None and node.save_output:
            node.out = _function.MODIFIED

    def zero_(self):
        return ops.inplace(self, "zero", None)

    # ------------------------------------------------------------------ in-place
    def add_(self, other, alpha=1):
        return ops.inplace(self, "add", other if alpha == 1 else other * alpha)

    def sub_(self, other, alpha=1):
        return ops.inplace(self, "sub", other if alpha == 1 else other * alpha)

    def mul_(self, other):
        return ops.inplace(self, "mul", other)

    def div_(self, other):
        return ops.inplace(self, "div", other)

    def fill_(self, value):
        return ops.inplace(self, "fill", value)

    def copy_(self, other):
        return ops.inplace(self, "copy", other)

    def clamp_(self, min=None, max=None):
        return ops.inplace(self, "clamp", (min, max))

    def __iadd__(self, other):
        return ops.inplace(self, "add", other)

    def __isub__(self, other):
        return ops.inplace(self, "sub", other)

    def __imul__(self, other):
        return ops.inplace(self, "mul", other)

    def __itruediv__(self, other):
        return ops.inplace(self, "div", other)

    def __setitem__(self, index, value):
        ops.setitem(self, index, value)

    # ------------------------------------------------------------------ operators
    def __add__(self, other):
        return _ew.add(self, other)

    def __radd__(self, other):
        return ops.add(other, self)

    def __sub__(self, other):
        return _ew.sub(self, other)

    def __rsub__(self, other):
        return ops.sub(other, self)

    def __mul__(self, other):
        return _ew.mul(self, other)

    def __rmul__(self, other):
        return ops.mul(other, self)

    def __truediv__(self, other):
        return _ew.div(self, other)

    def __rtruediv__(self, other):
        return ops.div(other, self)

    def __pow__(self, other):
        return ops.pow(self, other)

    def __rpow__(self, other):
        return ops.pow(other, self)

    def __matmul__(self, other):
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul(other, self)

    def __neg__(self):
        return ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return ops.abs(self)

    def __lt__(self, other):
        return ops.lt(self, other)

    def __le__(self, other):
        return ops.le(self, other)

    def __gt__(self, other):
        return ops.gt(self, other)

    def __ge__(self, other):
        return ops.ge(self, other)

    def __eq__(self, other):
        return ops.eq(self, other)

    def __ne__(self, other):
        return ops.ne(self, other)

    def __invert__(self):
        return ops.logical_not(self)

    def __and__(self, other):
        return ops.logical_and(self, other)

    def __or__(self, other):
        return ops.logical_or(self, other)

    __hash__ = object.__hash__

    def __getitem__(self, index):
        return ops.getitem(self, index)

    def __len__(self):
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self):
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self.array.shape[0]):
            yield self[i]

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.array.size} elements is ambiguous")
        return bool(self.array)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.array.dtype.kind not in "iub" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __format__(self, spec):
        """A 0-d tensor formats as its number (``f"{loss:.3f}"``), as in PyTorch."""
        if self.array.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __repr__(self):
        arr = np.asarray(backend.to_device(self.array, "cpu"))
        if arr.dtype == backend.bfloat16:  # NumPy prints bfloat16 without a decimal point
            arr = arr.astype(np.float32)
        body = np.array2string(arr, separator=", ", prefix="tensor(", **_print_options(arr))
        extras = []
        if self.array.dtype != backend.get_default_dtype() and self.array.dtype.kind != "i":
            extras.append(f"dtype={self.array.dtype}")
        elif self.array.dtype.kind == "i" and self.array.dtype != backend.int64:
            extras.append(f"dtype={self.array.dtype}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # Method versions of the ops are attached by mathdl.ops (see ops/__init__.py).


class _Detached(Tensor):
    """What ``detach()`` returns: a Tensor whose version counter is its origin's."""

    __slots__ = ("_base",)

    @property
    def _version(self):
        return self._base._version

    @_version.setter
    def _version(self, value):
        self._base._version = value


class _HookHandle:
    __slots__ = ("hooks", "hook")

    def __init__(self, hooks, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self):
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


_PRINT = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}
_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, 2 ** 63 - 1, 3, 80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """PyTorch's ``torch.set_printoptions``: digits after the point, the element count above
    which a tensor prints summarized, the items kept at each edge then, the line width, a
    profile ("default", "short", "full") and ``sci_mode`` (True/False forces, None decides)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: unknown profile {profile!r}; expected default, short or full")
        _PRINT.update(zip(("precision", "threshold", "edgeitems", "linewidth"), _PROFILES[profile]))
    for key, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                       ("linewidth", linewidth)):
        if value is not None:
            if not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"set_printoptions: {key} must be a non-negative integer, got {value!r}")
            _PRINT[key] = int(value)
    _PRINT["sci_mode"] = sci_mode


def _print_options(arr):
    opts = {k: _PRINT[k] for k in ("precision", "threshold", "edgeitems")}
    opts["max_line_width"] = _PRINT["linewidth"]
    if _PRINT["sci_mode"] is not None and arr.dtype.kind == "f":
        spec = f".{_PRINT['precision']}{'e' if _PRINT['sci_mode'] else 'f'}"
        flat = arr.reshape(-1)
        shown = flat if flat.size <= _PRINT["threshold"] else np.concatenate(
            [flat[:_PRINT["edgeitems"]], flat[-_PRINT["edgeitems"]:]])
        width = max((len(format(float(v), spec)) for v in shown), default=0)  # aligned columns, as PyTorch
        opts["formatter"] = {"float_kind": lambda v: format(float(v), spec).rjust(width)}
    return opts


def _to_array(data, dtype=None, device=None):
    """Make a backend array from Python data, NumPy/CuPy arrays or scalars.

    Python floats become the default dtype; arrays keep their dtype unless ``dtype`` is given.
    """
    if device is None:
        device = backend._default_device
    xp = backend.module_for(device) if device is not None else backend.xp_of(data)
    if dtype is not None:
        dtype = backend.as_dtype(dtype)
        return xp.asarray(data, dtype=dtype)
    if isinstance(data, (np.ndarray, np.generic)) or (xp is not np and isinstance(data, xp.ndarray)):
        return xp.asarray(data)
    if isinstance(data, (str, bytes)):
        raise TypeError(f"tensor(): cannot make a tensor from a {type(data).__name__} ({data!r}); "
                        "expected numbers, nested sequences of numbers, or an array")
    arr = np.asarray(data)
    if arr.dtype.kind in "USV":
        raise TypeError(f"tensor(): cannot make a tensor from {arr.dtype.name} data; expected numbers")
    if arr.dtype.kind == "f" and arr.dtype != backend.get_default_dtype():
        arr = arr.astype(backend.get_default_dtype())
    elif arr.dtype == np.int32 or arr.dtype == np.uint64:  # Python ints become int64, like PyTorch
        arr = arr.astype(np.int64)
    elif arr.dtype.kind == "O":
        raise TypeError(f"cannot make a tensor from {type(data).__name__} data of mixed types")
    return xp.asarray(arr) if xp is not np else arr


_function._bind_tensor(Tensor)
_engine._bind_tensor(Tensor)

from .. import ops  # noqa: E402  (ops need Tensor defined first)
from ..ops import elementwise as _ew  # noqa: E402

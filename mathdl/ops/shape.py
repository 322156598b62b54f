"""Shape operations: linear maps that only move, copy or sum entries.

Each is a linear map P, so its derivative is the adjoint P^T applied to the gradient:
  reshape -> reshape back;  permute -> inverse permutation;  broadcast_to <-> sum_to;
  cat -> slices of the gradient;  pad -> crop;  flip -> flip;  roll(s) -> roll(-s);
  tril/triu -> tril/triu of the gradient;  cast -> cast back.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import to_device as _to_device_array
from ..backend import xp_of

_make = Tensor._make


def normalize_dim(dim, ndim, op=None):
    """One axis: d in [-n, n) with n = max(ndim, 1) -> d mod n (a 0-d tensor takes 0 or -1, as
    PyTorch); IndexError naming ``op`` otherwise."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        where = f"{op}: " if op else ""
        raise IndexError(f"{where}dim {dim} is out of range for a tensor with {ndim} dimensions")
    return int(dim) % n


def normalize_dims(dim, ndim, op=None):
    """Axes of a reduction: None -> None (all axes); an int or a sequence -> the sorted tuple of
    distinct non-negative axes (``()`` for a 0-d tensor)."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = {normalize_dim(d, ndim, op) for d in dims}
    return tuple(sorted(out)) if ndim else ()


def normalize_shape(shape):
    """A shape given as ``f(2, 3)`` or ``f((2, 3))`` -> the tuple of ints (2, 3)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


# --------------------------------------------------------------------------- sum_to / broadcast_to
def _sum_axes(in_shape, shape):
    lead = len(in_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and in_shape[i + lead] != 1
    )
    return lead, axes


class SumTo(Function):
    """Sum over the broadcast axes so that the result has ``shape`` (the adjoint of broadcast)."""

    __slots__ = ("shape", "in_shape")
    saves_inputs = False  # backward never reads the inputs' values

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        lead, axes = _sum_axes(x.shape, self.shape)
        y = x.sum(axis=axes, keepdims=True) if axes else x
        if lead:
            y = y.reshape(self.shape)
        return y

    def backward(self, g):
        return (broadcast_to(g, self.in_shape),)


class BroadcastTo(Function):
    __slots__ = ("shape", "in_shape")
    saves_inputs = False  # backward never reads the inputs' values

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return xp_of(x).broadcast_to(x, self.shape)

    def backward(self, g):
        return (sum_to(g, self.in_shape),)


def sum_to(x, shape):
    """Sum ``x`` down to ``shape`` (a no-op when the shapes agree)."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return SumTo(shape)(x)


def broadcast_to(x, *shape):
    """Repeat ``x`` along its size-1 (and new leading) axes to ``shape``; the adjoint is sum_to."""
    shape = normalize_shape(shape)
    if x.shape == shape:
        return x
    try:
        np.broadcast_shapes(x.shape, shape)
        if len(shape) < x.ndim:
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {tuple(x.shape)} to {shape}") from None
    return BroadcastTo(shape)(x)


def expand(x, *shape):
    """PyTorch's expand: -1 keeps a dimension."""
    shape = normalize_shape(shape)
    lead = len(shape) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    return broadcast_to(x, shape)


def expand_as(x, other):
    return broadcast_to(x, other.shape)


# --------------------------------------------------------------------------- reshape & permute
class Reshape(Function):
    __slots__ = ("shape", "in_shape")
    saves_inputs = False  # backward never reads the inputs' values

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, g):
        return (reshape(g, self.in_shape),)


def reshape(x, *shape):
    """The same entries in C order with shape ``shape`` (one entry may be -1: inferred)."""
    shape = normalize_shape(shape)
    if shape == x.shape:
        return x
    try:
        if -1 in shape:
            known = int(np.prod([s for s in shape if s != -1]))
            if shape.count(-1) > 1 or known == 0 or x.data.size % known:
                raise ValueError
            shape = tuple(x.data.size // known if s == -1 else s for s in shape)
        if int(np.prod(shape)) != x.data.size:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {tuple(x.shape)} ({x.data.size} elements) into {shape}"
        ) from None
    return Reshape(shape)(x)


view = reshape


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dimensions start_dim..end_dim into one (a 0-d tensor becomes shape (1,))."""
    s = normalize_dim(start_dim, x.ndim, "flatten")
    e = normalize_dim(end_dim, x.ndim, "flatten")
    if x.ndim == 0:
        return reshape(x, (1,))
    shape = x.shape[:s] + (-1,) + x.shape[e + 1:]
    if 0 in x.shape:
        shape = x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:]
    return reshape(x, shape)


def unflatten(x, dim, sizes):
    """Split dimension ``dim`` into ``sizes`` (the inverse of flatten)."""
    d = normalize_dim(dim, x.ndim, "unflatten")
    return reshape(x, x.shape[:d] + tuple(sizes) + x.shape[d + 1:])


def squeeze(x, dim=None):
    """Drop size-1 dimensions (all of them, or those among ``dim``)."""
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    dims = {normalize_dim(d, x.ndim, "squeeze") for d in dims}
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in dims and s == 1)))


def unsqueeze(x, dim):
    """Insert a size-1 dimension at position ``dim`` (in [-ndim-1, ndim])."""
    d = dim if dim >= 0 else dim + x.ndim + 1
    if not 0 <= d <= x.ndim:
        raise IndexError(f"unsqueeze: dim {dim} is out of range for a tensor with {x.ndim} dimensions")
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


class Permute(Function):
    __slots__ = ("perm",)
    saves_inputs = False  # backward never reads the inputs' values

    def __init__(self, perm):
        self.perm = perm

    def forward(self, x):
        return x.transpose(self.perm)

    def backward(self, g):
        return (permute(g, tuple(np.argsort(self.perm))),)


def permute(x, *dims):
    """y[i_p0, i_p1, ...] = x[i_0, i_1, ...]: dimension k of the result is dimension dims[k] of x."""
    given = normalize_shape(dims)
    dims = tuple(normalize_dim(d, x.ndim, "permute") for d in given)
    if len(dims) != x.ndim or sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"permute: {given} is not a permutation of the {x.ndim} dimensions of shape {tuple(x.shape)}")
    if dims == tuple(range(x.ndim)):
        return x
    return Permute(dims)(x)


def transpose(x, dim0=-2, dim1=-1):
    """Swap dimensions ``dim0`` and ``dim1`` (a no-op on 0-d and 1-d tensors with the defaults)."""
    if x.ndim < 2 and dim0 in (-2, -1) and dim1 in (-2, -1):
        return x
    perm = list(range(x.ndim))
    a, b = normalize_dim(dim0, x.ndim, "transpose"), normalize_dim(dim1, x.ndim, "transpose")
    perm[a], perm[b] = perm[b], perm[a]
    return permute(x, tuple(perm))


swapaxes = transpose


def movedim(x, source, destination):
    """Move dimension ``source`` to position ``destination``, keeping the others in order."""
    perm = list(range(x.ndim))
    s = normalize_dim(source, x.ndim, "movedim")
    d = normalize_dim(destination, x.ndim, "movedim")
    perm.remove(s)
    perm.insert(d, s)
    return permute(x, tuple(perm))


# --------------------------------------------------------------------------- joining & splitting
class Cat(Function):
    __slots__ = ("axis", "sizes")

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        self.sizes = [x.shape[self.axis] for x in xs]
        return xp_of(xs[0]).concatenate(xs, axis=self.axis)

    def backward(self, g):
        out = []
        start = 0
        idx = [slice(None)] * g.ndim
        for t, n in zip(self.inputs, self.sizes):
            if t.requires_grad:
                idx[self.axis] = slice(start, start + n)
                out.append(g[tuple(idx)])
            else:
                out.append(None)
            start += n
        return tuple(out)


def cat(tensors, dim=0):
    """Join tensors along the existing dimension ``dim``; the gradient is sliced back apart."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    ref = tensors[0]
    d = normalize_dim(dim, ref.ndim, "cat")
    for i, t in enumerate(tensors):
        if t.ndim != ref.ndim or t.shape[:d] + t.shape[d + 1:] != ref.shape[:d] + ref.shape[d + 1:]:
            raise ValueError(
                f"cat: tensors must match except in dim {dim}; tensor 0 has shape {tuple(ref.shape)}, "
                f"tensor {i} has shape {tuple(t.shape)}"
            )
    return Cat(d)(*tensors)


concatenate = cat


def stack(tensors, dim=0):
    """Join equally shaped tensors along a new dimension ``dim``."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise ValueError(f"stack: all tensors must have the same shape; tensor 0 has {tuple(shape)}, "
                             f"tensor {i} has {tuple(t.shape)}")
    d = dim if dim >= 0 else dim + len(shape) + 1
    return cat([unsqueeze(t, d) for t in tensors], d)


def split(x, split_size_or_sections, dim=0):
    """PyTorch's split: chunks of a given size, or a list of section sizes."""
    d = normalize_dim(dim, x.ndim, "split")
    n = x.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise ValueError("split: split size must be positive")
        sizes = [min(step, n - s) for s in range(0, n, step)]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split: sections {sizes} do not add up to size {n} of dim {dim}")
    out, start = [], 0
    idx = [slice(None)] * x.ndim
    for s in sizes:
        idx[d] = slice(start, start + s)
        out.append(x[tuple(idx)])
        start += s
    return tuple(out)


def chunk(x, chunks, dim=0):
    """``chunks`` pieces of size ceil(n / chunks) along ``dim`` (the last may be smaller)."""
    n = x.shape[normalize_dim(dim, x.ndim, "chunk")]
    return split(x, -(-n // chunks), dim)


def unbind(x, dim=0):
    """The slices x[..., i, ...] along ``dim``, as a tuple."""
    d = normalize_dim(dim, x.ndim, "unbind")
    idx = [slice(None)] * x.ndim
    out = []
    for i in range(x.shape[d]):
        idx[d] = i
        out.append(x[tuple(idx)])
    return tuple(out)


# --------------------------------------------------------------------------- pad, flip, roll, tril
class Pad(Function):
    """Constant padding; ``widths`` is NumPy-style ((before, after), ...) per axis."""

    __slots__ = ("widths", "value")
    saves_inputs = False  # backward never reads the inputs' values

    def __init__(self, widths, value):
        self.widths, self.value = widths, value

    def forward(self, x):
        return xp_of(x).pad(x, self.widths, mode="constant", constant_values=self.value)

    def backward(self, g):
        idx = tuple(slice(b, g.shape[i] - a) for i, (b, a) in enumerate(self.widths))
        return (g[idx],)


def pad(x, pad, mode="constant", value=0.0):
    """PyTorch's F.pad: ``pad`` lists (left, right) pairs starting from the last dimension."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not supported; only 'constant'")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: expected an even number of values for at most {x.ndim} dims, got {pad}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if any(b < 0 or a < 0 for b, a in widths):
        raise ValueError("pad: negative padding is not supported")
    return Pad(tuple(widths), value)(x)


class Flip(Function):
    __slots__ = ("axes",)
    saves_inputs = False  # backward never reads the inputs' values

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return xp_of(x).flip(x, self.axes)

    def backward(self, g):
        return (Flip(self.axes)(g),)


def flip(x, dims):
    """Reverse the order of entries along ``dims``."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return Flip(tuple(normalize_dim(d, x.ndim, "flip") for d in dims))(x)


class Roll(Function):
    __slots__ = ("shifts", "axes")
    saves_inputs = False  # backward never reads the inputs' values

    def __init__(self, shifts, axes):
        self.shifts, self.axes = shifts, axes

    def forward(self, x):
        return xp_of(x).roll(x, self.shifts, self.axes)

    def backward(self, g):
        neg = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return (Roll(neg, self.axes)(g),)


def roll(x, shifts, dims=None):
    """y_i = x_{(i - shift) mod n} along ``dims`` (the flattened tensor when ``dims`` is None)."""
    if isinstance(shifts, (list, tuple)):
        if dims is None or len(dims) != len(shifts):
            raise ValueError(f"roll: shifts {tuple(shifts)} need as many dims, got {dims}")
        shifts = tuple(shifts)
        dims = tuple(dims)
    return Roll(shifts, dims)(x)


class Tri(Function):
    __slots__ = ("k", "lower")
    saves_inputs = False  # backward never reads the inputs' values

    def __init__(self, k, lower):
        self.k, self.lower = k, lower

    def forward(self, x):
        xp = xp_of(x)
        return xp.tril(x, self.k) if self.lower else xp.triu(x, self.k)

    def backward(self, g):
        return (Tri(self.k, self.lower)(g),)


def tril(x, diagonal=0):
    """Keep entries (i, j) of the last two dimensions with j - i <= diagonal, zero the rest."""
    if x.ndim < 2:
        raise ValueError(f"tril: expected a matrix (..., m, n), got shape {tuple(x.shape)}")
    return Tri(diagonal, True)(x)


def triu(x, diagonal=0):
    """Keep entries (i, j) of the last two dimensions with j - i >= diagonal, zero the rest."""
    if x.ndim < 2:
        raise ValueError(f"triu: expected a matrix (..., m, n), got shape {tuple(x.shape)}")
    return Tri(diagonal, False)(x)


# --------------------------------------------------------------------------- dtype, device, copy
class Cast(Function):
    __slots__ = ("dtype", "in_dtype")
    saves_inputs = False  # backward never reads the inputs' values

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        self.in_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, g):
        return (cast(g, self.in_dtype),)


def cast(x, dtype):
    """``x`` as ``dtype``; the gradient is cast back (integer/bool results carry none)."""
    if x.dtype == dtype:
        return x
    if x.requires_grad and dtype.kind != "f" and dtype.name != "bfloat16":
        return _make(x.data.astype(dtype))  # integer/bool results carry no gradient
    return Cast(dtype)(x)


class ToDevice(Function):
    __slots__ = ("device", "in_device")
    saves_inputs = False  # backward never reads the inputs' values

    def __init__(self, device):
        self.device = device

    def forward(self, x):
        from ..backend import device_of

        self.in_device = device_of(x)
        return _to_device_array(x, self.device)

    def backward(self, g):
        return (to_device(g, self.in_device),)


def to_device(x, device):
    if x.device == device:
        return x
    return ToDevice(device)(x)


class Clone(Function):
    __slots__ = ()
    saves_inputs = False  # backward never reads the inputs' values

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return (g,)


def clone(x):
    """A copy of ``x`` with its own memory; the gradient passes through unchanged."""
    return Clone()(x)

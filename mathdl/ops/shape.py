"""Shape operations: linear maps that only move, copy or sum entries.

Each is a linear map P, so its derivative is the adjoint P^T applied to the gradient:
  reshape -> reshape back;  permute -> inverse permutation;  broadcast_to <-> sum_to;
  cat -> slices of the gradient;  pad -> crop;  flip -> flip;  roll(s) -> roll(-s);
  tril/triu -> tril/triu of the gradient;  cast -> cast back.
"""

from __future__ import annotations

import math

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
            known = math.prod(s for s in shape if s != -1)
            if shape.count(-1) > 1 or known == 0 or x.array.size % known:
                raise ValueError
            shape = tuple(x.array.size // known if s == -1 else s for s in shape)
        if math.prod(shape) != x.array.size:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {tuple(x.shape)} ({x.array.size} elements) into {shape}"
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
        shape = x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]
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
    """Move dimension(s) ``source`` to position(s) ``destination``, keeping the others in order."""
    src = (source,) if isinstance(source, (int, np.integer)) else tuple(source)
    dst = (destination,) if isinstance(destination, (int, np.integer)) else tuple(destination)
    if len(src) != len(dst):
        raise ValueError(f"movedim: source {source} and destination {destination} differ in length")
    src = [normalize_dim(d, x.ndim, "movedim") for d in src]
    dst = [normalize_dim(d, x.ndim, "movedim") for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"movedim: repeated dims in source {source} or destination {destination}")
    rest = iter(i for i in range(x.ndim) if i not in src)
    where = dict(zip(dst, src))
    perm = tuple(where[i] if i in where else next(rest) for i in range(x.ndim))
    if perm == tuple(range(x.ndim)):
        return x
    return permute(x, perm)


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
    if any(t.array.dtype != ref.array.dtype for t in tensors):  # promote as PyTorch
        from .promotion import result_type

        dt = result_type(*[t for t in tensors])
        tensors = [cast(t, dt) for t in tensors]
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
        sizes = [min(step, n - s) for s in range(0, n, step)] or [0]  # an empty dim gives one empty piece
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
        xp = xp_of(x)
        if xp is np and x.ndim >= 2 and not x.flags.c_contiguous and x.size and min(x.strides) > 0:
            # keep x's axis order in memory (PyTorch's constant_pad_nd keeps the memory format):
            # a channel-major input (a convolution's output, or a strided view of one) gives a
            # channel-major result, which the residual join it meets then adds in one pass
            perm = np.argsort([-st for st in x.strides], kind="stable")
            shape = [n + b + a for n, (b, a) in zip(x.shape, self.widths)]
            out = np.full([shape[i] for i in perm], self.value, dtype=x.dtype).transpose(np.argsort(perm))
            out[tuple(slice(b, b + n) for n, (b, _) in zip(x.shape, self.widths))] = x
            return out
        return xp.pad(x, self.widths, mode="constant", constant_values=self.value)

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
        return _make(x.array.astype(dtype))  # integer/bool results carry no gradient
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


# --------------------------------------------------------------------------- diagonals
def _diag_index(shape2, offset):
    """Row and column indices of diagonal ``offset`` of an (m, n) matrix."""
    m, n = shape2
    r0, c0 = max(-offset, 0), max(offset, 0)
    length = max(min(m - r0, n - c0), 0)
    return np.arange(length) + r0, np.arange(length) + c0


class Diagonal(Function):
    """The diagonal ``offset`` of the (dim1, dim2) planes, as a new last dimension."""

    __slots__ = ("offset", "dim1", "dim2", "in_shape")
    saves_inputs = False

    def __init__(self, offset, dim1, dim2):
        self.offset, self.dim1, self.dim2 = offset, dim1, dim2

    def forward(self, x):
        self.in_shape = x.shape
        return xp_of(x).diagonal(x, self.offset, self.dim1, self.dim2).copy()

    def backward(self, g):
        return (DiagonalScatter(self.in_shape, self.offset, self.dim1, self.dim2)(g),)


class DiagonalScatter(Function):
    """zeros(shape) with ``g`` (diagonal as its last dimension) written on the diagonal
    ``offset`` of the (dim1, dim2) planes: the adjoint of :class:`Diagonal`."""

    __slots__ = ("shape", "offset", "dim1", "dim2")
    saves_inputs = False

    def __init__(self, shape, offset, dim1, dim2):
        self.shape, self.offset, self.dim1, self.dim2 = shape, offset, dim1, dim2

    def forward(self, g):
        xp = xp_of(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        view = xp.moveaxis(out, (self.dim1, self.dim2), (-2, -1))
        r, c = _diag_index(view.shape[-2:], self.offset)
        view[..., r, c] = g
        return out

    def backward(self, gg):
        return (Diagonal(self.offset, self.dim1, self.dim2)(gg),)


def diagonal(x, offset=0, dim1=0, dim2=1):
    """The entries x[..., i, i + offset, ...] of the (dim1, dim2) planes, as the last dimension."""
    if x.ndim < 2:
        raise ValueError(f"diagonal: needs two distinct dimensions of a tensor with at least 2, got shape "
                         f"{tuple(x.shape)}")
    d1, d2 = normalize_dim(dim1, x.ndim, "diagonal"), normalize_dim(dim2, x.ndim, "diagonal")
    if d1 == d2:
        raise ValueError(f"diagonal: needs two distinct dimensions of a tensor with at least 2, got dim1={dim1}, "
                         f"dim2={dim2} for shape {tuple(x.shape)}")
    return Diagonal(int(offset), d1, d2)(x)


def diag_embed(x, offset=0, dim1=-2, dim2=-1):
    """Matrices (in dims dim1, dim2 of the result) whose diagonal ``offset`` is the last dim of x."""
    n = x.shape[-1] + abs(int(offset)) if x.ndim else 1
    nd = x.ndim + 1
    d1, d2 = normalize_dim(dim1, nd, "diag_embed"), normalize_dim(dim2, nd, "diag_embed")
    if d1 == d2:
        raise ValueError("diag_embed: dim1 and dim2 must differ")
    out = DiagonalScatter(x.shape[:-1] + (n, n), int(offset), x.ndim - 1, x.ndim)(x)
    return movedim(out, (nd - 2, nd - 1), (d1, d2)) if (d1, d2) != (nd - 2, nd - 1) else out


def diag(x, diagonal=0):
    """A 1-D tensor -> the square matrix with it on diagonal ``diagonal``; a matrix -> that diagonal."""
    if x.ndim == 1:
        n = x.shape[0] + abs(int(diagonal))
        return DiagonalScatter((n, n), int(diagonal), 0, 1)(x)
    if x.ndim == 2:
        return Diagonal(int(diagonal), 0, 1)(x)
    raise ValueError(f"diag: expected a 1-D or 2-D tensor, got shape {tuple(x.shape)}")


def diagflat(x, offset=0):
    """diag of the flattened input."""
    return diag(reshape(x, (-1,)), offset)


def trace(x):
    """The sum of the main diagonal of a matrix."""
    from .reduce import sum as _sum

    if x.ndim != 2:
        raise ValueError(f"trace: expected a matrix, got shape {tuple(x.shape)}")
    return _sum(Diagonal(0, 0, 1)(x))


# --------------------------------------------------------------------------- tiling, repeating, stacking
def tile(x, dims):
    """Repeat x ``dims[i]`` times along each dimension (dims padded with 1s on the left to x's
    rank, or x's shape padded with 1s to dims'); a broadcast, so its adjoint is a sum.  The result
    is a new, writable array, never a view of x (PyTorch's ``repeat`` and ``tile`` copy)."""
    dims = tuple(int(d) for d in (dims if isinstance(dims, (tuple, list)) else (dims,)))
    if any(d < 0 for d in dims):
        raise ValueError(f"tile: repeats must be non-negative, got {dims}")
    n = max(len(dims), x.ndim)
    dims = (1,) * (n - len(dims)) + dims
    shape = (1,) * (n - x.ndim) + tuple(x.shape)
    inter = tuple(v for s in shape for v in (1, s))
    target = tuple(v for r, s in zip(dims, shape) for v in (r, s))
    out = broadcast_to(reshape(x, inter), target)
    out = reshape(out, tuple(r * s for r, s in zip(dims, shape)))
    if not out.array.flags.owndata:  # a view of x (a broadcast, or x itself): PyTorch's tile copies
        out = clone(out)
    return out


def repeat(x, *sizes):
    """Tensor.repeat: tile by ``sizes`` (at least as many as x has dimensions)."""
    sizes = normalize_shape(sizes)
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: number of repeat dims ({len(sizes)}) can not be smaller than the tensor's "
                         f"number of dimensions ({x.ndim})")
    return tile(x, sizes)


def repeat_interleave(x, repeats=None, dim=None, *, output_size=None):
    """Repeat each entry ``repeats`` times (an int or one count per entry) along ``dim``
    (flattened when dim is None).  ``repeat_interleave(counts)`` alone gives
    ``[0]*counts[0] + [1]*counts[1] + ...``."""
    from .indexing import index_select

    if repeats is None:
        r = x.array
        if r.ndim != 1 or r.dtype.kind not in "iu":
            raise TypeError("repeat_interleave: a single argument must be a 1-D integer tensor of counts")
        return _make(_repeat_positions(r, output_size))
    if dim is None:
        x, dim = reshape(x, (-1,)), 0
    d = normalize_dim(dim, x.ndim, "repeat_interleave")
    n = x.shape[d] if x.ndim else 1
    xp = xp_of(x.array)
    if isinstance(repeats, Tensor):
        rep = repeats.array
        if rep.dtype.kind not in "iu":
            raise TypeError(f"repeat_interleave: repeats must be integers, got dtype {rep.dtype}")
        if xp_of(rep) is not xp:
            raise RuntimeError(f"repeat_interleave: repeats on {repeats.device} and input on {x.device}: expected "
                               "both on the same device")
    else:
        rep = xp.asarray(repeats, dtype=np.int64)
    if rep.ndim > 1 or (rep.ndim and rep.shape[0] not in (1, n)):
        raise ValueError(f"repeat_interleave: repeats must have {n} entries (or one), got shape {tuple(rep.shape)}")
    if rep.size and bool((rep < 0).any()):
        raise ValueError("repeat_interleave: repeats must be non-negative")
    rep = xp.broadcast_to(rep.reshape(-1), (n,)) if rep.size == 1 or rep.ndim == 0 else rep
    idx = _repeat_positions(rep, output_size)
    if x.ndim == 0:
        x = reshape(x, (1,))
    return index_select(x, d, _make(idx))


def _repeat_positions(counts, output_size=None):
    """[0]*c_0 + [1]*c_1 + ... as int64 on the counts' device: position p of the output belongs to
    entry i = #{j : C_j <= p} with C the inclusive cumulative sum of the counts (a searchsorted,
    since CuPy's repeat takes its counts only as a host list)."""
    xp = xp_of(counts)
    if xp is np:
        return np.repeat(np.arange(counts.shape[0], dtype=np.int64), counts)
    c = xp.cumsum(counts.astype(np.int64))
    total = int(c[-1]) if output_size is None and c.size else (output_size or 0)
    return xp.searchsorted(c, xp.arange(total, dtype=np.int64), side="right").astype(np.int64)


def atleast_1d(*xs):
    out = [reshape(x, (1,)) if x.ndim == 0 else x for x in _seq(xs)]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_2d(*xs):
    out = [reshape(x, (1,) * (2 - x.ndim) + tuple(x.shape)) if x.ndim < 2 else x for x in _seq(xs)]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_3d(*xs):
    out = []
    for x in _seq(xs):
        if x.ndim == 0:
            x = reshape(x, (1, 1, 1))
        elif x.ndim == 1:
            x = reshape(x, (1, x.shape[0], 1))
        elif x.ndim == 2:
            x = reshape(x, tuple(x.shape) + (1,))
        out.append(x)
    return out[0] if len(out) == 1 else tuple(out)


def _seq(xs):
    return list(xs[0]) if len(xs) == 1 and isinstance(xs[0], (list, tuple)) else list(xs)


def hstack(tensors):
    """Concatenate along dim 1 (dim 0 for 1-D tensors)."""
    ts = [atleast_1d(t) for t in tensors]
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors):
    """Concatenate along dim 0 after making each tensor at least 2-D."""
    return cat([atleast_2d(t) for t in tensors], 0)


row_stack = vstack


def dstack(tensors):
    """Concatenate along dim 2 after making each tensor at least 3-D."""
    return cat([atleast_3d(t) for t in tensors], 2)


def column_stack(tensors):
    """Stack 0-D/1-D tensors as columns (and concatenate 2-D ones) along dim 1."""
    ts = [reshape(t, (t.array.size, 1)) if t.ndim <= 1 else t for t in tensors]
    return cat(ts, 1)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors (``indexing='ij'``: matrix, 'xy': Cartesian)."""
    ts = _seq(tensors)
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in ts:
        if t.ndim > 1:
            raise ValueError(f"meshgrid: expected 0-D or 1-D tensors, got shape {tuple(t.shape)}")
    ts = [reshape(t, (-1,)) for t in ts]
    swap = indexing == "xy" and len(ts) >= 2
    order = [1, 0] + list(range(2, len(ts))) if swap else list(range(len(ts)))
    full = tuple(ts[i].shape[0] for i in order)
    out = []
    for k, t in enumerate(ts):
        pos = order.index(k)
        shape = [1] * len(ts)
        shape[pos] = t.shape[0]
        out.append(broadcast_to(reshape(t, tuple(shape)), full))
    return tuple(out)


def cartesian_prod(*tensors):
    """All tuples of one entry from each 1-D tensor, as the rows of a matrix."""
    ts = _seq(tensors)
    if len(ts) == 1:
        return ts[0]
    grids = meshgrid(*ts, indexing="ij")
    return stack([reshape(g, (-1,)) for g in grids], 1)


def combinations(x, r=2, with_replacement=False):
    """The length-r combinations of the entries of a 1-D tensor, as the rows of a matrix."""
    import itertools

    from .indexing import getitem

    if x.ndim != 1:
        raise ValueError(f"combinations: expected a 1-D tensor, got shape {tuple(x.shape)}")
    gen = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    combos = np.array(list(gen(range(x.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    return getitem(x, _make(combos))


def block_diag(*tensors):
    """A block-diagonal matrix from the given (0-D, 1-D or 2-D) blocks."""
    from .promotion import result_type

    ts = [atleast_2d(t) for t in _seq(tensors)]
    for t in ts:
        if t.ndim != 2:
            raise ValueError(f"block_diag: expected 0-D, 1-D or 2-D tensors, got shape {tuple(t.shape)}")
    if not ts:
        return _make(np.zeros((1, 0)))
    dt = result_type(*ts)
    total = int(np.sum([t.shape[1] for t in ts]))
    rows, c = [], 0
    for t in ts:
        t = cast(t, dt)
        rows.append(pad(t, (c, total - c - t.shape[1])))
        c += t.shape[1]
    return cat(rows, 0)


def rot90(x, k=1, dims=(0, 1)):
    """Rotate by 90 degrees k times in the plane of ``dims`` (from the first axis toward the second)."""
    if len(dims) != 2:
        raise ValueError(f"rot90: expected two dims, got {dims}")
    d0, d1 = normalize_dim(dims[0], x.ndim, "rot90"), normalize_dim(dims[1], x.ndim, "rot90")
    if d0 == d1 or x.ndim < 2:
        raise ValueError(f"rot90: dims must be two distinct dimensions of the input, got {dims}")
    k = int(k) % 4
    if k == 1:
        return transpose(flip(x, (d1,)), d0, d1)
    if k == 2:
        return flip(x, (d0, d1))
    if k == 3:
        return transpose(flip(x, (d0,)), d0, d1)
    return clone(x)


def narrow(x, dim, start, length):
    """The ``length`` entries from ``start`` along ``dim`` (a view in PyTorch; a copy here)."""
    from .indexing import getitem

    d = normalize_dim(dim, x.ndim, "narrow")
    n = x.shape[d]
    start = int(start)
    if start < 0:
        start += n
    if not (0 <= start <= n and 0 <= int(length) <= n - start):
        raise IndexError(f"narrow: start {start} and length {length} exceed dimension {dim} of size {n}")
    key = (slice(None),) * d + (slice(start, start + int(length)),)
    return getitem(x, key)


def select(x, dim, index):
    """The slice at ``index`` along ``dim`` (that dimension removed)."""
    from .indexing import getitem

    d = normalize_dim(dim, x.ndim, "select")
    n = x.shape[d]
    if not -n <= int(index) < n:
        raise IndexError(f"select: index {index} is out of range for dimension {dim} of size {n}")
    return getitem(x, (slice(None),) * d + (int(index),))


def t(x):
    """The transpose of a matrix (0-D and 1-D tensors are returned as they are)."""
    if x.ndim > 2:
        raise ValueError(f"t: expected a tensor with at most 2 dimensions, got shape {tuple(x.shape)}")
    return transpose(x, 0, 1) if x.ndim == 2 else x


def ravel(x):
    """The entries as a 1-D tensor."""
    return reshape(x, (-1,))


def fliplr(x):
    """Flip the columns (dim 1)."""
    return flip(x, (1,))


def flipud(x):
    """Flip the rows (dim 0)."""
    return flip(x, (0,))


swapdims = transpose
moveaxis = movedim


def diff(x, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along ``dim``: out_i = x_{i+1} - x_i, applied n times, after
    joining ``prepend`` and ``append`` (tensors) to x along dim."""
    from .elementwise import sub
    from .indexing import getitem

    if x.ndim == 0:
        raise ValueError("diff: expected a tensor with at least 1 dimension")
    d = normalize_dim(dim, x.ndim, "diff")
    if n < 0:
        raise ValueError(f"diff: order n must be non-negative, got {n}")
    parts = [t for t in (prepend, x, append) if t is not None]
    if len(parts) > 1:
        parts = [t if t.ndim == x.ndim else broadcast_to(t, x.shape[:d] + (1,) + x.shape[d + 1:]) for t in parts]
        x = cat(parts, d)
    for _ in range(int(n)):
        m = x.shape[d]
        if m == 0:
            break
        hi = (slice(None),) * d + (slice(1, None),)
        lo = (slice(None),) * d + (slice(0, m - 1),)
        x = sub(getitem(x, hi), getitem(x, lo)) if x.dtype != np.bool_ else \
            _make(xp_of(x.array).logical_xor(x.array[hi], x.array[lo]))
    return x


concat = cat


def broadcast_tensors(*tensors):
    """The tensors broadcast to their common shape."""
    ts = _seq(tensors)
    shape = np.broadcast_shapes(*[tuple(t.shape) for t in ts])
    return tuple(broadcast_to(t, shape) if tuple(t.shape) != shape else t for t in ts)


def unfold(x, dimension, size, step):
    """Tensor.unfold: the windows of length ``size`` taken every ``step`` entries along
    ``dimension``, as a new last dimension (a gather, so its adjoint sums overlaps)."""
    from .indexing import index_select

    d = normalize_dim(dimension, x.ndim, "unfold")
    n = x.shape[d] if x.ndim else 1
    if size < 0 or size > n or step <= 0:
        raise ValueError(f"unfold: size {size} and step {step} do not fit dimension {dimension} of size {n}")
    if x.ndim == 0:
        return reshape(x, (1,))
    starts = np.arange(0, n - size + 1, step)
    idx = (starts[:, None] + np.arange(size)[None, :]).reshape(-1)
    out = index_select(x, d, _make(idx.astype(np.int64)))
    out = reshape(out, x.shape[:d] + (len(starts), size) + x.shape[d + 1:])
    return movedim(out, d + 1, out.ndim - 1)

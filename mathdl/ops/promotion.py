"""Type promotion, as PyTorch does it.

Dtypes fall into three categories, bool < integer < floating.  The result of an op on several
operands has the highest category present; within that category the dtype comes from the
operands of the highest *priority* that hold it, where

    tensors with dimensions  >  0-d tensors  >  Python scalars (bool, int, float)

so ``float32 vector + float64 0-d tensor`` is float32 and ``int8 vector + 1000`` stays int8,
while ``int64 vector + float 0-d`` is that float dtype and ``int vector * 2.5`` is the default
float dtype.  Two dtypes of one category promote to the smallest dtype holding both
(``promote_types``): ``uint8, int8 -> int16``; ``float16, bfloat16 -> float32``.

(NumPy's rules differ: ``int32 + float32 -> float64`` and 0-d arrays count as arrays.)
"""

from __future__ import annotations

import numpy as np

from .. import backend

__all__ = ["promote_types", "result_type", "can_cast"]

_BF16 = backend.bfloat16


def _category(dt) -> int:
    """0 bool, 1 integer, 2 floating."""
    if dt.kind == "b":
        return 0
    if dt.kind in "iu":
        return 1
    return 2


def promote_types(a, b):
    """The smallest dtype that both ``a`` and ``b`` convert to (PyTorch's promote_types)."""
    a, b = backend.as_dtype(a), backend.as_dtype(b)
    if a == b:
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb:
        return a if ca > cb else b
    if ca == 2 and (a == _BF16 or b == _BF16):
        other = b if a == _BF16 else a
        return backend.float32 if other == backend.float16 else other
    return np.promote_types(a, b)


def _python_scalar_dtype(v):
    if isinstance(v, bool):
        return backend.bool_
    if isinstance(v, int):
        return backend.int64
    return backend.get_default_dtype()


def _combine(higher, lower):
    """PyTorch's combine_categories: the higher-priority result wins unless the lower one has
    a higher category (then the lower one's dtype, promoted with bool)."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    if _category(higher) == 2:
        return higher
    if _category(higher) == 0 or _category(lower) == 2:
        return promote_types(higher, lower)
    return higher


def result_type(*operands):
    """The dtype PyTorch gives an op on ``operands`` (tensors, arrays or Python scalars)."""
    dim = zero = wrapped = None
    for v in operands:
        data = getattr(v, "array", v)
        if isinstance(v, (bool, int, float)) and not isinstance(v, np.generic):
            dt = _python_scalar_dtype(v)
            wrapped = dt if wrapped is None else promote_types(wrapped, dt)
        elif getattr(data, "ndim", 0) == 0:
            dt = np.dtype(data.dtype) if hasattr(data, "dtype") else _python_scalar_dtype(data)
            zero = dt if zero is None else promote_types(zero, dt)
        else:
            dim = data.dtype if dim is None else promote_types(dim, data.dtype)
    return _combine(dim, _combine(zero, wrapped))


def can_cast(from_, to) -> bool:
    """Whether PyTorch allows casting ``from_`` to ``to`` in an in-place op (no lowering of
    category: float to int, or int to bool, is refused)."""
    return _category(backend.as_dtype(from_)) <= _category(backend.as_dtype(to))

"""PyTorch's legacy tensor types: ``FloatTensor``, ``LongTensor``, ... (one per dtype).

Each is a constructor and an ``isinstance`` test, as in PyTorch:

* ``LongTensor(data)`` is ``tensor(data, dtype=int64)`` (a NumPy array of another integer width is
  converted; a Tensor must already have the type's dtype, else TypeError);
* ``FloatTensor(2, 3)`` (separate ints) is an uninitialised 2 x 3 tensor (here: zeros), and
  ``FloatTensor()`` an empty one;
* ``isinstance(t, FloatTensor)`` is ``t.dtype == float32`` for a CPU tensor.

The seq2seq tutorial builds its batches with ``torch.LongTensor(input_ids)``.
"""

from __future__ import annotations

import numbers

from .. import backend
from ..autograd.tensor import Tensor

__all__ = ["FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "LongTensor", "IntTensor",
           "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"]


class _LegacyTensorType(type):
    """The metaclass: ``isinstance(t, cls)`` is whether ``t`` is a CPU Tensor of ``cls.dtype``."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype and str(obj.device).startswith("cpu")

    def __repr__(cls):
        return f"<class 'mathdl.{cls.__name__}'>"


class _Legacy(metaclass=_LegacyTensorType):
    dtype = None

    def __new__(cls, *args, device=None):
        from ..creation import tensor, zeros

        if not args:
            return zeros(0, dtype=cls.dtype)
        if all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args) and (
                len(args) > 1 or not isinstance(args[0], Tensor)):
            return zeros(*args, dtype=cls.dtype)
        if len(args) > 1:
            raise TypeError(f"{cls.__name__}(): expected sizes as ints or one sequence of data, got {args!r}")
        data = args[0]
        if isinstance(data, Tensor):
            if data.dtype != cls.dtype:
                raise TypeError(f"{cls.__name__}(): expected a tensor of dtype {cls.dtype}, got {data.dtype}")
            return data
        return tensor(data, dtype=cls.dtype)


def _make(name, dtype):
    return _LegacyTensorType(name, (_Legacy,), {"dtype": backend.as_dtype(dtype), "__module__": "mathdl",
                                                "__doc__": f"PyTorch's legacy ``{name}``: {dtype} tensors."})


FloatTensor = _make("FloatTensor", "float32")
DoubleTensor = _make("DoubleTensor", "float64")
HalfTensor = _make("HalfTensor", "float16")
BFloat16Tensor = _make("BFloat16Tensor", backend.bfloat16)
LongTensor = _make("LongTensor", "int64")
IntTensor = _make("IntTensor", "int32")
ShortTensor = _make("ShortTensor", "int16")
CharTensor = _make("CharTensor", "int8")
ByteTensor = _make("ByteTensor", "uint8")
BoolTensor = _make("BoolTensor", "bool")

BY_NAME = {cls.__name__: cls for cls in (FloatTensor, DoubleTensor, HalfTensor, BFloat16Tensor, LongTensor,
                                         IntTensor, ShortTensor, CharTensor, ByteTensor, BoolTensor)}

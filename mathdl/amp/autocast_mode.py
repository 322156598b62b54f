"""``autocast``: inside the context, each op computes in the precision its numerics allow.

PyTorch's policy, which mathdl follows:

* **lower precision** (float16 or bfloat16): matrix products — ``matmul``, ``linear``, ``conv*``,
  ``bmm``, ``einsum``.  Their inputs are cast down; their FLOPs dominate and tolerate a 10-bit (or
  7-bit) mantissa because each output sums many products with float32 accumulation on GPUs.
* **float32**: ops whose result loses accuracy or range in half precision — softmax and
  log-softmax, the losses, the normalisations (layer, batch, group norm) and large reductions.
  Half inputs are cast up.
* everything else runs in the dtype of its inputs.

Parameters stay float32 ("master weights"): the casts are ops of the graph, so gradients flow back
to the float32 parameters in float32.  Ops call :func:`cast_lower` / :func:`cast_float32`; outside
an autocast region both return their arguments untouched (one attribute test).
"""

from __future__ import annotations

import threading

from .. import backend

__all__ = ["autocast", "is_autocast_enabled", "autocast_dtype", "cast_lower", "cast_float32"]

_LOW = ("float16", "bfloat16")


class _State(threading.local):
    dtype = None  # the low-precision dtype while an autocast region is active, else None


_state = _State()


def is_autocast_enabled() -> bool:
    return _state.dtype is not None


def autocast_dtype():
    """The low-precision dtype of the active autocast region, or None."""
    return _state.dtype


class autocast:  # noqa: N801  (PyTorch's name)
    """``with autocast(dtype=float16):`` (also ``autocast("cuda", dtype=...)`` and as a decorator).

    ``device_type`` is accepted for PyTorch compatibility ("cpu" or "cuda"; the policy is the same);
    ``dtype`` defaults to float16 on "cuda" and bfloat16 on "cpu", as in PyTorch.
    """

    def __init__(self, device_type="cuda", dtype=None, enabled=True, cache_enabled=None):
        if device_type not in ("cpu", "cuda"):
            raise ValueError(f"autocast: device_type must be 'cpu' or 'cuda', got {device_type!r}")
        if dtype is None:
            dtype = backend.float16 if device_type == "cuda" else backend.bfloat16
        d = backend.as_dtype(dtype)
        if d.name not in _LOW:
            raise ValueError(f"autocast: dtype must be float16 or bfloat16, got {d}")
        self.device_type, self.dtype, self.enabled = device_type, d, bool(enabled)
        self._saved = []

    def __enter__(self):
        self._saved.append(_state.dtype)
        _state.dtype = self.dtype if self.enabled else None
        return self

    def __exit__(self, *exc):
        _state.dtype = self._saved.pop()
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.device_type, self.dtype, self.enabled):
                return fn(*args, **kwargs)

        return wrapper


def _is_float32_tensor(x):
    return getattr(x, "dtype", None) is not None and hasattr(x, "requires_grad") and x.dtype == backend.float32


def cast_lower(*tensors):
    """Inside autocast: float32 tensors cast to the region's low dtype (others unchanged)."""
    low = _state.dtype
    if low is None:
        return tensors
    from ..ops.shape import cast

    return tuple(cast(t, low) if _is_float32_tensor(t) else t for t in tensors)


def cast_float32(*tensors):
    """Inside autocast: float16/bfloat16 tensors cast up to float32 (others unchanged)."""
    if _state.dtype is None:
        return tensors
    from ..ops.shape import cast

    return tuple(cast(t, backend.float32) if getattr(t, "dtype", None) is not None and hasattr(t, "requires_grad")
                 and t.dtype.name in _LOW else t for t in tensors)

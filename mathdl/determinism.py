"""Process-wide numerical switches PyTorch programs set in their first lines.

* ``use_deterministic_algorithms(mode, warn_only=False)``: mathdl's kernels are deterministic
  for a fixed thread count (its threaded passes split work into fixed contiguous pieces; no
  atomics), so the switch is recorded and answered by ``are_deterministic_algorithms_enabled()``.
  Results across *different* thread counts agree to float rounding only (a sum's order changes).
* ``set_float32_matmul_precision("highest" | "high" | "medium")``: recorded; NumPy's float32
  GEMM always computes in full float32 ("highest"), there is no TF32 or bfloat16-pass mode.
* ``Size``: PyTorch's shape type, a tuple.  mathdl's ``.shape`` values are plain tuples, which
  compare equal to a ``Size`` of the same dimensions.
"""

from __future__ import annotations

__all__ = ["use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled", "set_float32_matmul_precision",
           "get_float32_matmul_precision", "Size"]

_state = {"deterministic": False, "warn_only": False, "matmul_precision": "highest"}


def use_deterministic_algorithms(mode, *, warn_only=False) -> None:
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms: mode must be a bool, got {type(mode).__name__}")
    _state["deterministic"], _state["warn_only"] = mode, bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    return _state["deterministic"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _state["warn_only"]


def set_float32_matmul_precision(precision: str) -> None:
    if precision not in ("highest", "high", "medium"):
        raise ValueError(f"set_float32_matmul_precision: expected 'highest', 'high' or 'medium', got {precision!r}")
    _state["matmul_precision"] = precision


def get_float32_matmul_precision() -> str:
    return _state["matmul_precision"]


class Size(tuple):
    """``torch.Size([2, 3])``: a tuple of dimensions with ``numel()``."""

    def __new__(cls, dims=()):
        dims = tuple(int(d) for d in dims)
        if any(d < 0 for d in dims):
            raise ValueError(f"Size: dimensions must be non-negative, got {dims}")
        return super().__new__(cls, dims)

    def numel(self) -> int:
        n = 1
        for d in self:
            n *= d
        return n

    def __repr__(self):
        return f"mathdl.Size({list(self)})"

"""``mathdl.accelerator``: PyTorch's device-agnostic accelerator questions (``torch.accelerator``).

mathdl's one accelerator kind is CUDA through CuPy; without it these answer as PyTorch does on a
CPU-only machine (``is_available()`` False, ``current_accelerator()`` None).
"""

from __future__ import annotations

from . import cuda as _cuda

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index", "set_device_index",
           "synchronize"]


def is_available() -> bool:
    return _cuda.is_available()


def current_accelerator(check_available: bool = False):
    """``mathdl.device("cuda")`` when a GPU can be used, else None."""
    if not _cuda.is_available():
        return None
    from .backend import device

    return device("cuda")


def device_count() -> int:
    return _cuda.device_count()


def current_device_index() -> int:
    return _cuda.current_device()


def set_device_index(index) -> None:
    _cuda.set_device(index)


def synchronize(device=None) -> None:
    _cuda.synchronize(device)

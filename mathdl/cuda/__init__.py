"""``mathdl.cuda``: PyTorch's ``torch.cuda`` questions, answered honestly.

The GPU backend is CuPy: ``is_available()`` is true only when CuPy is installed and sees a
device.  Seeding works without a GPU (it seeds the one generator, which also seeds CuPy's
streams when they are first used); asking for the current device without one raises a clear
error; ``synchronize`` waits for the device's queued work, and does nothing without one.
"""

from __future__ import annotations

from .. import backend

__all__ = ["is_available", "device_count", "current_device", "set_device", "synchronize", "manual_seed",
           "manual_seed_all", "seed", "seed_all", "initial_seed", "get_device_name", "empty_cache",
           "is_initialized", "device", "is_bf16_supported", "amp"]


def is_available() -> bool:
    """Whether a CUDA device can be used (CuPy installed and at least one device present)."""
    return backend.cuda_is_available()


def device_count() -> int:
    """The number of CUDA devices (0 without CuPy or a GPU)."""
    if not is_available():
        return 0
    return int(backend._cupy.cuda.runtime.getDeviceCount())


def _require(what):
    if not is_available():
        raise RuntimeError(f"mathdl.cuda.{what}: no CUDA device is available (CuPy is "
                           f"{'installed' if backend._cupy is not None else 'not installed'}; "
                           "mathdl.cuda.is_available() is False)")


def current_device() -> int:
    """The index of the current CUDA device; raises RuntimeError without one."""
    _require("current_device")
    return int(backend._cupy.cuda.runtime.getDevice())


def set_device(device) -> None:
    """Make ``device`` (an index or 'cuda:i') the current CUDA device."""
    _require("set_device")
    index = int(str(device).split(":")[-1]) if not isinstance(device, int) else device
    backend._cupy.cuda.runtime.setDevice(index)


def get_device_name(device=None) -> str:
    _require("get_device_name")
    index = current_device() if device is None else int(str(device).split(":")[-1])
    props = backend._cupy.cuda.runtime.getDeviceProperties(index)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """Whether the CUDA device computes in bfloat16 (compute capability 8.0 or newer); False
    without a device, as PyTorch answers on a machine without CUDA."""
    if not is_available():
        return False
    major = int(backend._cupy.cuda.Device().compute_capability[:-1] or 0)
    return major >= 8 or bool(including_emulation)


def __getattr__(name):
    if name == "amp":  # torch.cuda.amp: the device-specific spelling of mathdl.amp
        import importlib

        return importlib.import_module(f"{__name__}.amp")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def synchronize(device=None) -> None:
    """Wait for all queued work on the device to finish (nothing to wait for without one)."""
    if is_available():
        backend._cupy.cuda.runtime.deviceSynchronize()


def empty_cache() -> None:
    """Return CuPy's cached, unused device memory to the driver (no-op without a GPU)."""
    if is_available():
        backend._cupy.get_default_memory_pool().free_all_blocks()


def is_initialized() -> bool:
    return is_available()


def manual_seed(seed: int) -> None:
    """Seed the random numbers drawn on the GPU (the one generator; works without a GPU)."""
    backend.manual_seed(seed)


manual_seed_all = manual_seed  # one generator serves every device


def seed() -> None:
    backend.seed()


seed_all = seed


def initial_seed() -> int:
    return backend.initial_seed()


class device:
    """Context manager that makes a CUDA device current (a no-op for index None or -1)."""

    def __init__(self, device):
        self.index = None if device is None else (device if isinstance(device, int) else
                                                  int(str(device).split(":")[-1]))
        self.prev = None

    def __enter__(self):
        if self.index is not None and self.index >= 0:
            self.prev = current_device()
            set_device(self.index)
        return self

    def __exit__(self, *exc):
        if self.prev is not None:
            set_device(self.prev)
        return False

"""``DataParallel(module)``: PyTorch's single-process data parallelism, y = module(x), on mathdl's one device.

PyTorch's ``DataParallel`` splits a batch along ``dim`` over ``device_ids``, runs a replica of the
module on each GPU and gathers the outputs on ``output_device``; with one device (or none) it calls
the module directly.  mathdl computes on one device per process (NumPy, or CuPy's current GPU), so
``DataParallel`` is that one-device case: ``forward(*inputs) = module(*inputs)``.  What a program
sees is PyTorch's: the wrapped model is ``.module``, and the state dict's keys carry the ``module.``
prefix, so checkpoints written through the wrapper load into one (and PyTorch's load into mathdl's).
Data parallelism across processes and GPUs is :class:`mathdl.distributed.DistributedDataParallel`.
"""

from __future__ import annotations

import numbers

from ..modules.module import Module

__all__ = ["DataParallel", "data_parallel"]


class DataParallel(Module):
    """Wraps ``module``; ``device_ids``, ``output_device`` and ``dim`` are PyTorch's arguments
    (checked, and recorded: mathdl's one device runs the whole batch)."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: module must be a mathdl.nn.Module, got {type(module).__name__}")
        ids = [] if device_ids is None else list(device_ids)
        for d in ids + ([] if output_device is None else [output_device]):
            index = getattr(d, "index", d)
            if index is not None and (isinstance(index, bool) or not isinstance(index, numbers.Integral)
                                      or index < 0):
                raise ValueError(f"DataParallel: device ids must be non-negative integers or devices, got {d!r}")
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise TypeError(f"DataParallel: dim must be an int, got {dim!r}")
        self.module = module
        self.device_ids = ids
        self.output_device = output_device if output_device is not None else (ids[0] if ids else None)
        self.dim = int(dim)

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """PyTorch's functional ``nn.parallel.data_parallel``: ``module(*inputs, **module_kwargs)`` on mathdl's
    one device (``inputs`` a tuple, or one input)."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    return DataParallel(module, device_ids, output_device, dim)(*inputs, **(module_kwargs or {}))

"""Mixed precision: ``autocast`` (which ops compute in half precision) and ``GradScaler`` (dynamic
loss scaling so that small gradients survive float16), with PyTorch's names and defaults.

    scaler = GradScaler()
    with autocast(dtype=mathdl.float16):
        loss = loss_fn(model(x), y)
    scaler.scale(loss).backward()
    scaler.unscale_(opt)              # optional: before clipping
    scaler.step(opt)                  # skipped (and counted) when a gradient is inf/NaN
    scaler.update()
"""

from .autocast_mode import autocast, autocast_dtype, cast_float32, cast_lower, is_autocast_enabled
from .grad_scaler import GradScaler

__all__ = ["autocast", "GradScaler", "is_autocast_enabled", "autocast_dtype", "cast_lower", "cast_float32"]

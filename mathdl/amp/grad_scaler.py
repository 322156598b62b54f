"""``GradScaler``: dynamic loss scaling for float16 training (Micikevicius et al. 2018).

float16's smallest normal number is 6.1e-5 (subnormals reach 6e-8): gradients of 1e-8 vanish.
Multiplying the loss by S multiplies every gradient by S (the chain rule is linear), lifting
them into range; the optimizer then sees ``grad / S``.  S adapts:

* if any gradient is inf or NaN (the scaled values overflowed), the step is **skipped**, and
  S <- S * backoff_factor (0.5);
* after ``growth_interval`` (2000) consecutive clean steps, S <- S * growth_factor (2).

PyTorch's semantics: ``scale(loss)``, ``unscale_(optimizer)`` (at most once per step, before
clipping), ``step(optimizer)`` (returns the optimizer's return value, or None when skipped),
``update()``; the skip is visible in ``last_step_skipped`` and counted in ``skipped_steps``, which
the state dict keeps.
"""

from __future__ import annotations

import math


from ..backend import xp_of

__all__ = ["GradScaler"]


class GradScaler:
    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        if not (init_scale > 0 and math.isfinite(init_scale)):
            raise ValueError(f"GradScaler: init_scale must be a positive finite number, got {init_scale!r}")
        if not growth_factor > 1.0:
            raise ValueError(f"GradScaler: growth_factor must be > 1, got {growth_factor!r}")
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError(f"GradScaler: backoff_factor must be in (0, 1), got {backoff_factor!r}")
        if not (isinstance(growth_interval, int) and growth_interval > 0):
            raise ValueError(f"GradScaler: growth_interval must be a positive integer, got {growth_interval!r}")
        self._scale = float(init_scale)
        self._growth_factor, self._backoff_factor = float(growth_factor), float(backoff_factor)
        self._growth_interval = growth_interval
        self._enabled = bool(enabled)
        self._growth_tracker = 0
        self.skipped_steps = 0
        self.last_step_skipped = False
        self._per_opt: dict = {}  # id(optimizer) -> {"unscaled": bool, "found_inf": bool}

    # ------------------------------------------------------------------ scaling
    def is_enabled(self):
        return self._enabled

    def get_scale(self):
        return self._scale if self._enabled else 1.0

    def scale(self, outputs):
        """``outputs * S`` (a tensor, or a list/tuple of tensors)."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        return outputs * self._scale

    def _state_of(self, optimizer):
        return self._per_opt.setdefault(id(optimizer), {"unscaled": False, "found_inf": False})

    def unscale_(self, optimizer):
        """Divide the gradients of ``optimizer``'s parameters by S in place and note whether any is
        inf/NaN.  Once per step: a second call before ``update()`` raises RuntimeError."""
        if not self._enabled:
            return
        st = self._state_of(optimizer)
        if st["unscaled"]:
            raise RuntimeError("GradScaler.unscale_() has already been called on this optimizer since the "
                               "last update()")
        inv = 1.0 / self._scale
        found = False
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.array
                xp = xp_of(g)
                # the unscaled value in the gradient's own dtype; inf/NaN test on the device
                g *= g.dtype.type(inv) if g.dtype.kind == "f" else inv
                if not found and not bool(xp.isfinite(g).all()):
                    found = True
        st["unscaled"], st["found_inf"] = True, found

    def step(self, optimizer, *args, **kwargs):
        """Unscale (if not yet) and step, unless a gradient is inf/NaN: then skip and count it."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        st = self._state_of(optimizer)
        if not st["unscaled"]:
            self.unscale_(optimizer)
        if st["found_inf"]:
            self.last_step_skipped = True
            self.skipped_steps += 1
            return None
        self.last_step_skipped = False
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None):
        """Adapt S: back off after an overflow, grow after ``growth_interval`` clean steps."""
        if not self._enabled:
            return
        if new_scale is not None:
            s = float(new_scale.item() if hasattr(new_scale, "item") else new_scale)
            if not (s > 0 and math.isfinite(s)):
                raise ValueError(f"GradScaler.update: new_scale must be positive and finite, got {new_scale!r}")
            self._scale = s
        elif any(st["found_inf"] for st in self._per_opt.values()):
            self._scale *= self._backoff_factor
            self._growth_tracker = 0
        else:
            self._growth_tracker += 1
            if self._growth_tracker == self._growth_interval:
                self._scale *= self._growth_factor
                self._growth_tracker = 0
        self._per_opt.clear()

    # ------------------------------------------------------------------ state
    def state_dict(self):
        if not self._enabled:
            return {}
        return {"scale": self._scale, "growth_factor": self._growth_factor, "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval, "_growth_tracker": self._growth_tracker,
                "skipped_steps": self.skipped_steps}

    def load_state_dict(self, state):
        if not state:
            raise RuntimeError("GradScaler.load_state_dict: the state dict is empty (was it saved from a disabled "
                               "scaler?)")
        self._scale = float(state["scale"])
        self._growth_factor = float(state["growth_factor"])
        self._backoff_factor = float(state["backoff_factor"])
        self._growth_interval = int(state["growth_interval"])
        self._growth_tracker = int(state["_growth_tracker"])
        self.skipped_steps = int(state.get("skipped_steps", 0))

    def __repr__(self):
        return f"GradScaler(scale={self._scale:g}, skipped_steps={self.skipped_steps}, enabled={self._enabled})"



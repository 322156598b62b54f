"""The optimizer base: parameter groups, per-parameter state, ``state_dict``.

An optimizer minimizes a loss L(theta) by updating parameters from their gradients,

    theta_{t+1} = theta_t - lr * u_t(g_1, ..., g_t),    g_t = dL/dtheta at theta_t,

where each subclass defines the update direction u_t (plain gradient, momentum, Adam's
bias-corrected moment ratio, ...).  The interface is PyTorch's:

* ``param_groups``: a list of dicts, each with ``"params"`` (a list of leaf Tensors) and every
  hyper-parameter, missing ones filled from the optimizer's ``defaults``;
* ``state``: per-parameter buffers (momentum, moment estimates), keyed by the parameter;
* ``step(closure=None)``, ``zero_grad(set_to_none=True)``, ``add_param_group(group)``;
* ``state_dict()`` / ``load_state_dict()`` where state is keyed by the parameter's index in
  the order of the groups (so it can be loaded into a fresh model), arrays copied.

Updates run on the raw arrays (``p.array``) outside the graph, in place, with NumPy ``out=``
arguments and reused scratch buffers; the array module comes from ``backend.xp_of`` so CuPy
arrays work the same way.  Parameters whose ``grad`` is ``None`` are skipped.
"""

from __future__ import annotations

import math
import numbers
from collections import defaultdict

import numpy as np

from .. import backend
from ..autograd.grad_mode import enable_grad
from ..autograd.tensor import Tensor

__all__ = ["Optimizer", "required"]


class _Required:
    """Marks a hyper-parameter that has no default (e.g. ``SGD(lr=...)`` in old PyTorch)."""

    def __repr__(self):
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class of the optimizers: groups, state, and the bookkeeping around ``step``.

    Subclasses implement ``_update_group(group)``, which applies one update to every parameter
    of the group that has a gradient.
    """

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        self._scratch: dict = {}
        name = type(self).__name__
        if isinstance(params, (Tensor, dict)):
            raise TypeError(
                f"{name}: params should be an iterable of Tensors or dicts, got a "
                f"{type(params).__name__}; wrap it in a list"
            )
        if isinstance(params, set):
            raise TypeError(f"{name}: params must be an ordered iterable (list), not a set")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyper-parameters (defaults fill the rest)."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: expected a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{name}: a group's params must be an ordered iterable (list), not a set")
        elif params is None:
            raise KeyError(f"{name}.add_param_group: the group has no 'params' entry")
        else:
            params = list(params)
        named = [isinstance(p, tuple) for p in params]
        if any(named):  # named parameters, e.g. model.named_parameters()
            if not all(named) or not all(len(p) == 2 and isinstance(p[0], str) for p in params):
                raise ValueError(f"{name}: all parameters of a group must be Tensors or all (name, Tensor) pairs")
            group["param_names"] = [n for n, _ in params]
            params = [p for _, p in params]
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, but params[{i}] is a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(
                    f"{name}: can't optimize a non-leaf Tensor (params[{i}], shape {tuple(p.shape)}, "
                    f"made by {p.grad_fn.name}); optimize the leaf it was computed from, or detach() it"
                )
            if not p.requires_grad:
                raise ValueError(
                    f"{name}: params[{i}] (shape {tuple(p.shape)}) does not require grad; "
                    "create it with requires_grad=True or call requires_grad_()"
                )
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{name}: a parameter group lists the same parameter more than once")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if seen.intersection(ids):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        group["params"] = params
        for k, v in self.defaults.items():
            if v is required and k not in group:
                raise ValueError(f"{name}: parameter group didn't specify a value of required hyper-parameter {k!r}")
            group.setdefault(k, v)
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict) -> None:
        """Validate a group's hyper-parameters (subclasses extend)."""
        lr = group.get("lr")
        if lr is not None and not _valid_lr(lr):
            raise ValueError(f"{type(self).__name__}: invalid learning rate {lr!r}; expected a finite float >= 0")

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: drop them (``set_to_none``, the default) or fill them with 0."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    g = p.grad
                    if g._node is not None:
                        p.grad = Tensor._make(backend.xp_of(g.array).zeros_like(g.array))
                    else:
                        g.array[...] = 0

    def step(self, closure=None):
        """Apply one update to every parameter that has a gradient; returns ``closure()``'s loss.

        ``closure`` (optional) re-evaluates the model and returns the loss; it runs with grad
        mode on before the update.
        """
        loss = None
        for hook in list(self._hooks("_step_pre_hooks").values()):
            r = hook(self, (), {})
            if r is not None:
                raise RuntimeError(f"{type(self).__name__}: a step pre-hook must return None, got {r!r}")
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._update_group(group)
        for hook in list(self._hooks("_step_post_hooks").values()):
            hook(self, (), {})
        return loss

    def _hooks(self, key):
        return self.__dict__.setdefault(key, {})

    def register_step_pre_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` runs before each ``step``; returns a handle with ``remove()``."""
        return _Handle(self._hooks("_step_pre_hooks"), hook)

    def register_step_post_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` runs after each ``step``; returns a handle with ``remove()``."""
        return _Handle(self._hooks("_step_post_hooks"), hook)

    def _update_group(self, group: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # helpers for subclasses ------------------------------------------------------
    def _with_grads(self, group: dict):
        """(param, param array, grad array) for each parameter of the group that has a gradient."""
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            if g.array.shape != p.array.shape:
                raise RuntimeError(
                    f"{type(self).__name__}.step: a parameter of shape {tuple(p.shape)} has a gradient of shape "
                    f"{tuple(g.shape)}; expected the same shape"
                )
            p._version += 1  # an in-place change: graphs that saved p must not reuse it
            yield p, p.array, g.array

    def _tmp(self, like, slot: int = 0):
        """A scratch array shaped like ``like`` (reused between parameters and steps)."""
        xp = backend.xp_of(like)
        key = (slot, like.dtype, xp)
        buf = self._scratch.get(key)
        n = like.size
        if buf is None or buf.size < n:
            buf = xp.empty(n, dtype=like.dtype)
            self._scratch[key] = buf
        return buf[:n].reshape(like.shape)

    def _grad_term(self, p, g, weight_decay: float, maximize: bool, slot: int = 1):
        """The gradient the update sees: ``(-g if maximize else g) + weight_decay * p``.

        Returns ``g`` itself when neither applies (no copy).
        """
        if not weight_decay and not maximize:
            return g
        xp = backend.xp_of(p)
        out = self._tmp(p, slot)
        if weight_decay:
            xp.multiply(p, weight_decay, out=out)
            if maximize:
                xp.subtract(out, g, out=out)
            else:
                xp.add(out, g, out=out)
        else:
            xp.negative(g, out=out)
        return out

    def _state_shape(self, key: str, p) -> tuple:
        """The shape of the state entry ``key`` of parameter ``p`` (p's shape unless a subclass keeps
        reduced state, e.g. Adafactor's row and column factors)."""
        return tuple(p.shape)

    @staticmethod
    def _zeros_like(p):
        return Tensor._make(backend.xp_of(p).zeros_like(p))

    # ------------------------------------------------------------------ state dicts
    def state_dict(self) -> dict:
        """``{"state": {index: {name: value}}, "param_groups": [group without tensors]}``.

        Parameters are numbered 0, 1, ... in the order of the groups; tensors in the state are
        copies (changing the optimizer later does not change a saved state dict).
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: (list(v) if isinstance(v, list) else v) for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                s = self.state.get(p)
                if s:
                    state[index[id(p)]] = {k: _copy_value(v) for k, v in s.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state dict from ``state_dict()`` (of an optimizer over same-shaped params)."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups'")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter groups, "
                f"the optimizer has {len(self.param_groups)}"
            )
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: group {i} has {len(s['params'])} parameters in the state dict "
                    f"but {len(g['params'])} in the optimizer"
                )
        id_map = {}
        for g, s in zip(self.param_groups, saved_groups):
            for idx, p in zip(s["params"], g["params"]):
                id_map[idx] = p
        new_state: defaultdict = defaultdict(dict)
        for key, s in state_dict["state"].items():
            k = int(key) if not isinstance(key, int) else key
            if k not in id_map:
                raise KeyError(f"{name}.load_state_dict: state for parameter index {key!r} matches no parameter")
            p = id_map[k]
            new_state[p] = {n: _cast_value(n, v, p, name, self._state_shape(n, p)) for n, v in s.items()}
        self.state = new_state
        new_groups = []
        for g, s in zip(self.param_groups, saved_groups):
            ng = {k: (list(v) if isinstance(v, list) else v) for k, v in s.items() if k != "params"}
            if "betas" in ng and isinstance(ng["betas"], list):
                ng["betas"] = tuple(ng["betas"])
            ng["params"] = g["params"]
            new_groups.append(ng)
        self.param_groups = new_groups

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)


class _Handle:
    """Removes a registered hook."""

    _next = [0]

    def __init__(self, store, hook):
        _Handle._next[0] += 1
        self.store, self.id = store, _Handle._next[0]
        store[self.id] = hook

    def remove(self):
        self.store.pop(self.id, None)


def implementation_flags(name, **flags) -> dict:
    """PyTorch's implementation switches of an optimizer (``foreach``, ``fused``, ``capturable``,
    ``differentiable``), checked and returned for its defaults (PyTorch keeps them in every param group).

    They choose how PyTorch runs the same update (per-tensor loops, multi-tensor kernels, fused kernels,
    CUDA-graph capture); mathdl has one implementation, so ``foreach``, ``fused`` and ``capturable``
    change nothing.  ``differentiable=True`` (the step itself recorded by autograd) is not supported."""
    for key in ("foreach", "fused"):
        if flags.get(key) is not None and not isinstance(flags[key], bool):
            raise TypeError(f"{name}: {key} must be None or a bool, got {flags[key]!r}")
    if flags.get("differentiable"):
        raise NotImplementedError(f"{name}: differentiable=True (an optimizer step recorded by autograd) is not "
                                  "supported; mathdl's steps update the parameters in place without a graph")
    if "capturable" in flags:
        flags["capturable"] = bool(flags["capturable"])
    return flags


def _valid_lr(lr) -> bool:
    """A learning rate is a finite real number >= 0 (Python or NumPy scalar)."""
    return isinstance(lr, numbers.Real) and not isinstance(lr, bool) and math.isfinite(lr) and lr >= 0


def _check_hyper(name, lr=None, eps=None, weight_decay=None, betas=None, **nonneg):
    """One-line ValueErrors for the usual hyper-parameters: lr, eps, weight_decay and any keyword
    given must be >= 0; ``betas`` a pair in [0, 1)."""
    if lr is not None and not _valid_lr(lr):
        raise ValueError(f"{name}: invalid learning rate {lr!r}; expected a float >= 0")
    checks = dict(eps=eps, weight_decay=weight_decay, **nonneg)
    for key, v in checks.items():
        if v is not None and not v >= 0:
            raise ValueError(f"{name}: invalid {key} value {v!r}; expected >= 0")
    if betas is not None:
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"{name}: invalid beta parameter at index {i}: {b!r}; expected 0 <= beta < 1")


def _copy_value(v):
    if isinstance(v, Tensor):
        return Tensor._make(v.array.copy())
    if hasattr(v, "copy") and hasattr(v, "dtype"):
        return v.copy()
    return v


def _cast_value(key, v, p, name, shape):
    """A state value loaded for parameter ``p``: arrays copied to p's dtype and device."""
    if key == "step":
        if isinstance(v, Tensor):
            v = v.item()
        elif hasattr(v, "item"):
            v = v.item()
        return int(v) if float(v).is_integer() else float(v)
    if isinstance(v, Tensor):
        v = v.array
    elif hasattr(v, "shape") and not isinstance(v, np.ndarray) and backend.device_of(v) == "cpu":
        v = np.asarray(v)  # e.g. a torch tensor from a PyTorch state dict
    if hasattr(v, "dtype") and hasattr(v, "shape"):
        if tuple(v.shape) != tuple(shape):
            raise ValueError(
                f"{name}.load_state_dict: state {key!r} has shape {tuple(v.shape)}, expected {tuple(shape)} "
                f"for its parameter of shape {tuple(p.shape)}"
            )
        xp = backend.xp_of(p.array)
        arr = backend.to_device(v, p.device)
        arr = xp.array(arr, dtype=p.dtype, copy=True)
        return Tensor._make(arr)
    return v

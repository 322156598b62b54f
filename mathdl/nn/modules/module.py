"""``Module``: a function with learnable state, composed into trees.

A module owns three kinds of state, registered by plain attribute assignment:

* ``Parameter``s (tensors the optimizer updates; ``requires_grad=True``),
* buffers (tensors that are state but not learned, e.g. BatchNorm's running mean),
* sub-modules.

``state_dict()`` flattens the tree into ``{"layer.sub.weight": tensor}`` and
``load_state_dict`` copies such a mapping back, reporting missing, unexpected and mis-shaped
keys.  ``train()`` / ``eval()`` set the ``training`` flag on the whole tree (separate from grad
mode).  The containers are in :mod:`mathdl.nn.modules.container`.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Iterator, Mapping

import numpy as np

from ... import backend
from ...autograd.grad_mode import no_grad
from ...autograd.tensor import Tensor

__all__ = ["Parameter", "Buffer", "Module"]


class Parameter(Tensor):
    """A tensor that is a learnable parameter of a module (``requires_grad=True`` by default).

    ``Parameter(t)`` shares ``t``'s array (no copy), like PyTorch.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.zeros((0,), dtype=backend.get_default_dtype())
        if isinstance(data, Tensor):
            data = data.array
        super().__init__(data, requires_grad=False)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self.array, self.requires_grad))

    def __deepcopy__(self, memo):
        p = Parameter(self.array.copy(), requires_grad=self.requires_grad)
        memo[id(self)] = p
        return p


def _rebuild_parameter(data, requires_grad):
    return Parameter(data, requires_grad)


class Buffer(Tensor):
    """Marks a tensor to be registered as a buffer when assigned to a module attribute
    (``self.running_mean = Buffer(zeros(3))``); ``persistent=False`` keeps it out of the
    state dict."""

    __slots__ = ("persistent",)

    def __init__(self, data, persistent: bool = True):
        if isinstance(data, Tensor):
            data = data.array
        super().__init__(data)
        self.persistent = persistent


_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class _HookHandle:
    def __init__(self, hooks: dict, key: int):
        self.hooks, self.key = hooks, key

    def remove(self):
        self.hooks.pop(self.key, None)


_hook_id = [0]


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign parameters/sub-modules as attributes and
    implement ``forward``; calling the module runs ``forward`` (with hooks, if any).
    """

    training: bool
    _version = 1

    def __init__(self):
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()
        d["_backward_pre_hooks"] = OrderedDict()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    # ------------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        d = self.__dict__
        backward = d.get("_backward_hooks") or d.get("_backward_pre_hooks")
        if not d["_forward_pre_hooks"] and not d["_forward_hooks"] and not backward:
            return self.forward(*args, **kwargs)
        for hook in list(d["_forward_pre_hooks"].values()):
            r = hook(self, args)
            if r is not None:
                args = r if isinstance(r, tuple) else (r,)
        call = None
        if backward:
            from .backward_hooks import BackwardHookCall

            call = BackwardHookCall(self, d.get("_backward_hooks", {}), d.get("_backward_pre_hooks", {}))
            args = call.wrap_inputs(args)
        out = self.forward(*args, **kwargs)
        for hook in list(d["_forward_hooks"].values()):
            r = hook(self, args, out)
            if r is not None:
                out = r
        return call.wrap_outputs(out) if call is not None else out

    def register_forward_hook(self, hook):
        """``hook(module, inputs, output)`` runs after forward; a non-None result replaces the output."""
        _hook_id[0] += 1
        self._forward_hooks[_hook_id[0]] = hook
        return _HookHandle(self._forward_hooks, _hook_id[0])

    def register_full_backward_hook(self, hook):
        """``hook(module, grad_input, grad_output)`` runs when the gradients with respect to the module's
        inputs are computed; a non-None result replaces ``grad_input`` (see ``backward_hooks``)."""
        _hook_id[0] += 1
        hooks = self.__dict__.setdefault("_backward_hooks", OrderedDict())
        hooks[_hook_id[0]] = hook
        return _HookHandle(hooks, _hook_id[0])

    def register_full_backward_pre_hook(self, hook):
        """``hook(module, grad_output)`` runs when the gradient of the module's output is computed, before
        the gradients of its inputs; a non-None result replaces ``grad_output``."""
        _hook_id[0] += 1
        hooks = self.__dict__.setdefault("_backward_pre_hooks", OrderedDict())
        hooks[_hook_id[0]] = hook
        return _HookHandle(hooks, _hook_id[0])

    def register_forward_pre_hook(self, hook):
        """``hook(module, inputs)`` runs before forward; a non-None result replaces the inputs."""
        _hook_id[0] += 1
        self._forward_pre_hooks[_hook_id[0]] = hook
        return _HookHandle(self._forward_pre_hooks, _hook_id[0])

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            _remove_from(d, name, ("_buffers", "_modules"))
            d.pop(name, None)
            params[name] = value
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to {type(self).__name__}.{name}: a parameter "
                    "(use nn.Parameter(...) or None)")
            params[name] = None
            return
        if isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign modules before Module.__init__() call")
            _remove_from(d, name, ("_parameters", "_buffers"))
            d.pop(name, None)
            d["_modules"][name] = value
            return
        modules = d.get("_modules")
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to {type(self).__name__}.{name}: "
                                "a sub-module (use a Module or None)")
            modules[name] = None
            return
        if isinstance(value, Buffer):
            if params is None:
                raise AttributeError("cannot assign buffers before Module.__init__() call")
            self.register_buffer(name, Tensor._make(value.array), persistent=value.persistent)
            return
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} to {type(self).__name__}.{name}: "
                                "a buffer (use a Tensor or None)")
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            store = d.get(key)
            if store is not None and name in store:
                return store[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if name in d[key]:
                del d[key][name]
                d["_non_persistent"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def register_parameter(self, name: str, param):
        """Register ``param`` (a Parameter or None) under ``name``."""
        _check_name(self, name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, got {type(param).__name__}")
        _remove_from(self.__dict__, name, ("_buffers", "_modules"))
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True):
        """Register a non-learned tensor (or None); ``persistent=False`` keeps it out of state_dict."""
        _check_name(self, name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got {type(tensor).__name__}")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"register_buffer: attribute {name!r} already exists as a parameter or module")
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module):
        _check_name(self, name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module or None, got {type(module).__name__}")
        _remove_from(self.__dict__, name, ("_parameters", "_buffers"))
        self.__dict__.pop(name, None)
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        mod = self
        if target == "":
            return mod
        for part in target.split("."):
            sub = mod._modules.get(part)
            if sub is None:
                raise AttributeError(f"{type(mod).__name__} has no sub-module {part!r} (looking up {target!r})")
            mod = sub
        return mod

    def get_parameter(self, target: str) -> Parameter:
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise AttributeError(f"{type(mod).__name__} has no parameter {name!r}")
        return mod._parameters[name]

    def get_buffer(self, target: str):
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._buffers:
            raise AttributeError(f"{type(mod).__name__} has no buffer {name!r}")
        return mod._buffers[name]

    def set_submodule(self, target: str, module: Module) -> None:
        """Replace the sub-module at the dotted path ``target`` (its parent must exist)."""
        if not isinstance(module, Module):
            raise TypeError(f"set_submodule: expected a Module, got {type(module).__name__}")
        parent_path, _, name = target.rpartition(".")
        if not name:
            raise ValueError("set_submodule: target must name a sub-module")
        setattr(self.get_submodule(parent_path), name, module)

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, key, prefix, recurse, remove_duplicate=True):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, v in mod.__dict__[key].items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield mod_prefix + ("." if mod_prefix else "") + name, v

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """(dotted name, Parameter) pairs; a parameter shared by two modules appears once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of scalar parameters (shared ones counted once)."""
        return int(sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only))

    # ------------------------------------------------------------------ state
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """Ordered mapping "dotted.name" -> tensor for every parameter and persistent buffer.

        The tensors share memory with the module (detached unless ``keep_vars``).
        """
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else Tensor._make(p.array)
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                destination[prefix + name] = b if keep_vars else Tensor._make(b.array)
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def _state_entries(self, prefix=""):
        """(key, module, kind, name) for every entry state_dict would contain."""
        out = []
        for mod_prefix, mod in self.named_modules(remove_duplicate=False):
            p = prefix + (mod_prefix + "." if mod_prefix else "")
            for name, v in mod._parameters.items():
                if v is not None:
                    out.append((p + name, mod, "_parameters", name))
            for name, v in mod._buffers.items():
                if v is not None and name not in mod._non_persistent:
                    out.append((p + name, mod, "_buffers", name))
        return out

    def load_state_dict(self, state_dict: Mapping, strict: bool = True, assign: bool = False):
        """Copy ``state_dict``'s values into this module's parameters and buffers.

        Values are copied in place (cast to the destination dtype), so optimizers holding the
        parameters keep working.  A shape mismatch is always an error; with ``strict`` missing
        and unexpected keys are too.  Returns ``(missing_keys, unexpected_keys)``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a mapping, got {type(state_dict).__name__}")
        entries = self._state_entries()
        expected = {k for k, *_ in entries}
        missing = [k for k, *_ in entries if k not in state_dict]
        unexpected = [k for k in state_dict if k not in expected]
        mismatched = []
        for key, mod, kind, name in entries:
            if key not in state_dict:
                continue
            dst = mod.__dict__[kind][name]
            src = state_dict[key]
            arr = src.array if isinstance(src, Tensor) else np.asarray(src)
            if tuple(arr.shape) != tuple(dst.shape):
                mismatched.append(f"{key}: checkpoint shape {tuple(arr.shape)}, model shape {tuple(dst.shape)}")
        errors = []
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if mismatched:
            errors.append("Size mismatch for " + "; ".join(mismatched) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        with no_grad():
            for key, mod, kind, name in entries:
                if key not in state_dict:
                    continue
                dst = mod.__dict__[kind][name]
                src = state_dict[key]
                arr = src.array if isinstance(src, Tensor) else src
                xp = backend.xp_of(dst.array)
                arr = backend.to_device(np.asarray(arr) if xp is np else arr, dst.device)
                if assign:
                    dst.array = arr.astype(dst.dtype, copy=True)
                elif dst.array.shape == () or not dst.array.flags.writeable:
                    dst.array = xp.array(arr, dtype=dst.dtype)
                else:
                    dst.array[...] = arr
                dst._version += 1
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ modes and conversions
    def train(self, mode: bool = True):
        """Set training mode (Dropout drops, BatchNorm uses batch statistics) on the whole tree."""
        if not isinstance(mode, bool):
            raise ValueError(f"train(): mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self):
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True):
        """Clear every parameter's gradient (to None by default, or fill with zeros)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none or p.grad.requires_grad or not p.grad.array.flags.writeable:
                p.grad = None if set_to_none else Tensor._make(backend.xp_of(p.grad.array).zeros_like(p.grad.array))
            else:
                p.grad.array[...] = 0

    def apply(self, fn):
        """Call ``fn(module)`` on every sub-module (children first) and on self; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _convert(self, fn):
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for t in store.values():
                    if t is None:
                        continue
                    t.array = fn(t.array)
                    if t.grad is not None:
                        t.grad = Tensor._make(fn(t.grad.array))
        return self

    def to(self, *args, dtype=None, device=None):
        """Convert floating parameters and buffers to ``dtype`` and/or move to ``device`` in
        place (the Parameter objects stay the same, so optimizers keep their references)."""
        for a in args:
            if isinstance(a, str) and (a == "cpu" or a.startswith("cuda")):
                device = a
            else:
                dtype = a
        if dtype is not None:
            dt = backend.as_dtype(dtype)
            if not backend.is_floating(dt):
                raise TypeError(f"Module.to: only floating dtypes are allowed, got {dt}")

            def cast(a):
                return a.astype(dt) if backend.is_floating(a.dtype) and a.dtype != dt else a

            self._convert(cast)
        if device is not None:
            backend.module_for(device)
            self._convert(lambda a: backend.to_device(a, device))
        return self

    def float(self):
        return self.to(backend.float32)

    def double(self):
        return self.to(backend.float64)

    def half(self):
        return self.to(backend.float16)

    def bfloat16(self):
        return self.to("bfloat16")

    def type(self, dst_type):
        """Convert floating parameters and buffers to ``dst_type``."""
        return self.to(dst_type)

    def share_memory(self):
        """Accepted for compatibility (threads share memory already); returns self."""
        return self

    def compile(self, *args, **kwargs):
        """Accepted for compatibility: mathdl runs eagerly (nothing is compiled); returns None like
        ``torch.nn.Module.compile``, which compiles in place."""
        return None

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    # ------------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        """One line describing this module's settings (overridden by layers)."""
        return ""

    def _repr_lines(self):
        extra = self.extra_repr()
        children = [(n, m) for n, m in self._modules.items() if m is not None]
        head = type(self).__name__ + "("
        note = _count_note(self.num_parameters())
        if not children:
            return [head + extra + ")" + note]
        lines = [head + extra]
        for name, m in children:
            sub = m._repr_lines()
            lines.append(f"  ({name}): " + sub[0])
            lines.extend("  " + s for s in sub[1:])
        lines.append(")" + note)
        return lines

    def __repr__(self):
        return "\n".join(self._repr_lines())

    # ------------------------------------------------------------------ pickling / copying
    def __getstate__(self):
        return self.__dict__.copy()

    def __setstate__(self, state):
        self.__dict__.update(state)


def _to_device(module, device):
    """Move a freshly built layer to ``device`` (the ``device=`` argument of PyTorch's layers)."""
    if device is not None and str(device) != "cpu":
        module.to(str(device))


def _count_note(n):
    return "" if not n else f"  # {n:,} param" + ("s" if n != 1 else "")


def _check_name(mod, name, kind):
    if "_parameters" not in mod.__dict__:
        raise AttributeError(f"cannot register a {kind} before Module.__init__() call")
    if not isinstance(name, str):
        raise TypeError(f"{kind} name must be a string, got {type(name).__name__}")
    if "." in name or name == "":
        raise KeyError(f"{kind} name {name!r} must be non-empty and contain no '.'")


def _remove_from(d, name, keys):
    for key in keys:
        store = d.get(key)
        if store is not None and name in store:
            del store[name]
            if key == "_buffers":
                d["_non_persistent"].discard(name)

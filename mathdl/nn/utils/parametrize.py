"""Parametrizations (PyTorch's ``torch.nn.utils.parametrize``): a tensor of a module computed on
every access from stored originals,

    module.<name> = f_k(... f_2(f_1(original)))      (f_1(*originals) when f_1's right_inverse
                                                      returns several tensors)

The originals live in ``module.parametrizations.<name>.original`` (or ``original0``, ``original1``,
...), as PyTorch names them, so state dicts match; the module's class becomes a subclass with a
property for each parametrized name.  At registration ``right_inverse`` (when the first
parametrization has one) turns the current value into the originals.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from ...autograd.tensor import Tensor
from ..modules.container import ModuleDict, ModuleList
from ..modules.module import Module, Parameter

__all__ = ["register_parametrization", "remove_parametrizations", "is_parametrized", "cached",
           "ParametrizationList"]


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, and its originals."""

    def __init__(self, modules, original, unsafe=False):
        super().__init__(modules)
        self.unsafe = unsafe
        first = modules[0]
        value = first.right_inverse(original) if hasattr(first, "right_inverse") else original
        self.is_tensor = isinstance(value, Tensor)
        values = [value] if self.is_tensor else list(value)
        requires_grad = original.requires_grad
        for i, v in enumerate(values):
            p = Parameter(np.array(v.array), requires_grad=requires_grad) if isinstance(original, Parameter) \
                else Tensor._make(np.array(v.array))
            key = "original" if self.is_tensor else f"original{i}"
            if isinstance(p, Parameter):
                self.register_parameter(key, p)
            else:
                self.register_buffer(key, p)
        self.ntensors = len(values)

    def forward(self):
        mods = list(self._modules.values())
        if self.is_tensor:
            x = mods[0](self.original)
        else:
            x = mods[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for m in mods[1:]:
            x = m(x)
        return x


def _property(name):
    def get(self):
        return self.parametrizations[name]()

    return property(get, doc=f"``{name}`` computed by its parametrizations")


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Make ``module.<tensor_name>`` = parametrization(original); returns the module."""
    if not isinstance(parametrization, Module):
        raise TypeError(f"register_parametrization: the parametrization must be a Module, got "
                        f"{type(parametrization).__name__}")
    if is_parametrized(module, tensor_name):
        module.parametrizations[tensor_name].append(parametrization)
        return module
    original = module._parameters.get(tensor_name)
    if original is None:
        original = module._buffers.get(tensor_name)
    if original is None:
        raise ValueError(f"register_parametrization: {type(module).__name__} has no parameter or buffer "
                         f"{tensor_name!r}")
    plist = ParametrizationList([parametrization], original, unsafe)
    module._parameters.pop(tensor_name, None)
    module._buffers.pop(tensor_name, None)
    if not is_parametrized(module):
        cls = module.__class__
        module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), {"_parametrized_base": cls})
        module.parametrizations = ModuleDict()
    setattr(module.__class__, tensor_name, _property(tensor_name))
    module.parametrizations[tensor_name] = plist
    return module


def is_parametrized(module, tensor_name=None):
    """Whether ``module`` (or its ``tensor_name``) has parametrizations."""
    plists = module._modules.get("parametrizations")
    if plists is None:
        return False
    return len(plists) > 0 if tensor_name is None else tensor_name in plists._modules


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Remove the parametrizations of ``tensor_name``: it becomes a parameter holding the current
    value (``leave_parametrized``) or the original."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"remove_parametrizations: {type(module).__name__} has no parametrization on "
                         f"{tensor_name!r}")
    plist = module.parametrizations[tensor_name]
    if leave_parametrized:
        value = plist()
    elif plist.is_tensor:
        value = plist.original
    else:
        raise ValueError("remove_parametrizations: leave_parametrized=False needs a single original tensor")
    del module.parametrizations._modules[tensor_name]
    delattr(module.__class__, tensor_name)
    module.register_parameter(tensor_name, Parameter(np.array(value.array), requires_grad=value.requires_grad
                                                     or isinstance(value, Parameter)))
    if not is_parametrized(module):
        del module._modules["parametrizations"]
        module.__class__ = module.__class__._parametrized_base
    return module


@contextmanager
def cached():
    """Accepted for compatibility: parametrized tensors are recomputed on each access."""
    yield

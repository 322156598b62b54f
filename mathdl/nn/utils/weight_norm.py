"""Reparameterizations of a module's weight, applied before every forward by a pre-hook (PyTorch's
``torch.nn.utils.weight_norm`` / ``spectral_norm``):

  weight_norm     w = g v / ||v||  (Salimans & Kingma, 2016), the norm over every dim but ``dim``
                  (over all entries when dim is None); parameters ``<name>_g`` and ``<name>_v``
  spectral_norm   w = w_orig / sigma(W),  W = w_orig as a matrix (dim first), sigma its largest
                  singular value estimated by power iteration (Miyato et al., 2018):
                  v <- W^T u / ||W^T u||,  u <- W v / ||W v||  (n_power_iterations per training
                  forward, u and v kept as buffers),  sigma = u^T W v
"""

from __future__ import annotations

import numpy as np

from ...autograd.tensor import Tensor
from ...ops import elementwise as ew
from ...ops.linalg import matmul
from ...ops.reduce import norm as _norm
from ...ops.shape import permute, reshape
from ..modules.module import Module, Parameter

__all__ = ["weight_norm", "remove_weight_norm", "spectral_norm", "remove_spectral_norm"]


def _norm_except_dim(v, dim):
    if dim is None or dim == -1:
        return _norm(v)
    axes = tuple(a for a in range(v.ndim) if a != dim)
    return _norm(v, 2, axes, keepdim=True) if axes else ew.abs(v)


class _WeightNorm:
    def __init__(self, name, dim):
        self.name, self.dim = name, dim

    def compute(self, module):
        g, v = getattr(module, self.name + "_g"), getattr(module, self.name + "_v")
        return ew.mul(v, ew.div(g, _norm_except_dim(v, self.dim)))

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute(module))


def _param(module, name, what):
    if not isinstance(module, Module):
        raise TypeError(f"{what}: expected a Module, got {type(module).__name__}")
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, (_WeightNorm, _SpectralNorm)) and hook.name == name:
            raise RuntimeError(f"{what}: parameter {name!r} is already reparameterized")
    w = module._parameters.get(name)
    if w is None:
        raise ValueError(f"{what}: the module {type(module).__name__} has no parameter {name!r}")
    return w


def weight_norm(module, name="weight", dim=0):
    """Replace ``module.<name>`` by g v / ||v|| with learnable g (magnitude) and v (direction)."""
    w = _param(module, name, "weight_norm")
    if dim is not None and dim < -1:
        dim += w.ndim
    fn = _WeightNorm(name, dim)
    g = _norm_except_dim(w, dim).detach()
    del module._parameters[name]
    module.register_parameter(name + "_g", Parameter(np.array(g.array, dtype=w.dtype).reshape(g.shape)))
    module.register_parameter(name + "_v", Parameter(np.array(w.array)))
    object.__setattr__(module, name, fn.compute(module))
    module.register_forward_pre_hook(fn)
    return module


def _remove(module, name, kind, what):
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, kind) and hook.name == name:
            w = hook.compute(module, False) if kind is _SpectralNorm else hook.compute(module)
            del module._forward_pre_hooks[key]
            return w
    raise ValueError(f"{what}: no such reparameterization of {name!r} in {type(module).__name__}")


def remove_weight_norm(module, name="weight"):
    """Undo :func:`weight_norm`: ``module.<name>`` becomes a plain parameter again."""
    w = _remove(module, name, _WeightNorm, "remove_weight_norm")
    for suffix in ("_g", "_v"):
        del module._parameters[name + suffix]
    module.__dict__.pop(name, None)
    module.register_parameter(name, Parameter(np.array(w.array)))
    return module


class _SpectralNorm:
    def __init__(self, name, n_power_iterations, dim, eps):
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def matrix(self, w):
        if self.dim != 0:
            w = permute(w, (self.dim,) + tuple(a for a in range(w.ndim) if a != self.dim))
        return reshape(w, (w.shape[0], -1))

    def compute(self, module, power_iteration):
        w = getattr(module, self.name + "_orig")
        u, v = module._buffers[self.name + "_u"], module._buffers[self.name + "_v"]
        W = self.matrix(w)
        if power_iteration:
            Wd = W.array
            for _ in range(self.n_power_iterations):
                vv = Wd.T @ u.array
                v.array[...] = vv / max(float(np.linalg.norm(vv)), self.eps)
                uu = Wd @ v.array
                u.array[...] = uu / max(float(np.linalg.norm(uu)), self.eps)
        uc, vc = Tensor._make(u.array.copy()), Tensor._make(v.array.copy())
        sigma = matmul(uc, matmul(W, vc))
        return ew.div(w, sigma)

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute(module, module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide ``module.<name>`` by its spectral norm, estimated by power iteration in training."""
    from ..modules.conv import ConvTranspose1d, ConvTranspose2d

    w = _param(module, name, "spectral_norm")
    if n_power_iterations < 0:
        raise ValueError(f"spectral_norm: n_power_iterations must be >= 0, got {n_power_iterations}")
    if dim is None:
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d)) else 0
    fn = _SpectralNorm(name, n_power_iterations, dim, eps)
    h, wdim = fn.matrix(w).shape
    from ... import backend

    u = backend.rng.np.normal(size=h)
    v = backend.rng.np.normal(size=wdim)
    u, v = (a / max(np.linalg.norm(a), eps) for a in (u, v))
    del module._parameters[name]
    module.register_parameter(name + "_orig", w)
    module.register_buffer(name + "_u", Tensor._make(u.astype(w.dtype)))
    module.register_buffer(name + "_v", Tensor._make(v.astype(w.dtype)))
    object.__setattr__(module, name, Tensor._make(w.array))
    module.register_forward_pre_hook(fn)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo :func:`spectral_norm` (the weight keeps its current normalized value)."""
    w = _remove(module, name, _SpectralNorm, "remove_spectral_norm")
    del module._parameters[name + "_orig"]
    del module._buffers[name + "_u"]
    del module._buffers[name + "_v"]
    module.__dict__.pop(name, None)
    module.register_parameter(name, Parameter(np.array(w.array)))
    return module

"""Weight and spectral normalization as parametrizations (PyTorch's
``torch.nn.utils.parametrizations``; formulas in :mod:`mathdl.nn.utils.weight_norm`):

  weight_norm     weight = g v / ||v||, originals ``original0`` = g, ``original1`` = v
  spectral_norm   weight = w / (u^T W v) with u, v from power iteration
                  (u <- W v / ||W v||, v <- W^T u / ||W^T u||; 15 iterations at registration, then
                  ``n_power_iterations`` per training access)
"""

from __future__ import annotations

import numpy as np

from ... import backend
from ...autograd.tensor import Tensor
from ...ops import elementwise as ew
from ...ops.linalg import matmul
from ..modules.module import Module
from . import parametrize
from .weight_norm import _norm_except_dim

__all__ = ["weight_norm", "spectral_norm"]


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return ew.mul(weight_v, ew.div(weight_g, _norm_except_dim(weight_v, self.dim)))

    def right_inverse(self, weight):
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Parametrize ``module.<name>`` as g v / ||v||."""
    w = getattr(module, name, None)
    if not isinstance(w, Tensor):
        raise ValueError(f"weight_norm: {type(module).__name__} has no tensor {name!r}")
    if dim is not None and dim < -1:
        dim += w.ndim
    return parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if not -ndim <= dim < ndim:
            raise IndexError(f"spectral_norm: dim {dim} is out of range for a {ndim}-D weight")
        if n_power_iterations <= 0:
            raise ValueError(f"spectral_norm: n_power_iterations must be positive, got {n_power_iterations}")
        self.dim = dim % ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            W = self._matrix(weight.array)
            u = backend.rng.np.normal(size=W.shape[0])
            v = backend.rng.np.normal(size=W.shape[1])
            self.register_buffer("_u", Tensor._make((u / max(np.linalg.norm(u), eps)).astype(weight.dtype)))
            self.register_buffer("_v", Tensor._make((v / max(np.linalg.norm(v), eps)).astype(weight.dtype)))
            self._power_method(W, 15)

    def _matrix(self, w):
        if self.dim != 0:
            w = np.moveaxis(w, self.dim, 0) if isinstance(w, np.ndarray) else w
        return w.reshape(w.shape[0], -1)

    def _power_method(self, W, n):
        u, v = self._u.array, self._v.array
        for _ in range(n):
            uu = W @ v
            u[...] = uu / max(float(np.linalg.norm(uu)), self.eps)
            vv = W.T @ u
            v[...] = vv / max(float(np.linalg.norm(vv)), self.eps)

    def forward(self, weight):
        if weight.ndim == 1:
            return ew.div(weight, ew.maximum(_norm_except_dim(weight, None), self.eps))
        if self.training:
            self._power_method(self._matrix(weight.array), self.n_power_iterations)
        from ...ops.shape import movedim, reshape

        Wt = weight if self.dim == 0 else movedim(weight, self.dim, 0)
        Wt = reshape(Wt, (Wt.shape[0], -1))
        u, v = Tensor._make(self._u.array.copy()), Tensor._make(self._v.array.copy())
        return ew.div(weight, matmul(u, matmul(Wt, v)))

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Parametrize ``module.<name>`` as w / sigma(w) (spectral norm by power iteration)."""
    from ..modules.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d

    w = getattr(module, name, None)
    if not isinstance(w, Tensor):
        raise ValueError(f"spectral_norm: {type(module).__name__} has no tensor {name!r}")
    if dim is None:
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0
    return parametrize.register_parametrization(module, name, _SpectralNorm(w, n_power_iterations, dim, eps))

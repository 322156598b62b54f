"""Flatten parameters into one vector and back (PyTorch's ``torch.nn.utils``):

  parameters_to_vector(ps)      v = concat(p_1.reshape(-1), ..., p_n.reshape(-1))   (differentiable)
  vector_to_parameters(v, ps)   p_i.array <- v[o_i : o_i + numel(p_i)].reshape(p_i.shape)   (in place)
"""

from __future__ import annotations

from ...autograd.tensor import Tensor
from ...ops.shape import cat, reshape

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check(name, p):
    if not isinstance(p, Tensor):
        raise TypeError(f"{name}: expected Tensors, got {type(p).__name__}")


def parameters_to_vector(parameters) -> Tensor:
    """Concatenate the flattened parameters into one 1-D tensor (all on one device and dtype)."""
    params = list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    for p in params:
        _check("parameters_to_vector", p)
    dtypes = {p.dtype for p in params}
    if len(dtypes) > 1:
        raise TypeError(f"parameters_to_vector: parameters have different dtypes {sorted(map(str, dtypes))}")
    return cat([reshape(p, (-1,)) for p in params])


def vector_to_parameters(vec, parameters) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters' data (no graph is recorded)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected vec to be a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {tuple(vec.shape)}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if total != vec.shape[0]:
        raise ValueError(f"vector_to_parameters: vec has {vec.shape[0]} entries but the parameters hold {total}")
    offset = 0
    for p in params:
        _check("vector_to_parameters", p)
        n = p.numel()
        p.array[...] = vec.array[offset:offset + n].reshape(p.shape).astype(p.dtype, copy=False)
        offset += n

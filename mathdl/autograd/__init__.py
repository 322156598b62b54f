"""Calculus: tensors that record their computation and differentiate it (reverse mode)."""

from .engine import backward_many as backward
from .functional import grad, hessian, hvp, jacobian, jvp, vhp, vjp
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .tensor import Tensor
from .function import Function


def Variable(data, requires_grad=False, volatile=False):  # noqa: N802  (PyTorch's legacy name)
    """PyTorch's legacy ``autograd.Variable(tensor, requires_grad=...)``: since PyTorch 0.4 a
    Variable is a Tensor; this returns ``data`` as a tensor with ``requires_grad`` set."""
    t = data if isinstance(data, Tensor) else Tensor(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


__all__ = [
    "Tensor", "Function", "Variable", "backward", "grad", "vjp", "jvp", "hvp", "vhp", "jacobian", "hessian",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode",
    "gradcheck", "gradgradcheck", "GradcheckError",
]

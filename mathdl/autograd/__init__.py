"""Calculus: tensors that record their computation and differentiate it (reverse mode)."""

from .engine import backward_many as backward
from .functional import grad, hessian, hvp, jacobian, jvp, vhp, vjp
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .tensor import Tensor
from .function import Function

__all__ = [
    "Tensor", "Function", "backward", "grad", "vjp", "jvp", "hvp", "vhp", "jacobian", "hessian",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode",
    "gradcheck", "gradgradcheck", "GradcheckError",
]

"""Curvature as matrix-free operators: the Hessian, the generalized Gauss-Newton matrix and the
Fisher information of a model's loss, each with ``matvec``, ``to_linear_operator`` (SciPy) and
``to_dense`` (see :mod:`mathdl.curvature.base` for the conventions)."""

from .base import CurvatureOperator, flatten, resolve_params, unflatten
from .fisher import EmpiricalFisherOperator, FisherOperator
from .ggn import GGNOperator
from .hessian import HessianOperator
from .loss_hessians import LossCurvature, loss_curvature

__all__ = ["CurvatureOperator", "HessianOperator", "GGNOperator", "FisherOperator", "EmpiricalFisherOperator",
           "LossCurvature", "loss_curvature", "resolve_params", "flatten", "unflatten"]

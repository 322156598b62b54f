"""Physics-informed networks: collocation sampling, derivatives of outputs with respect to inputs,
boundary/initial/data conditions and the weighted residual loss (see :mod:`mathdl.physics.pinn`)."""

from .collocation import sample_boundary, sample_box
from .conditions import Condition, DataCondition, DirichletBC, InitialCondition, NeumannBC
from .derivatives import Derivatives, derivative
from .pinn import PINN

__all__ = ["PINN", "Derivatives", "derivative", "sample_box", "sample_boundary", "Condition", "DirichletBC",
           "NeumannBC", "InitialCondition", "DataCondition"]

"""Physics-informed networks: collocation sampling, derivatives of outputs with respect to inputs (nested
reverse mode, or forward Taylor-mode propagation through MLPs), input scaling, boundary/initial/data
conditions and the weighted residual loss (see :mod:`mathdl.physics.pinn`)."""

from .collocation import sample_boundary, sample_box
from .conditions import Condition, DataCondition, DirichletBC, InitialCondition, NeumannBC
from .derivatives import Derivatives, derivative
from .jet import Jet, mlp_jet, supports_jet
from .pinn import PINN
from .scaling import InputScale

__all__ = ["PINN", "Derivatives", "derivative", "Jet", "mlp_jet", "supports_jet", "InputScale", "sample_box",
           "sample_boundary", "Condition", "DirichletBC", "NeumannBC", "InitialCondition", "DataCondition"]

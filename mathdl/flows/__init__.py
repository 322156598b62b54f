"""``mathdl.flows``: normalizing-flow layers and ``Flow`` (a base distribution pushed through bijections).

Layers (each ``forward(x) -> (y, log|det dy/dx|)``, ``inverse(y) -> (x, log|det dx/dy|)``):
PlanarFlow, RadialFlow (Rezende & Mohamed 2015), AffineCoupling (RealNVP), ActNorm and
Invertible1x1Conv (Glow), MADE-based MAF and IAF, RQSplineCoupling (neural spline flows), and
permutations.
"""

from .autoregressive import IAF, MADE, MAF, MaskedLinear
from .base import Flow, FlowLayer, Permutation, ReversePermutation, standard_normal_base
from .coupling import AffineCoupling, alternating_mask, checkerboard_mask, coupling_mlp
from .glow import ActNorm, Invertible1x1Conv
from .planar import PlanarFlow, RadialFlow
from .spline import RQSplineCoupling, rational_quadratic_spline

__all__ = [
    "Flow", "FlowLayer", "Permutation", "ReversePermutation", "standard_normal_base", "PlanarFlow", "RadialFlow",
    "AffineCoupling", "alternating_mask", "checkerboard_mask", "coupling_mlp", "ActNorm", "Invertible1x1Conv",
    "MADE", "MAF", "IAF", "MaskedLinear", "RQSplineCoupling", "rational_quadratic_spline",
]

"""The special functions the distributions use, taken from :mod:`mathdl.special` (``torch.special``'s names)
and the ops:

  lgamma(x) = log|Gamma(x)|, digamma = d lgamma/dx, polygamma(n, x), erfinv,
  gammainc(a, x) = P(a, x) (regularized lower incomplete gamma; no derivative in a, as PyTorch), atan.

Each is a primitive with its derivative written in mathdl ops (grad-of-grad works).
"""

from __future__ import annotations

from .. import ops
from .. import special as _sp

__all__ = ["lgamma", "digamma", "polygamma", "erfinv", "gammainc", "atan"]

lgamma = _sp.gammaln
digamma = _sp.digamma
polygamma = _sp.polygamma
erfinv = _sp.erfinv
gammainc = _sp.gammainc
atan = ops.atan

"""Barron's general and adaptive robust loss ("A General and Adaptive Robust Loss Function",
CVPR 2019).

  rho(x, alpha, c) = |alpha - 2| / alpha * (((x/c)^2 / |alpha - 2| + 1)^(alpha/2) - 1)

with its limits  alpha = 2: 0.5 (x/c)^2 (L2),  alpha = 0: log(0.5 (x/c)^2 + 1) (Cauchy),
alpha = -inf: 1 - exp(-0.5 (x/c)^2) (Welsch),  alpha = +inf: exp(0.5 (x/c)^2) - 1.
alpha = 1 is the pseudo-Huber / Charbonnier loss sqrt((x/c)^2 + 1) - 1, alpha = -2 Geman-McClure.

Stable evaluation for every real alpha.  With z = (x/c)^2, b = |alpha - 2| and
L = log1p(z / b), the formula is rewritten exactly as

  rho = b / alpha * expm1(alpha L / 2) = (b L / 2) * phi_0(alpha L / 2),
  phi_0(u) = (e^u - 1) / u  (phi_0(0) = 1),

which has no removable singularity at alpha = 0 (phi_0 is smooth there, and so are its
alpha-derivatives: d phi_k / du = phi_{k+1}, :func:`mathdl.ops.losses.exprel_k`), and
loses no precision as alpha -> -inf (log1p and expm1 of small arguments).  b is kept >= the
dtype's epsilon (rho is continuous but not differentiable in alpha at exactly 2, where the
exact 0.5 z is returned).

Adaptive form: p(x | alpha, c) = exp(-rho(x, alpha, c)) / (c Z(alpha)), defined for alpha >= 0,
so the negative log-likelihood is

  nll(x, alpha, c) = rho(x, alpha, c) + log c + log Z(alpha),
  Z(alpha) = int_{-inf}^{inf} exp(-rho(x, alpha, 1)) dx.

log Z is tabulated once (at first use, cached in memory) on a grid of alpha in [0, 4] with
SciPy's adaptive quadrature (``quad_vec``) and interpolated by a cubic Hermite spline written in
mathdl ops (differentiable in alpha).  log Z has a kink at alpha = 2 that no spline follows:
rho(x, 2 + s) = x^2/2 + (x^2/4) s log|s| + O(s), so log Z(2 + s) = log sqrt(2 pi)
+ 0.25 s log|s| + O(s) (E[x^2] = 1 under the Gaussian).  That term is removed before the
spline is fitted and added back exactly.  With the grid step 1/256 the interpolation error
(checked against scipy.integrate.quad) is below 1e-7 except within 0.01 of alpha = 2 (up to
2e-6, from the higher-order s^2 log|s| terms).  Check values: Z(0) = pi sqrt 2 (Cauchy), Z(1) = 2 e K_1(1),
Z(2) = sqrt(2 pi) (Gaussian).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import ops
from ..autograd.tensor import Tensor
from ..backend import xp_of
from ..ops.losses import exprel_k

__all__ = ["general_robust_loss", "robust_loss", "robust_nll", "log_partition"]

_make = Tensor._make

ALPHA_TABLE_MAX = 4.0
_TABLE_STEP = 1.0 / 256
_table_cache: dict = {}


def _rho_numpy(x, alpha):
    """rho(x, alpha, 1) in float64 NumPy, x (n,) against alpha (m,) -> (n, m)."""
    z = np.square(np.asarray(x, dtype=np.float64))[..., None]
    a = np.asarray(alpha, dtype=np.float64)
    b = np.maximum(np.abs(a - 2.0), np.finfo(np.float64).eps)
    L = np.log1p(z / b)
    u = 0.5 * a * L
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        phi = np.where(u == 0, 1.0, np.expm1(u) / np.where(u == 0, 1.0, u))
        out = 0.5 * b * L * phi
    return np.where(a == 2.0, 0.5 * z, out)


def _build_table():
    """log Z(alpha) on the grid, and its cubic Hermite coefficients per interval."""
    from scipy.integrate import quad_vec
    from scipy.interpolate import CubicSpline

    grid = np.arange(0.0, ALPHA_TABLE_MAX + 0.5 * _TABLE_STEP, _TABLE_STEP)

    def integrand(x):  # exp(-rho) on [0, inf); Z = 2 * integral (rho is even in x)
        return np.exp(-_rho_numpy(np.array([x]), grid)[0])

    half, _err = quad_vec(integrand, 0.0, np.inf, epsabs=1e-13, epsrel=1e-12, limit=20000)
    log_z = np.log(2.0 * half)
    s = grid - 2.0
    smooth = log_z - 0.25 * s * np.log(np.where(s == 0, 1.0, np.abs(s)))
    spline = CubicSpline(grid, smooth)
    slope = spline(grid, 1)
    h = _TABLE_STEP
    y0, y1, m0, m1 = smooth[:-1], smooth[1:], slope[:-1] * h, slope[1:] * h
    # p(t) = y0 + t (m0 + t (c2 + t c3)), t in [0, 1] within each interval
    c2 = 3 * (y1 - y0) - 2 * m0 - m1
    c3 = 2 * (y0 - y1) + m0 + m1
    return grid, log_z, np.stack([y0, m0, c2, c3], axis=1)


def _table():
    if "table" not in _table_cache:
        _table_cache["table"] = _build_table()
    return _table_cache["table"]


def log_partition(alpha):
    """log Z(alpha) = log int exp(-rho(x, alpha, 1)) dx for alpha in [0, 4] (a tensor or number),
    interpolated from the SciPy-computed table by a cubic Hermite spline (differentiable)."""
    if not isinstance(alpha, Tensor):
        alpha = _make(np.asarray(alpha, dtype=np.float64))
    a = alpha.data
    if a.size and (bool((a < 0).any()) or bool((a > ALPHA_TABLE_MAX).any()) or bool(np.isnan(a).any())):
        raise ValueError(f"log_partition: alpha must be in [0, {ALPHA_TABLE_MAX}] (the partition function is "
                         f"infinite for alpha < 0), got values in [{float(a.min())}, {float(a.max())}]")
    grid, _log_z, coef = _table()
    xp = xp_of(a)
    idx = np.clip(np.floor(np.asarray(a, dtype=np.float64) / _TABLE_STEP).astype(np.int64), 0, len(grid) - 2)
    dt = alpha.dtype
    c = xp.asarray(coef[idx].astype(dt))
    t = ops.mul(ops.sub(alpha, _make(xp.asarray(grid[idx].astype(dt)))), 1.0 / _TABLE_STEP)
    p = ops.add(_make(c[..., 2]), ops.mul(t, _make(c[..., 3])))
    p = ops.add(_make(c[..., 1]), ops.mul(t, p))
    p = ops.add(_make(c[..., 0]), ops.mul(t, p))
    # add back the non-smooth part 0.25 (alpha - 2) log|alpha - 2| (removed before interpolating)
    s = ops.sub(alpha, 2.0)
    at_two = a == 2
    log_abs = ops.log(ops.where(at_two, 1.0, ops.abs(s))) if bool(at_two.any()) else ops.log(ops.abs(s))
    return ops.add(p, ops.mul(ops.mul(s, log_abs), 0.25))


def _as_tensor(v, like):
    if isinstance(v, Tensor):
        return v
    return _make(xp_of(like.data).asarray(v, dtype=like.dtype))


def general_robust_loss(x, alpha, scale=1.0):
    """Elementwise rho(x, alpha, c) (Barron 2019) for any real ``alpha`` (a number, possibly
    +-inf, or a tensor broadcasting against x) and scale ``c`` > 0 (number or tensor)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"general_robust_loss: x must be a Tensor, got {type(x).__name__}")
    if isinstance(scale, numbers.Real):
        if not scale > 0:
            raise ValueError(f"general_robust_loss: scale must be positive, got {scale}")
        z = ops.square(ops.div(x, float(scale)))
    else:
        z = ops.square(ops.div(x, _as_tensor(scale, x)))
    if isinstance(alpha, numbers.Real):
        a = float(alpha)
        if math.isnan(a):
            raise ValueError("general_robust_loss: alpha is NaN")
        if a == 2.0:
            return ops.mul(z, 0.5)
        if a == 0.0:
            return ops.log1p(ops.mul(z, 0.5))
        if a == -math.inf:
            return ops.neg(ops.expm1(ops.mul(z, -0.5)))
        if a == math.inf:
            return ops.expm1(ops.mul(z, 0.5))
        b = max(abs(a - 2.0), float(np.finfo(z.dtype).eps))
        L = ops.log1p(ops.mul(z, 1.0 / b))
        return ops.mul(ops.mul(L, 0.5 * b), exprel_k(ops.mul(L, 0.5 * a)))
    alpha = _as_tensor(alpha, x)
    ad = alpha.data
    xp = xp_of(ad)
    if bool(xp.isnan(ad).any()):
        raise ValueError("general_robust_loss: alpha has NaN entries")
    finite = xp.isfinite(ad)
    a = alpha if bool(finite.all()) else ops.where(finite, alpha, 0.0)
    b = ops.maximum(ops.abs(ops.sub(a, 2.0)), float(np.finfo(z.dtype).eps))
    L = ops.log1p(ops.div(z, b))
    rho = ops.mul(ops.mul(L, ops.mul(b, 0.5)), exprel_k(ops.mul(L, ops.mul(a, 0.5))))
    shape = np.broadcast_shapes(tuple(z.shape), tuple(ad.shape))
    if bool((ad == 2).any()):
        rho = ops.where(xp.broadcast_to(ad == 2, shape), ops.mul(z, 0.5), rho)
    if not bool(finite.all()):
        rho = ops.where(xp.broadcast_to(ad == -np.inf, shape), ops.neg(ops.expm1(ops.mul(z, -0.5))), rho)
        rho = ops.where(xp.broadcast_to(ad == np.inf, shape), ops.expm1(ops.mul(z, 0.5)), rho)
    return rho


def robust_loss(input, target=None, alpha=1.0, scale=1.0, reduction="mean"):
    """Barron's general robust loss of the residual input - target (or of ``input`` itself),
    reduced by ``reduction`` ('mean', 'sum', 'none')."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"robust_loss: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    x = input if target is None else ops.sub(input, _as_tensor(target, input))
    loss = general_robust_loss(x, alpha, scale)
    return ops.mean(loss) if reduction == "mean" else ops.sum(loss) if reduction == "sum" else loss


def robust_nll(x, alpha, scale):
    """Negative log-likelihood of residuals x under Barron's distribution:
    rho(x, alpha, c) + log c + log Z(alpha), alpha in [0, 4], c > 0 (tensors or numbers)."""
    scale_t = _as_tensor(scale, x)
    alpha_t = _as_tensor(alpha, x)
    rho = general_robust_loss(x, alpha_t, scale_t)
    return ops.add(rho, ops.add(ops.log(scale_t), log_partition(alpha_t)))

"""Loss functions (functional forms), with PyTorch's names and semantics.

Every loss takes ``reduction``: ``'mean'`` (the default), ``'sum'`` or ``'none'`` (the
elementwise/per-sample losses).  Formulas (d = input - target):

  mse_loss                 d^2                     (weight w: mean = sum(w l) / sum(w))
  l1_loss                  |d|                     (weight w: mean = sum(w l) / sum(w))
  smooth_l1_loss(beta)     0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta
  huber_loss(delta)        0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta)  (weight: mean(w l))
  cross_entropy            -sum_c q_c log softmax(x)_c, q = one-hot / probabilities, smoothed by
                           label_smoothing; class weights, ignore_index (fused primitive)
  nll_loss                 -w_t x_t  (x: log-probabilities), weighted mean divides by sum w_t
  binary_cross_entropy     -w (t log p + (1 - t) log(1 - p)), logs clamped at -100
  binary_cross_entropy_with_logits
                           -w (pw t log s(x) + (1 - t) log s(-x)),  pos_weight pw
  kl_div                   t (log t - x)  (x: log-probabilities; log_target: e^t (t - x));
                           'batchmean' divides the sum by the batch size
  poisson_nll_loss         e^x - t x (log_input) or x - t log(x + eps); full adds Stirling's term
  gaussian_nll_loss        0.5 (log max(var, eps) + d^2 / max(var, eps)) [+ 0.5 log 2 pi]
  cosine_embedding_loss    1 - cos(x1, x2) if y = 1, max(0, cos(x1, x2) - margin) if y = -1
  margin_ranking_loss      max(0, -y (x1 - x2) + margin)
  focal_loss               -alpha_t (1 - p_t)^gamma log p_t  (Lin et al. 2017, softmax form)
  sigmoid_focal_loss       alpha_t (1 - p_t)^gamma BCE-with-logits  (binary / multi-label)
  distillation_loss        alpha T^2 KL(softmax(teacher/T) || softmax(student/T))
                           + (1 - alpha) CE(student, target)   (Hinton et al. 2015)
  triplet_margin_loss      max(0, d(a, p) - d(a, n) + margin), d = pairwise_distance (swap: d(a, n)
                           replaced by min(d(a, n), d(p, n)))
  triplet_margin_with_distance_loss   the same with any distance function (default pairwise_distance)
  hinge_embedding_loss     x if y = 1, max(0, margin - x) if y = -1
  soft_margin_loss         log(1 + e^(-y x))
  multi_margin_loss        sum_{i != y} w_y max(0, margin - x_y + x_i)^p / C
  multilabel_margin_loss   sum_{j in Y, i not in Y} max(0, 1 - (x_j - x_i)) / C  (Y: the targets before
                           the first -1)
  multilabel_soft_margin_loss  -mean_c w_c (y_c log s(x_c) + (1 - y_c) log s(-x_c))
  ctc_loss                 -log p(target | log_probs) over all CTC alignments (forward-backward in log
                           space, :func:`mathdl.ops.losses.ctc_nll`); 'mean' divides each by its target
                           length, then averages

Barron's general and adaptive robust loss ("A General and Adaptive Robust Loss Function",
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

from ... import ops
from ...amp.autocast_mode import _state as _amp, cast_float32
from ...autograd.tensor import Tensor
from ...backend import xp_of
from ...ops.losses import ctc_nll, exprel_k, log_sigmoid, softmax_cross_entropy

__all__ = [
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div", "poisson_nll_loss", "gaussian_nll_loss",
    "cosine_embedding_loss", "margin_ranking_loss", "focal_loss", "sigmoid_focal_loss", "distillation_loss",
    "log_partition", "general_robust_loss", "robust_loss", "robust_nll", "triplet_margin_loss",
    "triplet_margin_with_distance_loss", "hinge_embedding_loss", "multi_margin_loss", "multilabel_margin_loss",
    "multilabel_soft_margin_loss", "soft_margin_loss", "ctc_loss",
]


_make = Tensor._make


_REDUCTIONS = ("mean", "sum", "none")


# --------------------------------------------------------------------------- helpers
def _check_reduction(name, reduction, allowed=_REDUCTIONS):
    if reduction not in allowed:
        raise ValueError(f"{name}: reduction must be one of {', '.join(map(repr, allowed))}, got {reduction!r}")


def _reduce(loss, reduction):
    if reduction == "mean":
        return ops.mean(loss)
    if reduction == "sum":
        return ops.sum(loss)
    return loss


def _tensor(name, arg, value, like=None):
    """``value`` as a Tensor; Python numbers and arrays become constants of ``like``'s dtype."""
    if isinstance(value, Tensor):
        if (like is not None and not value.requires_grad and value.dtype != like.dtype
                and value.dtype.kind == "f" and like.dtype.kind == "f"):
            return _make(value.array.astype(like.dtype))  # constants follow the input's dtype
        return value
    if value is None:
        raise TypeError(f"{name}: {arg} is required")
    if like is not None:
        xp = xp_of(like.array)
        arr = xp.asarray(value)
        if arr.dtype.kind in "fiub" and like.dtype.kind == "f":
            arr = arr.astype(like.dtype)
        return _make(arr)
    return _make(np.asarray(value))


def _check_input(name, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: input must be a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: input must be floating point, got dtype {x.dtype}")


def _same_shape(name, a, b, what="target"):
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{name}: {what} shape {tuple(b.shape)} must equal the input shape {tuple(a.shape)}")


def _elementwise_weight(name, loss, weight, input_shape, reduction, mean_by_weight):
    if weight is None:
        return _reduce(loss, reduction)
    w = _tensor(name, "weight", weight, loss)
    if tuple(w.shape) != tuple(input_shape):
        raise ValueError(f"{name}: weight shape {tuple(w.shape)} must equal the input shape {tuple(input_shape)}")
    loss = ops.mul(loss, w)
    if reduction == "mean" and mean_by_weight:
        return ops.div(ops.sum(loss), ops.sum(w))
    return _reduce(loss, reduction)


# --------------------------------------------------------------------------- regression
def _pointwise(name, f, input, target, reduction, weight):
    """f(input - target) elementwise, weighted (mean = sum(w l) / sum(w)) and reduced."""
    _check_reduction(name, reduction)
    _check_input(name, input)
    target = _tensor(name, "target", target, input)
    loss = f(ops.sub(input, target))
    return _elementwise_weight(name, loss, weight, input.shape, reduction, True)


def mse_loss(input, target, reduction="mean", weight=None):
    """Mean squared error (input - target)^2; optional elementwise ``weight``."""
    if _amp.dtype is not None:  # autocast: losses compute in float32
        input, target = cast_float32(input, target)
    return _pointwise("mse_loss", ops.square, input, target, reduction, weight)


def l1_loss(input, target, reduction="mean", weight=None):
    """Mean absolute error |input - target|; optional elementwise ``weight``."""
    if _amp.dtype is not None:  # autocast: losses compute in float32
        input, target = cast_float32(input, target)
    return _pointwise("l1_loss", ops.abs, input, target, reduction, weight)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (beta = 0 gives L1)."""
    if _amp.dtype is not None:  # autocast: losses compute in float32
        input, target = cast_float32(input, target)
    _check_reduction("smooth_l1_loss", reduction)
    _check_input("smooth_l1_loss", input)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    target = _tensor("smooth_l1_loss", "target", target, input)
    d = ops.sub(input, target)
    ad = ops.abs(d)
    if beta == 0:
        return _reduce(ad, reduction)
    small = ~(ad.array >= beta)  # NaN takes the quadratic branch: gradient d / beta = NaN, as PyTorch's
    # the quadratic branch sees d only where it is chosen (0 elsewhere), so an infinite d does
    # not send inf * 0 = NaN through the unchosen branch's gradient: dL/dd = d / beta or sign(d)
    loss = ops.where(small, ops.mul(ops.square(ops.where(small, d, 0.0)), 0.5 / beta), ops.sub(ad, 0.5 * beta))
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta); ``weight`` scales elementwise
    (its mean is the plain mean of the weighted losses, as PyTorch)."""
    if _amp.dtype is not None:  # autocast: losses compute in float32
        input, target = cast_float32(input, target)
    _check_reduction("huber_loss", reduction)
    _check_input("huber_loss", input)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    target = _tensor("huber_loss", "target", target, input)
    d = ops.sub(input, target)
    ad = ops.abs(d)
    small = ~(ad.array >= delta)  # the quadratic branch sees d only where chosen; NaN too (see smooth_l1_loss)
    loss = ops.where(small, ops.mul(ops.square(ops.where(small, d, 0.0)), 0.5),
                     ops.mul(ops.sub(ad, 0.5 * delta), delta))
    return _elementwise_weight("huber_loss", loss, weight, input.shape, reduction, False)


# --------------------------------------------------------------------------- classification
def _class_weight(name, weight, C, like):
    if weight is None:
        return None
    w = weight.array if isinstance(weight, Tensor) else xp_of(like.array).asarray(weight)
    if tuple(w.shape) != (C,):
        raise ValueError(f"{name}: weight must have shape ({C},) (one per class), got {tuple(w.shape)}")
    return w.astype(like.dtype, copy=False)


def _index_target(name, input, target, ignore_index):
    """Validate integer class-index targets for input (N, C, d1, ...); return the array and whether
    some entry may equal ``ignore_index``."""
    t = target.array if isinstance(target, Tensor) else xp_of(input.array).asarray(target)
    want = (input.shape[0],) + tuple(input.shape[2:])
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{name}: class-index target must have an integer dtype, got {t.dtype} with shape {tuple(t.shape)} "
            f"for input of shape {tuple(input.shape)}; use target.long(), or pass probabilities with the "
            f"input's shape {tuple(input.shape)}")
    if tuple(t.shape) != want:
        raise ValueError(
            f"{name}: expected target of shape {want} (input shape {tuple(input.shape)} is (N, C, d1, ...), "
            f"target (N, d1, ...)), got target shape {tuple(t.shape)}")
    C = input.shape[1]
    if t.size:
        lo, hi = int(t.min()), int(t.max())
        if lo < 0 or hi >= C:
            bad = (t != ignore_index) & ((t < 0) | (t >= C))
            if bool(bad.any()):
                v = int(t[bad].reshape(-1)[0])
                raise IndexError(f"{name}: target class {v} is out of range [0, {C}) for input of shape "
                                 f"{tuple(input.shape)} (ignore_index={ignore_index})")
        elif not lo <= ignore_index <= hi:
            return t, False  # no entry can equal ignore_index: skip the mask
    return t, True


def _one_hot_targets(input, t, ignore_index):
    """For class indices t (N, d1, ...) of input (N, C, d1, ...): valid = (t != ignore_index),
    safe = t with ignored entries set to class 0, and the boolean one-hot (N, C, d1, ...) of safe."""
    xp = xp_of(input.array)
    valid = t != ignore_index
    safe = xp.where(valid, t, 0)
    cls_shape = (1, input.shape[1]) + (1,) * (input.ndim - 2)
    return valid, safe, xp.arange(input.shape[1]).reshape(cls_shape) == safe[:, None]


def _unbatched(input, target, index_target):
    """PyTorch's unbatched form: input (C,) with a scalar target (or a (C,) probability target)."""
    x = ops.reshape(input, (1,) + tuple(input.shape))
    if index_target:
        t = target.array if isinstance(target, Tensor) else np.asarray(target)
        return x, _make(t.reshape(1))
    return x, ops.reshape(target, (1,) + tuple(target.shape))


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits ``input`` (N, C) or (N, C, d1, ...) (or unbatched (C,)) with
    ``target`` as integer class indices (N, d1, ...) or class probabilities (input's shape).

    Index targets run through one fused, numerically stable log-softmax + NLL primitive whose
    gradient is (softmax - q) (see :mod:`mathdl.ops.losses`).  ``label_smoothing`` eps mixes
    the target with the uniform distribution: q = (1 - eps) q + eps / C.  ``weight`` (C,) weighs
    classes; with index targets 'mean' divides by the summed weights of the counted targets,
    with probability targets by the number of samples (as PyTorch).
    """
    if _amp.dtype is not None:  # autocast: losses compute in float32
        input, target = cast_float32(input, target)
    name = "cross_entropy"
    _check_reduction(name, reduction)
    _check_input(name, input)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if input.ndim == 0:
        raise ValueError(f"{name}: input must have shape (C,), (N, C) or (N, C, d1, ...), got a scalar")
    t_arr = target.array if isinstance(target, Tensor) else np.asarray(target)
    prob = t_arr.dtype.kind == "f"
    if prob and tuple(t_arr.shape) != tuple(input.shape):
        raise ValueError(
            f"{name}: floating-point target of shape {tuple(t_arr.shape)} (dtype {t_arr.dtype}) for input of "
            f"shape {tuple(input.shape)}: probability targets must have the input's shape; class-index targets "
            f"must be integers of shape {(input.shape[0],) + tuple(input.shape[2:]) if input.ndim > 1 else ()}")
    if input.ndim == 1:
        if not prob and t_arr.ndim != 0:
            raise ValueError(f"{name}: unbatched input of shape {tuple(input.shape)} needs a scalar class "
                             f"target, got target shape {tuple(t_arr.shape)}")
        x, t = _unbatched(input, target if isinstance(target, Tensor) else _make(t_arr), not prob)
        out = cross_entropy(x, t, weight, ignore_index, reduction, label_smoothing)
        return ops.reshape(out, ()) if reduction == "none" else out
    C = input.shape[1]
    w = _class_weight(name, weight, C, input)
    if prob:
        target = _tensor(name, "target", target, input)
        return _soft_cross_entropy(input, target, w, reduction, label_smoothing)
    t, maybe_ignored = _index_target(name, input, target, ignore_index)
    return softmax_cross_entropy(input, t, w, ignore_index if maybe_ignored else None, label_smoothing, reduction)


def _soft_cross_entropy(x, q, w, reduction, eps):
    """-sum_c w_c q_c log softmax(x)_c with probability targets q (differentiable in q too)."""
    C = x.shape[1]
    logp = ops.log_softmax(x, dim=1)
    if eps:
        q = ops.add(ops.mul(q, 1.0 - eps), eps / C)
    prod = ops.mul(logp, q)
    if w is not None:
        prod = ops.mul(prod, _make(w.reshape((1, C) + (1,) * (x.ndim - 2))))
    loss = ops.neg(ops.sum(prod, 1))
    return _reduce(loss, reduction)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` (N, C, d1, ...) at integer class
    ``target`` (N, d1, ...): -w_t input_t; 'mean' divides by the summed weights w_t."""
    if _amp.dtype is not None:  # autocast: losses compute in float32
        input, target = cast_float32(input, target)
    name = "nll_loss"
    _check_reduction(name, reduction)
    _check_input(name, input)
    if input.ndim == 1:
        x, t = _unbatched(input, target if isinstance(target, Tensor) else _make(np.asarray(target)), True)
        out = nll_loss(x, t, weight, ignore_index, reduction)
        return ops.reshape(out, ()) if reduction == "none" else out
    if input.ndim < 2:
        raise ValueError(f"{name}: input must have shape (C,), (N, C) or (N, C, d1, ...), got {tuple(input.shape)}")
    C = input.shape[1]
    w = _class_weight(name, weight, C, input)
    t, _ = _index_target(name, input, target, ignore_index)
    valid, safe, onehot = _one_hot_targets(input, t, ignore_index)
    hard = (valid if w is None else w[safe] * valid).astype(input.dtype)
    q = onehot * hard[:, None]
    loss = ops.neg(ops.sum(ops.mul(input, _make(q.astype(input.dtype))), 1))
    if reduction == "mean":
        return ops.div(ops.sum(loss), float(hard.sum()) if hard.sum() else float("nan"))
    return _reduce(loss, reduction)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-w (t log p + (1 - t) log(1 - p)) for probabilities p = ``input`` in [0, 1]; each log is
    clamped at -100 (as PyTorch) so that p in {0, 1} gives a finite loss."""
    if _amp.dtype is not None:  # autocast: losses compute in float32
        input, target = cast_float32(input, target)
    name = "binary_cross_entropy"
    _check_reduction(name, reduction)
    _check_input(name, input)
    target = _tensor(name, "target", target, input)
    _same_shape(name, input, target)
    x = input.array
    if x.size and (bool((x < 0).any()) or bool((x > 1).any())):
        raise ValueError(f"{name}: all elements of input must be in [0, 1] (probabilities; use "
                         "binary_cross_entropy_with_logits for logits)")
    with np.errstate(divide="ignore"):
        log_p = ops.clamp(ops.log(input), min=-100.0)
        log_q = ops.clamp(ops.log(ops.sub(1.0, input)), min=-100.0)
    loss = ops.neg(ops.add(ops.mul(target, log_p), ops.mul(ops.sub(1.0, target), log_q)))
    if weight is not None:
        loss = ops.mul(loss, _tensor(name, "weight", weight, input))
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """(1 - t) x - (1 + (pw - 1) t) log sigmoid(x): BCE on logits, stable for any |x|;
    ``pos_weight`` pw (broadcast along the last, class, dimension) weighs positive examples."""
    if _amp.dtype is not None:  # autocast: losses compute in float32
        input, target = cast_float32(input, target)
    name = "binary_cross_entropy_with_logits"
    _check_reduction(name, reduction)
    _check_input(name, input)
    target = _tensor(name, "target", target, input)
    _same_shape(name, input, target)
    ls = log_sigmoid(input)
    if pos_weight is not None:
        pw = _tensor(name, "pos_weight", pos_weight, input)
        lw = ops.add(ops.mul(ops.sub(pw, 1.0), target), 1.0)
        ls = ops.mul(ls, lw)
    loss = ops.sub(ops.mul(ops.sub(1.0, target), input), ls)
    if weight is not None:
        loss = ops.mul(loss, _tensor(name, "weight", weight, input))
    return _reduce(loss, reduction)


def _xlogx(t):
    """t log t with 0 log 0 = 0."""
    pos = t.array > 0
    safe = ops.where(pos, t, 1.0)
    return ops.where(pos, ops.mul(t, ops.log(safe)), 0.0)


def kl_div(input, target, reduction="mean", log_target=False):
    """Pointwise KL divergence t (log t - x) with ``input`` x = log q (log-probabilities) and
    ``target`` t = p (or log p with ``log_target``); summed, 'sum'; 'batchmean' divides the sum
    by the batch size (the KL divergence per sample); 'mean' by the number of elements."""
    if _amp.dtype is not None:  # autocast: losses compute in float32
        input, target = cast_float32(input, target)
    name = "kl_div"
    _check_reduction(name, reduction, _REDUCTIONS + ("batchmean",))
    _check_input(name, input)
    target = _tensor(name, "target", target, input)
    if log_target:
        loss = ops.mul(ops.exp(target), ops.sub(target, input))
    else:
        # xlogy(t, t) - t x, as PyTorch: d/dt = log t + t / t - x (NaN at t = 0, +-inf, as there)
        loss = ops.sub(ops.xlogy(target, target), ops.mul(target, input))
    if reduction == "batchmean":
        total = ops.sum(loss)
        return ops.div(total, float(input.shape[0])) if input.ndim else total
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8, reduction="mean"):
    """Poisson NLL: e^x - t x with ``log_input`` (x = log rate), else x - t log(x + eps);
    ``full`` adds Stirling's t log t - t + 0.5 log(2 pi t) where t > 1."""
    name = "poisson_nll_loss"
    _check_reduction(name, reduction)
    _check_input(name, input)
    target = _tensor(name, "target", target, input)
    if log_input:
        loss = ops.sub(ops.exp(input), ops.mul(target, input))
    else:
        loss = ops.sub(input, ops.mul(target, ops.log(ops.add(input, eps))))
    if full:
        big = target.array > 1
        ts = ops.where(big, target, 2.0)
        stirling = ops.add(ops.sub(ops.mul(ts, ops.log(ts)), ts), ops.mul(ops.log(ops.mul(ts, 2 * math.pi)), 0.5))
        loss = ops.add(loss, ops.where(big, stirling, 0.0))
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Gaussian NLL 0.5 (log v + (x - t)^2 / v) [+ 0.5 log 2 pi], v = max(var, eps) clamped
    without blocking its gradient (as PyTorch).  ``var`` has the input's shape, or one dimension
    of size 1 / the last dimension dropped (homoscedastic), or is a float."""
    name = "gaussian_nll_loss"
    _check_reduction(name, reduction)
    _check_input(name, input)
    target = _tensor(name, "target", target, input)
    if isinstance(var, numbers.Real):
        if var < 0:
            raise ValueError(f"{name}: var must be non-negative, got {var}")
        var = _make(xp_of(input.array).full(input.shape, var, dtype=input.dtype))
    var = _tensor(name, "var", var, input)
    if bool((var.array < 0).any()):
        raise ValueError(f"{name}: var has negative entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = ops.unsqueeze(var, -1)
        elif input.ndim == var.ndim and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1:
            pass
        else:
            raise ValueError(f"{name}: var of shape {tuple(var.shape)} is of incorrect size for input of shape "
                             f"{tuple(input.shape)} (expected the input's shape, one dimension of size 1, or the "
                             "last dimension dropped)")
    xp = xp_of(var.array)
    v = ops.add(var, _make(xp.maximum(var.array, eps) - var.array))  # clamp, gradient passes through
    loss = ops.mul(ops.add(ops.log(v), ops.div(ops.square(ops.sub(input, target)), v)), 0.5)
    if full:
        loss = ops.add(loss, 0.5 * math.log(2 * math.pi))
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1; cos over the last
    dimension of (N, D) inputs (or (D,) with a scalar y), |x|^2 regularized by 1e-12."""
    name = "cosine_embedding_loss"
    _check_reduction(name, reduction)
    _check_input(name, input1)
    if tuple(input1.shape) != tuple(input2.shape) or input1.ndim not in (1, 2):
        raise ValueError(f"{name}: input1 and input2 must both be (N, D) or (D,), got {tuple(input1.shape)} "
                         f"and {tuple(input2.shape)}")
    y = target.array if isinstance(target, Tensor) else xp_of(input1.array).asarray(target)
    want = tuple(input1.shape[:-1])
    if tuple(y.shape) != want:
        raise ValueError(f"{name}: target must have shape {want}, got {tuple(y.shape)}")
    dim = input1.ndim - 1
    prod = ops.sum(ops.mul(input1, input2), dim)
    m1 = ops.add(ops.sum(ops.square(input1), dim), 1e-12)
    m2 = ops.add(ops.sum(ops.square(input2), dim), 1e-12)
    cos = ops.div(prod, ops.sqrt(ops.mul(m1, m2)))
    pos = ops.sub(1.0, cos)
    neg = ops.relu(ops.sub(cos, margin))
    loss = ops.add(ops.where(y == 1, pos, 0.0), ops.where(y == -1, neg, 0.0))
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """max(0, -y (x1 - x2) + margin) with y = 1 (x1 should rank higher) or -1."""
    name = "margin_ranking_loss"
    _check_reduction(name, reduction)
    _check_input(name, input1)
    if input1.ndim != input2.ndim:
        raise ValueError(f"{name}: input1 and input2 must have the same number of dimensions, got "
                         f"{tuple(input1.shape)} and {tuple(input2.shape)}")
    y = _tensor(name, "target", target, input1)
    loss = ops.relu(ops.add(ops.mul(ops.neg(y), ops.sub(input1, input2)), margin))
    return _reduce(loss, reduction)


# --------------------------------------------------------------------------- focal losses
def focal_loss(input, target, gamma=2.0, alpha=None, reduction="mean", ignore_index=-100):
    """Multi-class focal loss (Lin et al. 2017): -alpha_t (1 - p_t)^gamma log p_t with
    p = softmax(input) over dim 1, input (N, C, d1, ...), integer target (N, d1, ...).

    ``alpha``: None (1), a float (every class), or a (C,) sequence/tensor of class weights.
    'mean' divides by the number of counted targets, or by the summed alpha_t when alpha is
    per class, so gamma = 0 gives exactly cross_entropy (with weight=alpha).  1 - p_t is
    computed as -expm1(log p_t), accurate when p_t is close to 1.
    """
    name = "focal_loss"
    _check_reduction(name, reduction)
    _check_input(name, input)
    if gamma < 0:
        raise ValueError(f"{name}: gamma must be non-negative, got {gamma}")
    if input.ndim < 2:
        raise ValueError(f"{name}: input must be (N, C) or (N, C, d1, ...), got {tuple(input.shape)}")
    C = input.shape[1]
    t, _ = _index_target(name, input, target, ignore_index)
    valid, safe, onehot = _one_hot_targets(input, t, ignore_index)
    onehot = onehot.astype(input.dtype)
    logp_t = ops.sum(ops.mul(ops.log_softmax(input, dim=1), _make(onehot)), 1)
    loss = ops.neg(logp_t)
    if gamma:
        loss = ops.mul(loss, ops.pow(ops.neg(ops.expm1(logp_t)), float(gamma)))
    per_class = alpha is not None and not isinstance(alpha, numbers.Real)
    if per_class:
        a = _class_weight(name, alpha, C, input)
        at = a[safe] * valid
    else:
        at = valid.astype(input.dtype) * (1.0 if alpha is None else float(alpha))
    loss = ops.mul(loss, _make(at.astype(input.dtype)))
    if reduction == "mean":
        denom = float(at.sum()) if per_class else float(valid.sum())
        return ops.div(ops.sum(loss), denom if denom else float("nan"))
    return _reduce(loss, reduction)


def sigmoid_focal_loss(input, target, alpha=0.25, gamma=2.0, reduction="mean"):
    """Binary (multi-label) focal loss on logits (Lin et al. 2017; torchvision's form):
    alpha_t (1 - p_t)^gamma BCE_with_logits(x, t), p = sigmoid(x), p_t = p t + (1 - p)(1 - t),
    alpha_t = alpha t + (1 - alpha)(1 - t); alpha < 0 (or None) disables the weighting, so
    gamma = 0 with alpha = None is binary_cross_entropy_with_logits."""
    name = "sigmoid_focal_loss"
    _check_reduction(name, reduction)
    _check_input(name, input)
    if gamma < 0:
        raise ValueError(f"{name}: gamma must be non-negative, got {gamma}")
    target = _tensor(name, "target", target, input)
    _same_shape(name, input, target)
    loss = binary_cross_entropy_with_logits(input, target, reduction="none")
    if gamma:
        # 1 - p_t = p (1 - t) + (1 - p) t, with 1 - p = sigmoid(-x) (no cancellation)
        one_m_pt = ops.add(ops.mul(ops.sigmoid(input), ops.sub(1.0, target)),
                           ops.mul(ops.sigmoid(ops.neg(input)), target))
        loss = ops.mul(loss, ops.pow(one_m_pt, float(gamma)))
    if alpha is not None and alpha >= 0:
        loss = ops.mul(loss, ops.add(ops.mul(target, alpha), ops.mul(ops.sub(1.0, target), 1.0 - alpha)))
    return _reduce(loss, reduction)


# --------------------------------------------------------------------------- distillation
def distillation_loss(student_logits, teacher_logits, target, temperature=4.0, alpha=0.5, reduction="mean",
                      ignore_index=-100, label_smoothing=0.0):
    """Knowledge distillation (Hinton et al. 2015):
    alpha T^2 KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) CE(student, target).

    Logits are (N, C) or (N, C, d1, ...); the KL term is summed over classes and averaged over
    the N (x d1 ...) positions for 'mean' (KL's 'batchmean'); the T^2 factor keeps the soft
    term's gradients on the scale of the hard term's as T changes.  ``teacher_logits`` are
    used as given (detach them, or compute them under no_grad, to keep the teacher fixed).
    """
    name = "distillation_loss"
    _check_reduction(name, reduction)
    _check_input(name, student_logits)
    if tuple(student_logits.shape) != tuple(teacher_logits.shape):
        raise ValueError(f"{name}: student logits {tuple(student_logits.shape)} and teacher logits "
                         f"{tuple(teacher_logits.shape)} must have the same shape")
    if temperature <= 0:
        raise ValueError(f"{name}: temperature must be positive, got {temperature}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"{name}: alpha must be in [0, 1], got {alpha}")
    T = float(temperature)
    log_s = ops.log_softmax(ops.mul(student_logits, 1.0 / T), dim=1)
    log_t = ops.log_softmax(ops.mul(teacher_logits, 1.0 / T), dim=1)
    soft = ops.sum(kl_div(log_s, log_t, reduction="none", log_target=True), 1)
    soft = _reduce(soft, reduction)
    hard = cross_entropy(student_logits, target, ignore_index=ignore_index, reduction=reduction,
                         label_smoothing=label_smoothing)
    return ops.add(ops.mul(soft, alpha * T * T), ops.mul(hard, 1.0 - alpha))


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
    a = alpha.array
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
    return _make(xp_of(like.array).asarray(v, dtype=like.dtype))


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
    ad = alpha.array
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


# --------------------------------------------------------------------------- margin losses
def _targets(name, target, like):
    return target.array if isinstance(target, Tensor) else xp_of(like.array).asarray(target)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, reduction="mean"):
    """max(0, d(a, p) - d(a, n) + margin) with d the p-norm distance over the last dim."""
    name = "triplet_margin_loss"
    _check_reduction(name, reduction)
    for x in (anchor, positive, negative):
        _check_input(name, x)
    if not (anchor.ndim == positive.ndim == negative.ndim) or anchor.ndim not in (1, 2):
        raise ValueError(f"{name}: anchor, positive and negative must all be (N, D) or (D,), got "
                         f"{tuple(anchor.shape)}, {tuple(positive.shape)}, {tuple(negative.shape)}")
    if margin <= 0:
        raise ValueError(f"{name}: margin must be greater than 0, got {margin}")
    from .distance import pairwise_distance

    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = ops.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(ops.relu(ops.add(ops.sub(d_pos, d_neg), margin)), reduction)


def hinge_embedding_loss(input, target, margin=1.0, reduction="mean"):
    """x where y = 1, max(0, margin - x) where y = -1 (PyTorch's: both terms where y is neither)."""
    name = "hinge_embedding_loss"
    _check_reduction(name, reduction)
    _check_input(name, input)
    y = _targets(name, target, input)
    if tuple(y.shape) != tuple(input.shape):
        raise ValueError(f"{name}: target shape {tuple(y.shape)} must equal the input shape {tuple(input.shape)}")
    loss = ops.add(ops.where(y != 1, ops.relu(ops.sub(margin, input)), 0.0), ops.where(y != -1, input, 0.0))
    return _reduce(loss, reduction)


def soft_margin_loss(input, target, reduction="mean"):
    """log(1 + exp(-y x)) elementwise (y = +-1)."""
    name = "soft_margin_loss"
    _check_reduction(name, reduction)
    _check_input(name, input)
    y = _tensor(name, "target", target, input)
    _same_shape(name, input, y)
    return _reduce(ops.neg(log_sigmoid(ops.mul(y, input))), reduction)


def _class_targets(name, input, target):
    t = _targets(name, target, input)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices, got dtype {t.dtype}")
    return t


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, reduction="mean"):
    """Multi-class hinge loss on scores (N, C) (or (C,)) with class-index targets (N,)."""
    name = "multi_margin_loss"
    _check_reduction(name, reduction)
    _check_input(name, input)
    if p not in (1, 2):
        raise ValueError(f"{name}: only p = 1 and p = 2 are supported, got {p!r}")
    if input.ndim not in (1, 2):
        raise ValueError(f"{name}: input must be (N, C) or (C,), got shape {tuple(input.shape)}")
    x = input if input.ndim == 2 else ops.unsqueeze(input, 0)
    t = _class_targets(name, input, target).reshape(-1)
    N, C = x.shape
    if t.shape != (N,) or (N and (t.min() < 0 or t.max() >= C)):
        raise ValueError(f"{name}: target must be {N} class indices in [0, {C}), got {t.tolist()}")
    xy = ops.gather(x, 1, _make(t[:, None]))
    m = ops.relu(ops.add(ops.sub(x, xy), margin))
    if p == 2:
        m = ops.mul(m, m)
    if weight is not None:
        w = _tensor(name, "weight", weight, input)
        if tuple(w.shape) != (C,):
            raise ValueError(f"{name}: weight must have shape ({C},), got {tuple(w.shape)}")
        m = ops.mul(m, ops.unsqueeze(ops.index_select(w, 0, t), 1))
    not_target = np.ones((N, C), dtype=bool)
    not_target[np.arange(N), t] = False
    loss = ops.div(ops.sum(ops.where(not_target, m, 0.0), 1), float(C))
    if input.ndim == 1:
        loss = ops.reshape(loss, ())
    return _reduce(loss, reduction)


def multilabel_margin_loss(input, target, reduction="mean"):
    """Multi-label hinge loss: input (N, C) (or (C,)), target (N, C) class indices ending at the first -1."""
    name = "multilabel_margin_loss"
    _check_reduction(name, reduction)
    _check_input(name, input)
    t = _class_targets(name, input, target)
    if tuple(t.shape) != tuple(input.shape) or input.ndim not in (1, 2):
        raise ValueError(f"{name}: target shape {tuple(t.shape)} must equal the input shape {tuple(input.shape)}, "
                         "(N, C) or (C,)")
    x = input if input.ndim == 2 else ops.unsqueeze(input, 0)
    t = t.reshape(x.shape)
    N, C = x.shape
    is_target = np.zeros((N, C), dtype=bool)
    for n in range(N):
        stop = np.nonzero(t[n] < 0)[0]
        labels = t[n, :stop[0] if len(stop) else C]
        if len(labels) and (labels.max() >= C):
            raise ValueError(f"{name}: target holds class {labels.max()} >= C = {C}")
        is_target[n, labels] = True
    pair = is_target[:, :, None] & ~is_target[:, None, :]  # (n, j in Y, i not in Y)
    diff = ops.sub(ops.unsqueeze(x, 2), ops.unsqueeze(x, 1))  # x_j - x_i
    loss = ops.div(ops.sum(ops.where(pair, ops.relu(ops.sub(1.0, diff)), 0.0), (1, 2)), float(C))
    if input.ndim == 1:
        loss = ops.reshape(loss, ())
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, reduction="mean"):
    """-mean over classes of w (y log s(x) + (1 - y) log s(-x)) for input and 0/1 target (N, C)."""
    name = "multilabel_soft_margin_loss"
    _check_reduction(name, reduction)
    _check_input(name, input)
    y = _tensor(name, "target", target, input)
    _same_shape(name, input, y)
    loss = ops.neg(ops.add(ops.mul(y, log_sigmoid(input)), ops.mul(ops.sub(1.0, y), log_sigmoid(ops.neg(input)))))
    if weight is not None:
        loss = ops.mul(loss, _tensor(name, "weight", weight, input))
    loss = ops.mean(loss, input.ndim - 1)
    return _reduce(loss, reduction)


# --------------------------------------------------------------------------- CTC
def _lengths(name, arg, v, n):
    a = np.asarray(v.array if isinstance(v, Tensor) else v).reshape(-1)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name}: {arg} must hold integers, got dtype {a.dtype}")
    if a.shape != (n,):
        raise ValueError(f"{name}: {arg} must have {n} entries (one per sample), got {a.shape[0]}")
    return a.astype(np.int64)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """Connectionist temporal classification loss of log_probs (T, N, C) (or (T, C)) against
    targets (N, S) padded or 1-D concatenated (sum of target_lengths)."""
    name = "ctc_loss"
    _check_reduction(name, reduction)
    _check_input(name, log_probs)
    unbatched = log_probs.ndim == 2
    lp = ops.unsqueeze(log_probs, 1) if unbatched else log_probs
    if lp.ndim != 3:
        raise ValueError(f"{name}: log_probs must be (T, N, C) or (T, C), got shape {tuple(log_probs.shape)}")
    T, N, C = lp.shape
    if not 0 <= blank < C:
        raise ValueError(f"{name}: blank {blank} must be a class index in [0, {C})")
    il = _lengths(name, "input_lengths", input_lengths, N)
    tl = _lengths(name, "target_lengths", target_lengths, N)
    tg = np.asarray(targets.array if isinstance(targets, Tensor) else targets)
    if tg.dtype.kind not in "iu":
        raise TypeError(f"{name}: targets must hold integer class indices, got dtype {tg.dtype}")
    if unbatched:
        tg = tg.reshape(1, -1)
    if np.any(il < 1) or np.any(il > T):
        raise ValueError(f"{name}: input_lengths must be in [1, T = {T}], got {il.tolist()}")
    if np.any(tl < 0):
        raise ValueError(f"{name}: target_lengths must be non-negative, got {tl.tolist()}")
    if tg.ndim == 1:
        if tg.shape[0] != tl.sum():
            raise ValueError(f"{name}: 1-D targets must hold sum(target_lengths) = {tl.sum()} labels, got "
                             f"{tg.shape[0]}")
        S = int(tl.max()) if N else 0
        padded = np.full((N, S), blank, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(tl)[:-1]])
        for n in range(N):
            padded[n, :tl[n]] = tg[starts[n]:starts[n] + tl[n]]
        tg = padded
    elif tg.ndim != 2 or tg.shape[0] != N or (N and tl.max() > tg.shape[1]):
        raise ValueError(f"{name}: targets must be (N, S) with S >= max(target_lengths) or 1-D, got shape {tg.shape}")
    mask = np.arange(tg.shape[1])[None, :] < tl[:, None]
    if np.any(((tg < 0) | (tg >= C) | (tg == blank)) & mask):
        raise ValueError(f"{name}: targets must be class indices in [0, {C}) other than blank = {blank}")
    tg = np.where(mask, tg, blank)
    nll = ctc_nll(lp, tg, il, tl, blank)
    if zero_infinity:
        nll = ops.where(np.isfinite(nll.array), nll, 0.0)
    if reduction == "mean":
        return ops.mean(ops.div(nll, _make(np.maximum(tl, 1).astype(nll.dtype))))
    if reduction == "sum":
        return ops.sum(nll)
    return ops.reshape(nll, ()) if unbatched else nll


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False,
                                      reduction="mean"):
    """max(0, d(a, p) - d(a, n) + margin) for a given distance function d (pairwise_distance by default)."""
    name = "triplet_margin_with_distance_loss"
    _check_reduction(name, reduction)
    if margin <= 0:
        raise ValueError(f"{name}: margin must be greater than 0, got {margin}")
    from .distance import pairwise_distance

    d = pairwise_distance if distance_function is None else distance_function
    d_pos, d_neg = d(anchor, positive), d(anchor, negative)
    if swap:
        d_neg = ops.minimum(d_neg, d(positive, negative))
    return _reduce(ops.relu(ops.add(ops.sub(d_pos, d_neg), margin)), reduction)

"""Fused primitives behind the losses (:mod:`mathdl.nn.functional.loss`).

Softmax cross-entropy with class-index targets (class axis 1, logits (N, C, d1, ...)):

  logp = x - logsumexp_c(x)                          (stable: subtract the row maximum)
  q_ic = valid_i ((1 - eps) w_{t_i} [c = t_i] + (eps / C) w_c)   (label smoothing eps,
                                                     class weights w, ignore_index -> valid_i = 0)
  loss_i = -sum_c q_ic logp_ic,  reduced by 'sum', 'none' or 'mean' (divided by
           D = sum_i valid_i w_{t_i}, PyTorch's weighted mean)
  d loss_i / d x_i = r_i softmax(x_i) - q_i,   r_i = sum_c q_ic

The forward keeps softmax(x) (it is computed on the way) and the backward is itself a
primitive, :class:`SoftmaxCrossEntropyGrad`, whose own backward is written in mathdl ops
(the softmax Jacobian y * (v - sum(v y))), so grad-of-grad works.

Also: ``log_sigmoid`` (log s(x) = -softplus(-x), stable on both tails, d/dx = s(-x)), and
``exprel_k`` (phi_k(u) = int_0^1 t^k e^{u t} dt, with phi_k' = phi_{k+1}: an infinitely
differentiable chain used by Barron's robust loss near alpha = 0, where phi_0(u) =
expm1(u)/u replaces the removable singularity).

``ctc_nll`` (Graves et al., 2006): per sample, -log p(l | x) summed over all alignments of the
target l (extended with blanks to l' = (b, l_1, b, l_2, ..., b)) by the forward-backward
recursions in log space, with y_t(c) = exp(log_probs[t, c]):

  alpha_t(s) = logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), [alpha_{t-1}(s-2) if l'_s != b, l'_{s-2}])
               + log y_t(l'_s),            alpha_0(0) = log y_0(b), alpha_0(1) = log y_0(l_1)
  beta_t(s)  = the same recursion backward from t = T-1
  -log p     = -logsumexp(alpha_{T-1}(|l'|-1), alpha_{T-1}(|l'|-2))
  d(-log p)/d log y_t(c) = -sum_{s: l'_s = c} exp(alpha_t(s) + beta_t(s) - log y_t(c) + log p)

This is the exact gradient with respect to ``log_probs`` as free inputs (PyTorch's kernel adds
exp(log_probs), a term that vanishes once the gradient passes through a log_softmax, so both
agree on the gradient of the logits).  Its second derivative is not implemented (an error).
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp_of
from . import elementwise as ew
from .reduce import sum as _sum
from .shape import sum_to, unsqueeze
from .special import softmax

__all__ = ["softmax_cross_entropy", "log_sigmoid", "exprel_k", "ctc_nll"]

_make = Tensor._make


# --------------------------------------------------------------------------- cross-entropy
class _CEPlan:
    """The constants of one cross-entropy call (targets, weights, masks, normalizer), shared by
    the forward op and its gradient op."""

    __slots__ = ("target", "safe_target", "valid", "weight", "ignore_index", "eps", "reduction",
                 "hard", "row", "denom", "n_classes")

    def __init__(self, target, weight, ignore_index, eps, reduction, n_classes, dtype):
        xp = xp_of(target)
        self.target = target
        self.n_classes = n_classes
        self.eps = float(eps)
        self.reduction = reduction
        self.ignore_index = ignore_index
        valid = None if ignore_index is None else target != ignore_index
        self.valid = None if valid is None or bool(valid.all()) else valid
        self.safe_target = target if self.valid is None else xp.where(valid, target, 0)
        self.weight = None if weight is None else weight.astype(dtype, copy=False)
        # hard_i = valid_i w_{t_i}: the weight of the target-class term of each entry
        # (the Python float 1.0 when every entry counts with weight 1: the common, fast case)
        if self.weight is None:
            hard = 1.0 if self.valid is None else valid.astype(dtype)
        else:
            hard = self.weight[self.safe_target]
            if self.valid is not None:
                hard = hard * valid
        self.hard = hard
        # row_i = r_i = sum_c q_ic
        if self.eps:
            wsum = float(n_classes) if self.weight is None else float(self.weight.sum())
            ones = 1.0 if self.valid is None else valid.astype(dtype)
            self.row = (1.0 - self.eps) * hard + (self.eps / n_classes * wsum) * ones
        else:
            self.row = hard
        if reduction == "mean":
            self.denom = float(target.size) if isinstance(hard, float) else float(hard.sum())
        else:
            self.denom = 1.0

    def full(self, v, dtype):
        """A per-entry constant (array or Python float) as an array of the target's shape."""
        xp = xp_of(self.target)
        if isinstance(v, float):
            return xp.full(self.target.shape, v, dtype=dtype)
        return v.astype(dtype, copy=False)

    def dense_q(self, dtype, shape):
        """q as a dense (N, C, ...) array (used only by the second-order backward)."""
        xp = xp_of(self.target)
        C = self.n_classes
        cls_shape = (1, C) + (1,) * (len(shape) - 2)
        onehot = (xp.arange(C).reshape(cls_shape) == self.safe_target[:, None]).astype(dtype)
        q = onehot * self.full((1.0 - self.eps) * self.hard, dtype)[:, None]
        if self.eps:
            w = xp.ones(C, dtype=dtype) if self.weight is None else self.weight
            ones = xp.ones(self.target.shape, dtype=dtype) if self.valid is None else self.valid.astype(dtype)
            q = q + (self.eps / C) * w.reshape(cls_shape) * ones[:, None]
        return q


class SoftmaxCrossEntropy(Function):
    """Fused log-softmax + negative log-likelihood over axis 1 (see the module docstring).
    Saves exp(x - max) and 1/sum for the backward when the input needs a gradient."""

    __slots__ = ("plan", "keep_prob", "saved_prob")

    def __init__(self, plan, keep_prob):
        self.plan, self.keep_prob = plan, keep_prob

    def forward(self, x):
        xp = xp_of(x)
        plan = self.plan
        z = x - x.max(axis=1, keepdims=True)
        if x.ndim == 2:
            zt = z[xp.arange(x.shape[0]), plan.safe_target]
        else:
            zt = xp.take_along_axis(z, plan.safe_target[:, None], axis=1)[:, 0]
        if plan.eps:
            zw = z.sum(axis=1) if plan.weight is None else xp.tensordot(
                xp.moveaxis(z, 1, -1), plan.weight, axes=1)
        xp.exp(z, out=z)
        s = z.sum(axis=1, keepdims=True)
        lse = xp.log(s[:, 0])
        loss = lse - zt  # -w_t logp_t (0 where ignored)
        if not isinstance(plan.hard, float):
            loss *= plan.hard
        if plan.eps:
            wsum = float(plan.n_classes) if plan.weight is None else float(plan.weight.sum())
            smooth = wsum * lse - zw  # -sum_c w_c logp_c
            if plan.valid is not None:
                smooth = smooth * plan.valid
            loss = (1.0 - plan.eps) * loss + (plan.eps / plan.n_classes) * smooth
        if self.keep_prob:  # softmax = e / s; the division is folded into the backward's one pass
            self.saved_prob = (z, 1.0 / s)
        else:
            self.saved_prob = None
        if plan.reduction == "none":
            return loss.astype(x.dtype, copy=False)
        total = loss.sum()
        if plan.reduction == "mean":
            total = total / x.dtype.type(plan.denom) if plan.denom else total * x.dtype.type(np.nan)
        return xp.asarray(total, dtype=x.dtype)

    def backward(self, g):
        (x,) = self.inputs
        return (SoftmaxCrossEntropyGrad(self.plan, self.saved_prob)(x, g),)


class SoftmaxCrossEntropyGrad(Function):
    """(x, g) -> g_i / D * (r_i softmax(x_i) - q_i): the gradient of the fused cross-entropy."""

    __slots__ = ("plan", "saved_prob")

    def __init__(self, plan, prob):
        self.plan, self.saved_prob = plan, prob

    def _scale(self, g):
        """g (a scalar for 'mean'/'sum', one value per entry for 'none') over the normalizer."""
        plan = self.plan
        if plan.denom == 0:  # every entry ignored: the loss is nan, its gradient zero (as PyTorch)
            return g * 0.0
        return g * (1.0 / plan.denom) if plan.denom != 1.0 else g

    def forward(self, x, g):
        xp = xp_of(x)
        plan = self.plan
        if self.saved_prob is None:
            e = x - x.max(axis=1, keepdims=True)
            xp.exp(e, out=e)
            inv_s = 1.0 / e.sum(axis=1, keepdims=True)
        else:
            e, inv_s = self.saved_prob
        self.saved_prob = None
        gs = self._scale(g).astype(x.dtype, copy=False)
        row = gs * plan.row
        out = e * ((row[:, None] if row.ndim else row) * inv_s)  # softmax * r_i g_i / D
        hard = gs * plan.hard
        if plan.eps:
            hard = hard * (1.0 - plan.eps)
        if x.ndim == 2:
            out[xp.arange(x.shape[0]), plan.safe_target] -= hard
        else:
            idx = plan.safe_target[:, None]
            cur = xp.take_along_axis(out, idx, axis=1)
            hard = xp.asarray(hard)
            xp.put_along_axis(out, idx, cur - (hard[:, None] if hard.ndim else hard), axis=1)
        if plan.eps:
            C = plan.n_classes
            cls_shape = (1, C) + (1,) * (x.ndim - 2)
            w = xp.ones(C, dtype=x.dtype) if plan.weight is None else plan.weight
            gv = plan.full(1.0, x.dtype) * gs if plan.valid is None else gs * plan.valid
            out -= (plan.eps / C) * w.reshape(cls_shape) * gv[:, None]
        return out

    def backward(self, gg):
        x, g = self.inputs
        plan = self.plan
        dtype = x.dtype
        y = softmax(x, dim=1)
        inv = 1.0 / plan.denom if plan.denom else 0.0
        gx = gg_ = None
        if self.needs(0):
            # v = gg * g_i r_i / D ;  d/dx [softmax] applied to v: y (v - sum_c v y)
            a = ew.mul(g, _make(plan.full(plan.row * inv, dtype)))
            v = ew.mul(gg, unsqueeze(a, 1))
            gx = ew.mul(y, ew.sub(v, _sum(ew.mul(v, y), 1, keepdim=True)))
        if self.needs(1):
            rq = ew.sub(ew.mul(y, _make(plan.full(plan.row * inv, dtype)[:, None])),
                        _make((plan.dense_q(dtype, x.shape) * inv).astype(dtype)))
            gg_ = sum_to(_sum(ew.mul(gg, rq), 1), g.shape)
        return gx, gg_


def softmax_cross_entropy(x, target, weight=None, ignore_index=-100, label_smoothing=0.0,
                          reduction="mean"):
    """Fused cross-entropy of logits ``x`` (N, C, d1, ...) with integer class indices ``target``
    (N, d1, ...) given as a backend array; ``weight`` a (C,) array or None; ``ignore_index`` None
    when no entry is ignored.  Inputs are assumed validated (see
    :func:`mathdl.nn.functional.cross_entropy`)."""
    from ..autograd.grad_mode import state

    plan = _CEPlan(target, weight, ignore_index, label_smoothing, reduction, x.shape[1], x.dtype)
    keep = bool(state.enabled and x.requires_grad)
    return SoftmaxCrossEntropy(plan, keep)(x)


# --------------------------------------------------------------------------- log-sigmoid
class LogSigmoid(Function):
    """log sigmoid(x) = -(max(-x, 0) + log1p(exp(-|x|))), exact on both tails;
    d/dx = sigmoid(-x)."""

    __slots__ = ()

    def forward(self, x):
        xp = xp_of(x)
        out = xp.log1p(xp.exp(-xp.abs(x)))
        out += xp.maximum(-x, 0)
        return -out

    def backward(self, g):
        return (ew.mul(g, ew.sigmoid(ew.neg(self.inputs[0]))),)


def log_sigmoid(x):
    return LogSigmoid()(x)


# --------------------------------------------------------------------------- exprel family
_SERIES_TERMS = 20


def _phi(u, k):
    """phi_k(u) = int_0^1 t^k e^{ut} dt = sum_n u^n / (n! (n + k + 1)), computed in float64 on u's
    own device: the power series for |u| < 1, else the upward recurrence
    phi_0 = expm1(u)/u, phi_j = (e^u - j phi_{j-1}) / u (stable once |u| >= 1 for small j)."""
    xp = xp_of(u)
    u64 = xp.asarray(u, dtype=np.float64)
    out = xp.empty_like(u64)
    small = xp.abs(u64) < 1.0
    if bool(small.any()):
        us = u64[small]
        term = xp.ones_like(us)
        acc = term / (k + 1)
        for n in range(1, _SERIES_TERMS):
            term = term * us / n
            acc = acc + term / (n + k + 1)
        out[small] = acc
    big = ~small
    if bool(big.any()):
        ub = u64[big]
        with np.errstate(over="ignore", invalid="ignore"):
            e = xp.exp(ub)
            ph = xp.expm1(ub) / ub
            for j in range(1, k + 1):
                ph = (e - j * ph) / ub
        out[big] = ph
    return out


class Exprel(Function):
    """phi_k(u) = int_0^1 t^k e^{ut} dt (phi_0 = (e^u - 1)/u, 1 at u = 0); d/du phi_k = phi_{k+1}."""

    __slots__ = ("k",)

    def __init__(self, k):
        self.k = k

    def forward(self, u):
        xp = xp_of(u)
        if self.k == 0:  # (e^u - 1)/u in the input's dtype (expm1 keeps it accurate near 0)
            zero = u == 0
            with np.errstate(over="ignore"):
                out = xp.expm1(u) / xp.where(zero, 1, u)
            return xp.where(zero, 1, out).astype(u.dtype, copy=False)
        return _phi(u, self.k).astype(u.dtype, copy=False)

    def backward(self, g):
        return (ew.mul(g, Exprel(self.k + 1)(self.inputs[0])),)


def exprel_k(u, k=0):
    """phi_k(u) = int_0^1 t^k e^{ut} dt; ``exprel_k(u, 0)`` is (e^u - 1)/u with its limit 1 at 0."""
    return Exprel(int(k))(u)



# --------------------------------------------------------------------------- CTC
def _lse(*terms):
    m = terms[0]
    for t in terms[1:]:
        m = np.maximum(m, t)
    safe = np.where(np.isfinite(m), m, 0.0)
    total = sum(np.exp(t - safe) for t in terms)
    with np.errstate(divide="ignore"):
        return np.where(np.isfinite(m), safe + np.log(total), -np.inf)


class _CTCPlan:
    """Extended labels l' (N, 2S+1), their lengths, and which s may skip from s-2."""

    def __init__(self, targets, target_lengths, blank):
        N, S = targets.shape
        self.ext = np.full((N, 2 * S + 1), blank, dtype=np.int64)
        self.ext[:, 1::2] = targets
        self.ext_len = 2 * np.asarray(target_lengths) + 1
        prev2 = np.full_like(self.ext, -1)
        prev2[:, 2:] = self.ext[:, :-2]
        self.skip = (self.ext != blank) & (self.ext != prev2)
        self.valid = np.arange(2 * S + 1)[None, :] < self.ext_len[:, None]


def _ctc_forward_backward(lp, plan, input_lengths, need_beta):
    """log alpha (and log beta) of shape (T, N, 2S+1) and the per-sample -log p."""
    T, N, _ = lp.shape
    ext, skip, valid = plan.ext, plan.skip, plan.valid
    L = ext.shape[1]
    em = np.take_along_axis(lp, np.broadcast_to(ext[None], (T, N, L)), axis=2)  # log y_t(l'_s)
    em = np.where(valid[None], em, -np.inf)
    ninf = np.full((N, 1), -np.inf)
    alpha = np.full((T, N, L), -np.inf)
    alpha[0, :, :2] = em[0, :, :2]
    for t in range(1, T):
        a = alpha[t - 1]
        s1 = np.concatenate([ninf, a[:, :-1]], axis=1)
        s2 = np.where(skip, np.concatenate([ninf, ninf, a[:, :-2]], axis=1), -np.inf)
        alpha[t] = _lse(a, s1, s2) + em[t]
    last = input_lengths - 1
    n = np.arange(N)
    aT = alpha[last, n]
    end = plan.ext_len - 1
    nll = -_lse(aT[n, end], np.where(end >= 1, aT[n, np.maximum(end - 1, 0)], -np.inf))
    if not need_beta:
        return alpha, None, nll, em
    beta = np.full((T, N, L), -np.inf)
    for t in range(T - 1, -1, -1):
        init = np.full((N, L), -np.inf)
        init[n, end] = em[t, n, end]
        init[n, np.maximum(end - 1, 0)] = np.where(end >= 1, em[t, n, np.maximum(end - 1, 0)], init[n, 0])
        if t == T - 1:
            rec = np.full((N, L), -np.inf)
        else:
            b = beta[t + 1]
            s1 = np.concatenate([b[:, 1:], ninf], axis=1)
            nxt_skip = np.concatenate([skip[:, 2:], np.zeros((N, 2), bool)], axis=1)
            s2 = np.where(nxt_skip, np.concatenate([b[:, 2:], ninf, ninf], axis=1), -np.inf)
            rec = _lse(b, s1, s2) + em[t]
        here = (t == last)[:, None]
        beta[t] = np.where(here, init, np.where((t < last)[:, None], rec, -np.inf))
    return alpha, beta, nll, em


class CTCGrad(Function):
    """d(-log p_n)/d log_probs for every sample (T, N, C); not differentiable again."""

    __slots__ = ("plan", "input_lengths")
    saves_inputs = False

    def __init__(self, plan, input_lengths):
        self.plan, self.input_lengths = plan, input_lengths

    def forward(self, lp):
        lp64 = np.asarray(lp, dtype=np.float64)
        alpha, beta, nll, em = _ctc_forward_backward(lp64, self.plan, self.input_lengths, True)
        T, N, C = lp.shape
        with np.errstate(invalid="ignore", over="ignore"):
            occ = np.exp(alpha + beta - em + nll[None, :, None])  # (T, N, L)
        occ = np.where(np.isfinite(occ), occ, 0.0)
        onehot = np.zeros((N, self.plan.ext.shape[1], C))
        np.put_along_axis(onehot, self.plan.ext[:, :, None], 1.0, axis=2)
        onehot *= self.plan.valid[:, :, None]
        grad = -np.einsum("tns,nsc->tnc", occ, onehot)
        grad[:, ~np.isfinite(nll)] = 0.0
        return grad.astype(lp.dtype)

    def backward(self, g):
        raise RuntimeError("ctc_loss: second derivatives are not implemented")


class CTCNLL(Function):
    """Per-sample CTC negative log-likelihood (N,) of log_probs (T, N, C)."""

    __slots__ = ("plan", "input_lengths")

    def __init__(self, plan, input_lengths):
        self.plan, self.input_lengths = plan, input_lengths

    def forward(self, lp):
        _, _, nll, _ = _ctc_forward_backward(np.asarray(lp, dtype=np.float64), self.plan, self.input_lengths, False)
        return nll.astype(lp.dtype)

    def backward(self, g):
        grad = CTCGrad(self.plan, self.input_lengths)(self.inputs[0])
        return (ew.mul(grad, unsqueeze(unsqueeze(g, 0), 2)),)


def ctc_nll(log_probs, targets, input_lengths, target_lengths, blank=0):
    """-log p(target_n | log_probs[:, n]) for each n: log_probs (T, N, C), targets (N, S) padded
    class indices, input_lengths and target_lengths integer arrays of length N (checked by the caller)."""
    plan = _CTCPlan(np.asarray(targets, dtype=np.int64), np.asarray(target_lengths), int(blank))
    return CTCNLL(plan, np.asarray(input_lengths, dtype=np.int64))(log_probs)

"""Loss modules: thin :class:`~mathdl.nn.Module` wrappers around
:mod:`mathdl.nn.functional.loss` that hold ``reduction`` and weights (class weights and
``pos_weight`` are buffers, as in PyTorch, so ``to(dtype)`` and ``state_dict`` carry them).

The formula of each loss is stated in its functional form's docstring.  The one module with
parameters is :class:`AdaptiveRobustLoss`, which learns Barron's shape alpha and scale c by
minimizing the negative log-likelihood  rho(x, alpha, c) + log c + log Z(alpha).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ... import ops
from ...autograd.tensor import Tensor
from ...backend import get_default_dtype
from ...ops.losses import log_sigmoid
from ..functional import loss as L
from ._args import size_arg
from .module import _to_device, Module, Parameter

__all__ = [
    "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss",
    "BCEWithLogitsLoss", "KLDivLoss", "PoissonNLLLoss", "GaussianNLLLoss", "CosineEmbeddingLoss",
    "MarginRankingLoss", "FocalLoss", "SigmoidFocalLoss", "DistillationLoss", "RobustLoss",
    "AdaptiveRobustLoss",
    "TripletMarginLoss", "HingeEmbeddingLoss", "MultiMarginLoss", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss",
    "SoftMarginLoss", "CTCLoss", "TripletMarginWithDistanceLoss",
]


def _buffer(value):
    if value is None or isinstance(value, Tensor):
        return value
    arr = np.asarray(value)
    if arr.dtype.kind in "fiu":
        arr = arr.astype(get_default_dtype())
    return Tensor._make(arr)


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error, (input - target)^2 reduced."""

    def forward(self, input, target, weight=None):
        return L.mse_loss(input, target, reduction=self.reduction, weight=weight)


class L1Loss(_Loss):
    """Mean absolute error, |input - target| reduced."""

    def forward(self, input, target, weight=None):
        return L.l1_loss(input, target, reduction=self.reduction, weight=weight)


class SmoothL1Loss(_Loss):
    """0.5 d^2 / beta for |d| < beta, |d| - 0.5 beta otherwise."""

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input, target):
        return L.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """0.5 d^2 for |d| < delta, delta (|d| - 0.5 delta) otherwise."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target, weight=None):
        return L.huber_loss(input, target, reduction=self.reduction, delta=self.delta, weight=weight)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits with class indices or probabilities (fused, stable)."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return L.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities at integer class targets."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return L.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities."""

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))

    def forward(self, input, target):
        return L.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits, with optional ``pos_weight`` for positive examples."""

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))
        self.register_buffer("pos_weight", _buffer(pos_weight))

    def forward(self, input, target):
        return L.binary_cross_entropy_with_logits(input, target, weight=self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class KLDivLoss(_Loss):
    """KL divergence with log-probability input; reduction may be 'batchmean'."""

    def __init__(self, reduction="mean", log_target=False):
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return L.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood."""

    def __init__(self, log_input=True, full=False, eps=1e-8, reduction="mean"):
        super().__init__(reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, input, target):
        return L.poisson_nll_loss(input, target, log_input=self.log_input, full=self.full, eps=self.eps,
                                  reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood with predicted variance."""

    def __init__(self, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction)
        self.full, self.eps = full, eps

    def forward(self, input, target, var):
        return L.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """1 - cos(x1, x2) for y = 1, max(0, cos - margin) for y = -1."""

    def __init__(self, margin=0.0, reduction="mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return L.cosine_embedding_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """max(0, -y (x1 - x2) + margin)."""

    def __init__(self, margin=0.0, reduction="mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return L.margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class FocalLoss(_Loss):
    """Multi-class focal loss -alpha_t (1 - p_t)^gamma log p_t (Lin et al. 2017)."""

    def __init__(self, gamma=2.0, alpha=None, reduction="mean", ignore_index=-100):
        super().__init__(reduction)
        self.gamma = gamma
        self.ignore_index = ignore_index
        if alpha is not None and not isinstance(alpha, numbers.Real):  # per-class weights: a buffer
            self.register_buffer("alpha", _buffer(alpha))
        else:
            self.alpha = alpha

    def forward(self, input, target):
        return L.focal_loss(input, target, gamma=self.gamma, alpha=self.alpha, reduction=self.reduction,
                            ignore_index=self.ignore_index)


class SigmoidFocalLoss(_Loss):
    """Binary / multi-label focal loss on logits (torchvision's sigmoid_focal_loss)."""

    def __init__(self, alpha=0.25, gamma=2.0, reduction="mean"):
        super().__init__(reduction)
        self.alpha, self.gamma = alpha, gamma

    def forward(self, input, target):
        return L.sigmoid_focal_loss(input, target, alpha=self.alpha, gamma=self.gamma, reduction=self.reduction)


class DistillationLoss(_Loss):
    """alpha T^2 KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) CE(student, target)."""

    def __init__(self, temperature=4.0, alpha=0.5, reduction="mean", ignore_index=-100, label_smoothing=0.0):
        super().__init__(reduction)
        self.temperature, self.alpha = temperature, alpha
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, student_logits, teacher_logits, target):
        return L.distillation_loss(student_logits, teacher_logits, target, temperature=self.temperature,
                                   alpha=self.alpha, reduction=self.reduction, ignore_index=self.ignore_index,
                                   label_smoothing=self.label_smoothing)


class RobustLoss(_Loss):
    """Barron's general robust loss rho(input - target, alpha, scale) with fixed alpha and scale."""

    def __init__(self, alpha=1.0, scale=1.0, reduction="mean"):
        super().__init__(reduction)
        self.alpha, self.scale = alpha, scale

    def forward(self, input, target=None):
        return L.robust_loss(input, target, alpha=self.alpha, scale=self.scale, reduction=self.reduction)

    def extra_repr(self):
        return f"alpha={self.alpha}, scale={self.scale}, reduction={self.reduction!r}"


def _softplus(x):
    return ops.neg(log_sigmoid(ops.neg(x)))


class AdaptiveRobustLoss(_Loss):
    """Barron's adaptive robust loss: learns alpha in [alpha_lo, alpha_hi] and a scale c >= scale_lo
    per dimension (the last axis of the residual, ``num_dims`` entries) by minimizing

        nll(x) = rho(x, alpha, c) + log c + log Z(alpha)

    with alpha = alpha_lo + (alpha_hi - alpha_lo) sigmoid(latent_alpha) and
    c = softplus(latent_scale) + scale_lo (Barron's reparameterization; alpha_lo = alpha_hi
    fixes alpha).  Residuals x = input - target (or ``input``) have shape (..., num_dims).
    Defaults follow Barron's reference code: alpha in [0.001, 1.999], initialized at the middle.
    """

    def __init__(self, num_dims=1, alpha_lo=0.001, alpha_hi=1.999, alpha_init=None, scale_lo=1e-5,
                 scale_init=1.0, reduction="mean", device=None, dtype=None):
        super().__init__(reduction)
        if not 0 <= alpha_lo <= alpha_hi <= L.ALPHA_TABLE_MAX:
            raise ValueError(f"AdaptiveRobustLoss: need 0 <= alpha_lo <= alpha_hi <= {L.ALPHA_TABLE_MAX}, got "
                             f"alpha_lo={alpha_lo}, alpha_hi={alpha_hi}")
        if not 0 < scale_lo < scale_init:
            raise ValueError(f"AdaptiveRobustLoss: need 0 < scale_lo < scale_init, got scale_lo={scale_lo}, "
                             f"scale_init={scale_init}")
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.num_dims = int(num_dims)
        self.alpha_lo, self.alpha_hi, self.scale_lo = float(alpha_lo), float(alpha_hi), float(scale_lo)
        if alpha_init is None:
            alpha_init = 0.5 * (alpha_lo + alpha_hi)
        if alpha_lo == alpha_hi:
            self.latent_alpha = None
        else:
            if not alpha_lo < alpha_init < alpha_hi:
                raise ValueError(f"AdaptiveRobustLoss: alpha_init={alpha_init} must lie strictly inside "
                                 f"({alpha_lo}, {alpha_hi})")
            f = (alpha_init - alpha_lo) / (alpha_hi - alpha_lo)
            self.latent_alpha = Parameter(np.full(self.num_dims, math.log(f / (1 - f)), dtype=dt))
        v = scale_init - scale_lo
        inv_softplus = v + math.log(-math.expm1(-v))  # log(e^v - 1), stable
        self.latent_scale = Parameter(np.full(self.num_dims, inv_softplus, dtype=dt))
        _to_device(self, device)

    def alpha(self):
        """The current shape parameter(s), a tensor of shape (num_dims,)."""
        if self.latent_alpha is None:
            return Tensor._make(np.full(self.num_dims, self.alpha_lo, dtype=self.latent_scale.dtype))
        return ops.add(ops.mul(ops.sigmoid(self.latent_alpha), self.alpha_hi - self.alpha_lo), self.alpha_lo)

    def scale(self):
        """The current scale(s) c, a tensor of shape (num_dims,)."""
        return ops.add(_softplus(self.latent_scale), self.scale_lo)

    def forward(self, input, target=None):
        x = input if target is None else ops.sub(input, target)
        if x.ndim == 0 or x.shape[-1] != self.num_dims:
            raise ValueError(f"AdaptiveRobustLoss: residuals must have shape (..., {self.num_dims}) "
                             f"(num_dims={self.num_dims}), got {tuple(x.shape)}")
        return L._reduce(L.robust_nll(x, self.alpha(), self.scale()), self.reduction)

    def extra_repr(self):
        return (f"num_dims={self.num_dims}, alpha in [{self.alpha_lo}, {self.alpha_hi}], "
                f"scale_lo={self.scale_lo}, reduction={self.reduction!r}")


class TripletMarginLoss(_Loss):
    """max(0, d(a, p) - d(a, n) + margin), d the p-norm distance."""

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
        super().__init__(reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: margin must be greater than 0, got {margin}")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor, positive, negative):
        return L.triplet_margin_loss(anchor, positive, negative, self.margin, self.p, self.eps, self.swap,
                                     self.reduction)


class HingeEmbeddingLoss(_Loss):
    """x if y = 1, max(0, margin - x) if y = -1."""

    def __init__(self, margin=1.0, reduction="mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input, target):
        return L.hinge_embedding_loss(input, target, self.margin, self.reduction)


class SoftMarginLoss(_Loss):
    """log(1 + exp(-y x))."""

    def forward(self, input, target):
        return L.soft_margin_loss(input, target, self.reduction)


class MultiMarginLoss(_Loss):
    """sum_{i != y} w_y max(0, margin - x_y + x_i)^p / C (class weights are a buffer)."""

    def __init__(self, p=1, margin=1.0, weight=None, reduction="mean"):
        super().__init__(reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p = 1 and p = 2 are supported, got {p!r}")
        self.p, self.margin = p, margin
        self.register_buffer("weight", _buffer(weight))

    def forward(self, input, target):
        return L.multi_margin_loss(input, target, self.p, self.margin, self.weight, self.reduction)


class MultiLabelMarginLoss(_Loss):
    """sum_{j in Y, i not in Y} max(0, 1 - (x_j - x_i)) / C, Y the target classes before the first -1."""

    def forward(self, input, target):
        return L.multilabel_margin_loss(input, target, self.reduction)


class MultiLabelSoftMarginLoss(_Loss):
    """-mean_c w_c (y_c log s(x_c) + (1 - y_c) log s(-x_c)) (class weights are a buffer)."""

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))

    def forward(self, input, target):
        return L.multilabel_soft_margin_loss(input, target, self.weight, self.reduction)


class CTCLoss(_Loss):
    """Connectionist temporal classification: -log p(target | log_probs) summed over alignments."""

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction)
        self.blank, self.zero_infinity = size_arg("CTCLoss", "blank", blank, 0), zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return L.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
                          self.zero_infinity)


class TripletMarginWithDistanceLoss(_Loss):
    """max(0, d(a, p) - d(a, n) + margin) for a given distance function (pairwise_distance by default)."""

    def __init__(self, *, distance_function=None, margin=1.0, swap=False, reduction="mean"):
        super().__init__(reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: margin must be greater than 0, got {margin}")
        self.distance_function, self.margin, self.swap = distance_function, margin, swap

    def forward(self, anchor, positive, negative):
        return L.triplet_margin_with_distance_loss(anchor, positive, negative, distance_function=self.distance_function,
                                                   margin=self.margin, swap=self.swap, reduction=self.reduction)

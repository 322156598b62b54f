"""Closed-form second derivatives of the standard losses with respect to the network output f.

For a loss L = sum_i w_i l(f_i, y_i) over examples i (w_i = 1 for ``reduction="sum"``; for
``"mean"`` w_i = 1/B for cross-entropy, 1/(number of elements) for MSE and BCE), the output-space
Hessian H_l is block-diagonal over examples:

* MSE,  l = ||f - y||^2:                   H_l = 2 I
* cross-entropy on logits, p = softmax(f): H_l = diag(p) - p p^T
* BCE with logits, s = sigmoid(f):         H_l = diag(s (1 - s))

Each loss is the negative log-likelihood of a distribution over y (a Gaussian of variance 1/2, a
categorical, independent Bernoullis), whose score with respect to f is

    d l / d f = 2 (f - y),   p - onehot(y),   s - y

and whose Fisher E_{y ~ p(y|f)}[(dl/df)(dl/df)^T] equals H_l (canonical links).  ``sample`` draws
labels from the model's predictive distribution (the true Fisher), ``score`` gives dl/df for given
labels (the empirical Fisher with the data's labels).
"""

from __future__ import annotations

import numpy as np

from .. import backend

__all__ = ["LossCurvature", "loss_curvature"]


class LossCurvature:
    """The output-space curvature of one of the losses above (arrays in, arrays out)."""

    def __init__(self, kind: str, reduction: str):
        if kind not in ("mse", "cross_entropy", "bce_with_logits"):
            raise ValueError(f"loss curvature: unknown loss {kind!r}; expected mse, cross_entropy or bce_with_logits")
        self.kind, self.reduction = kind, reduction

    def weight(self, f):
        """w: the factor of each example's term in the batch loss."""
        if self.reduction == "sum":
            return 1.0
        if self.kind == "cross_entropy":
            return 1.0 / f.shape[0]
        return 1.0 / f.size

    def _check(self, f, y=None):
        if self.kind == "cross_entropy" and f.ndim != 2:
            raise ValueError(f"cross-entropy curvature: logits must be (batch, classes), got shape {f.shape}")
        if y is not None and self.kind != "cross_entropy" and tuple(y.shape) != tuple(f.shape):
            raise ValueError(f"{self.kind} curvature: target shape {tuple(y.shape)} differs from output {f.shape}")

    @staticmethod
    def _softmax(f):
        xp = backend.xp_of(f)
        e = xp.exp(f - f.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    @staticmethod
    def _sigmoid(f):
        xp = backend.xp_of(f)
        return 0.5 * (1.0 + xp.tanh(0.5 * f))

    def hessian_vp(self, f, y, u):
        """H_l u (with the reduction's weight) for output-space vectors u shaped like f."""
        self._check(f)
        w = self.weight(f)
        if self.kind == "mse":
            return (2.0 * w) * u
        if self.kind == "cross_entropy":
            p = self._softmax(f)
            return w * (p * u - p * (p * u).sum(axis=-1, keepdims=True))
        s = self._sigmoid(f)
        return w * (s * (1 - s)) * u

    def score(self, f, y):
        """d l_i / d f_i for the labels y (per example, without the weight)."""
        self._check(f, y)
        xp = backend.xp_of(f)
        if self.kind == "mse":
            return 2.0 * (f - y)
        if self.kind == "cross_entropy":
            p = self._softmax(f)
            idx = xp.asarray(y).astype(np.int64).reshape(-1)
            p[xp.arange(f.shape[0]), idx] -= 1
            return p
        return self._sigmoid(f) - y

    def sample_scores(self, f, rng, num_samples=1):
        """Scores d l/d f at labels drawn from the model, shape (num_samples,) + f.shape."""
        self._check(f)
        xp = backend.xp_of(f)
        fh = backend.to_device(f, "cpu").astype(np.float64)
        S = num_samples
        if self.kind == "mse":  # y ~ N(f, I/2): score 2 (f - y) = -sqrt(2) eps
            out = -np.sqrt(2.0) * rng.standard_normal((S,) + fh.shape)
        elif self.kind == "cross_entropy":
            p = self._softmax(fh)
            c = np.cumsum(p, axis=-1)
            r = rng.random((S, fh.shape[0], 1))
            labels = np.minimum((r > c[None]).sum(-1), fh.shape[1] - 1)
            out = np.broadcast_to(p, (S,) + p.shape).copy()
            out[np.arange(S)[:, None], np.arange(fh.shape[0])[None, :], labels] -= 1
        else:
            s = self._sigmoid(fh)
            yb = (rng.random((S,) + fh.shape) < s).astype(np.float64)
            out = s[None] - yb
        return xp.asarray(out.astype(f.dtype))

    def exact_fisher_vp(self, f, u):
        """E_{y ~ p(y|f)}[s s^T] u summed over the labels explicitly (cross-entropy: sum over classes
        c of p_c (p - e_c)(p - e_c)^T u), with the reduction's weight."""
        self._check(f)
        if self.kind != "cross_entropy":  # Gaussian / Bernoulli: the Fisher is H_l in closed form
            return self.hessian_vp(f, None, u)
        xp = backend.xp_of(f)
        w = self.weight(f)
        p = self._softmax(f)                                  # (B, C)
        C = f.shape[1]
        s = p[:, None, :] - xp.eye(C, dtype=f.dtype)[None]   # (B, c, C): the score for label c
        su = (s * u[:, None, :]).sum(-1)                      # (B, c)
        return w * ((p * su)[:, :, None] * s).sum(1)


def loss_curvature(loss_fn, reduction=None):
    """The LossCurvature for a loss module (MSELoss, CrossEntropyLoss, BCEWithLogitsLoss), a loss
    function (F.mse_loss, F.cross_entropy, F.binary_cross_entropy_with_logits) or a name; None if
    the loss is none of these (callers then use automatic differentiation)."""
    from .. import nn as LM
    from ..nn import functional as LF

    red = reduction or getattr(loss_fn, "reduction", None) or "mean"
    names = {"mse": "mse", "mse_loss": "mse", "cross_entropy": "cross_entropy", "ce": "cross_entropy",
             "bce_with_logits": "bce_with_logits", "binary_cross_entropy_with_logits": "bce_with_logits"}
    if isinstance(loss_fn, str):
        if loss_fn not in names:
            raise ValueError(f"unknown loss {loss_fn!r}; expected one of {sorted(names)}")
        return LossCurvature(names[loss_fn], red)
    if isinstance(loss_fn, LM.MSELoss) or loss_fn is LF.mse_loss:
        return LossCurvature("mse", red)
    if isinstance(loss_fn, LM.CrossEntropyLoss):
        plain = loss_fn.weight is None and loss_fn.label_smoothing == 0
        return LossCurvature("cross_entropy", red) if plain else None
    if loss_fn is LF.cross_entropy:
        return LossCurvature("cross_entropy", red)
    if isinstance(loss_fn, LM.BCEWithLogitsLoss):
        plain = getattr(loss_fn, "weight", None) is None and getattr(loss_fn, "pos_weight", None) is None
        return LossCurvature("bce_with_logits", red) if plain else None
    if loss_fn is LF.binary_cross_entropy_with_logits:
        return LossCurvature("bce_with_logits", red)
    return None


def loss_callable(loss_fn, reduction):
    """A callable ``(f, y) -> loss`` for ``loss_fn`` (names map to the functional losses)."""
    from ..nn import functional as LF

    if isinstance(loss_fn, str):
        fn = {"mse": LF.mse_loss, "mse_loss": LF.mse_loss, "cross_entropy": LF.cross_entropy,
              "ce": LF.cross_entropy, "bce_with_logits": LF.binary_cross_entropy_with_logits,
              "binary_cross_entropy_with_logits": LF.binary_cross_entropy_with_logits}[loss_fn]
        return lambda f, y: fn(f, y, reduction=reduction)
    if loss_fn in (LF.mse_loss, LF.cross_entropy, LF.binary_cross_entropy_with_logits):
        return lambda f, y: loss_fn(f, y, reduction=reduction)
    return loss_fn

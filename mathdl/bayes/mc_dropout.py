"""Monte-Carlo dropout (Gal & Ghahramani 2016): dropout kept on at test time is approximate
variational inference, and T stochastic passes give samples p_t(y | x) = softmax(f(x; W_t)).

With the T sampled predictive distributions p_t (each (N, C)):

    predictive mean        p̄ = (1/T) Σ_t p_t
    predictive entropy     H[p̄] = -Σ_c p̄_c log p̄_c                       (total uncertainty)
    expected entropy       E[H] = (1/T) Σ_t H[p_t]                          (aleatoric part)
    mutual information     I[y; W | x] = H[p̄] - E[H]  >= 0                  (epistemic part, BALD)

Dropout modules are switched to training mode for the passes while everything else — batch norm
above all — stays in eval mode (its running statistics, not the batch's); the modules' flags are
restored afterwards.  :func:`decompose` is shared by every sampling method (ensembles, SWAG, BBB,
Laplace by sampling).
"""

from __future__ import annotations

import contextlib

import numpy as np

__all__ = ["decompose", "dropout_modules", "mc_dropout_mode", "mc_dropout_samples", "MCDropout"]

_EPS = 1e-12


def _entropy(p):
    return -(p * np.log(np.clip(p, _EPS, None))).sum(-1)


def decompose(samples) -> dict:
    """The uncertainty decomposition of T sampled predictive distributions ``samples`` (T, N, C):
    ``mean`` (N, C), ``predictive_entropy``, ``expected_entropy``, ``mutual_information`` (N,)."""
    s = np.asarray(samples, dtype=np.float64)
    if s.ndim != 3:
        raise ValueError(f"decompose: samples must have shape (T, N, C), got {s.shape}")
    if s.shape[0] < 1:
        raise ValueError("decompose: needs at least one sample")
    if not np.isfinite(s).all() or s.min() < 0 or np.abs(s.sum(-1) - 1).max() > 1e-4:
        raise ValueError("decompose: samples must be probabilities (finite, >= 0, rows summing to 1)")
    mean = s.mean(0)
    total = _entropy(mean)
    expected = _entropy(s).mean(0)
    return {"mean": mean, "predictive_entropy": total, "expected_entropy": expected,
            "mutual_information": np.maximum(total - expected, 0.0)}


def dropout_modules(model):
    """The dropout modules of ``model`` (any class whose name contains 'Dropout')."""
    return [m for m in model.modules() if "Dropout" in type(m).__name__]


@contextlib.contextmanager
def mc_dropout_mode(model):
    """Inside: the model in eval mode except its dropout modules (training mode); flags restored."""
    drops = dropout_modules(model)
    if not drops:
        raise ValueError(f"MC dropout: {type(model).__name__} has no dropout module; build it with dropout > 0")
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    for m in drops:
        m.train()
    try:
        yield model
    finally:
        for m, t in flags:
            m.training = t


def _softmax_np(logits):
    z = logits - logits.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def _as_input(x):
    from ..autograd.tensor import Tensor

    return x if isinstance(x, Tensor) else Tensor._make(np.asarray(x, dtype=np.float32))


def mc_dropout_samples(model, x, num_samples=20, batch_size=1024) -> np.ndarray:
    """(T, N, C) softmax outputs of ``num_samples`` stochastic passes (dropout on, BN in eval)."""
    from .. import no_grad

    if not (isinstance(num_samples, int) and num_samples >= 1):
        raise ValueError(f"MC dropout: num_samples must be a positive integer, got {num_samples!r}")
    x = _as_input(x)
    out = []
    with mc_dropout_mode(model), no_grad():
        for _ in range(num_samples):
            parts = [model(x[i:i + batch_size]).numpy() for i in range(0, x.shape[0], batch_size)]
            out.append(_softmax_np(np.concatenate(parts).astype(np.float64)))
    return np.stack(out)


class MCDropout:
    """``MCDropout(model, num_samples=20)``: ``predict_proba(x)`` is the predictive mean,
    ``uncertainty(x)`` the full :func:`decompose` dictionary."""

    def __init__(self, model, num_samples=20):
        if not dropout_modules(model):
            raise ValueError(f"MCDropout: {type(model).__name__} has no dropout module; build it with dropout > 0")
        self.model, self.num_samples = model, int(num_samples)

    def uncertainty(self, x):
        return decompose(mc_dropout_samples(self.model, x, self.num_samples))

    def predict_proba(self, x):
        return self.uncertainty(x)["mean"]

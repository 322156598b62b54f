"""Random sampling ops: Bernoulli, multinomial and Poisson draws, and the in-place fills
(``uniform_``, ``normal_``, ...).  Every draw comes from a :class:`mathdl.backend.Generator`:
``generator=`` when given, else the default one that ``manual_seed`` sets.  Draws carry no
gradient (for reparameterized sampling see ``mathdl.distributions``).

  bernoulli(p):           1 with probability p, else 0
  multinomial(w, n):      n category indices drawn with probabilities w / sum(w)
                          (without replacement: successive draws renormalized; Gumbel top-k)
  poisson(rate):          k with probability rate^k e^-rate / k!
  uniform_(a, b):         U[a, b);   normal_(m, s): N(m, s^2);   exponential_(l): l e^(-l x)
  geometric_(p):          k >= 1 with probability (1 - p)^(k-1) p;   log_normal_(m, s): e^N(m, s^2)
  cauchy_(m, s):          m + s tan(pi (U - 1/2));   random_(a, b): integers in [a, b)
"""

from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor
from ..backend import generator_for, xp_of
from .inplace import assign_

__all__ = ["bernoulli", "multinomial", "poisson"]

_make = Tensor._make


def _gen(x, generator):
    return generator_for(generator, xp_of(x.array))


def bernoulli(input, p=None, *, generator=None):
    """Draws of 1 with probability ``input`` (or ``p``), 0 otherwise, in input's dtype."""
    xp = xp_of(input.array)
    probs = input.array if p is None else xp.broadcast_to(xp.asarray(p, dtype=input.dtype), input.shape)
    if probs.dtype.kind != "f":
        raise TypeError(f"bernoulli: expected floating probabilities, got dtype {probs.dtype}")
    if probs.size and not bool(((probs >= 0) & (probs <= 1)).all()):
        raise ValueError("bernoulli: probabilities must be in [0, 1]")
    u = _gen(input, generator).random(probs.shape)
    return _make((u < probs).astype(input.dtype))


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """``num_samples`` category indices per row of non-negative weights ``input`` (1-D or 2-D),
    int64.  Without replacement, no index repeats (num_samples <= number of categories)."""
    from ..backend import device_of, to_device

    w = np.asarray(to_device(input.array, "cpu"), dtype=np.float64)  # drawn on the host, then moved back
    if w.ndim not in (1, 2):
        raise ValueError(f"multinomial: expected a 1-D or 2-D tensor of weights, got shape {tuple(w.shape)}")
    if w.size and (w.min() < 0 or not np.isfinite(w).all()):
        raise ValueError("multinomial: weights must be non-negative and finite")
    rows = w.reshape(-1, w.shape[-1])
    n = rows.shape[1]
    if (rows.sum(axis=1) <= 0).any():
        raise ValueError("multinomial: each row of weights must have a positive sum")
    if not replacement and num_samples > n:
        raise ValueError(f"multinomial: cannot draw {num_samples} samples without replacement from {n} categories")
    if num_samples <= 0:
        raise ValueError(f"multinomial: num_samples must be positive, got {num_samples}")
    g = generator_for(generator, np)
    p = rows / rows.sum(axis=1, keepdims=True)
    if replacement:
        cdf = np.cumsum(p, axis=1)
        cdf[:, -1] = 1.0
        u = g.random((rows.shape[0], num_samples))
        out = np.stack([np.searchsorted(cdf[i], u[i], side="right") for i in range(rows.shape[0])])
        out = np.minimum(out, n - 1)
    else:  # Gumbel top-k: the k largest of log p + Gumbel noise are a draw without replacement
        with np.errstate(divide="ignore"):
            keys = np.log(p) - np.log(-np.log(g.random(p.shape)))
        out = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    out = out.astype(np.int64).reshape(w.shape[:-1] + (num_samples,))
    return _make(to_device(out, device_of(input.array)))


def poisson(input, generator=None):
    """Poisson draws with rates ``input`` (non-negative), in input's dtype."""
    rate = input.array
    if rate.size and not bool((rate >= 0).all()):
        raise ValueError("poisson: rates must be non-negative")
    return _make(_gen(input, generator).poisson(rate).astype(input.dtype))


# --------------------------------------------------------------------------- in-place fills
def _floating(x, name):
    if x.array.dtype.kind != "f" and x.array.dtype.name != "bfloat16":
        raise TypeError(f"{name}: expected a floating tensor, got dtype {x.dtype}")


def uniform_(x, from_=0.0, to=1.0, *, generator=None):
    """Fill x with draws from U[from_, to)."""
    _floating(x, "uniform_")
    if from_ > to:
        raise ValueError(f"uniform_: expects from <= to, got from={from_}, to={to}")
    u = _gen(x, generator).random(x.shape)
    return assign_(x, _make((from_ + (to - from_) * u).astype(x.dtype)))


def normal_(x, mean=0.0, std=1.0, *, generator=None):
    """Fill x with draws from N(mean, std^2)."""
    _floating(x, "normal_")
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    return assign_(x, _make(_gen(x, generator).normal(mean, std, x.shape).astype(x.dtype)))


def bernoulli_(x, p=0.5, *, generator=None):
    """Fill x with 1 with probability p (a number or a tensor), else 0."""
    probs = p.array if isinstance(p, Tensor) else float(p)
    if not bool(((probs >= 0) & (probs <= 1)).all() if isinstance(p, Tensor) else 0 <= probs <= 1):
        raise ValueError("bernoulli_: probabilities must be in [0, 1]")
    u = _gen(x, generator).random(x.shape)
    return assign_(x, _make((u < probs).astype(x.dtype)))


def exponential_(x, lambd=1.0, *, generator=None):
    """Fill x with draws of density lambd e^(-lambd x)."""
    _floating(x, "exponential_")
    if lambd <= 0:
        raise ValueError(f"exponential_: lambd must be positive, got {lambd}")
    return assign_(x, _make((_gen(x, generator).exponential(1.0 / lambd, x.shape)).astype(x.dtype)))


def geometric_(x, p, *, generator=None):
    """Fill x with the number of Bernoulli(p) trials up to the first success (k >= 1)."""
    if not 0 < p <= 1:
        raise ValueError(f"geometric_: p must be in (0, 1], got {p}")
    return assign_(x, _make(_gen(x, generator).geometric(p, x.shape).astype(x.dtype)))


def log_normal_(x, mean=1.0, std=2.0, *, generator=None):
    """Fill x with exp of draws from N(mean, std^2)."""
    _floating(x, "log_normal_")
    if std <= 0:
        raise ValueError(f"log_normal_: std must be positive, got {std}")
    return assign_(x, _make(_gen(x, generator).lognormal(mean, std, x.shape).astype(x.dtype)))


def cauchy_(x, median=0.0, sigma=1.0, *, generator=None):
    """Fill x with draws from the Cauchy distribution (median, sigma)."""
    _floating(x, "cauchy_")
    u = _gen(x, generator).random(x.shape)
    return assign_(x, _make((median + sigma * xp_of(u).tan(np.pi * (u - 0.5))).astype(x.dtype)))


def random_(x, from_=0, to=None, *, generator=None):
    """Fill x with integers drawn uniformly from [from_, to) (``random_(to)``: [0, to); no
    bounds: [0, 2^mantissa] for floats, the dtype's range for integers)."""
    if to is None:
        if from_ == 0:
            dt = x.dtype
            to = (2 ** (np.finfo(dt).nmant + 1) + 1) if dt.kind == "f" else (
                2 if dt.kind == "b" else int(np.iinfo(dt).max) + 1)
        else:
            from_, to = 0, from_
    if to <= from_:
        raise ValueError(f"random_: expects from < to, got from={from_}, to={to}")
    vals = _gen(x, generator).integers(from_, to, x.shape, dtype=np.int64)
    return assign_(x, _make(vals.astype(x.dtype)))

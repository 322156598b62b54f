"""Low-rank layers by the truncated SVD.

A Linear layer y = x W^T + b with W (out, in) = U S V^T is replaced by two layers

    x  ->  x V_r            (Linear(in, r, bias=False), weight V_r^T)
       ->  (x V_r)(U_r S_r)^T + b   (Linear(r, out), weight U_r S_r)

which cost r (in + out) (+ out) parameters instead of in * out (+ out).  By Eckart-Young the
rank-r truncation is the best rank-r approximation in the Frobenius (and spectral) norm:
||W - U_r S_r V_r^T||_F = sqrt(sum_{i > r} s_i^2).  The retained energy is
sum_{i <= r} s_i^2 / sum_i s_i^2.

The rank is chosen per layer by ``rank`` (an int), ``energy`` (the smallest r retaining that
fraction of sum s^2) or ``params`` (the largest r whose factorized layer has at most that many
parameters; a float in (0, 1] is a fraction of the layer's own count).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np

from .. import nn

__all__ = ["LowRankLinear", "LayerReport", "choose_rank", "svd_compress"]


class LowRankLinear(nn.Sequential):
    """x -> (x V_r) (U_r S_r)^T + b as two Linear layers: ``[0]`` Linear(in, r, bias=False) and
    ``[1]`` Linear(r, out, bias)."""

    def __init__(self, in_features, out_features, rank, bias=True, dtype=None):
        super().__init__(nn.Linear(in_features, rank, bias=False, dtype=dtype),
                         nn.Linear(rank, out_features, bias=bias, dtype=dtype))
        self.in_features, self.out_features, self.rank = int(in_features), int(out_features), int(rank)

    @classmethod
    def from_linear(cls, linear, rank, factors=None):
        """The rank-``rank`` truncated SVD of ``linear`` (the Eckart-Young optimum); ``factors``:
        its (U, S, Vh) if already computed."""
        import mathdl as md
        import mathdl.linalg as mla

        W = linear.weight.detach()
        out_f, in_f = W.shape
        if not 1 <= rank <= min(out_f, in_f):
            raise ValueError(f"LowRankLinear: rank must be in [1, {min(out_f, in_f)}] for a {in_f}->{out_f} layer, "
                             f"got {rank}")
        U, S, Vh = factors if factors is not None else mla.svd(W, full_matrices=False)
        new = cls(in_f, out_f, rank, bias=linear.bias is not None, dtype=W.dtype)
        with md.no_grad():
            new[0].weight.copy_(Vh[:rank])
            new[1].weight.copy_(U[:, :rank] * S[:rank])
            if linear.bias is not None:
                new[1].bias.copy_(linear.bias.detach())
        return new


def choose_rank(S, in_features, out_features, rank=None, energy=None, params=None, bias=True):
    """The rank for singular values ``S`` (descending, a NumPy array) under one of the three rules."""
    given = [k for k, v in (("rank", rank), ("energy", energy), ("params", params)) if v is not None]
    if len(given) != 1:
        raise ValueError(f"svd_compress: give exactly one of rank=, energy=, params= (got {given or 'none'})")
    kmax = len(S)
    if rank is not None:
        if int(rank) < 1:
            raise ValueError(f"svd_compress: rank must be >= 1, got {rank}")
        return min(int(rank), kmax)
    if energy is not None:
        if not 0 < energy <= 1:
            raise ValueError(f"svd_compress: energy must be in (0, 1], got {energy}")
        cum = np.cumsum(S ** 2) / max(float((S ** 2).sum()), 1e-300)
        return int(min(kmax, np.searchsorted(cum, energy - 1e-12) + 1))
    budget = params * (in_features * out_features + out_features * bias) if params <= 1 else params
    r = int((budget - out_features * bias) // (in_features + out_features))
    if r < 1:
        raise ValueError(f"svd_compress: a budget of {budget:g} parameters is below rank 1 for a "
                         f"{in_features}->{out_features} layer ({in_features + out_features + out_features * bias})")
    return min(r, kmax)


@dataclass
class LayerReport:
    name: str
    rank: int
    params_before: int
    params_after: int
    energy: float          # retained fraction of sum s_i^2
    error: float           # ||W - W_r||_F / ||W||_F
    ms_before: float       # one forward pass of a batch, milliseconds
    ms_after: float


def _forward_ms(module, in_features, batch, dtype, repeats=5):
    import mathdl as md

    x = md.tensor(np.random.default_rng(0).standard_normal((batch, in_features)).astype(dtype))
    with md.no_grad():
        module(x)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            module(x)
            times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def _set_submodule(model, name, new):
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def svd_compress(model, rank=None, energy=None, params=None, layers=None, inplace=False, only_if_smaller=True,
                 timing_batch=256):
    """Replace Linear layers of ``model`` by rank-r factorizations (see the module docstring).

    ``layers``: names of the Linear modules to replace (default: every Linear).  With
    ``only_if_smaller`` a layer is kept when the factorization would not save parameters.
    Returns ``(model, reports)``: the compressed model (a copy unless ``inplace``) and one
    :class:`LayerReport` per replaced layer."""
    import mathdl.linalg as mla

    model = model if inplace else copy.deepcopy(model)
    linears = {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    if layers is not None:
        missing = [n for n in layers if n not in linears]
        if missing:
            raise ValueError(f"svd_compress: no Linear layer named {missing}; the Linear layers are {sorted(linears)}")
        linears = {n: linears[n] for n in layers}
    reports = []
    for name, lin in linears.items():
        W = lin.weight.detach()
        factors = mla.svd(W, full_matrices=False)
        S = factors[1].numpy().astype(np.float64)
        out_f, in_f = W.shape
        bias = lin.bias is not None
        r = choose_rank(S, in_f, out_f, rank, energy, params, bias)
        before = in_f * out_f + out_f * bias
        after = r * (in_f + out_f) + out_f * bias
        if only_if_smaller and after >= before:
            continue
        new = LowRankLinear.from_linear(lin, r, factors)
        total = float((S ** 2).sum()) or 1.0
        reports.append(LayerReport(
            name, r, before, after, float((S[:r] ** 2).sum() / total), float(np.sqrt((S[r:] ** 2).sum() / total)),
            _forward_ms(lin, in_f, timing_batch, W.dtype), _forward_ms(new, in_f, timing_batch, W.dtype)))
        _set_submodule(model, name, new)
    return model, reports

"""Tensor trains (Oseledets 2011) and tensor-train layers (Novikov et al. 2015).

A d-way tensor T (n_1 x ... x n_d) in TT format is a chain of cores G_k (r_{k-1}, n_k, r_k),
r_0 = r_d = 1:  T[i_1, ..., i_d] = G_1[:, i_1, :] G_2[:, i_2, :] ... G_d[:, i_d, :].

TT-SVD: sweep left to right, reshaping the remainder to (r_{k-1} n_k, rest) and truncating its
SVD at the smallest rank whose discarded tail has norm <= delta = eps ||T||_F / sqrt(d - 1).
Each step's error is <= delta and the errors are orthogonal, so ||T - TT||_F <= eps ||T||_F
(Oseledets 2011, Theorem 2.2).  ``max_rank`` caps every r_k (the bound then no longer holds).

TTLinear: W (out, in) with in = prod in_modes, out = prod out_modes seen as the tensor
W[(o_1..o_d), (i_1..i_d)] = prod_k G_k[:, i_k, o_k, :] (cores (r_{k-1}, in_k, out_k, r_k)).  The
forward pass contracts x (B, i_1, ..., i_d) with one core at a time,
    state (B, P, r_{k-1}, i_k, Q)  x  G_k (r_{k-1}, i_k, o_k, r_k)  ->  (B, P o_k, r_k, Q)
(P: the output modes done, Q: the input modes left) as one GEMM (B P Q, r_{k-1} i_k) x
(r_{k-1} i_k, o_k r_k) between two transposes, so the dense matrix is never formed:
cost sum_k B prod(o_<=k) r_{k-1} i_k o_k r_k prod(i_>k) instead of B in out.

TTEmbedding: the rows of an embedding table (V = prod voc_modes, D = prod emb_modes) in the
same format; a lookup multiplies the cores' slices G_k[:, v_k, :, :] for the mixed-radix digits
v_k of the index.
"""

from __future__ import annotations

import math

import numpy as np

from .. import nn

__all__ = ["tt_svd", "tt_to_full", "TTLinear", "TTEmbedding"]


def _svd(a):
    import mathdl as md
    import mathdl.linalg as mla

    U, S, Vh = mla.svd(md.tensor(a), full_matrices=False)
    return U.numpy(), S.numpy(), Vh.numpy()


def tt_svd(T, eps=None, max_rank=None):
    """The TT cores of the array ``T`` with relative error <= ``eps`` (see the module docstring);
    exact (up to rounding) with neither ``eps`` nor ``max_rank``."""
    T = np.asarray(T)
    if T.ndim < 1:
        raise ValueError("tt_svd: expected an array with at least one axis")
    if eps is not None and eps < 0:
        raise ValueError(f"tt_svd: eps must be >= 0, got {eps}")
    d, shape = T.ndim, T.shape
    delta = (eps or 0.0) * float(np.linalg.norm(T)) / math.sqrt(max(d - 1, 1))
    cores, r, rest = [], 1, T
    for k in range(d - 1):
        M = rest.reshape(r * shape[k], -1)
        U, S, Vh = _svd(M)
        tail = np.sqrt(np.cumsum((S ** 2)[::-1]))[::-1]   # tail[j] = ||S[j:]||
        keep = int(np.sum(tail > delta)) if delta > 0 else int(np.sum(S > 0)) or 1
        keep = max(1, keep)
        if max_rank is not None:
            keep = min(keep, int(max_rank))
        cores.append(U[:, :keep].reshape(r, shape[k], keep))
        rest = S[:keep, None] * Vh[:keep]
        r = keep
    cores.append(rest.reshape(r, shape[-1], 1))
    return cores


def tt_to_full(cores):
    """The full array of a list of TT cores (r_{k-1}, n_k, r_k) (for tests and small tensors)."""
    out = np.asarray(cores[0])
    for G in cores[1:]:
        out = np.tensordot(out, np.asarray(G), axes=(-1, 0))
    return out.reshape(out.shape[1:-1])


def _ranks(ranks, d):
    if isinstance(ranks, int):
        return [1] + [ranks] * (d - 1) + [1]
    ranks = [int(r) for r in ranks]
    if len(ranks) == d - 1:
        ranks = [1] + ranks + [1]
    if len(ranks) != d + 1 or ranks[0] != 1 or ranks[-1] != 1:
        raise ValueError(f"TT ranks: expected an int or {d - 1} inner ranks, got {ranks}")
    return ranks


class TTLinear(nn.Module):
    """y = x W^T + b with W in TT format (never materialized in ``forward``).

    ``in_modes``/``out_modes`` factor in_features/out_features (same length d); ``ranks`` is an int
    or the d - 1 inner TT ranks.  Random initialization gives W entries of variance ~ 1/in_features."""

    def __init__(self, in_modes, out_modes, ranks, bias=True, dtype=None):
        super().__init__()
        import mathdl as md

        self.in_modes, self.out_modes = [int(m) for m in in_modes], [int(m) for m in out_modes]
        if len(self.in_modes) != len(self.out_modes) or not self.in_modes:
            raise ValueError(f"TTLinear: in_modes {in_modes} and out_modes {out_modes} must have the same length >= 1")
        d = len(self.in_modes)
        self.ranks = _ranks(ranks, d)
        self.in_features, self.out_features = math.prod(self.in_modes), math.prod(self.out_modes)
        dtype = dtype or md.get_default_dtype()
        # entry variance of W = prod_k (std_k^2) * prod_{inner} r_k  ->  1 / in_features
        inner = math.prod(self.ranks[1:-1])
        std = (1.0 / (self.in_features * inner)) ** (1.0 / (2 * d))
        rng = np.random.default_rng(int(md.randint(0, 2 ** 31 - 1, (1,)).item()))
        self.cores = nn.ParameterList([
            nn.Parameter(md.tensor((rng.standard_normal((self.ranks[k], self.in_modes[k], self.out_modes[k],
                                                          self.ranks[k + 1])) * std).astype(dtype)))
            for k in range(d)])
        if bias:
            bound = 1 / math.sqrt(self.in_features)
            self.bias = nn.Parameter(md.tensor(rng.uniform(-bound, bound, self.out_features).astype(dtype)))
        else:
            self.register_parameter("bias", None)

    @classmethod
    def from_linear(cls, linear, in_modes, out_modes, eps=None, max_rank=None):
        """TT-SVD of a dense layer's weight (relative Frobenius error <= eps when max_rank is None)."""
        import mathdl as md

        W = linear.weight.detach().numpy()
        in_modes, out_modes = [int(m) for m in in_modes], [int(m) for m in out_modes]
        if math.prod(in_modes) != W.shape[1] or math.prod(out_modes) != W.shape[0]:
            raise ValueError(f"TTLinear.from_linear: modes {in_modes} x {out_modes} do not factor the weight "
                             f"{tuple(W.shape)} (in, out = {W.shape[1]}, {W.shape[0]})")
        d = len(in_modes)
        # W[(o), (i)] -> tensor (i_1, o_1, i_2, o_2, ...) -> TT over the merged modes (i_k o_k)
        T = W.reshape(out_modes + in_modes)
        T = T.transpose([a for k in range(d) for a in (d + k, k)]).reshape([i * o for i, o in zip(in_modes, out_modes)])
        cores = tt_svd(T, eps=eps, max_rank=max_rank)
        ranks = [1] + [c.shape[-1] for c in cores]
        layer = cls(in_modes, out_modes, ranks[1:-1] if d > 1 else 1, bias=linear.bias is not None, dtype=W.dtype)
        with md.no_grad():
            for p, c, i, o in zip(layer.cores, cores, in_modes, out_modes):
                p.copy_(md.tensor(c.reshape(c.shape[0], i, o, c.shape[-1]).astype(W.dtype)))
            if linear.bias is not None:
                layer.bias.copy_(linear.bias.detach())
        return layer

    def forward(self, x):
        import mathdl as md

        if x.shape[-1] != self.in_features:
            raise ValueError(f"TTLinear: expected {self.in_features} input features, got shape {tuple(x.shape)}")
        lead = tuple(x.shape[:-1])
        B = math.prod(lead)
        P, Q = 1, self.in_features
        state = x.reshape(B, 1, 1, Q)        # (B, P, r_0, Q)
        for G, i, o, r0, r1 in zip(self.cores, self.in_modes, self.out_modes, self.ranks[:-1], self.ranks[1:]):
            Q //= i
            # (B, P, r0, i, Q) -> (B P Q, r0 i) @ (r0 i, o r1) -> (B, P, Q, o, r1) -> (B, P o, r1, Q): one GEMM
            rows = md.permute(state.reshape(B, P, r0, i, Q), (0, 1, 4, 2, 3)).reshape(B * P * Q, r0 * i)
            out = rows @ G.reshape(r0 * i, o * r1)
            state = md.permute(out.reshape(B, P, Q, o, r1), (0, 1, 3, 4, 2))
            P *= o
            state = state.reshape(B, P, r1, Q)
        y = state.reshape(*lead, self.out_features)
        return y + self.bias if self.bias is not None else y

    def to_dense(self):
        """The full weight (out, in), for tests only (this is what ``forward`` avoids)."""
        d = len(self.in_modes)
        T = tt_to_full([c.detach().numpy().reshape(c.shape[0], -1, c.shape[-1]) for c in self.cores])
        T = T.reshape([a for i, o in zip(self.in_modes, self.out_modes) for a in (i, o)])
        T = T.transpose([2 * k + 1 for k in range(d)] + [2 * k for k in range(d)])
        return T.reshape(self.out_features, self.in_features)

    def extra_repr(self):
        return f"in_modes={self.in_modes}, out_modes={self.out_modes}, ranks={self.ranks}, bias={self.bias is not None}"


class TTEmbedding(nn.Module):
    """An embedding table (num_embeddings, embedding_dim) in TT format: cores
    (r_{k-1}, voc_k, emb_k, r_k) with prod voc_modes >= num_embeddings, prod emb_modes = embedding_dim."""

    def __init__(self, num_embeddings, embedding_dim, voc_modes, emb_modes, ranks, dtype=None):
        super().__init__()
        import mathdl as md

        self.voc_modes, self.emb_modes = [int(m) for m in voc_modes], [int(m) for m in emb_modes]
        if len(self.voc_modes) != len(self.emb_modes):
            raise ValueError("TTEmbedding: voc_modes and emb_modes must have the same length")
        if math.prod(self.voc_modes) < num_embeddings or math.prod(self.emb_modes) != embedding_dim:
            raise ValueError(f"TTEmbedding: prod(voc_modes) = {math.prod(self.voc_modes)} must be >= num_embeddings = "
                             f"{num_embeddings} and prod(emb_modes) = {math.prod(self.emb_modes)} must equal "
                             f"embedding_dim = {embedding_dim}")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        d = len(self.voc_modes)
        self.ranks = _ranks(ranks, d)
        dtype = dtype or md.get_default_dtype()
        inner = math.prod(self.ranks[1:-1])
        std = (1.0 / inner) ** (1.0 / (2 * d))      # entries of the table ~ N(0, 1) in variance, as nn.Embedding
        rng = np.random.default_rng(int(md.randint(0, 2 ** 31 - 1, (1,)).item()))
        self.cores = nn.ParameterList([
            nn.Parameter(md.tensor((rng.standard_normal((self.ranks[k], self.voc_modes[k], self.emb_modes[k],
                                                          self.ranks[k + 1])) * std).astype(dtype)))
            for k in range(d)])

    def forward(self, indices):
        import mathdl as md

        idx = np.asarray(indices.numpy() if hasattr(indices, "numpy") else indices)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            raise IndexError(f"TTEmbedding: indices must be in [0, {self.num_embeddings}), got range "
                             f"[{idx.min()}, {idx.max()}]")
        flat = idx.reshape(-1)
        digits, rem = [], flat.copy()
        for m in reversed(self.voc_modes):      # mixed radix, the last mode fastest
            digits.append(rem % m)
            rem //= m
        digits.reverse()
        N = flat.size
        state, P = None, 1
        for G, v, o, r1 in zip(self.cores, digits, self.emb_modes, self.ranks[1:]):
            sl = md.permute(md.index_select(G, 1, md.tensor(v)), (1, 0, 2, 3))   # (N, r0, o, r1)
            if state is None:
                state = sl.reshape(N, o, r1)
            else:
                state = md.einsum("npr,nros->npos", state, sl).reshape(N, P * o, r1)
            P *= o
        return state.reshape(*idx.shape, self.embedding_dim)

    def extra_repr(self):
        return (f"{self.num_embeddings}, {self.embedding_dim}, voc_modes={self.voc_modes}, "
                f"emb_modes={self.emb_modes}, ranks={self.ranks}")

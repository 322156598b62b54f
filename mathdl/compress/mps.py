"""A matrix-product-state classifier (Stoudenmire & Schwab, "Supervised learning with tensor
networks", 2016), trained by gradient descent.

Each input value x_j in [0, 1] is mapped to a local 2-vector phi(x_j) = (cos(pi x_j / 2),
sin(pi x_j / 2)); the input is the product state Phi(x) = phi(x_1) (x) ... (x) phi(x_N), a vector of
dimension 2^N never formed.  The weights form an MPS with site tensors A_j (D, 2, D) (bond
dimension D, the capacity knob) and a label tensor W (D, C) on the last bond, so that

    f_c(x) = b^T M_1 M_2 ... M_N W[:, c],   M_j = sum_s phi_s(x_j) A_j[:, s, :],   b = e_1,

the product taken as a balanced tree of batched (D x D) matmuls: log2 N levels instead of N
sequential steps (same result, far fewer Python-level ops).  Products of N matrices drift in
scale, so every partial product is rescaled to unit Frobenius norm, and the final vector to unit
norm (positive per-example factors: the predicted class is unchanged; a learnable scalar
temperature sets the logits' scale).  Sites start as the identity plus
noise (Efthymiou et al. 2019), so that a fresh MPS passes its boundary vector through.

Parameters: N * 2 * D^2 + D * C + 1.
"""

from __future__ import annotations

import math

import numpy as np

from .. import nn

__all__ = ["MPSClassifier", "local_feature_map"]


def local_feature_map(x):
    """(..., N) in [0, 1] -> (..., N, 2): (cos(pi x / 2), sin(pi x / 2))."""
    import mathdl as md

    a = x * (math.pi / 2)
    return md.stack([md.cos(a), md.sin(a)], -1)


class MPSClassifier(nn.Module):
    """f(x) = logits of the MPS contraction described in the module docstring.

    ``n_sites``: number of input values (pixels, after flattening); ``bond_dim``: D;
    ``squash``: map the inputs through a sigmoid first (for standardized inputs not in [0, 1])."""

    def __init__(self, n_sites, num_classes, bond_dim=10, init_std=1e-2, squash=False, dtype=None):
        super().__init__()
        import mathdl as md

        if bond_dim < 1 or n_sites < 1:
            raise ValueError(f"MPSClassifier: bond_dim and n_sites must be >= 1, got {bond_dim}, {n_sites}")
        self.n_sites, self.num_classes, self.bond_dim = int(n_sites), int(num_classes), int(bond_dim)
        self.squash = bool(squash)
        dtype = dtype or md.get_default_dtype()
        D = self.bond_dim
        rng = np.random.default_rng(int(md.randint(0, 2 ** 31 - 1, (1,)).item()))
        eye = np.eye(D)[None, :, None, :] / math.sqrt(2)     # sum_s phi_s A[:, s, :] ~ I
        sites = np.repeat(eye, self.n_sites, 0).repeat(2, 2) + rng.standard_normal((self.n_sites, D, 2, D)) * init_std
        self.sites = nn.Parameter(md.tensor(sites.astype(dtype)))                 # (N, D, 2, D)
        self.label = nn.Parameter(md.tensor((rng.standard_normal((D, self.num_classes)) / math.sqrt(D)).astype(dtype)))
        self.log_scale = nn.Parameter(md.tensor(np.asarray(math.log(4.0), dtype=dtype)))

    def forward(self, x):
        import mathdl as md

        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.n_sites:
            raise ValueError(f"MPSClassifier: expected {self.n_sites} input values per example, got shape "
                             f"{tuple(x.shape)}")
        if self.squash:
            x = md.sigmoid(x)
        phi = local_feature_map(x)                                          # (B, N, 2)
        N = self.n_sites
        # M_j = sum_s phi_s(x_j) A_j[:, s, :] for every example and site: (B, N, D, D)
        M = md.einsum("bns,ndse->bnde", phi, self.sites)
        # the product M_1 ... M_N as a balanced tree of batched matmuls (log2 N levels), each
        # matrix rescaled to unit Frobenius norm (a positive per-example factor)
        while N > 1:
            M = M / md.sqrt((M * M).sum((-2, -1), keepdim=True) + 1e-30)
            half = N // 2
            pairs = M[:, 0:2 * half:2] @ M[:, 1:2 * half:2]
            M = md.cat([pairs, M[:, N - 1:]], 1) if N % 2 else pairs
            N = M.shape[1]
        v = M[:, 0, 0, :]                                                   # b^T M_1 ... M_N, b = e_1
        v = v / md.sqrt((v * v).sum(-1, keepdim=True) + 1e-30)
        return (v @ self.label) * md.exp(self.log_scale)

    def extra_repr(self):
        return f"n_sites={self.n_sites}, num_classes={self.num_classes}, bond_dim={self.bond_dim}"

"""TT-SVD error bound, TTLinear (from a dense layer and random), TTEmbedding; tensorly as an oracle."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl as md
from mathdl import nn
from mathdl.compress import TTEmbedding, TTLinear, tt_svd, tt_to_full


def test_tt_svd_exact_and_error_bound():
    rng = np.random.default_rng(0)
    T = rng.standard_normal((4, 5, 6, 3))
    cores = tt_svd(T)
    np.testing.assert_allclose(tt_to_full(cores), T, atol=1e-12)
    # a tensor of low TT rank plus noise: every eps keeps ||T - TT|| <= eps ||T||
    low = tt_to_full([rng.standard_normal(s) for s in [(1, 4, 2), (2, 5, 2), (2, 6, 2), (2, 3, 1)]])
    noisy = low + 1e-2 * rng.standard_normal(low.shape)
    for eps in (0.5, 0.1, 0.05, 0.01):
        cores = tt_svd(noisy, eps=eps)
        err = np.linalg.norm(tt_to_full(cores) - noisy) / np.linalg.norm(noisy)
        assert err <= eps + 1e-12
    assert max(c.shape[-1] for c in tt_svd(noisy, eps=0.1)) == 2   # finds the true ranks
    assert max(c.shape[-1] for c in tt_svd(T, max_rank=2)) <= 2


def test_tt_svd_matches_tensorly():
    tl = pytest.importorskip("tensorly")
    from tensorly.decomposition import tensor_train

    rng = np.random.default_rng(1)
    T = rng.standard_normal((3, 4, 5))
    ours = tt_to_full(tt_svd(T, max_rank=3))
    theirs = tl.tt_to_tensor(tensor_train(T, rank=[1, 3, 3, 1]))
    assert np.linalg.norm(ours - T) == pytest.approx(np.linalg.norm(theirs - T), rel=1e-6)


def test_ttlinear_from_dense_is_exact_at_full_rank_and_bounded_below():
    md.manual_seed(0)
    lin = nn.Linear(12, 20, dtype=md.float64)
    tt = TTLinear.from_linear(lin, [3, 4], [4, 5])
    x = md.randn(7, 12, dtype=md.float64)
    np.testing.assert_allclose(tt(x).numpy(), lin(x).numpy(), atol=1e-10)
    W = lin.weight.detach().numpy()
    tt2 = TTLinear.from_linear(nn.Linear(24, 27, dtype=md.float64), [2, 3, 4], [3, 3, 3], eps=0.3)
    assert tt2.to_dense().shape == (27, 24)
    small = TTLinear.from_linear(lin, [3, 4], [4, 5], eps=0.4)
    assert np.linalg.norm(small.to_dense() - W) <= 0.4 * np.linalg.norm(W) + 1e-12
    assert sum(p.numel() for p in small.cores) < W.size


def test_ttlinear_forward_equals_dense_product_and_is_differentiable():
    md.manual_seed(1)
    layer = TTLinear([2, 3, 4], [3, 2, 2], ranks=[3, 2], dtype=md.float64)
    x = md.randn(2, 5, 24, dtype=md.float64)
    want = x.numpy() @ layer.to_dense().T + layer.bias.detach().numpy()
    np.testing.assert_allclose(layer(x).numpy(), want, atol=1e-12)
    params = list(layer.cores)
    x = md.randn(2, 24, dtype=md.float64)   # gradcheck perturbs the parameters themselves
    assert md.gradcheck(lambda *cores: layer(x), params, atol=1e-6, rtol=1e-4)
    # initialization: W entries of variance ~ 1 / in_features
    big = TTLinear([8, 8, 8], [8, 8, 8], ranks=4)
    assert 0.5 < big.to_dense().var() * 512 < 2.0


def test_ttembedding_rows_match_the_full_table():
    md.manual_seed(2)
    emb = TTEmbedding(50, 12, [5, 10], [3, 4], ranks=3, dtype=md.float64)
    full = tt_to_full([c.detach().numpy().reshape(c.shape[0], -1, c.shape[-1]) for c in emb.cores])
    table = full.reshape(5, 3, 10, 4).transpose(0, 2, 1, 3).reshape(50, 12)
    idx = md.tensor(np.array([[0, 7], [49, 13]]))
    np.testing.assert_allclose(emb(idx).numpy(), table[idx.numpy()], atol=1e-12)
    emb(idx).sum().backward()
    assert all(c.grad is not None for c in emb.cores)
    with pytest.raises(IndexError, match="indices"):
        emb(md.tensor(np.array([50])))


def test_bad_modes_are_named():
    with pytest.raises(ValueError, match="same length"):
        TTLinear([2, 3], [6], 2)
    with pytest.raises(ValueError, match="do not factor"):
        TTLinear.from_linear(nn.Linear(12, 20), [3, 5], [4, 5])
    with pytest.raises(ValueError, match="embedding_dim"):
        TTEmbedding(10, 12, [2, 5], [3, 3], 2)

"""Tucker (HOSVD + HOOI) and CP (ALS) decompositions, and their conv2d sequences; tensorly is the
oracle for the decompositions."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl as md
from mathdl import nn
from mathdl.compress.tucker import (
    cp_als, cp_conv2d, cp_to_full, energy_rank, hosvd, mode_product, tucker, tucker_compress, tucker_conv2d,
    tucker_to_full, unfold,
)


def _low_multilinear_rank(rng, shape, ranks):
    T = rng.standard_normal(ranks)
    for m, n in enumerate(shape):
        T = mode_product(T, np.linalg.qr(rng.standard_normal((n, ranks[m])))[0], m)
    return T


def test_tucker_recovers_exact_low_rank_and_hooi_improves_on_hosvd():
    rng = np.random.default_rng(0)
    T = _low_multilinear_rank(rng, (6, 7, 5), (2, 3, 2))
    core, factors = tucker(T, [2, 3, 2])
    np.testing.assert_allclose(tucker_to_full(core, factors, [0, 1, 2]), T, atol=1e-10)
    noisy = T + 0.3 * rng.standard_normal(T.shape)
    c0, f0 = hosvd(noisy, [2, 2, 2])
    c1, f1 = tucker(noisy, [2, 2, 2], n_iter=20)
    e0 = np.linalg.norm(noisy - tucker_to_full(c0, f0, [0, 1, 2]))
    e1 = np.linalg.norm(noisy - tucker_to_full(c1, f1, [0, 1, 2]))
    assert e1 <= e0 + 1e-12
    for U in f1:
        np.testing.assert_allclose(U.T @ U, np.eye(U.shape[1]), atol=1e-10)


def test_tucker_matches_tensorly():
    tl = pytest.importorskip("tensorly")
    from tensorly.decomposition import tucker as tl_tucker

    rng = np.random.default_rng(1)
    T = rng.standard_normal((5, 6, 4))
    core, factors = tucker(T, [3, 3, 2], n_iter=50, tol=0)
    ours = np.linalg.norm(T - tucker_to_full(core, factors, [0, 1, 2]))
    res = tl_tucker(tl.tensor(T), rank=[3, 3, 2], n_iter_max=200, tol=1e-12, init="svd")
    theirs = np.linalg.norm(T - tl.tucker_to_tensor(res))
    assert ours == pytest.approx(theirs, rel=1e-3)


def test_cp_als_recovers_an_exact_cp_tensor_and_matches_tensorly():
    rng = np.random.default_rng(2)
    true = [rng.standard_normal((n, 3)) for n in (5, 4, 3)]
    T = cp_to_full(np.ones(3), true)
    w, factors = cp_als(T, 3, n_iter=500, tol=1e-14)
    assert np.linalg.norm(T - cp_to_full(w, factors)) < 1e-3 * np.linalg.norm(T)   # ALS converges linearly
    tl = pytest.importorskip("tensorly")
    from tensorly.decomposition import parafac

    noisy = T + 0.1 * rng.standard_normal(T.shape)
    w, factors = cp_als(noisy, 2, n_iter=500, tol=1e-12)
    ours = np.linalg.norm(noisy - cp_to_full(w, factors))
    theirs = np.linalg.norm(noisy - tl.cp_to_tensor(parafac(tl.tensor(noisy), 2, n_iter_max=500, tol=1e-12,
                                                              init="svd")))
    assert ours <= theirs * 1.05


def test_unfold_and_energy_rank():
    T = np.arange(24.0).reshape(2, 3, 4)
    assert unfold(T, 1).shape == (3, 8) and unfold(T, 1)[1, 0] == T[0, 1, 0]
    low = np.outer([1.0, 2.0, 3.0], [1.0, -1.0]).reshape(3, 2, 1)
    assert energy_rank(low, 0, 0.999) == 1


def test_conv_sequences_reproduce_the_convolution():
    md.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, dtype=md.float64)
    x = md.randn(2, 4, 7, 7, dtype=md.float64)
    full = tucker_conv2d(conv, ranks=(6, 4))
    assert [type(m).__name__ for m in full] == ["Conv2d"] * 3
    np.testing.assert_allclose(full(x).numpy(), conv(x).numpy(), atol=1e-10)
    # a kernel of CP rank 2 is reproduced by the rank-2 separable sequence (with stride and padding)
    rng = np.random.default_rng(3)
    K = cp_to_full(np.ones(2), [rng.standard_normal((n, 2)) for n in (6, 4, 3, 3)])
    with md.no_grad():
        conv.weight.copy_(md.tensor(K))
    sep = cp_conv2d(conv, 2, n_iter=500)
    assert sep[1].groups == 2 and sep[1].kernel_size == (3, 1) and sep[2].kernel_size == (1, 3)
    np.testing.assert_allclose(sep(x).numpy(), conv(x).numpy(), atol=1e-6)


def test_tucker_compress_reports_params_flops_time():
    md.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(16 * 64, 10))
    x = md.randn(2, 1, 8, 8)
    small, reports = tucker_compress(model, x, ranks=(4, 4), layers=["2"])
    (r,) = reports
    assert r.params_before == 8 * 16 * 9 + 16
    assert r.params_after == 8 * 4 + 4 * 4 * 9 + 4 * 16 + 16
    assert r.flops_before == 2 * 16 * 8 * 9 * 64 and r.flops_after < r.flops_before
    assert 0 < r.rel_error < 1 and r.ms_before > 0
    assert small(x).shape == (2, 10)
    _, reports = tucker_compress(model, x, method="cp", energy=0.9)
    assert [r.name for r in reports] == ["0", "2"]
    with pytest.raises(ValueError, match="method"):
        tucker_compress(model, x, method="svd", energy=0.9)
    with pytest.raises(ValueError, match="no decomposable Conv2d"):
        tucker_compress(model, x, ranks=(2, 2), layers=["5"])
    with pytest.raises(TypeError, match="Conv2d"):
        tucker_conv2d(nn.Linear(3, 3), ranks=(1, 1))

"""Low-rank layers: the Eckart-Young optimum, rank rules, reports, and the replaced model."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl as md
from mathdl import nn
from mathdl.compress import LowRankLinear, choose_rank, svd_compress


def _mlp(seed=0):
    md.manual_seed(seed)
    return nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 5))


def test_factorization_is_the_eckart_young_optimum():
    """||W - W_r||_F equals sqrt(sum of the tail s_i^2), and no other rank-r matrix tried beats it."""
    md.manual_seed(0)
    lin = nn.Linear(12, 9, dtype=md.float64)
    W = lin.weight.detach().numpy()
    s = np.linalg.svd(W, compute_uv=False)
    rng = np.random.default_rng(0)
    for r in (1, 3, 6):
        low = LowRankLinear.from_linear(lin, r)
        Wr = low[1].weight.detach().numpy() @ low[0].weight.detach().numpy()
        err = np.linalg.norm(W - Wr)
        assert err == pytest.approx(np.sqrt((s[r:] ** 2).sum()), rel=1e-10)
        for _ in range(20):   # random rank-r competitors (perturbed optimum) are never better
            other = (Wr + 0.05 * rng.standard_normal(Wr.shape) @ np.diag(rng.random(12)))
            U, S, Vt = np.linalg.svd(other)
            other_r = (U[:, :r] * S[:r]) @ Vt[:r]
            assert np.linalg.norm(W - other_r) >= err - 1e-12


def test_full_rank_reproduces_the_layer_and_bias():
    lin = _mlp()[0]
    low = LowRankLinear.from_linear(lin, 20)
    x = md.randn(4, 20)
    np.testing.assert_allclose(low(x).numpy(), lin(x).numpy(), atol=1e-5)


def test_rank_rules():
    s = np.array([4.0, 2.0, 1.0, 0.5])
    assert choose_rank(s, 10, 10, rank=2) == 2
    assert choose_rank(s, 10, 10, rank=9) == 4
    # energies: 16/21.25 = 0.753, 20/21.25 = 0.941, 21/21.25 = 0.988
    assert choose_rank(s, 10, 10, energy=0.75) == 1
    assert choose_rank(s, 10, 10, energy=0.9) == 2
    assert choose_rank(s, 10, 10, energy=0.95) == 3
    assert choose_rank(s, 10, 10, params=50, bias=True) == 2    # r * 20 + 10 <= 50
    assert choose_rank(s, 10, 10, params=0.5, bias=False) == 2  # r * 20 <= 50
    with pytest.raises(ValueError, match="exactly one"):
        choose_rank(s, 10, 10, rank=1, energy=0.5)
    with pytest.raises(ValueError, match="energy"):
        choose_rank(s, 10, 10, energy=1.5)
    with pytest.raises(ValueError, match="below rank 1"):
        choose_rank(s, 10, 10, params=5)


def test_svd_compress_reports_and_replaces():
    model = _mlp()
    small, reports = svd_compress(model, rank=3)
    assert [r.name for r in reports] == ["0", "2"]
    r0 = reports[0]
    assert (r0.params_before, r0.params_after) == (20 * 30 + 30, 3 * 50 + 30)
    assert 0 < r0.energy < 1 and r0.ms_before > 0 and r0.ms_after > 0
    assert isinstance(small[0], LowRankLinear) and isinstance(model[0], nn.Linear)   # a copy by default
    assert small.num_parameters() == 3 * 50 + 30 + 3 * 35 + 5
    # energy=1 keeps the function
    same, _ = svd_compress(model, energy=1.0, only_if_smaller=False)
    x = md.randn(3, 20)
    np.testing.assert_allclose(same(x).numpy(), model(x).numpy(), atol=1e-5)
    # a chosen layer only; unknown names are named in the error
    _, reps = svd_compress(model, rank=2, layers=["2"])
    assert [r.name for r in reps] == ["2"]
    with pytest.raises(ValueError, match="no Linear layer named"):
        svd_compress(model, rank=2, layers=["5"])


def test_compressed_model_trains():
    small, _ = svd_compress(_mlp(), rank=2)
    x, y = md.randn(8, 20), md.tensor(np.arange(8) % 5)
    loss = nn.functional.cross_entropy(small(x), y)
    loss.backward()
    assert small[0][0].weight.grad is not None and small[0][1].weight.grad is not None

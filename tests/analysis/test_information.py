import math

import numpy as np
import pytest

from mathdl.analysis import information as I


def test_ksg_recovers_gaussian_channel():
    rng = np.random.default_rng(0)
    for rho in (0.5, 0.9):
        x = rng.standard_normal(2000)
        y = rho * x + math.sqrt(1 - rho ** 2) * rng.standard_normal(2000)
        exact = -0.5 * math.log(1 - rho ** 2)
        assert abs(I.ksg_mi(x, y, k=3, base=None) - exact) < 0.04
    assert I.ksg_mi(rng.standard_normal(1000), rng.standard_normal(1000)) < 0.03  # independent


def test_kde_bounds_bracket_gaussian_channel():
    # T = X + N(0, s2), X ~ N(0, v): I = 1/2 log(1 + v / s2).  For large N the pairwise bound with
    # kernel exp(-D / c) tends to 1/2 log((2v + c) / c) + v / (2v + c): with c = 2 s2 (KL, upper) the
    # bias is v / (2 (v + s2)) < 1/2 nat; with c = 8 s2 (Bhattacharyya, lower) it is below the truth.
    rng = np.random.default_rng(0)
    for v, s2 in ((1.0, 0.1), (1.0, 1.0), (4.0, 0.5)):
        x = rng.standard_normal((1000, 1)) * math.sqrt(v)
        exact = 0.5 * math.log(1 + v / s2)
        up = I.kde_information(x, noise_var=s2, base=None)[0]
        lo = I.kde_information(x, noise_var=s2, base=None, lower=True)[0]
        assert lo <= exact <= up

        def limit(c, v=v):
            return 0.5 * math.log((2 * v + c) / c) + v / (2 * v + c)

        assert abs(up - limit(2 * s2)) < 0.05 and abs(lo - limit(8 * s2)) < 0.05


def test_binning_on_deterministic_layer_and_bounds():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 512)
    T = np.c_[y + 0.01 * rng.standard_normal(512), rng.standard_normal(512)]
    ixt, ity = I.binned_information(T[:, :1], y, n_bins=2)
    assert math.isclose(ixt, I.entropy(y)) and math.isclose(ity, I.entropy(y))
    sweep = I.binning_sweep(T, y, bins=(2, 8, 64))
    assert sweep[2][0] <= sweep[8][0] <= sweep[64][0] <= math.log2(512) + 1e-9
    res = I.information_plane({"a": T, "b": T[:, :1], "c": T}, y, n_bins=8)
    assert res["H_X"] == pytest.approx(9.0) and not res["bound_violations"]
    assert any("rises from b" in f for f in res["dpi_violations"])  # c is not a function of b


def test_bad_inputs():
    with pytest.raises(ValueError, match="k must be"):
        I.ksg_mi(np.zeros(5), np.zeros(5), k=5)
    with pytest.raises(ValueError, match="method"):
        I.information_plane({"a": np.zeros((4, 1))}, np.zeros(4, dtype=int), method="mine")
    with pytest.raises(ValueError, match="noise_var"):
        I.kde_information(np.zeros((3, 1)), noise_var=0)

"""Burgers: the Cole-Hopf reference against brute-force quadrature and the PDE; quick runs."""

import numpy as np
import pytest

from mathdl.experiments.burgers import NU, claim_record, reference_solution, run
from mathdl.experiments.verdict import VERDICTS


def _brute(t, x, nu=NU):
    eta = np.linspace(-1.5, 1.5, 400001)
    y = x - eta
    e = -np.cos(np.pi * y) / (2 * np.pi * nu) - eta ** 2 / (4 * nu * t)
    f = np.exp(e - e.max())
    return -(np.sin(np.pi * y) * f).sum() / f.sum()


def test_reference_matches_brute_force_and_satisfies_the_equation():
    T = np.array([0.25, 0.5, 0.75, 1.0])
    X = np.array([0.3, -0.5, 0.01, -0.8])
    np.testing.assert_allclose(reference_solution(T, X), [_brute(t, x) for t, x in zip(T, X)], atol=1e-9)
    x = np.linspace(-1, 1, 9)
    np.testing.assert_allclose(reference_solution(0.0, x), -np.sin(np.pi * x), atol=1e-15)
    np.testing.assert_allclose(reference_solution(np.array([0.3, 0.8]), np.array([1.0, -1.0])), 0, atol=1e-12)
    # u_t + u u_x - nu u_xx = 0 by central differences away from the shock
    t, xs, h = 0.4, 0.5, 1e-4
    u = reference_solution
    ut = (u(t + h, xs) - u(t - h, xs)) / (2 * h)
    ux = (u(t, xs + h) - u(t, xs - h)) / (2 * h)
    uxx = (u(t, xs + h) - 2 * u(t, xs) + u(t, xs - h)) / h ** 2
    assert abs(ut + u(t, xs) * ux - NU * uxx) < 1e-5
    with pytest.raises(ValueError, match="n_quad"):
        reference_solution(0.5, 0.1, n_quad=1000)


def test_quick_forward_and_inverse_runs_return_numbers():
    rec = claim_record(quick=True, seeds=(0,), out=None)
    res, inv = rec["numbers"]["forward"], rec["numbers"]["inverse"]
    assert np.isfinite(res["rel_l2_mean"]) and res["verdict"] in VERDICTS and rec["verdict"]["verdict"] in VERDICTS
    assert res["runs"][0]["final_loss"] < 1.0
    assert np.isfinite(inv["runs"][0]["lambda1"]) and inv["runs"][0]["nu"] > 0
    assert "relative L2 error" in rec["measurement"]


def test_overrides_select_a_tiny_configuration_and_bad_keys_are_refused(tmp_path):
    res = run(quick=True, overrides={"n_f": 100, "adam_iters": 10, "lbfgs_iters": 10}, out=str(tmp_path))
    assert res["config"]["n_f"] == 100 and res["config"]["lbfgs_iters"] == 10
    r = res["runs"][0]
    assert r["derivatives"] == "jet" and 0 < r["iterations"] <= 10 + 1
    assert r["curve"][-1]["rel_l2"] == pytest.approx(r["rel_l2"]) and r["curve"][0]["phase"] == "adam"
    for name in ("burgers.json", "burgers_solution.png", "burgers_error.png", "burgers_loss.png"):
        assert (tmp_path / name).stat().st_size > 0
    with pytest.raises(ValueError, match="unknown override 'n_colloc'"):
        run(quick=True, overrides={"n_colloc": 10})
    with pytest.raises(ValueError, match="init"):
        run(quick=True, overrides={"init": "he", "lbfgs_iters": 1})

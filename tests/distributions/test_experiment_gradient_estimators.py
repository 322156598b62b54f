"""The gradient-estimator study: unbiased estimators agree with the exact gradient; quick run writes its files."""

import numpy as np

from mathdl.experiments import gradient_estimators as ge


def test_estimators_are_unbiased_where_they_should_be():
    n = 20000
    for fn in (ge.continuous_estimates, ge.discrete_estimates):
        est, exact = fn(n, seed=0)
        for name in ("reinforce", "reinforce+baseline") + (("reparameterization",) if fn is ge.continuous_estimates
                                                           else ()):
            g = est[name]
            se = g.std(0) / np.sqrt(n)
            assert np.all(np.abs(g.mean(0) - exact) <= 4.5 * se), (name, g.mean(0), exact)


def test_quick_run(tmp_path):
    res = ge.run(quick=True, seeds=(0, 1), out=str(tmp_path), log=lambda *a: None)
    assert res["verdict"] in ("holds", "holds partly", "does not hold")
    assert res["continuous"]["reparameterization"]["variance_mean"] < res["continuous"]["reinforce"]["variance_mean"]
    assert {p.name for p in tmp_path.iterdir()} >= {"gradient_estimators.json", "gradient_estimators.md",
                                                    "gradient_estimators.png"}

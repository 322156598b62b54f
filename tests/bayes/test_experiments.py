import math

import numpy as np

from mathdl.experiments import hybrid, uncertainty
from mathdl.experiments.verdict import VERDICTS


def test_uncertainty_quick(tmp_path):
    res = uncertainty.run(quick=True, seeds=(0, 1), out=str(tmp_path), datasets=("digits",), log=lambda *a: None)
    nums = res["numbers"]["digits"]
    assert set(nums) == set(uncertainty.METHODS)
    for row in nums.values():
        assert 0 <= row["accuracy"]["mean"] <= 1 and row["nll"]["mean"] > 0
        assert 0 <= row["ood_auroc"]["mean"] <= 1 and row["ood_auroc"]["n"] == 2
    # the posterior methods that share the deterministic net keep its predictions' argmax
    assert nums["laplace_last"]["accuracy"]["values"] == nums["deterministic"]["accuracy"]["values"]
    assert res["verdict"]["verdict"] in VERDICTS
    assert (tmp_path / "reliability_digits.png").exists() and (tmp_path / "uncertainty.md").exists()
    for comp in res["comparison"]["digits"].values():
        for v in comp.values():
            assert math.isfinite(v["gain"])


def test_uncertainty_is_deterministic_for_a_seed():
    a = uncertainty.run(quick=True, seeds=(3,), datasets=("breast_cancer",), methods=("deterministic", "laplace_last"),
                        log=lambda *a: None)
    b = uncertainty.run(quick=True, seeds=(3,), datasets=("breast_cancer",), methods=("deterministic", "laplace_last"),
                        log=lambda *a: None)
    def values(r):
        return {m: {k: v["values"] for k, v in row.items()} for m, row in r["numbers"]["breast_cancer"].items()}
    assert values(a) == values(b)


def test_hybrid_quick():
    res = hybrid.run(quick=True, seeds=(0, 1), log=lambda *a: None)
    assert set(res["numbers"]) == {"hybrid", "nn", "bn"}
    for row in res["numbers"].values():
        assert 0.5 < row["accuracy"]["mean"] <= 1 and np.isfinite(row["nll"]["mean"])
    assert res["verdict"]["verdict"] in VERDICTS
    assert res["structure"]["Shape"] == ["D", "Size"]

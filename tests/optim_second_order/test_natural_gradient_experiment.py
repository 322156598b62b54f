"""The natural-gradient experiment's quick mode returns its table and verdicts."""

import numpy as np

from mathdl.experiments import natural_gradient as exp
from mathdl.experiments.verdict import VERDICTS


def test_quick_run_returns_table_and_verdict():
    res = exp.run(quick=True, optimizers=("sgd", "kfac", "natural-gradient"))
    assert {t["optimizer"] for t in res["table"]} == {"sgd", "kfac", "natural-gradient"}
    assert all(0 <= r["final_accuracy"] <= 1 for r in res["runs"])
    assert max(r["final_accuracy"] for r in res["runs"]) > 0.8
    assert res["verdict"]["mlp"] in VERDICTS
    assert "| mlp | kfac |" in exp.markdown_table(res["table"])


def test_claim_record_for_reproduce(monkeypatch):
    monkeypatch.setattr(exp, "SETTINGS", {k: exp.SETTINGS[k] for k in ("sgd", "kfac")})
    rec = exp.claim_record(quick=True, seeds=(0,), out=None)
    assert rec["verdict"]["verdict"] in VERDICTS and "mlp kfac" in rec["measurement"]


def test_quick_autoencoder_comparison():
    res = exp.run_autoencoder(quick=True, seconds=1.0)
    assert np.isfinite(res["hessian-free"]["test_mse"]) and np.isfinite(res["adam"]["test_mse"])
    assert res["hessian-free"]["steps"] >= 1

"""How each claim turns its owner's numbers into a record and a verdict, on made-up numbers.

The owners' experiments are replaced by stubs that return numbers of the shape the real ones return
(their tiny runs are tested in their own tests, and ``mathdl reproduce --quick`` runs them all); what
is tested here is the wiring: the verdict rule applied to the numbers, figure names, the shared
compression run."""

from __future__ import annotations

import os

import numpy as np
import pytest

from mathdl.experiments import claims as C
from mathdl.experiments import verdict as V


def st(values):
    v = np.asarray(values, float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)), "sd": float(v.std()), "values": v.tolist()}


def test_every_claim_is_wired():
    assert len(C.CLAIMS) >= 27
    for c in C.CLAIMS.values():
        assert "_pending" not in c.run.__qualname__, f"{c.id} is still a placeholder"


def test_owner_verdict_words_map_onto_the_four():
    assert C._verdict_of("holds partly", "r", "w").verdict == V.PARTLY
    assert C._verdict_of("does not hold", "r", "w").verdict == V.DOES_NOT_HOLD
    with pytest.raises(ValueError, match="unknown verdict word"):
        C._verdict_of("maybe", "r", "w")


def test_compression_claims_share_one_run(tmp_path, monkeypatch):
    from mathdl.experiments import compression

    calls = []

    def fake_run(quick, seeds, out, log):
        calls.append(seeds)
        return {"verdict": {"rank": 5, "ratio_finetuned": 0.995, "ratio_without_finetuning": 0.9, "verdict": V.HOLDS,
                            "rule": "ratio >= 0.99", "why": "0.995"},
                "ranks": {5: {"acc": st([0.9, 0.91]), "acc_finetuned": st([0.97, 0.975]), "hidden_weights": 10_000}},
                "dense_params": 1_076_010, "config": {"epochs": 15, "finetune": 3}, "dense_acc": st([0.80, 0.81]),
                "tt": {"acc_finetuned": st([0.90, 0.905]), "acc": st([0.5, 0.5]), "params": 76_810}, "conv": {},
                "speed": [{"n": 4096, "layer": "dense", "params": 16_781_312, "ms": 24.0, "speedup": 1.0},
                          {"n": 4096, "layer": "TT ranks 8", "params": 5_000, "ms": 2.0, "speedup": 12.0}],
                "mps": {8: {"acc": st([0.9, 0.92]), "params": 30_000}}}

    monkeypatch.setattr(compression, "run", fake_run)
    monkeypatch.setattr(C, "_CACHE", {})
    svd = C.CLAIMS["svd_compression"].run(False, (0, 1), str(tmp_path))
    tcnn = C.CLAIMS["tensor_cnn"].run(False, (0, 1), str(tmp_path))
    qi = C.CLAIMS["quantum_inspired"].run(False, (0, 1), str(tmp_path))
    assert len(calls) == 1
    assert svd["verdict"]["verdict"] == V.HOLDS and "10,000 weights" in svd["setup"]
    assert tcnn["verdict"]["verdict"] == V.HOLDS  # +0.095 >= +0.0425, significant
    assert qi["verdict"]["verdict"] == V.HOLDS and "n = 4096" in qi["verdict"]["why"]


def test_flows_and_vae_claims(tmp_path, monkeypatch):
    from mathdl.experiments import flows, vae

    def fake_flows(quick, seeds, out, parts, log, **over):
        return {"density": {"moons": {"gaussian": st([-2.7, -2.71]), "realnvp": st([-2.2, -2.21])},
                            "digits": {"gaussian": st([5.0, 5.1]), "realnvp": st([5.05, 5.2])}},
                "config": {"density_steps": 10, "hidden": 4}}

    monkeypatch.setattr(flows, "run", fake_flows)
    rec = C.CLAIMS["generative_models"].run(False, (0, 1), str(tmp_path))
    assert rec["verdict"]["verdict"] == V.PARTLY  # better on moons, not on digits (bits/dim: lower is better)
    elbo = {("gumbel", 0): -20.0, ("gumbel", 1): -20.5, ("reinforce", 0): -25.0, ("reinforce", 1): -25.4}
    monkeypatch.setattr(vae, "categorical_vae", lambda s, steps, e: elbo[(e, s)])
    assert C.CLAIMS["gumbel_softmax"].run(True, (0, 1), str(tmp_path))["verdict"]["verdict"] == V.HOLDS

    def fake_pvm(seed, steps, clf_steps):
        return ({"accuracy_mse": 0.70 + 0.01 * seed, "accuracy_perceptual": 0.80 + 0.01 * seed},
                np.zeros((2, 64)), np.zeros((2, 2, 64)))

    def fake_png(pngs, path):
        open(path, "wb").close()

    monkeypatch.setattr(vae, "perceptual_vs_mse", fake_pvm)
    monkeypatch.setattr(vae, "_png", fake_png)
    rec = C.CLAIMS["perceptual_loss"].run(True, (0, 1), str(tmp_path))
    assert rec["verdict"]["verdict"] == V.PARTLY  # +0.10 < 20% of 0.705, significant
    assert rec["figures"] == ["perceptual_vs_mse.png"]


def test_passthrough_figures_become_names(tmp_path, monkeypatch):
    from mathdl.experiments import burgers

    def fake_record(quick, seeds, out):
        paths = [os.path.join(out, f"burgers_{k}.png") for k in ("solution", "error")]
        open(paths[0], "wb").close()  # the second is missing: not reported
        return {"setup": "s", "measurement": "m", "numbers": {}, "figures": paths + [os.path.join(out, "t.md")],
                "verdict": V.at_most(1e-3, 5e-3).as_dict()}

    monkeypatch.setattr(burgers, "claim_record", fake_record)
    rec = C.CLAIMS["physics_informed"].run(True, (0,), str(tmp_path))
    assert rec["figures"] == ["burgers_solution.png"] and rec["verdict"]["verdict"] == V.HOLDS


def test_natural_gradient_quick_rule(tmp_path, monkeypatch):
    from mathdl.experiments import natural_gradient

    def fake_run(quick, seeds, models, max_epochs, out):
        assert not quick and models == ("mlp",) and max_epochs == 8
        return {"table": [{"optimizer": "sgd", "epochs_median": 6, "seconds_median": 1.0, "reached": 1, "runs": 1}],
                "verdict": {"mlp_speedup_epochs": 1.2}}

    monkeypatch.setattr(natural_gradient, "run", fake_run)
    rec = C.CLAIMS["natural_gradient"].run(True, (0, 1), str(tmp_path))
    assert rec["verdict"]["verdict"] == V.PARTLY  # 1.1 <= 1.2 < 1.3


def test_geometry_claims(tmp_path, monkeypatch):
    from mathdl.experiments import curvature_generalization as cg
    from mathdl.experiments import information_plane, landscape_skip

    def fake_cg(quick, seeds, out, log, **over):
        pairs = [(0.1, 0.90), (0.2, 0.93), (0.3, 0.95), (0.4, 0.96), (0.5, 0.97)][:n_runs]
        runs = [{"negative_fraction": f, "test_acc": a} for f, a in pairs]
        return {"runs": runs, "verdicts": {}, "spearman_lambda_max_test_error": 0.1, "figures": [],
                "setup": {"model": "m", "optimizer": "o", "configs": [], "stop": "s", "max_steps": 1, "seeds": [0]}}

    monkeypatch.setattr(cg, "run", fake_cg)
    n_runs = 5
    rec = C.CLAIMS["negative_curvature"].run(True, (0,), str(tmp_path))
    assert rec["verdict"]["verdict"] == V.HOLDS  # more negative curvature, lower error: rho = -1, exact p = 2/120
    n_runs = 3
    rec = C.CLAIMS["negative_curvature"].run(True, (0,), str(tmp_path))
    assert rec["verdict"]["verdict"] == V.PARTLY and "p = 0.333" in rec["verdict"]["why"]  # 2 of 6 orderings

    def fake_ls(quick, seeds, out, log, depths=None, width=None):
        return {"verdict": "holds partly", "rule": "r", "comparisons": [{"plain_more_nonconvex": True},
                                                                        {"plain_more_nonconvex": False},
                                                                        {"plain_more_nonconvex": True}],
                "hessian_ratio": {"resnet": (0.1, 0.01), "plain": (0.5, 0.1)},
                "surface_ratio": {"resnet": (0.1, 0.01), "plain": (0.5, 0.1)}, "figures": [],
                "setup": {"depths": [8], "width": 2, "steps": 2, "seeds": [0]}}

    monkeypatch.setattr(landscape_skip, "run", fake_ls)
    rec = C.CLAIMS["smooth_landscapes"].run(True, (0,), str(tmp_path))
    assert rec["verdict"]["verdict"] == V.PARTLY and "2/3" in rec["verdict"]["why"]

    def fake_ip(quick, seeds, out, log, epochs=None):
        assert not quick
        return {"verdict": "does not hold", "rule": "r", "compression_mean": {"tanh": 0.1}, "figures": [],
                "compression_std": {"tanh": 0.0}, "final_test_acc": {"tanh": [0.9]}, "compression_bits": {},
                "setup": {"task": "t", "network": "n", "epochs": epochs, "estimator": "e", "seeds": [0]}}

    monkeypatch.setattr(information_plane, "run", fake_ip)
    rec = C.CLAIMS["information_bottleneck"].run(True, (0,), str(tmp_path))
    assert rec["verdict"]["verdict"] == V.DOES_NOT_HOLD and "600 epochs" in rec["setup"]

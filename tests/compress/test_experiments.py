"""The compression and distillation experiments in their quick configurations: they run, return
numbers with their spread and a verdict computed by the stated rule, and write their files."""

from __future__ import annotations

import json

import pytest

from mathdl.experiments import compression, distillation


def test_compression_quick(tmp_path):
    s = compression.run(quick=True, seeds=(0,), out=str(tmp_path), log=lambda *a: None)
    assert 0.5 < s["dense_acc"]["mean"] <= 1.0 and s["dense_acc"]["std"] == 0.0
    r5 = s["ranks"][5]
    assert r5["hidden_weights"] == 10_000 and r5["hidden_params"] == 11_000
    assert 0 <= r5["acc"]["mean"] <= 1 and 0 < r5["energy"]["mean"] < 1
    v = s["verdict"]
    want = "holds" if v["ratio_finetuned"] >= 0.99 else ("holds only partly" if v["ratio_finetuned"] >= 0.95
                                                         else "does not hold")
    assert v["verdict"] == want
    assert s["tt"]["hidden_params"] < 1_000_000 and s["mps"][2]["params"] == 64 * 2 * 4 + 2 * 10 + 1
    for name in ("compression.md", "compression.png", "compression_summary.json"):
        assert (tmp_path / name).exists()
    assert json.loads((tmp_path / "compression_summary.json").read_text())["claim"] == compression.CLAIM


def test_distillation_quick(tmp_path):
    s = distillation.run(quick=True, seeds=(0, 1), out=str(tmp_path), log=lambda *a: None)
    (name, c), = s["configs"].items()
    assert len(c["difference"]["values"]) == 2 and c["difference"]["std"] >= 0
    assert s["verdict"]["verdict"] == ("holds" if c["supports"] else "does not hold")
    assert (tmp_path / "distillation.md").exists()


def test_experiments_refuse_no_seeds():
    with pytest.raises(ValueError, match="seed"):
        compression.run(quick=True, seeds=())
    with pytest.raises(ValueError, match="seed"):
        distillation.run(quick=True, seeds=())

"""The reproduce runner, report and verdict rules (on made-up numbers)."""

from __future__ import annotations

import json
import math

import pytest

from mathdl import cli
from mathdl.experiments import claims as C
from mathdl.experiments import reproduce as R
from mathdl.experiments import verdict as V


def test_spread_and_welch():
    s = V.spread([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["std"] == 1.0 and s["n"] == 3
    assert s["ci95"][0] == pytest.approx(2 - 4.302653 / math.sqrt(3), rel=1e-5)
    assert math.isnan(V.welch_p([1.0], [2.0, 3.0]))
    assert V.welch_p([1, 1], [2, 2]) == 0.0 and V.welch_p([1, 1], [1, 1]) == 1.0
    assert V.welch_p([0.0, 0.1, -0.1, 0.05], [5.0, 5.1, 4.9, 5.05]) < 1e-6
    with pytest.raises(ValueError, match="non-finite"):
        V.spread([1.0, float("nan")])


def test_rules_on_made_up_numbers():
    assert V.at_least(1.6, 1.5, partly=1.0).verdict == V.HOLDS
    assert V.at_least(1.2, 1.5, partly=1.0).verdict == V.PARTLY
    assert V.at_least(0.9, 1.5, partly=1.0).verdict == V.DOES_NOT_HOLD
    assert V.at_most(0.001, 5e-3).verdict == V.HOLDS and V.at_most(0.01, 5e-3).verdict == V.DOES_NOT_HOLD
    base = [0.90, 0.91, 0.89, 0.90, 0.905]
    assert V.improvement([0.95, 0.96, 0.94, 0.95, 0.955], base, 0.03).verdict == V.HOLDS
    assert V.improvement([0.92, 0.925, 0.915, 0.92, 0.922], base, 0.03).verdict == V.PARTLY
    assert V.improvement([0.90, 0.92, 0.88, 0.91, 0.89], base, 0.03).verdict == V.DOES_NOT_HOLD  # not significant
    assert V.improvement([0.85, 0.86, 0.84, 0.85, 0.855], base, 0.03).verdict == V.DOES_NOT_HOLD  # wrong sign
    assert V.improvement([1.0, 1.1], [2.0, 2.1], 0.5, higher_is_better=False).verdict == V.HOLDS
    with pytest.raises(ValueError, match="verdict must be one of"):
        V.Verdict("probably", "", "")


def test_runner_resumes_reports_and_failures(tmp_path, monkeypatch):
    calls = []

    def good(quick, seeds, out):
        calls.append(seeds)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        plt.plot([0, 1], [0, 1])
        plt.savefig(f"{out}/fig.png")
        plt.close()
        s = V.spread([0.5 + 0.01 * k for k in seeds])
        return {"setup": "toy", "measurement": V.fmt_spread(s), "numbers": {"acc": s},
                "verdict": V.at_least(s["mean"], 0.4).as_dict(), "figures": ["fig.png"]}

    def bad(quick, seeds, out):
        raise RuntimeError("boom")

    table = {"good": C.Claim("good", "a claim", "here", good), "bad": C.Claim("bad", "another", "there", bad)}
    monkeypatch.setattr(C, "CLAIMS", table)
    recs = R.run_claims(quick=True, seeds=3, out=str(tmp_path), log=lambda *a: None, progress=False)
    assert recs["good"]["verdict"]["verdict"] == V.HOLDS and recs["bad"]["verdict"]["verdict"] == "failed to run"
    assert "boom" in recs["bad"]["error"]
    saved = json.loads((tmp_path / "claims" / "good" / "result.json").read_text())
    assert saved["numbers"]["acc"]["n"] == 3 and saved["options"] == {"quick": True, "seeds": [0, 1, 2]}
    R.run_claims(["good"], quick=True, seeds=3, out=str(tmp_path), log=lambda *a: None, progress=False)
    assert len(calls) == 1, "a finished claim with the same options is kept, not rerun"
    R.run_claims(["good"], quick=True, seeds=2, out=str(tmp_path), log=lambda *a: None, progress=False)
    assert len(calls) == 2, "other options rerun it"
    md, htm = R.write_report(recs, str(tmp_path), quick=True)
    text = open(md).read()
    assert "**Quick run**" in text and "| [good](#good) | a claim | **holds** |" in text and "boom" in text
    page = open(htm).read()
    assert "data:image/png;base64," in page and "<table>" in page
    with pytest.raises(ValueError, match="unknown claim"):
        R.run_claims(["nope"], out=str(tmp_path), progress=False)


def test_cli_lists_claims_and_untestable_verdicts(capsys, tmp_path):
    assert cli.main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    assert "resnet_top5" in out and "svd_compression" in out and len(C.CLAIMS) >= 25
    code = cli.main(["reproduce", "resnet_top5", "causal_rl", "--quick", "--out", str(tmp_path), "--no-progress"])
    assert code == 0
    text = (tmp_path / "report.md").read_text()
    assert text.count("| **not testable here** |") == 2 and "ImageNet" in text
    assert cli.main(["reproduce", "--seeds", "0", "--out", str(tmp_path), "resnet_top5"]) == 2


def test_paired_test_on_made_up_numbers():
    base = [0.90, 0.95, 0.85, 0.92, 0.88]          # seeds differ a lot...
    ours = [b + 0.01 for b in base]                 # ...but each seed gains the same 0.01
    assert V.improvement(ours, base, 0.01).verdict == V.DOES_NOT_HOLD          # Welch: not significant
    assert V.improvement(ours, base, 0.009, paired=True).verdict == V.HOLDS     # paired: significant
    assert V.paired_p(ours, base) == 0.0 and V.paired_p(base, base) == 1.0
    with pytest.raises(ValueError, match="cannot be paired"):
        V.paired_p([1.0, 2.0], [1.0])

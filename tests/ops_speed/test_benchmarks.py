"""The fresh-process benchmark harness (benchmarks/_timing.py) end to end on the smallest case,
and its bad thread lists."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENGINE = os.path.join(ROOT, "benchmarks", "bench_engine.py")


def test_isolated_benchmark_writes_rows(tmp_path):
    out = tmp_path / "rows.json"
    res = subprocess.run([sys.executable, ENGINE, "--cases", "add16", "--threads", "1,2", "--rounds", "1",
                          "--repeat", "2", "--warmup", "1", "--no-torch", "--json", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    rows = json.loads(out.read_text())
    assert [r["threads"] for r in rows] == [1, 2]
    for r in rows:
        assert r["case"] == "add16" and r["mathdl_s"] > 0 and r["torch_s"] is None
        assert r["mathdl_peak_mb"] is None or r["mathdl_peak_mb"] >= 0
        assert 0 < r["mathdl_main_cpu_s"] <= r["mathdl_cpu_s"] * 1.01 + 1e-6  # the calling thread is one of all


def test_bad_thread_list_is_an_error():
    res = subprocess.run([sys.executable, ENGINE, "--threads", "1,0", "--no-torch"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode != 0 and "--threads must be comma-separated positive integers" in res.stderr

"""Run every benchmark and print (or write) the performance table for the README.

Each benchmark runs mathdl and PyTorch each alone in a fresh process, per thread count, in
rounds that alternate the order of the two libraries; a row shows the median time of a step
(or a call), the ratio mathdl / PyTorch and the peak resident-memory growth of the steps
(VmHWM, from before the model is built).  The table's header says how it was measured
(machine, thread counts, load average).  Benchmarks of other areas that print their own tables
(LSTM, curvature, probability, Bayes) follow as text unless ``--only-table``.

  python benchmarks/run_all.py [--threads 1,2] [--rounds 2] [--quick] [--out perf.md] [--only-table]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = ["bench_engine.py", "bench_mlp_train.py", "bench_cnn.py", "bench_transformer.py", "bench_programs.py"]
OTHERS = ["bench_lstm.py", "bench_curvature.py", "bench_probability.py", "bench_bayes.py"]


def _ms(s):
    if s is None:
        return "n/a"
    return f"{s * 1e6:.1f} us" if s < 1e-3 else f"{s * 1e3:.2f} ms"


def _mb(v):
    return "n/a" if v is None else f"{v:.0f}"


def markdown(rows, header):
    lines = [header, "", "| workload | threads | mathdl | PyTorch | ratio | peak MB mathdl | peak MB PyTorch |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        ratio = f"{r['ratio']:.2f}" if r.get("ratio") else "n/a"
        lines.append(f"| {r['description']} | {r['threads']} | {_ms(r['mathdl_s'])} | {_ms(r['torch_s'])} | {ratio} | "
                     f"{_mb(r['mathdl_peak_mb'])} | {_mb(r['torch_peak_mb'])} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="few steps per process (a smoke run, noisy)")
    ap.add_argument("--out", help="write the markdown here as well")
    ap.add_argument("--only-table", action="store_true", help="skip the other areas' benchmarks")
    args = ap.parse_args(argv)
    rows = []
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with tempfile.TemporaryDirectory() as tmp:
        for name in TABLE:
            out = os.path.join(tmp, name + ".json")
            cmd = [sys.executable, os.path.join(HERE, name), "--threads", args.threads, "--rounds", str(args.rounds),
                   "--json", out] + (["--repeat", "3", "--warmup", "1"] if args.quick else [])
            print("$", " ".join(cmd[1:]), flush=True)
            res = subprocess.run(cmd, text=True)
            if res.returncode == 0 and os.path.exists(out):
                with open(out) as f:
                    rows += json.load(f)
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    flags = f"--threads {args.threads} --rounds {args.rounds}{' --quick' if args.quick else ''}"
    header = (f"Measured with `python benchmarks/run_all.py {flags}`: {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores, Python {platform.python_version()}; each library alone in a fresh process "
              f"per round (order alternating), medians of the timed steps; ratio = mathdl / PyTorch eager; peak MB = "
              f"resident-memory growth (VmHWM) from before the model is built; load average {load0:.1f} -> "
              f"{load1:.1f}.")
    text = markdown(rows, header)
    if not args.only_table:
        extra = []
        for name in OTHERS:
            if not os.path.exists(os.path.join(HERE, name)):
                continue
            cmd = [sys.executable, os.path.join(HERE, name)]
            if name != "bench_bayes.py":
                cmd += ["--threads", args.threads]
            print("$", " ".join(cmd[1:]), flush=True)
            res = subprocess.run(cmd, capture_output=True, text=True)
            extra.append(f"`python benchmarks/{name}`\n\n```\n{(res.stdout or res.stderr).strip()}\n```")
        text += "\n\n" + "\n\n".join(extra)
    print()
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return rows


if __name__ == "__main__":
    main()

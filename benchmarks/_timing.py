"""Shared timing helpers for the benchmarks: median wall time and a printed comparison row."""

from __future__ import annotations

import statistics
import time


def time_samples(fn, repeat=30, warmup=5, inner=1):
    """Seconds per call of ``fn``, ``repeat`` samples of ``inner`` calls each, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return samples


def median_time(fn, repeat=30, warmup=5, inner=1):
    """Median seconds per call of ``fn`` (``inner`` calls per sample)."""
    return statistics.median(time_samples(fn, repeat, warmup, inner))


def paired_times(ours, theirs, repeat=30, warmup=5, inner=1):
    """Median seconds per call of two functions, sampled alternately so that background load
    affects both alike.  ``theirs`` may be None."""
    if theirs is None:
        return median_time(ours, repeat, warmup, inner), None
    for _ in range(warmup):
        ours()
        theirs()
    a, b = [], []
    for _ in range(repeat):
        for fn, acc in ((ours, a), (theirs, b)):
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            acc.append((time.perf_counter() - t0) / inner)
    return statistics.median(a), statistics.median(b)


def fmt(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.2f} us"
    return f"{seconds * 1e3:8.3f} ms"


def row(name, ours, theirs):
    """One line: mathdl time, PyTorch time (or n/a) and the ratio mathdl / PyTorch."""
    if theirs is None:
        print(f"{name:<44} mathdl {fmt(ours)}   torch      n/a")
        return None
    ratio = ours / theirs
    print(f"{name:<44} mathdl {fmt(ours)}   torch {fmt(theirs)}   ratio {ratio:5.2f}x")
    return ratio


def try_torch(threads=None):
    """PyTorch if installed, with both frameworks set to ``threads`` threads (default: all cores).

    NumPy's BLAS is limited through threadpoolctl, PyTorch through ``set_num_threads``, so the
    two always compute with the same number of threads.
    """
    import os

    n = threads or os.cpu_count() or 1
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:  # pragma: no cover
        pass
    try:
        import torch
    except ImportError:
        print("(PyTorch not installed: showing mathdl times only)")
        return None
    torch.set_num_threads(n)
    return torch


def thread_arg(parser):
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for NumPy's BLAS and PyTorch alike (default: all cores)")


# =========================================================================== fresh-process runs
# Every training-step benchmark runs each library alone in a fresh process: in one process each
# library's idle BLAS/OpenMP threads spin on the cores the other needs, which misreports
# multi-threaded ratios.  A benchmark script defines CASES (name -> description) and
# make_step(framework, case) -> (step, first_loss or None), and calls isolated_main(__file__, ...).
# The parent runs, per thread count and round, one child per library (the order alternating
# between rounds); each child times its steps and reports the median and its peak memory growth.

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "MATHDL_NUM_THREADS")


def set_threads_env_from_argv(default="1"):
    """In a child (``--child FW CASE THREADS ...``) fix the thread variables before NumPy loads."""
    import os
    import sys

    if "--child" in sys.argv:
        n = sys.argv[sys.argv.index("--child") + 3]
        for v in THREAD_VARS:
            os.environ[v] = n


def rss_mb(field="VmRSS"):
    """Resident memory from /proc/self/status (VmRSS now, VmHWM the peak since the last reset)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:  # pragma: no cover - not Linux
        return None
    return None


def load_runtime():
    """Load and initialize mathdl's compiled-loop runtime before a memory baseline, as ``import torch``
    loads and initializes torch's libraries before theirs: numba's import (~54 MB resident) and LLVM's
    JIT, initialized by compiling one trivial function (~69 MB).  What the workload's own kernels add
    when they load at its first step (~1 MB each) still counts."""
    try:
        import numba
    except ImportError:  # pragma: no cover
        return
    numba.njit(lambda v: v + 1)(1)


def reset_peak():
    """Linux: writing 5 to clear_refs resets VmHWM (the peak RSS) to the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:  # pragma: no cover
        pass


def set_child_threads(framework, threads):
    """In a child: ``threads`` threads for the library it times (torch's intra-op pool, or NumPy's BLAS
    and mathdl's pool alike)."""
    try:
        from mathdl.parallel import set_num_threads
    except ImportError:  # an older mathdl (before/after comparisons): BLAS threads only
        from threadpoolctl import threadpool_limits

        def set_num_threads(n):
            threadpool_limits(n)

    if framework == "torch":
        import torch

        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # pragma: no cover
            pass
    else:
        set_num_threads(threads)  # BLAS (threadpoolctl) and mathdl's pool alike


def run_child(script, child_args, threads, label=""):
    """``python script --child *child_args`` in a fresh process with every thread variable at ``threads``;
    the JSON object on its last output line, or None (with a printed note) when it failed."""
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    for v in THREAD_VARS:
        env[v] = str(threads)
    out = subprocess.run([sys.executable, os.path.abspath(script), "--child", *map(str, child_args)],
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        print(f"  ({label or ' '.join(map(str, child_args))} at {threads} threads failed: {' | '.join(tail)})")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def alternating_rounds(frameworks, rounds, run_one):
    """{framework: [run_one(framework) per round]}, the order of the frameworks alternating between
    rounds so that background load affects each alike; failed runs (None) are left out."""
    results = {fw: [] for fw in frameworks}
    for r in range(rounds):
        for fw in (frameworks if r % 2 == 0 else frameworks[::-1]):
            res = run_one(fw)
            if res is not None:
                results[fw].append(res)
    return results


def median_by_key(dicts):
    """{key: median over ``dicts`` of dict[key]} for the keys of the first dict ({} when there is none)."""
    import statistics

    return {k: statistics.median(d[k] for d in dicts) for k in (dicts[0] if dicts else ())}


def thread_counts(parser, text):
    """``--threads 1,2`` as a list of positive ints (a parser error otherwise)."""
    try:
        counts = [int(t) for t in str(text).split(",") if t.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        parser.error(f"--threads must be comma-separated positive integers, got {text!r}")
    return counts


def _child(make_step, framework, case, threads, repeat, warmup, inner):
    import json

    import mathdl  # noqa: F401  (imported before the memory baseline: torch children copy mathdl's weights)

    if framework != "torch":
        load_runtime()
    set_child_threads(framework, threads)
    reset_peak()
    before = rss_mb()
    step, first_loss = make_step(framework, case)
    import time

    c0, m0 = time.process_time(), time.thread_time()
    samples = time_samples(step, repeat, warmup, inner)
    calls = (repeat + warmup) * inner
    cpu, main_cpu = (time.process_time() - c0) / calls, (time.thread_time() - m0) / calls
    peak = rss_mb("VmHWM")
    print(json.dumps({"samples": samples, "peak_mb": None if before is None else peak - before,
                      "first_loss": first_loss, "cpu_s": cpu, "main_cpu_s": main_cpu}))


def _run_child(script, framework, case, threads, repeat, warmup, inner):
    return run_child(script, [framework, case, threads, repeat, warmup, inner], threads,
                     label=f"{framework} {case}")


def has_torch():
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def isolated_main(script, cases, make_step, argv=None, description="", repeat=20, warmup=3, rounds=2,
                  inner=None, unit="step"):
    """The command line of a fresh-process benchmark; returns a list of result rows (dicts).

    ``cases``: name -> description; ``inner``: name -> calls per timed sample (default 1)."""
    import argparse
    import json
    import os
    import statistics

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--repeat", type=int, default=repeat, help="timed steps per process")
    ap.add_argument("--warmup", type=int, default=warmup)
    ap.add_argument("--rounds", type=int, default=rounds, help="fresh processes per library and thread count")
    ap.add_argument("--cases", default=",".join(cases), help=f"subset of {','.join(cases)}")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    ap.add_argument("--cpu", action="store_true",
                    help="also print CPU seconds per step: all threads, and the calling thread alone (on a busy "
                         "machine the calling thread's CPU time estimates the step's time on a quiet one)")
    ap.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    inner = inner or {}
    if args.child:
        fw, case, th, rep, wu, inn = args.child
        _child(make_step, fw, case, int(th), int(rep), int(wu), int(inn))
        return None
    threads = thread_counts(ap, args.threads)
    frameworks = ["mathdl"] + ([] if args.no_torch or not has_torch() else ["torch"])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{description}\n(each library alone in a fresh process; {args.rounds} rounds x {args.repeat} "
          f"{unit}s, medians; load average {load:.1f} on {os.cpu_count()} cores)")
    rows = []
    for case in args.cases.split(","):
        if case not in cases:
            ap.error(f"unknown case {case!r}; expected some of {','.join(cases)}")
        for th in threads:
            runs = alternating_rounds(frameworks, args.rounds, lambda fw, case=case, th=th: _run_child(
                script, fw, case, th, args.repeat, args.warmup, inner.get(case, 1)))
            per = {fw: [t for res in v for t in res["samples"]] for fw, v in runs.items()}
            peaks = {fw: [res["peak_mb"] for res in v if res["peak_mb"] is not None] for fw, v in runs.items()}
            losses = {fw: v[-1]["first_loss"] for fw, v in runs.items() if v}
            med = {fw: statistics.median(v) if v else None for fw, v in per.items()}
            peak = {fw: max(v) if v else None for fw, v in peaks.items()}
            t_m, t_t = med.get("mathdl"), med.get("torch")
            ratio = t_m / t_t if t_m and t_t else None
            rowd = {"case": case, "description": cases[case], "threads": th, "mathdl_s": t_m, "torch_s": t_t,
                    "ratio": ratio, "mathdl_peak_mb": peak.get("mathdl"), "torch_peak_mb": peak.get("torch"),
                    "load": load}
            for fw, v in runs.items():
                for key in ("cpu_s", "main_cpu_s"):
                    vals = [res[key] for res in v if res.get(key) is not None]
                    rowd[f"{fw}_{key}"] = statistics.median(vals) if vals else None
            rows.append(rowd)
            tt = fmt(t_t) if t_t else "     n/a"
            rr = f"{ratio:5.2f}x" if ratio else "  n/a"
            pm = f"{peak['mathdl']:7.1f}" if peak.get("mathdl") is not None else "    n/a"
            pt = f"{peak['torch']:7.1f}" if peak.get("torch") is not None else "    n/a"
            print(f"{cases[case]:<52} {th:>2} thr  mathdl {fmt(t_m) if t_m else 'n/a'}  torch {tt}  "
                  f"ratio {rr}  peak MB mathdl {pm} torch {pt}")
            if args.cpu:
                print("   CPU per step: " + "   ".join(
                    f"{fw} all threads {fmt(rowd[f'{fw}_cpu_s'])}, calling thread {fmt(rowd[f'{fw}_main_cpu_s'])}"
                    for fw in runs if rowd.get(f"{fw}_cpu_s") is not None))
            if losses.get("mathdl") is not None and losses.get("torch") is not None:
                a, b = losses["mathdl"], losses["torch"]
                if abs(a - b) > 1e-3 * max(1.0, abs(b)):
                    print(f"   WARNING: first-step losses differ: mathdl {a:.6f}, torch {b:.6f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return rows


# =========================================================================== several cases per process
# A benchmark whose child times several cases in one fresh process per library: it defines
# make_cases(framework, threads) -> {case: fn} and calls case_table_main(__file__, CASES, make_cases, ...).


def case_row(case, m, t):
    """One printed line: mathdl's median of ``case`` in ms, and torch's with the ratio when it has the case."""
    line = f"{case:<26} mathdl {m[case] * 1e3:9.2f} ms"
    if case in t:
        line += f"   torch {t[case] * 1e3:9.2f} ms   ratio {m[case] / t[case]:5.2f}x"
    return line


def case_table_main(script, cases, make_cases, argv=None, description="", title="benchmarks", rounds=3, steps=10,
                    warmup=2, needs=None, row=case_row, show_load=False):
    """Command line (--rounds, --steps, --threads, --cases): per thread count, ``rounds`` fresh processes per
    library (order alternating), each timing the median of ``steps`` calls of every chosen case after
    ``warmup`` calls; printed per case: ``row(case, mathdl medians, torch medians)`` over the rounds.

    ``needs``: case -> further cases its row uses (timed when the library has them)."""
    import argparse
    import json
    import os

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--rounds", type=int, default=rounds)
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--cases", default=",".join(cases))
    ap.add_argument("--child", choices=("mathdl", "torch"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    counts = thread_counts(ap, args.threads)
    chosen = [c for c in args.cases.split(",") if c]
    unknown = set(chosen) - set(cases)
    if unknown:
        raise SystemExit(f"unknown cases {sorted(unknown)}; choose from {list(cases)}")
    if args.child:
        set_child_threads(args.child, counts[0])
        want = set(chosen).union(*((needs or {}).get(c, ()) for c in chosen))
        table = make_cases(args.child, counts[0])
        print(json.dumps({name: median_time(fn, args.steps, warmup) for name, fn in table.items() if name in want}))
        return
    libs = ["mathdl", "torch"] if has_torch() else ["mathdl"]
    if show_load and hasattr(os, "getloadavg"):
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{title}: median over {args.rounds} fresh processes x {args.steps} steps")
    for n in counts:
        res = alternating_rounds(libs, args.rounds, lambda lib, n=n: run_child(
            script, [lib, "--threads", n, "--steps", args.steps, "--cases", ",".join(chosen)], n, label=lib))
        med = {lib: median_by_key(v) for lib, v in res.items()}
        if not med["mathdl"]:  # the mathdl child failed (run_child printed why)
            continue
        print(f"-- {n} thread{'s' if n > 1 else ''}")
        for c in chosen:
            line = row(c, med["mathdl"], med.get("torch", {}))
            if line:
                print(line, flush=True)

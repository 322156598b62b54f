"""Shared timing helpers for the benchmarks: median wall time and a printed comparison row."""

from __future__ import annotations

import statistics
import time


def median_time(fn, repeat=30, warmup=5, inner=1):
    """Median seconds per call of ``fn`` (``inner`` calls per sample)."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


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

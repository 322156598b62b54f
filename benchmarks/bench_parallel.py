"""The cut-over of mathdl.parallel: one elementwise pass (x * y -> out) and one strided copy
(the im2col kind), serial against split over the threads, for growing array sizes.

  python benchmarks/bench_parallel.py [--threads 2] [--repeat 200]

Prints, per size, the serial and the split time and their ratio; the size where the split
starts to win is what ``mathdl.parallel.MIN_PARALLEL_ELEMENTS`` is set from.
"""

from __future__ import annotations

import argparse
import os
import sys
from functools import partial

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _timing import fmt, median_time  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args(argv)
    from mathdl import parallel

    parallel.set_num_threads(args.threads)
    print(f"threads {args.threads}; serial vs split; ratio < 1: the split wins")
    for k in range(12, 23):
        n = 1 << k
        x, y, out = (np.random.rand(n).astype(np.float32) for _ in range(3))
        src = np.random.rand(2 * n).astype(np.float32)[::2]  # a strided source, as im2col reads
        kern = lambda a, b, o: np.multiply(a, b, out=o)  # noqa: E731

        def split_mul(x=x, y=y, out=out, n=n, kern=kern):
            parallel.for_ranges(lambda lo, hi: kern(x[lo:hi], y[lo:hi], out[lo:hi]), n, 1 << 40)

        def split_copy(out=out, src=src, n=n):
            parallel.for_ranges(lambda lo, hi: np.copyto(out[lo:hi], src[lo:hi]), n, 1 << 40)

        ts = median_time(partial(kern, x, y, out), args.repeat)
        tp = median_time(split_mul, args.repeat)
        cs = median_time(partial(np.copyto, out, src), args.repeat)
        cp = median_time(split_copy, args.repeat)
        print(f"n = 2^{k:<3d} multiply {fmt(ts)} -> {fmt(tp)} ({tp / ts:5.2f})   "
              f"strided copy {fmt(cs)} -> {fmt(cp)} ({cp / cs:5.2f})")


if __name__ == "__main__":
    main()

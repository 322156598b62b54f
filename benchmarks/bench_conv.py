"""3x3 stride-1 convolution roads of mathdl/ops/conv.py on their own: im2col + GEMM against
Winograd F(2x2, 3x3) (mathdl/ops/winograd.py), forward and weight gradient, per layer shape.
The crossover sets conv.WINOGRAD_MIN_CHANNELS / WINOGRAD_MIN_PIXELS.

  python benchmarks/bench_conv.py [--threads 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import timeit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SHAPES = [(32, 16, 32, 16), (32, 32, 16, 32), (32, 64, 8, 64), (32, 64, 16, 64), (32, 128, 16, 128),
          (32, 256, 8, 256), (16, 128, 32, 128)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    import numpy as np

    import mathdl.parallel
    from mathdl.ops import conv as cv
    from mathdl.ops import winograd as wg

    mathdl.parallel.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    pads = (1, 1, 1, 1)

    def t(f):
        f()
        return min(timeit.repeat(f, number=1, repeat=args.repeat)) * 1e3

    old = cv.WINOGRAD_MIN_CHANNELS
    print(f"threads {args.threads}; ms, min of {args.repeat}; load average {os.getloadavg()[0]:.1f}")
    for N, C, H, O in SHAPES:
        x = rng.standard_normal((N, C, H, H)).astype(np.float32)
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)  # conv outputs' layout
        w = rng.standard_normal((O, C, 3, 3)).astype(np.float32)
        cv.WINOGRAD_MIN_CHANNELS = 10**9  # the im2col road
        g = cv._conv_forward(x, w, None, (1, 1), pads, (1, 1), 1)
        fd = t(lambda: cv._conv_forward(x, w, None, (1, 1), pads, (1, 1), 1))  # noqa: B023
        wd = t(lambda: cv._conv_weight(x, g, w.shape, (1, 1), pads, (1, 1), 1))  # noqa: B023
        cv.WINOGRAD_MIN_CHANNELS = old
        fw = t(lambda: wg.conv3x3(x, w, None, pads))  # noqa: B023
        ww = t(lambda: wg.conv3x3_weight(x, g, pads))  # noqa: B023
        print(f"N {N:3d} C {C:3d} {H:2d}x{H:<2d} O {O:3d}:  forward im2col {fd:7.2f} winograd {fw:7.2f} "
              f"({fd / fw:4.2f}x)   weight grad im2col {wd:7.2f} winograd {ww:7.2f} ({wd / ww:4.2f}x)")


if __name__ == "__main__":
    main()

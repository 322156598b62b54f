"""3x3 stride-1 convolution roads of mathdl/ops/conv.py on their own: im2col + GEMM against
Winograd F(2x2, 3x3) (mathdl/ops/winograd.py), forward and weight gradient, per layer shape.
The crossover sets conv.WINOGRAD_MIN_CHANNELS / WINOGRAD_MIN_PIXELS (compiled transforms, numba) and
conv.WINOGRAD_ARRAY_MIN_* (array transforms: run with MATHDL_NO_NUMBA=1).

With ``--tiles`` (and ``--threads 2`` or more) it instead times one conv2d forward + backward of the
LeNet and ResNet-20 layer shapes two ways: the image tiles on mathdl's threads with BLAS on one
thread inside (mathdl.parallel.blocks), and the tiles in turn with BLAS's own threads; the
crossover sets conv.PARALLEL_MIN_MACS.

  python benchmarks/bench_conv.py [--threads 1] [--repeat 3] [--tiles]
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
    ap.add_argument("--tiles", action="store_true", help="tiles on threads against BLAS threads")
    args = ap.parse_args(argv)
    if args.tiles:
        return tiles(args)
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

    old = cv.WINOGRAD_MIN_CHANNELS, cv.WINOGRAD_ARRAY_MIN_CHANNELS
    print(f"threads {args.threads}; ms, min of {args.repeat}; load average {os.getloadavg()[0]:.1f}")
    for N, C, H, O in SHAPES:
        x = rng.standard_normal((N, C, H, H)).astype(np.float32)
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)  # conv outputs' layout
        w = rng.standard_normal((O, C, 3, 3)).astype(np.float32)
        cv.WINOGRAD_MIN_CHANNELS = cv.WINOGRAD_ARRAY_MIN_CHANNELS = 10**9  # the im2col road
        g = cv._conv_forward(x, w, None, (1, 1), pads, (1, 1), 1)
        fd = t(lambda: cv._conv_forward(x, w, None, (1, 1), pads, (1, 1), 1))  # noqa: B023
        wd = t(lambda: cv._conv_weight(x, g, w.shape, (1, 1), pads, (1, 1), 1))  # noqa: B023
        cv.WINOGRAD_MIN_CHANNELS, cv.WINOGRAD_ARRAY_MIN_CHANNELS = old
        fw = t(lambda: wg.conv3x3(x, w, None, pads))  # noqa: B023
        ww = t(lambda: wg.conv3x3_weight(x, g, pads))  # noqa: B023
        print(f"N {N:3d} C {C:3d} {H:2d}x{H:<2d} O {O:3d}:  forward im2col {fd:7.2f} winograd {fw:7.2f} "
              f"({fd / fw:4.2f}x)   weight grad im2col {wd:7.2f} winograd {ww:7.2f} ({wd / ww:4.2f}x)")


# (N, C, H, W, O, k, stride, padding): LeNet's two convolutions, ResNet-20's stem, stages and downsamplings
TILE_SHAPES = [(64, 1, 28, 28, 16, 3, 1, 0), (64, 16, 13, 13, 32, 3, 1, 0), (32, 3, 32, 32, 16, 3, 1, 1),
               (32, 16, 32, 32, 16, 3, 1, 1), (32, 16, 32, 32, 32, 3, 2, 1), (32, 32, 16, 16, 32, 3, 1, 1),
               (32, 64, 8, 8, 64, 3, 1, 1), (8, 16, 16, 16, 16, 3, 1, 1)]


def tiles(args):
    import numpy as np

    import mathdl
    import mathdl.nn.functional as F
    import mathdl.parallel
    from mathdl.ops import conv as cv

    mathdl.parallel.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    old = cv.PARALLEL_MIN_MACS
    print(f"threads {args.threads}; conv2d forward + backward, ms, min of {args.repeat}; "
          f"load average {os.getloadavg()[0]:.1f}")
    for N, C, H, W, O, k, s, p in TILE_SHAPES:
        x = mathdl.tensor(rng.standard_normal((N, C, H, W)).astype(np.float32), requires_grad=True)
        w = mathdl.tensor(rng.standard_normal((O, C, k, k)).astype(np.float32), requires_grad=True)

        def step():
            y = F.conv2d(x, w, stride=s, padding=p)  # noqa: B023
            y.backward(y)

        times = {}
        for name, cut in (("tiles on threads", 0), ("BLAS threads", 1 << 62)):
            cv.PARALLEL_MIN_MACS = cut
            step()
            times[name] = min(timeit.repeat(step, number=1, repeat=args.repeat)) * 1e3
        cv.PARALLEL_MIN_MACS = old
        Ho = (H + 2 * p - k) // s + 1
        macs = N * O * C * k * k * Ho * ((W + 2 * p - k) // s + 1)
        a, b = times.values()
        print(f"N {N:3d} C {C:3d} {H:2d}x{W:<2d} O {O:3d} k {k} s {s} p {p} ({macs / 1e6:7.1f} M MACs):  "
              f"tiles on threads {a:7.2f}  BLAS threads {b:7.2f}  ({b / a:4.2f}x)")


if __name__ == "__main__":
    main()

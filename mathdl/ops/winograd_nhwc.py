"""Winograd F(4x4, 3x3) on channels-last (NHWC) memory: winograd.py's compiled road with every
array laid out so that its transforms are vector operations over the channels.

The formulas are winograd.py's: per tile of images, V = B^T d B (input transform), the 36
products M[:, k, :] (P, O) = V[:, k, :] (P, C) @ U[k]^T (C, O) over the P 4x4 blocks, and
y = A^T M A (+ bias); the weight gradient dU[k] (O, C) = Gt[:, k, :]^T (O, P) @ V[:, k, :] with
Gt = A g A^T; the input gradient is the same convolution of g with the flipped, transposed kernel.
Here V (P, 36, C), M (P, 36, O) and Gt (P, 36, O) hold a block's 36 values of all channels side by
side, images and gradients are NHWC, and the transforms (mathdl/ops/winograd_nhwc_kernels.py) run
over the channels innermost: 4-6x faster per value than the channel-major loops of
winograd_kernels.py, whose rows of 2-8 blocks do not vectorise.  The products are the same 36
BLAS calls, each operand a strided view (leading dimension 36 C).

A whole convolution is one compiled call (winograd_nhwc_kernels.tiles, compiled per pair of channel
counts): each tile's transforms and 36 products (through
blas_kernels.gemm) run without Python or the GIL, serially or over the OpenMP team's threads
(mathdl/openmp_team.py).  Measured on 2 cores, batch 32, forward / backward: 16 channels 32x32,
1.76 / 2.59 -> 1.74 / 2.41 ms at one thread and 1.40 / 1.82 -> 1.24 / 1.55 ms at two; 32 channels
16x16 at two, 0.87 / 1.20 -> 0.68 / 1.01 ms.  Otherwise each tile is a Python call handed out by
mathdl.parallel.blocks.

Layout: the convolution's output is an (N, O, Ho, Wo) view of NHWC memory, and input arriving in
another layout is copied to NHWC once (the first layer's NCHW images).  Batch norm, ReLU and the
residual additions keep their input's layout, so a ResNet's activations stay channels-last.
"""

from __future__ import annotations

import numpy as np

from .. import openmp_team
from .. import parallel as _parallel
from ..parallel import blocks
from . import layout_kernels, winograd_nhwc_kernels

__all__ = ["available", "nhwc", "conv3x3", "conv3x3_weight", "conv3x3_backward"]


def available(*widths):
    """Whether the channels-last kernels can be built for these channel counts."""
    return all(winograd_nhwc_kernels.kernels(c) is not False for c in widths)


def nhwc(a):
    """(N, H, W, C) C-contiguous memory of an (N, C, H, W) array: a view when its memory already is
    channels-last, else one copy."""
    t = a.transpose(0, 2, 3, 1)
    return t if t.flags.c_contiguous else layout_kernels.to_nhwc(a)


def _pipeline(C, O, par, dtype, *arrays):
    """The compiled whole-convolution pipelines (winograd_nhwc_kernels.tiles) for this call, and
    whether to use the team's: float32/float64, numba and SciPy's BLAS present, and the tiles either
    serial (par false, or T = 1) or on the OpenMP team (mathdl.parallel.on_team); None otherwise (the
    tiles then run as Python calls through mathdl.parallel.blocks)."""
    if np.dtype(dtype) not in (np.float32, np.float64) or not PIPELINES:
        return None
    team = par and _parallel.get_num_threads() > 1 and not _parallel.in_worker()
    if team and not _parallel.on_team():
        return None
    if not all(a.dtype == dtype and a.flags.c_contiguous and a.size for a in arrays):
        return None  # (an empty batch: the per-tile road, which has nothing to do)
    fns = winograd_nhwc_kernels.tiles(C, O)
    return None if fns is False else (fns, team)


def _kernel_memory(U, dtype):
    """The kernel transform's memory for the pipelines and its gemm flag: U (36, out, in) itself (read
    transposed: ord("t")), or, when U is a transposed view of contiguous memory (adjoint_transform's
    result), that (36, in, out) memory (read as it is: ord("n"))."""
    Ut = U.transpose(0, 2, 1)
    if Ut.flags.c_contiguous and Ut.dtype == dtype:
        return Ut, 78
    return np.ascontiguousarray(U, dtype=dtype), 84


def _run(fns, team, index, *args):
    """Pipeline ``index`` (0 forward, 1 backward) serially, or on the team with BLAS on one thread per call."""
    if not team:
        fns[index](*args)
        return
    openmp_team.use_threads(_parallel.get_num_threads())
    with _parallel.blas_serial():
        fns[2 + index](*args)


# The whole-convolution pipelines (False: every tile a Python call, as on the Python pool)
PIPELINES = True


def _grad_blocks(g, Th, Tw):
    """g (n, Ho, Wo, O) as whole 4x4 blocks (n, 4 Th, 4 Tw, O): itself when 4 divides Ho and Wo."""
    n, Ho, Wo, O = g.shape
    if Ho == 4 * Th and Wo == 4 * Tw:
        return g
    buf = np.zeros((n, 4 * Th, 4 * Tw, O), dtype=g.dtype)
    buf[:, :Ho, :Wo] = g
    return buf


def _input_tf(xl, pads, Th, Tw, dtype, kc):
    """V (P, 36, C) of the images xl (n, H, W, C)."""
    n, H, W, C = xl.shape
    V = np.empty((n * Th * Tw, 36, C), dtype=dtype)
    plane = np.zeros((4 * Th + 2, (4 * Tw + 2) * C), dtype=dtype)
    winograd_nhwc_kernels.kernels(C)[0](xl.astype(dtype, copy=False).reshape(n, H, W * C), pads[0], pads[2], Th, Tw,
                                        V.reshape(V.shape[0], -1), kc, plane)
    return V


def _forward_tile(xl, UT, bias, pads, Th, Tw, out, kc):
    """out (n, Ho, Wo, O) = conv3x3 of the images xl (n, H, W, C), UT (36, C, O) = U^T."""
    n, Ho, Wo, O = out.shape
    V = _input_tf(xl, pads, Th, Tw, out.dtype, kc)
    M = np.empty((V.shape[0], 36, O), dtype=out.dtype)
    np.matmul(V.transpose(1, 0, 2), UT, out=M.transpose(1, 0, 2))
    del V
    blk = np.empty(16 * O, dtype=out.dtype)
    winograd_nhwc_kernels.kernels(O)[1](M.reshape(M.shape[0], -1), Th, Tw, out.reshape(n, Ho, Wo * O), bias, kc, blk)


def conv3x3(x, U, b, pads, Ho, Wo, dtype, bounds, par, kc):
    """y = conv2d(x, w) + b (3x3, stride 1, F(4x4), U = kernel_transform(w, 4) (36, O, C)) in tiles
    of images ``bounds`` (winograd.py chooses them); returned as an (N, O, Ho, Wo) view of NHWC."""
    N = x.shape[0]
    O = U.shape[1]
    xl = nhwc(x)
    out = np.empty((N, Ho, Wo, O), dtype=dtype)
    Th, Tw = -(-Ho // 4), -(-Wo // 4)
    xl = xl.astype(dtype, copy=False)
    road = _pipeline(x.shape[1], O, par, dtype, xl, b)
    if road is not None:
        H = xl.shape[1]
        Uc, tb = _kernel_memory(U, dtype)
        _run(*road, 0, xl.reshape(N, H, -1), Uc, tb, b, pads[0], pads[2], Th, Tw, out.reshape(N, Ho, -1), kc,
             np.array(bounds, np.int64))
        return out.transpose(0, 3, 1, 2)
    UT = U.transpose(0, 2, 1)
    blocks(lambda k: _forward_tile(xl[slice(*bounds[k])], UT, b, pads, Th, Tw, out[slice(*bounds[k])], kc),
           len(bounds), par)
    return out.transpose(0, 3, 1, 2)


def _weight_tile(xl, gl, pads, dtype, kc, V=None):
    """This tile's part (36, O, C) of dU = sum over blocks of Gt[:, k, :]^T V[:, k, :]."""
    n, Ho, Wo, O = gl.shape
    Th, Tw = -(-Ho // 4), -(-Wo // 4)
    if V is None:
        V = _input_tf(xl, pads, Th, Tw, dtype, kc)
    gp = _grad_blocks(gl.astype(dtype, copy=False), Th, Tw)
    Gt = np.empty((n * Th * Tw, 36, O), dtype=dtype)
    winograd_nhwc_kernels.kernels(O)[2](gp.reshape(n, gp.shape[1], -1), Th, Tw, Gt.reshape(Gt.shape[0], -1), kc)
    return np.matmul(Gt.transpose(1, 2, 0), V.transpose(1, 0, 2))


def conv3x3_weight(x, g, pads, dtype, bounds, par, kc):
    """The parts (36, O, C), one per tile of images, of dU for y = conv2d(x, w) and dL/dy = g."""
    xl, gl = nhwc(x), nhwc(g)
    return blocks(lambda k: _weight_tile(xl[slice(*bounds[k])], gl[slice(*bounds[k])], pads, dtype, kc),
                  len(bounds), par)


def conv3x3_backward(g, Uf, full, x, pads, dtype, bounds, par, kc):
    """dL/dx (an (N, C, H, W) view of NHWC) = conv3x3(g, wf, full padding) with Uf (36, C, O) the
    flipped kernel's transform, and the parts of dU (conv3x3_weight's), in one pass over tiles."""
    N, H, W = x.shape[0], x.shape[2], x.shape[3]
    C = Uf.shape[1]
    xl, gl = nhwc(x), nhwc(g)
    dx = np.empty((N, H, W, C), dtype=dtype)
    zero = np.zeros(C, dtype)
    Sh, Sw = -(-H // 4), -(-W // 4)
    O, Ho, Wo = gl.shape[3], gl.shape[1], gl.shape[2]
    xl, gl = xl.astype(dtype, copy=False), gl.astype(dtype, copy=False)
    road = _pipeline(C, O, par, dtype, xl, gl)
    if road is not None:
        Th, Tw = -(-Ho // 4), -(-Wo // 4)
        gp = _grad_blocks(gl, Th, Tw)
        parts = np.empty((len(bounds), 36, O, C), dtype)
        Ufc, tb = _kernel_memory(Uf, dtype)
        _run(*road, 1, gl.reshape(N, Ho, -1), gp.reshape(N, gp.shape[1], -1), Ufc, tb, zero, full[0], full[2], Sh, Sw,
             dx.reshape(N, H, -1), xl.reshape(N, H, -1), pads[0], pads[2], Th, Tw, parts, kc,
             np.array(bounds, np.int64))
        return dx.transpose(0, 3, 1, 2), parts
    UT = Uf.transpose(0, 2, 1)

    def tile(k):
        sl = slice(*bounds[k])
        _forward_tile(gl[sl], UT, zero, full, Sh, Sw, dx[sl], kc)
        return _weight_tile(xl[sl], gl[sl], pads, dtype, kc)

    parts = blocks(tile, len(bounds), par)
    return dx.transpose(0, 3, 1, 2), parts

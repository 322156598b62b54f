"""numba's on-disk cache serves mathdl's compiled kernels to every later process: a kernel that
reached another compiled function through a closure cell was keyed by that cell (which differs
per process), so each new process compiled it again (seconds at its first step, and the cache
directory grew by one entry per process).  Two fresh processes sharing one cache directory: the
second compiles nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("numba")

SCRIPT = r"""
import json
import numpy as np
import mathdl
import mathdl.nn.functional as F
from mathdl.ops import row_kernels, winograd as wg, winograd_kernels as wk, winograd_nhwc_kernels as wn
x = np.random.randn(2, 16, 8, 8).astype(np.float32)
w = np.random.randn(16, 16, 3, 3).astype(np.float32)
from mathdl.ops import winograd_nhwc
winograd_nhwc.PIPELINES = False  # the per-tile kernels first (the pipelines below)
for channels_last in (False, True):
    wg.CHANNELS_LAST = channels_last
    wg.conv3x3(x, w, None, (1, 1, 1, 1))
    wg.conv3x3_weight(x, x, (1, 1, 1, 1))
winograd_nhwc.PIPELINES = True
F.softmax(mathdl.randn(300, 64), -1)
kernels = dict(zip(("input4", "output4", "grad4"), wk.kernels()[4]))
kernels.update(zip(("nhwc_input4", "nhwc_output4", "nhwc_grad4"), wn.kernels(16)))
from mathdl.ops import bn_channels_last_kernels as clk
xb = np.ascontiguousarray(np.random.randn(4, 16, 16, 16).astype(np.float32).transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
F.batch_norm(mathdl.from_numpy(xb).requires_grad_(), None, None, training=True, relu=True).sum().backward()
kernels["bn_cl_fwd"], kernels["bn_cl_bwd"] = clk.kernels()["fwd_all"], clk.kernels()["bwd_all"]
from mathdl.ops import pooling
F.max_pool2d(mathdl.from_numpy(xb), 2), F.max_pool2d(mathdl.from_numpy(np.ascontiguousarray(xb)), 2)
kernels["pool2x2"], kernels["pool2x2_nhwc"] = pooling._pool_kernels[0], pooling._pool_kernels[2]
kernels["shift"] = row_kernels._k["shift"]
# the whole-convolution pipelines (C == O), serial and, where the OpenMP team runs, on the team
from mathdl import parallel
xt = mathdl.from_numpy(xb).requires_grad_()
wt = mathdl.from_numpy(w).requires_grad_()
F.conv2d(xt, wt, padding=1).sum().backward()
kernels["pipe_fwd"], kernels["pipe_bwd"] = wn.tiles(16, 16)[:2]
mathdl.set_num_threads(2)
if parallel.on_team():
    from mathdl.ops import conv
    conv.PARALLEL_MIN_MACS = 0
    F.conv2d(xt, wt, padding=1).sum().backward()
    kernels["pipe_fwd_team"], kernels["pipe_bwd_team"] = wn.tiles(16, 16)[2:]
print(json.dumps({k: [sum(d.stats.cache_misses.values()), sum(d.stats.cache_hits.values())]
                  for k, d in kernels.items()}))
"""


def _run(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), MATHDL_NUM_THREADS="1")
    env.pop("MATHDL_NO_NUMBA", None)
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_process_compiles_nothing(tmp_path):
    first = _run(tmp_path)
    assert all(misses >= 1 for misses, _ in first.values()), first  # the first process compiled them
    second = _run(tmp_path)
    assert all(misses == 0 and hits >= 1 for misses, hits in second.values()), second

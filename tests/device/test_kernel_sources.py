"""The CUDA sources of mathdl/ops/device_kernels.py compile (float and double), without a GPU:
each kernel is written out the way CuPy's ElementwiseKernel / ReductionKernel wrap it (typedef T,
inputs as const values, outputs as references, the reduction's map/reduce/post-map expressions)
and compiled to PTX with nvcc.  Skipped where nvcc is not installed."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from mathdl.ops import device_kernels as dk

NVCC = shutil.which("nvcc")
_C_TYPES = {"float64": "double", "float32": "float", "int32": "int"}


def _params(spec, T):
    out = []
    for p in spec.split(","):
        typ, name = p.split()
        out.append((T if typ == "T" else _C_TYPES[typ], name))
    return out


def kernel_source(fused, T):
    """A CUDA function with the shape of CuPy's generated kernel for ``fused`` at element type T."""
    ins, outs = _params(fused.in_params, T), _params(fused.out_params, T)
    args = ", ".join([f"const {t}* _raw_{n}" for t, n in ins] + [f"{t}* _raw_{n}" for t, n in outs])
    body = [f"typedef {T} T;", "int i = blockIdx.x * blockDim.x + threadIdx.x;"]
    body += [f"const {t} {n} = _raw_{n}[i];" for t, n in ins]
    if fused.kind == "elementwise":
        body += [f"{t} &{n} = _raw_{n}[i];" for t, n in outs]
        body += ["typedef _mathdl_acc<T>::type C;", fused.body]
    else:
        reduce_expr, post_map, identity = fused.reduce
        (t0, n0), = outs
        body += ["typedef T _type_reduce;",
                 "struct { __device__ long size() const { return 4; } } _in_ind, _out_ind;",
                 f"_type_reduce a = static_cast<_type_reduce>({identity});",
                 f"_type_reduce b = static_cast<_type_reduce>({fused.body});",
                 f"a = {reduce_expr};", f"{t0} &{n0} = _raw_{n0}[i];", post_map + ";"]
    return f'extern "C" __global__ void {fused.name}_{T}({args}) {{\n    ' + "\n    ".join(body) + "\n}"


def all_kernels():
    return [k for k in vars(dk).values() if isinstance(k, dk._Fused)]


@pytest.mark.skipif(NVCC is None, reason="nvcc is not installed")
def test_kernel_sources_compile(tmp_path):
    kernels = all_kernels()
    assert len(kernels) >= 10
    src = "\n\n".join(["#include <cmath>", dk._PREAMBLE] + [kernel_source(k, T) for k in kernels
                                                             for T in ("float", "double")])
    cu = tmp_path / "kernels.cu"
    cu.write_text(src)
    res = subprocess.run([NVCC, "-ptx", "-diag-suppress", "177", str(cu), "-o", str(tmp_path / "k.ptx")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    ptx = (tmp_path / "k.ptx").read_text()
    assert ptx.count(".entry") == 2 * len(kernels)

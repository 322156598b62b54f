"""The CUDA sources of mathdl/ops/device_kernels.py compile (float and double), without a GPU:
each kernel is written out the way CuPy's ElementwiseKernel / ReductionKernel wrap it (typedef T,
inputs as const values, outputs as references, the reduction's map/reduce/post-map expressions)
and compiled to PTX with nvcc.  Skipped where nvcc is not installed."""

from __future__ import annotations

import ctypes
import shutil
import subprocess

import numpy as np
import pytest

from mathdl.ops import conv_device
from mathdl.ops import device_kernels as dk

NVCC = shutil.which("nvcc")
_C_TYPES = {"float64": "double", "float32": "float", "int32": "int"}


def _params(spec, T):
    out = []
    for p in spec.split(","):
        words = p.split()
        typ, name = words[-2], words[-1]
        c_type = T if typ == "T" else {"int64": "long long"}.get(typ, _C_TYPES.get(typ))
        out.append((c_type, ("raw " if words[0] == "raw" else "") + name))
    return out


def kernel_source(fused, T):
    """A CUDA function with the shape of CuPy's generated kernel for ``fused`` at element type T."""
    ins, outs = _params(fused.in_params, T), _params(fused.out_params, T)
    ins = [(t, n.replace("raw ", "")) if n.startswith("raw ") else (t, n) for t, n in ins]
    raw = {n for t, n in _params(fused.in_params, T) if n.startswith("raw ")}
    args = ", ".join([f"const {t}* _raw_{n}" for t, n in ins] + [f"{t}* _raw_{n}" for t, n in outs])
    body = [f"typedef {T} T;", "int i = blockIdx.x * blockDim.x + threadIdx.x;"]
    body += [f"const {t}* {n} = _raw_{n};" if "raw " + n in raw else f"const {t} {n} = _raw_{n}[i];"
             for t, n in ins]
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


IM2COL_CASES = [((2, 3, 7, 6), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), False),
                ((2, 3, 8, 9), (3, 2), (2, 1), (0, 1, 2, 0), (1, 2), True),
                ((1, 4, 5, 5), (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), False),
                ((3, 2, 6, 7), (2, 3), (1, 3), (2, 2, 0, 3), (3, 1), True)]


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")
def test_im2col_body_index_math_on_the_cpu(tmp_path):
    """The im2col kernel's CUDA body, compiled as C++ in a loop over i and run on the CPU with the
    arguments device_kernels.im2col passes, equals the padded strided copy (NCHW and channel-major
    inputs, strides, dilation, asymmetric padding)."""
    src = ("typedef double T;\n"
           'extern "C" void run(const double* x, double* out, long long total, ' +
           ", ".join(f"long long {n}" for n in ("n_ch", "k_h", "k_w", "n_img", "h_out", "w_out", "h_in", "w_in",
                                                "st_h", "st_w", "dl_h", "dl_w", "pad_t", "pad_l", "es_n", "es_c",
                                                "es_h", "es_w")) +
           ") {\n  for (long long i = 0; i < total; ++i) {\n    double& col = out[i];\n" + dk.IM2COL_BODY + "  }\n}\n")
    (tmp_path / "im2col.cpp").write_text(src)
    lib_path = tmp_path / "im2col.so"
    res = subprocess.run(["g++", "-O1", "-shared", "-fPIC", str(tmp_path / "im2col.cpp"), "-o", str(lib_path)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    run = ctypes.CDLL(str(lib_path)).run
    rng = np.random.default_rng(0)
    for shape, (kh, kw), stride, pads, dil, channel_major in IM2COL_CASES:
        x = rng.standard_normal(shape)
        if channel_major:
            x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
        Ho = (shape[2] + pads[0] + pads[1] - dil[0] * (kh - 1) - 1) // stride[0] + 1
        Wo = (shape[3] + pads[2] + pads[3] - dil[1] * (kw - 1) - 1) // stride[1] + 1
        x_used, args = dk.im2col_args(x, kh, kw, stride, pads, dil, Ho, Wo)
        assert x_used is x  # both layouts are read in place
        flat = np.ascontiguousarray(args[0])
        out = np.empty((shape[1] * kh * kw, shape[0] * Ho * Wo))
        run(flat.ctypes.data_as(ctypes.c_void_p), out.ctypes.data_as(ctypes.c_void_p), ctypes.c_longlong(out.size),
            *(ctypes.c_longlong(int(a)) for a in args[1:]))
        want = conv_device._im2col(conv_device._pad(x, pads), kh, kw, stride, dil, Ho, Wo)
        np.testing.assert_array_equal(out, want)

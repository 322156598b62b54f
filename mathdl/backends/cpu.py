"""``torch.backends.cpu``: the CPU capability NumPy was built for."""

from __future__ import annotations


def get_cpu_capability() -> str:
    """The highest SIMD extension NumPy's kernels dispatch to ("AVX512F", "AVX2", "NEON"...), or
    "DEFAULT"."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as feats
    except ImportError:  # NumPy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as feats
    for name in ("AVX512F", "AVX2", "SVE", "ASIMD", "NEON"):
        if feats.get(name):
            return name
    return "DEFAULT"

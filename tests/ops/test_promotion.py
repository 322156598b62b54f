"""Type promotion against PyTorch: for every binary op and every pair of dtypes mathdl supports
(each operand a tensor with dimensions, a 0-d tensor, or a Python bool/int/float), the result
dtype is PyTorch's, and so is the refusal when PyTorch refuses; unary float functions of
integer and boolean tensors give the default float dtype.  One test per op, looping over
the pairs.  Skipped without torch."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl as md

torch = pytest.importorskip("torch")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
SCALARS = [True, 3, 2.5]

BINARY = {
    "add": (md.add, torch.add), "sub": (md.sub, torch.sub), "mul": (md.mul, torch.mul),
    "div": (md.div, torch.div), "pow": (md.pow, torch.pow), "maximum": (md.maximum, torch.maximum),
    "minimum": (md.minimum, torch.minimum), "atan2": (md.atan2, torch.atan2), "fmod": (md.fmod, torch.fmod),
    "remainder": (md.remainder, torch.remainder), "hypot": (md.hypot, torch.hypot),
    "logaddexp": (md.logaddexp, torch.logaddexp), "copysign": (md.copysign, torch.copysign),
    "eq": (md.eq, torch.eq), "lt": (md.lt, torch.lt), "ge": (md.ge, torch.ge),
    "floor_divide": (md.floor_divide, torch.floor_divide), "true_divide": (md.true_divide, torch.true_divide),
    "fmax": (md.fmax, torch.fmax), "where": (lambda a, b: md.where(md.tensor([True, False]), a, b),
                                             lambda a, b: torch.where(torch.tensor([True, False]), a, b)),
    "operator+": (lambda a, b: a + b, lambda a, b: a + b), "operator*": (lambda a, b: a * b, lambda a, b: a * b),
    "operator/": (lambda a, b: a / b, lambda a, b: a / b), "operator**": (lambda a, b: a ** b, lambda a, b: a ** b),
}
UNARY_FLOAT = ["exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh", "sigmoid", "erf",
               "erfc", "sinh", "cosh", "asin", "acos", "atan", "asinh", "acosh", "atanh", "log2", "log10", "exp2",
               "reciprocal", "deg2rad", "rad2deg"]


def _operand(kind, dtype, lib):
    """A test operand: 'dim' a (2,) tensor, 'zero' a 0-d tensor, 'scalar' the Python value ``dtype``."""
    if kind == "scalar":
        return dtype
    vals = [1, 2] if kind == "dim" else 2
    if lib is torch:
        return torch.tensor(vals, dtype=getattr(torch, dtype))
    return md.tensor(np.array(vals).astype(md.backend.as_dtype(dtype)))


def _pairs():
    kinds = [("dim", d) for d in DTYPES] + [("zero", d) for d in DTYPES] + [("scalar", s) for s in SCALARS]
    for ka, da in kinds:
        for kb, db in kinds:
            if ka == kb == "scalar":
                continue
            yield (ka, da), (kb, db)


def _torch_dtype_name(t):
    return str(t.dtype).replace("torch.", "")


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_result_dtype_matches_torch(name):
    fm, ft = BINARY[name]
    bad, n = [], 0
    for (ka, da), (kb, db) in _pairs():
        try:
            want = _torch_dtype_name(ft(_operand(ka, da, torch), _operand(kb, db, torch)))
        except (RuntimeError, TypeError):
            want = None
        try:
            with np.errstate(all="ignore"):
                got = str(fm(_operand(ka, da, md), _operand(kb, db, md)).dtype)
        except (RuntimeError, TypeError, ValueError):
            got = None
        n += 1
        if want is not None and got != want:  # mathdl may accept pairs torch refuses (e.g. bool - bool)
            bad.append(f"{ka} {da} with {kb} {db}: {got} vs torch {want}")
    assert n > 300
    assert not bad, f"{name}: {len(bad)} of {n} pairs differ:\n" + "\n".join(bad[:10])


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int16", "int32", "int64"])
def test_unary_float_functions_of_integers_give_the_default_float(dtype):
    x = md.tensor(np.array([1, 0]).astype(md.backend.as_dtype(dtype)))
    xt = torch.tensor([1, 0], dtype=getattr(torch, dtype))
    for name in UNARY_FLOAT:
        with np.errstate(all="ignore"):
            got = getattr(md, name)(x)
        want = getattr(torch, name)(xt)
        assert str(got.dtype) == _torch_dtype_name(want) == "float32", name
    md.set_default_dtype(md.float64)
    try:
        assert md.exp(x).dtype == md.float64
    finally:
        md.set_default_dtype(md.float32)


def test_result_type_function_matches_torch():
    for (ka, da), (kb, db) in _pairs():
        want = str(torch.result_type(_operand(ka, da, torch), _operand(kb, db, torch))).replace("torch.", "")
        got = str(md.result_type(_operand(ka, da, md), _operand(kb, db, md)))
        assert got == want, f"{ka} {da} with {kb} {db}: {got} vs torch {want}"
    for a in DTYPES:
        for b in DTYPES:
            want = str(torch.promote_types(getattr(torch, a), getattr(torch, b))).replace("torch.", "")
            assert str(md.promote_types(md.backend.as_dtype(a), md.backend.as_dtype(b))) == want, (a, b)

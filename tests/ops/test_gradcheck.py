"""Every differentiable op of the table passes gradcheck and gradgradcheck in float64."""

from __future__ import annotations

import functools

import pytest

from mathdl.autograd import gradcheck, gradgradcheck

from .op_table import DIFF_OPS, cases, to_mathdl

CASES, IDS = cases(DIFF_OPS)


def _bound(op, sample):
    fn = functools.partial(op.fn, **sample.kwargs)
    fn.__name__ = op.name
    return fn


@pytest.mark.parametrize("op,sample", CASES, ids=IDS)
def test_gradcheck(op, sample):
    xs = to_mathdl(sample)
    assert gradcheck(_bound(op, sample), xs, eps=1e-6, atol=1e-6, rtol=1e-4, name=op.name)


@pytest.mark.parametrize("op,sample", [c for c in CASES if c[0].gradgrad],
                         ids=[i for c, i in zip(CASES, IDS) if c[0].gradgrad])
def test_gradgradcheck(op, sample):
    xs = to_mathdl(sample)
    assert gradgradcheck(_bound(op, sample), xs, eps=1e-6, atol=1e-5, rtol=1e-3, name=op.name)

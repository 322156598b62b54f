"""Edge cases of mathdl.special: removable singularities, tails, errors, the backend dispatch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mathdl as md
import mathdl.special as ms
from mathdl.ops.special_functions import _special_module


def _grad(f, x):
    t = md.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    f(t).sum().backward()
    return t.grad.numpy()


def test_derivatives_at_removable_singularities():
    assert _grad(ms.i1, [0.0])[0] == pytest.approx(0.5)
    assert _grad(ms.i1e, [0.0])[0] == pytest.approx(0.5)
    assert _grad(ms.bessel_j1, [0.0])[0] == pytest.approx(0.5)
    assert _grad(ms.sinc, [0.0])[0] == 0.0
    assert ms.sinc(md.tensor([0.0])).item() == 1.0
    assert _grad(ms.spherical_bessel_j0, [0.0])[0] == 0.0


def test_values_at_known_points():
    assert ms.gammaln(md.tensor([5.0], dtype=md.float64)).item() == pytest.approx(math.log(24))
    assert ms.digamma(md.tensor([1.0], dtype=md.float64)).item() == pytest.approx(-0.5772156649015329)
    assert ms.polygamma(1, md.tensor([1.0], dtype=md.float64)).item() == pytest.approx(math.pi ** 2 / 6)
    assert ms.zeta(md.tensor([2.0], dtype=md.float64), md.tensor([1.0], dtype=md.float64)).item() == \
        pytest.approx(math.pi ** 2 / 6)
    assert ms.entr(md.tensor([0.0])).item() == 0.0
    assert ms.ndtri(ms.ndtr(md.tensor([1.3], dtype=md.float64))).item() == pytest.approx(1.3)


def test_log_ndtr_tail_is_finite_with_gradient():
    """log Phi(-30) ~ -454: log(ndtr) would give -inf; the gradient ~ 30 stays finite."""
    x = md.tensor([-30.0], dtype=md.float64, requires_grad=True)
    y = ms.log_ndtr(x)
    y.sum().backward()
    assert np.isfinite(y.item()) and y.item() < -400
    assert x.grad.item() == pytest.approx(30.03, rel=1e-3)


def test_second_derivative_of_gammaln_is_trigamma():
    x = md.tensor([2.5], dtype=md.float64, requires_grad=True)
    (g,) = md.autograd.grad(ms.gammaln(x).sum(), [x], create_graph=True)
    (h,) = md.autograd.grad(g.sum(), [x])
    assert h.item() == pytest.approx(float(ms.polygamma(1, md.tensor([2.5], dtype=md.float64)).item()))


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="n must be a non-negative int"):
        ms.polygamma(-1, md.tensor([1.0]))
    with pytest.raises(ValueError, match=r"\(p-1\)/2"):
        ms.multigammaln(md.tensor([0.5]), 3)
    a = md.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="first argument"):
        ms.gammainc(a, md.tensor([1.0])).sum().backward()
    with pytest.raises(ValueError, match="broadcast"):
        ms.xlogy(md.tensor([1.0, 2.0]), md.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="integer degree"):
        ms.hermite_polynomial_h(md.tensor([0.5]), 1.5)


def test_special_module_dispatch():
    import scipy.special

    assert _special_module(np) is scipy.special


def test_reachable_from_import_mathdl():
    import mathdl

    assert mathdl.special.gammaln is ms.gammaln
    assert mathdl.special.softmax(md.tensor([[1.0, 2.0]]), -1).shape == (1, 2)

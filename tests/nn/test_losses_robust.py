"""Barron's general and adaptive robust loss: closed-form special cases, stability and continuity
across the limits alpha = 0, 2, -inf, gradients in x, alpha and c (first and second order), the
tabulated log-partition function against quadrature, and recovery of alpha and scale from
samples of the corresponding distribution."""

import math

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
from mathdl.autograd import gradcheck, gradgradcheck
from mathdl.nn import AdaptiveRobustLoss, RobustLoss
from mathdl.nn.functional.loss import _rho_numpy
from mathdl.ops.losses import exprel_k

X = np.array([-7.0, -2.5, -1.0, -0.3, 0.0, 0.2, 0.9, 3.0, 40.0])


def _t(a, grad=False, dtype=np.float64):
    return mathdl.tensor(np.asarray(a, dtype=dtype), requires_grad=grad)


def rho(x, alpha, c=1.0, dtype=np.float64):
    return F.general_robust_loss(_t(x, dtype=dtype), alpha, c).numpy()


@pytest.mark.parametrize("c", [1.0, 0.7])
def test_special_cases_closed_forms(c):
    z = (X / c) ** 2
    np.testing.assert_array_equal(rho(X, 2.0, c), 0.5 * z)  # L2, exactly
    np.testing.assert_allclose(rho(X, 0.0, c), np.log1p(0.5 * z), rtol=1e-15)  # Cauchy
    np.testing.assert_allclose(rho(X, -np.inf, c), -np.expm1(-0.5 * z), rtol=1e-15)  # Welsch
    np.testing.assert_allclose(rho(X[:-1], np.inf, c), np.expm1(0.5 * z[:-1]), rtol=1e-15)
    np.testing.assert_allclose(rho(X, 1.0, c), np.sqrt(z + 1) - 1, rtol=1e-13)  # Charbonnier
    np.testing.assert_allclose(rho(X, -2.0, c), 2 * z / (z + 4), rtol=1e-13)  # Geman-McClure
    np.testing.assert_allclose(rho(X, 3.0, c), (1 / 3) * ((z + 1) ** 1.5 - 1), rtol=1e-13)


def test_alpha_two_is_scaled_l2_in_float32_and_as_module():
    x = np.linspace(-3, 3, 13).astype(np.float32)
    out = F.general_robust_loss(_t(x, dtype=np.float32), 2.0, 1.5)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), 0.5 * (x / 1.5) ** 2, rtol=1e-6)
    m = RobustLoss(alpha=2.0, scale=1.5, reduction="sum")
    np.testing.assert_allclose(m(_t(x, dtype=np.float32)).item(), (0.5 * (x / 1.5) ** 2).sum(), rtol=1e-6)
    y = np.zeros_like(x) + 0.5
    np.testing.assert_allclose(F.robust_loss(_t(x), _t(y), alpha=2.0, reduction="mean").item(),
                               np.mean(0.5 * (x - 0.5) ** 2), rtol=1e-12)


@pytest.mark.parametrize("limit,nearby", [(0.0, [1e-12, -1e-12, 1e-7, -1e-7]), (2.0, [2 - 1e-9, 2 + 1e-9, 2 - 1e-6]),
                                          (-np.inf, [-1e9, -1e14])])
def test_continuity_across_limits(limit, nearby):
    at_limit = rho(X, limit)
    for a in nearby:
        gap = abs(a - limit) if np.isfinite(limit) else 1.0 / abs(a)
        # rho is Lipschitz in alpha near 0 and -inf (in 1/alpha); near 2 it moves like |s log s|
        tol = 50 * gap * (1 + abs(math.log(gap))) + 1e-14
        np.testing.assert_allclose(rho(X, a), at_limit, rtol=tol, atol=1e-300, err_msg=f"alpha={a}")


def test_tensor_alpha_matches_number_alpha_including_limits():
    alphas = [-np.inf, -3.0, -1e-8, 0.0, 1e-8, 0.5, 1.0, 2.0, 2.5, np.inf]
    x = np.array([0.3, -1.7, 2.2])
    A = _t(np.array(alphas)[:, None])
    got = F.general_robust_loss(_t(x), A, 1.3).numpy()
    for i, a in enumerate(alphas):
        np.testing.assert_allclose(got[i], rho(x, a, 1.3), rtol=1e-13, err_msg=f"alpha={a}")


def test_stable_where_the_naive_formula_is_not():
    x = np.array([0.5, 1.0, 3.0])
    naive = lambda a: abs(a - 2) / a * (((x ** 2) / abs(a - 2) + 1) ** (a / 2) - 1)  # noqa: E731
    # alpha = 1e-13: the naive form loses ~3 digits to cancellation; ours matches the series limit
    a = 1e-13
    ref = np.log1p(x ** 2 / abs(a - 2)) * abs(a - 2) / 2  # first-order term (error ~ a)
    np.testing.assert_allclose(rho(x, a), ref, rtol=1e-12)
    assert np.abs(naive(a) / ref - 1).max() > 1e-6
    # float32 at alpha = -1e30: no overflow / nan, Welsch limit
    np.testing.assert_allclose(rho(x, -1e30, dtype=np.float32), -np.expm1(-0.5 * x ** 2), rtol=1e-6)


def test_monotone_in_alpha():
    x = np.array([0.5, 2.0, 10.0])
    vals = np.stack([rho(x, a) for a in [-np.inf, -10.0, -2.0, 0.0, 0.5, 1.0, 2.0, 3.0]])
    assert (np.diff(vals, axis=0) > 0).all()


@pytest.mark.parametrize("alpha", [-np.inf, -4.0, -0.7, 0.0, 0.6, 1.3, 3.0])
def test_gradcheck_x_and_scale(alpha):
    x = np.array([-2.1, -0.4, 0.0, 0.7, 1.9])
    c = np.array([1.3])
    fn = lambda a, s: F.general_robust_loss(a, alpha, s)  # noqa: E731
    xs = [_t(x, True), _t(c, True)]
    assert gradcheck(fn, xs)
    assert gradgradcheck(fn, xs)


@pytest.mark.parametrize("alpha", [-3.0, -0.2, 0.0, 1e-9, 0.4, 1.5, 2.6])
def test_gradcheck_alpha_x_scale(alpha):
    """Derivatives in all three arguments, including alpha at exactly 0 (through phi_k)."""
    x = np.array([-1.7, 0.3, 2.4])
    fn = lambda a, al, s: F.general_robust_loss(a, al, s)  # noqa: E731
    xs = [_t(x, True), _t([alpha], True), _t([0.8], True)]
    assert gradcheck(fn, xs, atol=1e-6)
    assert gradgradcheck(fn, xs, atol=1e-6)


def test_alpha_derivative_continuous_at_zero():
    x = _t([0.4, -1.5, 3.0])
    grads = []
    for a in [-1e-7, 0.0, 1e-7]:
        A = _t([a], True)
        F.general_robust_loss(x, A).sum().backward()
        grads.append(A.grad.item())
    np.testing.assert_allclose(grads, grads[1], rtol=1e-6)


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_exprel_family(k):
    from scipy.integrate import quad

    u = np.array([-40.0, -3.0, -1.0, -0.999, -1e-9, 0.0, 1e-9, 0.5, 0.9999, 1.0, 2.0, 20.0])
    got = exprel_k(_t(u), k).numpy()
    ref = np.array([quad(lambda t, v=v: t ** k * np.exp(v * t), 0, 1, epsabs=0, epsrel=2e-14)[0] for v in u])
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    U = _t([-1.4, -0.3, 0.0, 0.6, 2.2], True)
    assert gradcheck(lambda v: exprel_k(v, k), [U])
    assert gradgradcheck(lambda v: exprel_k(v, k), [U])


# --------------------------------------------------------------------------- partition function
def test_log_partition_known_values_and_quadrature():
    from scipy.integrate import quad
    from scipy.special import k1

    exact = {0.0: math.log(math.pi * math.sqrt(2)), 1.0: math.log(2 * math.e * k1(1.0)),
             2.0: 0.5 * math.log(2 * math.pi)}
    for a, v in exact.items():
        np.testing.assert_allclose(F.log_partition(a).item(), v, rtol=1e-13)
    for a in [0.013, 0.37, 1.234, 1.95, 2.3, 3.71]:
        z, _ = quad(lambda x, a=a: math.exp(-_rho_numpy(np.array([x]), np.array([a]))[0, 0]), 0, np.inf,
                    epsabs=1e-14, epsrel=1e-13, limit=400)
        np.testing.assert_allclose(F.log_partition(a).item(), math.log(2 * z), atol=2e-7, err_msg=f"alpha={a}")


def test_log_partition_gradient_and_density_normalizes():
    A = _t([0.21, 1.1, 2.7], True)
    assert gradcheck(F.log_partition, [A], atol=1e-6)
    assert gradgradcheck(F.log_partition, [A], atol=1e-5)
    # exp(-nll) integrates to 1 over x for several alpha and scales (trapezoid on a wide grid)
    x = np.linspace(-2000, 2000, 400001)
    for a, c in [(0.5, 1.0), (1.0, 2.5), (1.9, 0.4)]:
        nll = F.robust_nll(_t(x), a, c).numpy()
        np.testing.assert_allclose(np.trapezoid(np.exp(-nll), x), 1.0, atol=2e-3 if a < 1 else 1e-6)
    with pytest.raises(ValueError, match=r"log_partition: alpha must be in \[0, 4"):
        F.log_partition(-0.5)


# --------------------------------------------------------------------------- adaptive loss
def _sample(alpha, c, n, rng):
    """Rejection sampling from p(x) ~ exp(-rho(x, alpha, 1)), alpha in [0, 2], using the
    Cauchy envelope exp(-rho(x, 0, 1)) >= exp(-rho(x, alpha, 1)) (rho is increasing in alpha)."""
    out = []
    while sum(len(o) for o in out) < n:
        x = math.sqrt(2) * rng.standard_cauchy(4 * n)
        accept = rng.random(4 * n) < np.exp(_rho_numpy(x, [0.0])[:, 0] - _rho_numpy(x, [alpha])[:, 0])
        out.append(x[accept])
    return c * np.concatenate(out)[:n]


@pytest.mark.parametrize("alpha_true,scale_true", [(0.5, 2.0), (1.5, 0.5)])
def test_adaptive_loss_recovers_alpha_and_scale(alpha_true, scale_true):
    """Maximum likelihood through the module's parameters (L-BFGS on mathdl gradients) recovers
    the generating alpha within 0.15 and the scale within 5% from 20000 samples."""
    from scipy.optimize import minimize

    x = _t(_sample(alpha_true, scale_true, 20000, np.random.default_rng(7))[:, None])
    m = AdaptiveRobustLoss(num_dims=1, dtype=np.float64)
    assert abs(m.alpha().item() - 1.0) < 1e-12 and abs(m.scale().item() - 1.0) < 1e-12
    params = [m.latent_alpha, m.latent_scale]

    def value_and_grad(v):
        for p, val in zip(params, v):
            p.array[:] = val
            p.grad = None
        loss = m(x)
        loss.backward()
        return loss.item(), np.array([p.grad.item() for p in params])

    start = np.array([p.item() for p in params])
    res = minimize(value_and_grad, start, jac=True, method="L-BFGS-B")
    value_and_grad(res.x)
    assert abs(m.alpha().item() - alpha_true) < 0.15
    assert abs(m.scale().item() / scale_true - 1) < 0.05


def test_adaptive_loss_gradient_descent_moves_alpha_the_right_way():
    """Heavy-tailed (Cauchy, alpha = 0) residuals push alpha down; Gaussian ones push it up."""
    rng = np.random.default_rng(3)
    for data, direction in [(rng.standard_cauchy(4000), -1), (rng.standard_normal(4000), +1)]:
        x = _t(data[:, None])
        m = AdaptiveRobustLoss(1, dtype=np.float64)
        a0 = m.alpha().item()
        for _ in range(20):
            m.zero_grad()
            m(x).backward()
            for p in m.parameters():
                p.array -= 0.5 * p.grad.array
        assert (m.alpha().item() - a0) * direction > 0.1


def test_adaptive_module_interface_and_gradcheck():
    m = AdaptiveRobustLoss(num_dims=3, alpha_lo=0.5, alpha_hi=1.5, alpha_init=0.8, scale_init=2.0, dtype=np.float64)
    assert len(list(m.parameters())) == 2
    np.testing.assert_allclose(m.alpha().numpy(), [0.8] * 3, rtol=1e-12)
    np.testing.assert_allclose(m.scale().numpy(), [2.0] * 3, rtol=1e-12)
    r = np.random.default_rng(4)
    x = _t(r.standard_normal((4, 3)))
    per = AdaptiveRobustLoss(3, reduction="none", dtype=np.float64)(x)
    assert tuple(per.shape) == (4, 3)
    assert gradcheck(lambda la, ls: F.robust_nll(x, 0.5 + mathdl.sigmoid(la), mathdl.exp(ls)),
                     [_t([0.1, -0.3, 0.2], True), _t([0.0, 0.4, -0.2], True)])
    fixed = AdaptiveRobustLoss(1, alpha_lo=1.0, alpha_hi=1.0, dtype=np.float64)
    assert len(list(fixed.parameters())) == 1 and fixed.alpha().item() == 1.0
    with pytest.raises(ValueError, match=r"AdaptiveRobustLoss: residuals must have shape \(\.\.\., 3\)"):
        m(_t(np.zeros((4, 2))))
    with pytest.raises(ValueError, match="alpha_lo"):
        AdaptiveRobustLoss(1, alpha_lo=-1.0)

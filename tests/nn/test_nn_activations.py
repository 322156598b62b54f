"""Activations: parity with torch (module and functional, float32 and float64), gradcheck and
gradgradcheck in float64, and the learnable ones (PReLU, Swish)."""

import numpy as np
import pytest

import mathdl
import mathdl.nn as nn
import mathdl.nn.functional as F
from mathdl.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
tF = torch.nn.functional

# name -> (mathdl module, torch module, input scale)
ACTIVATIONS = {
    "relu": (lambda: nn.ReLU(), lambda: torch.nn.ReLU(), 2.0),
    "relu6": (lambda: nn.ReLU6(), lambda: torch.nn.ReLU6(), 5.0),
    "leaky_relu": (lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2), 2.0),
    "elu": (lambda: nn.ELU(0.7), lambda: torch.nn.ELU(0.7), 2.0),
    "selu": (lambda: nn.SELU(), lambda: torch.nn.SELU(), 2.0),
    "celu": (lambda: nn.CELU(1.3), lambda: torch.nn.CELU(1.3), 2.0),
    "gelu": (lambda: nn.GELU(), lambda: torch.nn.GELU(), 3.0),
    "gelu_tanh": (lambda: nn.GELU("tanh"), lambda: torch.nn.GELU(approximate="tanh"), 3.0),
    "silu": (lambda: nn.SiLU(), lambda: torch.nn.SiLU(), 3.0),
    "mish": (lambda: nn.Mish(), lambda: torch.nn.Mish(), 3.0),
    "sigmoid": (lambda: nn.Sigmoid(), lambda: torch.nn.Sigmoid(), 3.0),
    "tanh": (lambda: nn.Tanh(), lambda: torch.nn.Tanh(), 2.0),
    "hardtanh": (lambda: nn.Hardtanh(-0.5, 1.5), lambda: torch.nn.Hardtanh(-0.5, 1.5), 2.0),
    "softplus": (lambda: nn.Softplus(), lambda: torch.nn.Softplus(), 3.0),
    "softplus_beta": (lambda: nn.Softplus(2.0, 3.0), lambda: torch.nn.Softplus(2.0, 3.0), 3.0),
    "softsign": (lambda: nn.Softsign(), lambda: torch.nn.Softsign(), 3.0),
    "hardsigmoid": (lambda: nn.Hardsigmoid(), lambda: torch.nn.Hardsigmoid(), 4.0),
    "hardswish": (lambda: nn.Hardswish(), lambda: torch.nn.Hardswish(), 4.0),
    "logsigmoid": (lambda: nn.LogSigmoid(), lambda: torch.nn.LogSigmoid(), 3.0),
    "softmax": (lambda: nn.Softmax(dim=-1), lambda: torch.nn.Softmax(dim=-1), 2.0),
    "softmax_dim1": (lambda: nn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1), 2.0),
    "log_softmax": (lambda: nn.LogSoftmax(dim=-1), lambda: torch.nn.LogSoftmax(dim=-1), 2.0),
    "prelu": (lambda: nn.PReLU(), lambda: torch.nn.PReLU(), 2.0),
    "prelu_channels": (lambda: nn.PReLU(4, 0.1), lambda: torch.nn.PReLU(4, 0.1), 2.0),
    "swish": (lambda: nn.Swish(), lambda: torch.nn.SiLU(), 3.0),
}

# functional forms: name -> (mathdl fn, torch fn)
FUNCTIONAL = {
    "relu": (F.relu, tF.relu),
    "relu6": (F.relu6, tF.relu6),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.3), lambda x: tF.leaky_relu(x, 0.3)),
    "elu": (lambda x: F.elu(x, 1.5), lambda x: tF.elu(x, 1.5)),
    "selu": (F.selu, tF.selu),
    "celu": (lambda x: F.celu(x, 0.5), lambda x: tF.celu(x, 0.5)),
    "gelu": (F.gelu, tF.gelu),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: tF.gelu(x, approximate="tanh")),
    "silu": (F.silu, tF.silu),
    "swish_beta": (lambda x: F.swish(x, 1.7), lambda x: x * torch.sigmoid(1.7 * x)),
    "mish": (F.mish, tF.mish),
    "sigmoid": (F.sigmoid, torch.sigmoid),
    "tanh": (F.tanh, torch.tanh),
    "hardtanh": (F.hardtanh, tF.hardtanh),
    "softplus": (lambda x: F.softplus(x, 0.5, 4.0), lambda x: tF.softplus(x, 0.5, 4.0)),
    "softsign": (F.softsign, tF.softsign),
    "hardsigmoid": (F.hardsigmoid, tF.hardsigmoid),
    "hardswish": (F.hardswish, tF.hardswish),
    "logsigmoid": (F.logsigmoid, tF.logsigmoid),
    "softmax": (lambda x: F.softmax(x, dim=0), lambda x: tF.softmax(x, dim=0)),
    "log_softmax": (lambda x: F.log_softmax(x, dim=1), lambda x: tF.log_softmax(x, dim=1)),
}

# activations whose gradients need slack against torch's rounding (torch computes celu's
# input_scale 1/alpha, and hardsigmoid its slope 1/6, in float32)
LOOSE = {"celu", "hardsigmoid"}


def _input(shape, scale, dtype, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    x[np.abs(x) < 1e-3] += 0.01  # keep away from kinks at 0
    return x.astype(dtype)


def _copy_params(m, tm):
    for (name, p), (tname, tp) in zip(m.named_parameters(), tm.named_parameters()):
        assert name == tname
        with torch.no_grad():
            tp.copy_(torch.from_numpy(np.asarray(p.array, dtype=np.float64)).to(tp.dtype))


def _tol(dtype, name=""):
    if dtype == np.float32:
        return dict(rtol=1e-5, atol=1e-6)
    return dict(rtol=1e-7 if name in LOOSE else 1e-10, atol=1e-7 if name in LOOSE else 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_module_parity(name, dtype):
    make, tmake, scale = ACTIVATIONS[name]
    m, tm = make().to(dtype), tmake().to(torch.float64 if dtype == np.float64 else torch.float32)
    _copy_params(m, tm)
    x = _input((3, 4, 5), scale, dtype)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    xm = mathdl.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    y, yt = m(xm), tm(xt)
    assert y.dtype == dtype
    np.testing.assert_allclose(y.array, yt.detach().numpy(), **_tol(dtype, name))
    y.backward(mathdl.tensor(g))
    yt.backward(torch.from_numpy(g))
    assert xm.grad.dtype == dtype
    np.testing.assert_allclose(xm.grad.array, xt.grad.numpy(), **_tol(dtype, name))
    for p, tp in zip(m.parameters(), tm.parameters()):
        np.testing.assert_allclose(p.grad.array, tp.grad.numpy(), rtol=1e-4 if dtype == np.float32 else 1e-9,
                                   atol=1e-5 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(FUNCTIONAL))
def test_functional_parity(name, dtype):
    f, tf = FUNCTIONAL[name]
    x = _input((4, 6), 3.0, dtype, seed=2)
    xm = mathdl.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    y, yt = f(xm), tf(xt)
    np.testing.assert_allclose(y.array, yt.detach().numpy(), **_tol(dtype, name))
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(xm.grad.array, xt.grad.numpy(), **_tol(dtype, name))


@pytest.mark.parametrize("name", list(FUNCTIONAL))
def test_gradcheck_and_gradgradcheck(name):
    f, _ = FUNCTIONAL[name]
    x = mathdl.tensor(_input((2, 3), 2.0, np.float64, seed=3), requires_grad=True)
    assert gradcheck(f, [x], name=name)
    assert gradgradcheck(f, [x], name=name)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_third_derivative(approximate):
    """The backward of the backward is differentiable too (create_graph twice)."""
    x = mathdl.tensor(np.linspace(-2, 2, 5), requires_grad=True)
    tx = torch.tensor(np.linspace(-2, 2, 5), requires_grad=True)
    (g1,) = mathdl.autograd.grad(F.gelu(x, approximate).sum(), [x], create_graph=True)
    (g2,) = mathdl.autograd.grad(g1.sum(), [x], create_graph=True)
    (g3,) = mathdl.autograd.grad(g2.sum(), [x])
    (t1,) = torch.autograd.grad(tF.gelu(tx, approximate=approximate).sum(), [tx], create_graph=True)
    (t2,) = torch.autograd.grad(t1.sum(), [tx], create_graph=True)
    (t3,) = torch.autograd.grad(t2.sum(), [tx])
    np.testing.assert_allclose(g3.array, t3.numpy(), rtol=1e-9, atol=1e-12)


def test_prelu_learnable_gradcheck():
    x = mathdl.tensor(_input((2, 3, 2), 2.0, np.float64, seed=4), requires_grad=True)
    a = mathdl.tensor(np.array([0.1, 0.2, 0.3]), requires_grad=True)
    assert gradcheck(F.prelu, [x, a])
    assert gradgradcheck(F.prelu, [x, a])


def test_prelu_wrong_channels_names_sizes():
    m = nn.PReLU(3)
    with pytest.raises(ValueError, match="3 slopes.*4 channels"):
        m(mathdl.randn(2, 4))


def test_swish_learnable_beta():
    m = nn.Swish(beta=1.5, learnable=True).double()
    assert [n for n, _ in m.named_parameters()] == ["beta"]
    x = _input((3, 4), 2.0, np.float64, seed=5)
    y = m(mathdl.tensor(x))
    np.testing.assert_allclose(y.array, x / (1 + np.exp(-1.5 * x)), rtol=1e-12)
    y.sum().backward()
    bt = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    xt = torch.from_numpy(x)
    (xt * torch.sigmoid(bt * xt)).sum().backward()
    np.testing.assert_allclose(m.beta.grad.array, bt.grad.numpy(), rtol=1e-10)
    b = mathdl.tensor(np.array(0.7), requires_grad=True)
    xm = mathdl.tensor(x[:2, :2], requires_grad=True)
    assert gradgradcheck(lambda x, b: F.swish(x, b), [xm, b])


def test_softplus_threshold_is_linear_and_stable():
    x = mathdl.tensor(np.array([-100.0, 0.0, 30.0, 100.0], dtype=np.float32), requires_grad=True)
    y = F.softplus(x)
    assert np.all(np.isfinite(y.array))
    np.testing.assert_allclose(y.array, [0.0, np.log(2.0), 30.0, 100.0], rtol=1e-6, atol=1e-30)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.array, [0.0, 0.5, 1.0, 1.0], atol=1e-7)


def test_softplus_second_derivative_past_threshold():
    x = mathdl.tensor(np.array([-3.0, 0.5, 9.0, 12.0]), requires_grad=True)
    f = lambda x: F.softplus(x, 2.0, 10.0)  # noqa: E731
    assert gradcheck(f, [x]) and gradgradcheck(f, [x])


def test_float32_gelu_erf_accuracy():
    """float32 GELU uses a rational erf; its error (abs, or rel above 1) stays below 2e-6, like
    torch's own float32 GELU (1.05e-6 on this grid, from the cancellation in 1 + erf(x) for x << 0)."""
    x = np.linspace(-8, 8, 100001).astype(np.float32)
    y = F.gelu(mathdl.tensor(x)).array.astype(np.float64)
    exact = F.gelu(mathdl.tensor(x.astype(np.float64))).array
    assert np.max(np.abs(y - exact) / np.maximum(np.abs(exact), 1.0)) < 2e-6


def test_large_inputs_do_not_overflow():
    x = mathdl.tensor(np.array([-1000.0, -50.0, 50.0, 1000.0], dtype=np.float32), requires_grad=True)
    for f in (F.gelu, F.silu, F.mish, F.elu, F.selu, F.celu, F.logsigmoid):
        y = f(x)
        (g,) = mathdl.autograd.grad(y.sum(), [x])
        assert np.all(np.isfinite(y.array)) and np.all(np.isfinite(g.array)), f.__name__


def test_gelu_bad_approximate():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(mathdl.randn(3), approximate="fast")


@pytest.mark.parametrize("slope", [-0.5, 0.0, 1.0, 2.0])
def test_leaky_relu_any_slope(slope):
    x = _input((20,), 2.0, np.float64, seed=6)
    xm, xt = mathdl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = F.leaky_relu(xm, slope), tF.leaky_relu(xt, slope)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_array_equal(y.array, yt.detach().numpy())
    np.testing.assert_array_equal(xm.grad.array, xt.grad.numpy())

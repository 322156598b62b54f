"""PyTorch's custom-Function protocol (``Function.apply`` with a ``ctx``), against torch.autograd.Function.

The protocol is proposed for mathdl/autograd/function.py (helper H4's report); until it lands these
tests are expected failures."""

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")

pytestmark = pytest.mark.xfail(not hasattr(mathdl.autograd.Function, "apply"), raises=AttributeError, strict=True,
                               reason="gap: mathdl.autograd.Function.apply (PyTorch's custom Function protocol)")


def power_fn(lib):
    class Power(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k, scale=1.0):
            ctx.save_for_backward(x)
            ctx.k = k
            ctx.flags = ctx.needs_input_grad
            return scale * x ** k

        @staticmethod
        def backward(ctx, grad_output):
            x, = ctx.saved_tensors
            return grad_output * ctx.k * x ** (ctx.k - 1), None

    return Power


def test_values_gradients_and_needs_input_grad_as_pytorch():
    data = np.array([0.5, -1.5, 2.0])
    results = []
    for lib in (mathdl, torch):
        x = lib.tensor(data, requires_grad=True)
        y = power_fn(lib).apply(x, 3)
        y.sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy(), y.requires_grad))
    np.testing.assert_allclose(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1])
    assert results[0][2] and results[1][2]


def test_second_derivative_through_the_backward():
    # backward is written in mathdl ops: create_graph records it (d^2/dx^2 x^3 = 6x)
    x = mathdl.tensor([1.0, 2.0], dtype=mathdl.float64, requires_grad=True)
    y = power_fn(mathdl).apply(x, 3).sum()
    (g,) = mathdl.autograd.grad(y, x, create_graph=True)
    (h,) = mathdl.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [6.0, 12.0])
    assert mathdl.autograd.gradcheck(lambda t: power_fn(mathdl).apply(t, 3), (x,))


def test_without_grad_nothing_is_recorded():
    x = mathdl.tensor([1.0, 2.0])
    y = power_fn(mathdl).apply(x, 2)
    assert not y.requires_grad and y.grad_fn is None
    with mathdl.no_grad():
        assert not power_fn(mathdl).apply(mathdl.tensor([1.0], requires_grad=True), 2).requires_grad


def test_protocol_errors_name_the_function():
    class TwoOutputs(mathdl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x, x

        @staticmethod
        def backward(ctx, a, b):
            return a

    with pytest.raises(TypeError, match="TwoOutputs.forward: expected one Tensor"):
        TwoOutputs.apply(mathdl.tensor([1.0], requires_grad=True))

    class NotStatic(mathdl.autograd.Function):
        def forward(self, x):
            return x

    with pytest.raises(TypeError, match="NotStatic.apply: forward must be a @staticmethod"):
        NotStatic.apply(mathdl.tensor([1.0]))

"""gradcheck / gradgradcheck (issue 2, item 7): they accept correct derivatives and reject
wrong ones with a message that shows both Jacobians."""

import numpy as np
import pytest

import mathdl as md
from mathdl.autograd import Function, GradcheckError, gradcheck, gradgradcheck

RNG = np.random.default_rng(3)


def f64(a, requires_grad=True):
    return md.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


class Cube(Function):
    """y = x^3, dy/dx = 3 x^2 (correct; backward in mathdl ops, so twice differentiable)."""

    __slots__ = ()

    def forward(self, x):
        return x * x * x

    def backward(self, g):
        (x,) = self.inputs
        return (g * x * x * 3.0,)


class CubeWrongFirst(Cube):
    """Claims dy/dx = 2 x^2: wrong first derivative."""

    __slots__ = ()

    def backward(self, g):
        (x,) = self.inputs
        return (g * x * x * 2.0,)


class CubeWrongSecond(Cube):
    """Right first derivative, but computed from a constant copy of x: the recorded backward
    loses its dependence on x, so second derivatives are wrong."""

    __slots__ = ()

    def backward(self, g):
        (x,) = self.inputs
        xc = md.Tensor._make(x.array)
        return (g * xc * xc * 3.0,)


class ScaleBoth(Function):
    """y = a * b with the gradient for b deliberately dropped to half."""

    __slots__ = ()

    def forward(self, a, b):
        return a * b

    def backward(self, g):
        a, b = self.inputs
        return (g * b, g * a * 0.5)


def test_gradcheck_accepts_correct_ops():
    x = f64(RNG.standard_normal((2, 3)))
    y = f64(RNG.standard_normal(3))
    assert gradcheck(lambda t: Cube()(t), (x,))
    assert gradgradcheck(lambda t: Cube()(t), (x,))
    assert gradcheck(lambda a, b: md.tanh(a * b).sum(dim=0) / (1 + b * b), (x, y))
    assert gradgradcheck(lambda a, b: md.tanh(a * b).sum(dim=0) / (1 + b * b), (x, y))
    assert gradcheck(lambda a, b: (a @ b.reshape(3, 1)).exp(), (x, y))
    assert gradcheck(md.sum, f64([1.0, 2.0]))  # a lone tensor is accepted
    assert x.grad is None and y.grad is None


def test_gradcheck_with_several_outputs_and_constant_inputs():
    x = f64(RNG.standard_normal(4))
    c = f64(RNG.standard_normal(4), requires_grad=False)

    def fn(t, k, s):
        return md.sin(t) * k * s, (t * t).sum()

    assert gradcheck(fn, (x, c, 2.0))
    assert gradgradcheck(fn, (x, c, 2.0))


def test_gradcheck_rejects_wrong_first_derivative_showing_both_jacobians():
    xv = np.array([0.5, -1.0, 2.0])
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda t: CubeWrongFirst()(t), (f64(xv),), name="cube")
    msg = str(info.value)
    assert msg.startswith("cube: analytic and numeric Jacobians differ for input 0 (shape (3,))")
    assert "analytic 0.5" in msg and "numeric 0.75" in msg  # entry (0, 0): 2 x^2 vs 3 x^2 at 0.5
    assert "analytic:\n" in msg and "numeric:\n" in msg
    analytic = msg.split("analytic:\n")[1].split("\nnumeric:")[0]
    numeric = msg.split("numeric:\n")[1]
    assert "2." in analytic and "8." in analytic  # 2 x^2 on the diagonal
    assert "3." in numeric and "12." in numeric  # 3 x^2 on the diagonal


def test_gradcheck_names_the_wrong_input():
    a, b = f64([1.0, 2.0]), f64([3.0, 4.0])
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(2,\)\)"):
        gradcheck(lambda p, q: ScaleBoth()(p, q), (a, b))


def test_gradgradcheck_rejects_wrong_second_derivative():
    x = f64(RNG.standard_normal(3))
    assert gradcheck(lambda t: CubeWrongSecond()(t), (x,))  # first order is right...
    with pytest.raises(GradcheckError, match=r"(?s)second order.*analytic:\n.*numeric:\n"):
        gradgradcheck(lambda t: CubeWrongSecond()(t), (x,))  # ...second order is not
    # gradgradcheck checks the backward's own derivative, which is consistent for this one
    # (the wrong first derivative is gradcheck's to find)
    assert gradgradcheck(lambda t: CubeWrongFirst()(t), (x,))


def test_raise_exception_false_returns_false():
    x = f64([0.5, 1.5])
    assert gradcheck(lambda t: CubeWrongFirst()(t), (x,), raise_exception=False) is False
    assert gradgradcheck(lambda t: CubeWrongSecond()(t), (x,), raise_exception=False) is False


def test_gradcheck_catches_missing_gradient_path():
    # the output depends on x through .data only: analytic Jacobian is 0, numeric is not
    x = f64([1.0, 2.0])
    with pytest.raises(GradcheckError, match="differ"):
        gradcheck(lambda t: t * 0 + md.Tensor._make(t.array * t.array), (x,))


def test_gradcheck_tolerances():
    x = f64([1.0])

    class SlightlyOff(Function):
        __slots__ = ()

        def forward(self, t):
            return t * 2.0

        def backward(self, g):
            return (g * 2.0001,)

    with pytest.raises(GradcheckError):
        gradcheck(lambda t: SlightlyOff()(t), (x,), atol=1e-6, rtol=1e-6)
    assert gradcheck(lambda t: SlightlyOff()(t), (x,), atol=1e-3, rtol=0)


def test_gradcheck_bad_usage():
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda t: t * 2, (f64([1.0], requires_grad=False),))
    with pytest.warns(UserWarning, match="float32"):
        gradcheck(lambda t: t * 2, (md.tensor([1.0], requires_grad=True),), atol=1e-2, rtol=1e-2)


def test_gradcheck_leaves_inputs_unchanged():
    xv = RNG.standard_normal((2, 2))
    x = f64(xv)
    gradcheck(lambda t: md.exp(t), (x,))
    gradgradcheck(lambda t: md.exp(t), (x,))
    np.testing.assert_array_equal(x.numpy(), xv)
    assert x.grad is None


def test_gradgradcheck_skips_integer_outputs_and_takes_grad_outputs():
    x = f64(RNG.standard_normal((2, 3)))

    def fn(t):
        values, indices = md.max(t * t, dim=1)
        return values, indices

    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))
    v = f64(RNG.standard_normal(2))
    assert gradgradcheck(lambda t: md.exp(t).sum(dim=1), (x,), grad_outputs=v)
    with pytest.raises(ValueError, match="1 floating outputs but 2 grad_outputs"):
        gradgradcheck(lambda t: md.exp(t).sum(dim=1), (x,), grad_outputs=[v, v])
    with pytest.raises(ValueError, match="no input requires grad"):
        gradgradcheck(lambda t: t * 2, (f64([1.0], requires_grad=False),))


@pytest.mark.parametrize("layout", ["transposed", "channels_last"])
def test_gradcheck_perturbs_inputs_of_any_memory_layout(layout):
    """The numeric Jacobian perturbs x's entries in place whatever its strides (a flat view of a
    transposed or channels-last array would be a copy, and every difference would read 0)."""
    a = RNG.standard_normal((2, 3, 4, 5))
    mem = a.transpose(0, 2, 3, 1) if layout == "channels_last" else a.transpose(3, 2, 1, 0)
    arr = np.ascontiguousarray(mem)
    arr = arr.transpose(0, 3, 1, 2) if layout == "channels_last" else arr.transpose(3, 2, 1, 0)
    x = md.from_numpy(arr).requires_grad_()
    assert not x.array.flags.c_contiguous
    assert gradcheck(lambda t: Cube()(t), (x,))
    assert x.array.strides == arr.strides  # the input keeps its layout (the same road is checked)
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: CubeWrongFirst()(t), (x,))

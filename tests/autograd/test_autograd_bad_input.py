"""Bad input (issue 2, item 8, non-op part): each error has the right type and a message that
names the op, the shapes or dtypes, and what was expected."""

import numpy as np
import pytest

import mathdl as md
from mathdl.autograd import grad, hessian, jacobian


@pytest.mark.parametrize("name,op", [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b), ("add", md.add), ("mul", md.mul),
])
def test_mismatched_shapes_name_the_op_and_both_shapes(name, op):
    a, b = md.ones(2, 3), md.ones(4)
    with pytest.raises(ValueError, match=rf"{name}: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        op(a, b)


def test_matmul_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 2\)"):
        md.ones(2, 3) @ md.ones(4, 2)


def test_non_scalar_backward_without_gradient():
    x = md.ones(2, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar outputs; got shape \(2, 2\).*gradient="):
        (x * 2).backward()


def test_second_backward_without_retain_graph():
    x = md.ones(3, requires_grad=True)
    y = (md.exp(x) * x).sum()
    y.backward()
    with pytest.raises(RuntimeError) as info:
        y.backward()
    msg = str(info.value)
    assert "second time" in msg and "retain_graph=True" in msg and msg.startswith("Sum")


def test_second_grad_without_retain_graph():
    x = md.ones(3, requires_grad=True)
    y = md.tanh(x).sum()
    grad(y, x)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        grad(y, x)


def test_inplace_change_of_saved_tensor():
    x = md.ones(3, requires_grad=True)
    w = md.full((3,), 2.0)
    y = (x * w).sum()
    w.add_(1.0)
    with pytest.raises(RuntimeError) as info:
        y.backward()
    msg = str(info.value)
    assert msg.startswith("Mul:") and "in-place" in msg and "(3,)" in msg and "version 0" in msg


@pytest.mark.parametrize("make", [
    lambda: md.tensor([1, 2]).requires_grad_(),
    lambda: md.tensor([1, 2], requires_grad=True),
    lambda: md.arange(3, requires_grad=True),
    lambda: md.zeros(2, dtype=md.int32, requires_grad=True),
    lambda: md.Tensor(np.array([True]), requires_grad=True),
])
def test_integer_tensor_asked_to_require_grad(make):
    with pytest.raises(TypeError, match=r"only floating-point tensors can require gradients, got dtype (int|bool)"):
        make()


def test_grad_of_output_that_does_not_require_grad():
    x = md.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(\) does not require grad"):
        grad(md.ones(2).sum(), x)
    with pytest.raises(RuntimeError, match=r"inputs\[0\].*does not require grad"):
        grad((x * 2).sum(), md.ones(2))
    with pytest.raises(TypeError, match="inputs are required"):
        grad((x * 2).sum())


def test_gradient_shape_mismatch():
    x = md.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\) but the output has shape \(2,\)"):
        (x * 2).backward(md.ones(3))
    with pytest.raises(RuntimeError, match=r"gradient has shape \(1,\) but the output has shape \(2,\)"):
        grad(x * 2, x, grad_outputs=md.ones(1))


def test_functional_bad_arguments():
    with pytest.raises(TypeError, match="hessian: input 0 must be a Tensor"):
        hessian(lambda t: t, [1.0, 2.0])
    with pytest.raises(TypeError, match="jacobian: input 0 has dtype bool"):
        jacobian(lambda t: t, md.tensor([True]))


def test_item_and_bool_of_many_elements():
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        md.ones(3).item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(md.ones(3))


def test_unknown_dtype_and_bad_default_dtype():
    with pytest.raises(TypeError, match="unknown dtype 'floatx'"):
        md.ones(2).to("floatx")
    with pytest.raises(TypeError, match="expected a floating dtype"):
        md.set_default_dtype(md.int64)

"""Grad mode as context, call and decorator (with and without parentheses)."""

import mathdl as md


def test_bare_and_called_decorators():
    x = md.tensor([1.0, 2.0], requires_grad=True)

    @md.no_grad
    def f(a):
        return a * 2

    @md.no_grad()
    def g(a):
        return a * 2

    @md.enable_grad
    def h(a):
        return a * 2

    assert not f(x).requires_grad
    assert not g(x).requires_grad
    with md.no_grad():
        assert h(x).requires_grad
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


def test_set_grad_enabled_as_call_context_and_decorator():
    x = md.tensor([1.0], requires_grad=True)
    with md.set_grad_enabled(False):
        assert not (x + 1).requires_grad
    assert (x + 1).requires_grad

    @md.set_grad_enabled(False)
    def f():
        return x + 1

    assert not f().requires_grad
    assert (x + 1).requires_grad
    md.set_grad_enabled(False)
    try:
        assert not (x + 1).requires_grad
    finally:
        md.set_grad_enabled(True)


def test_inplace_write_to_a_saved_output_is_detected():
    import pytest

    x = md.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    with md.no_grad():
        y.mul_(2)  # overwrites the array Exp saved for its backward
    with pytest.raises(RuntimeError, match="Exp.*in-place"):
        y.sum().backward()


def test_inplace_under_grad_is_recorded_out_of_place():
    import numpy as np

    x = md.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.mul_(2)  # recorded: y = 2 exp(x); Exp's saved output is untouched
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]), rtol=1e-6)

"""The engine stores leaf gradients without copying when it can prove nothing else holds the
array (engine._own_borrowed).  These tests pin down every aliasing case that must copy."""

import numpy as np

import mathdl as md
from mathdl.autograd import grad


def test_add_passes_one_array_to_both_leaves_but_grads_do_not_alias():
    a = md.randn(4, requires_grad=True)
    b = md.randn(4, requires_grad=True)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.array, b.grad.array)
    a.grad.array += 1
    np.testing.assert_array_equal(b.grad.array, np.ones(4, dtype=np.float32))


def test_user_gradient_argument_is_never_aliased():
    a = md.randn(3, requires_grad=True)
    b = md.randn(3, requires_grad=True)
    g = md.ones(3)
    (a + b).backward(g)
    (a + b).backward(g)  # second pass accumulates in place
    np.testing.assert_array_equal(g.array, np.ones(3, dtype=np.float32))
    np.testing.assert_array_equal(a.grad.array, 2 * np.ones(3, dtype=np.float32))
    np.testing.assert_array_equal(b.grad.array, 2 * np.ones(3, dtype=np.float32))


def test_leaf_seed_is_copied():
    a = md.randn(3, requires_grad=True)
    g = md.full((3,), 2.0)
    a.backward(g)
    a.grad.array[:] = 0
    np.testing.assert_array_equal(g.array, np.full(3, 2.0, dtype=np.float32))


def test_broadcast_gradient_becomes_a_writable_array():
    a = md.randn(5, 3, requires_grad=True)
    a.sum().backward()
    assert a.grad.array.flags.writeable and a.grad.array.flags.c_contiguous
    a.grad.array *= 3
    np.testing.assert_array_equal(a.grad.array, np.full((5, 3), 3.0, dtype=np.float32))


def test_repeated_use_within_one_pass_accumulates_correctly():
    # x reaches the loss along two paths; its first gradient is borrowed, the second added
    x = md.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    loss = (y + x).sum() + (x * x).sum()
    loss.backward()
    np.testing.assert_allclose(x.grad.array, 3 + 2 * np.array([1.0, 2.0, 3.0]))


def test_transposed_weight_gradient_is_c_contiguous_and_correct():
    rng = np.random.default_rng(0)
    w_np = rng.standard_normal((4, 3))
    x_np = rng.standard_normal((5, 3))
    w = md.tensor(w_np, requires_grad=True)
    x = md.tensor(x_np)
    (x @ w.T).sum().backward()
    assert w.grad.array.flags.c_contiguous and w.grad.array.flags.writeable
    np.testing.assert_allclose(w.grad.array, np.ones((5, 4)).T @ x_np)


def test_accumulation_across_backward_calls():
    w = md.randn(3, 2, requires_grad=True)
    for _ in range(3):
        (w * 2).sum().backward()
    np.testing.assert_allclose(w.grad.array, np.full((3, 2), 6.0))


def test_functional_grad_prunes_and_writes_nothing():
    w = md.randn(3, 3, requires_grad=True)
    x = md.randn(2, 3, requires_grad=True)
    loss = ((x @ w).tanh() ** 2).sum()
    (gx,) = grad(loss, [x])
    assert w.grad is None and x.grad is None
    h = np.tanh(x.array @ w.array)
    np.testing.assert_allclose(gx.array, (2 * h * (1 - h**2)) @ w.array.T, rtol=1e-5)

"""Reverse-mode semantics (issue 2, item 5): deep graphs, retain_graph, higher orders, grad
mode, in-place detection, accumulation, seeds for non-scalar outputs."""

import gc
import weakref

import numpy as np
import pytest

import mathdl as md
from mathdl.autograd import grad


def f64(a, requires_grad=False):
    return md.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def test_chain_20000_ops_deep():
    x = f64(0.3, True)
    y = x
    for _ in range(10000):
        y = md.sin(y) * 1.0  # 20,000 recorded ops
    y.backward()
    # d/dx of the iterated map: product of cos(y_k) over the chain
    v, d = 0.3, 1.0
    for _ in range(10000):
        d *= np.cos(v)
        v = np.sin(v)
    assert y.item() == pytest.approx(v, rel=1e-12)
    assert x.grad.item() == pytest.approx(d, rel=1e-9)


def test_deep_chain_grad_and_create_graph():
    x = f64(0.5, True)
    y = x
    for _ in range(20000):
        y = y + 0.0001 * y  # y = x (1.0001)^20000
    (g,) = grad(y, x)
    assert g.item() == pytest.approx(1.0001 ** 20000, rel=1e-9)
    # second derivative through a deep nonlinear chain: y_{k+1} = tanh(y_k)
    x = f64(0.8, True)
    y = x
    for _ in range(3000):
        y = md.tanh(y)
    (g,) = grad(y, x, create_graph=True)
    (h,) = grad(g, x)
    v, d, s = 0.8, 1.0, 0.0
    for _ in range(3000):
        t = np.tanh(v)
        d, s = d * (1 - t * t), (1 - t * t) * (s - 2 * t * d * d)
        v = t
    assert g.item() == pytest.approx(d, rel=1e-9)
    assert h.item() == pytest.approx(s, rel=1e-8)


def test_diamond_graph_sums_paths():
    x = f64([1.0, 2.0], True)
    a = x * 2
    b = md.exp(a) + a * a  # a used twice
    c = (b * a).sum()
    c.backward()
    xv = np.array([1.0, 2.0])
    av = 2 * xv
    expect = 2 * (np.exp(av) * av + 2 * av * av + np.exp(av) + av * av)
    np.testing.assert_allclose(x.grad.numpy(), expect, rtol=1e-12)


def test_same_leaf_used_many_times():
    x = f64(3.0, True)
    (x * x * x + x).backward()
    assert x.grad.item() == pytest.approx(3 * 9 + 1)


def test_backward_on_a_leaf_itself():
    x = f64([1.0, 2.0], True)
    x.backward(f64([3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


# --------------------------------------------------------------------------- retain_graph
def test_second_backward_without_retain_graph_raises():
    x = f64([1.0, 2.0], True)
    y = (md.exp(x) * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"backward through the graph a second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward_and_accumulates():
    x = f64([1.0, 2.0], True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])  # accumulated
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 8.0 + 4.0])
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_gradient_accumulates_across_graphs_and_zeroing():
    x = f64([1.0, -1.0], True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 1.0])
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    x.grad.zero_()
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_leaf_grads_do_not_alias_each_other_or_the_seed():
    a = f64([1.0, 2.0], True)
    b = f64([3.0, 4.0], True)
    seed = f64([1.0, 1.0])
    (a + b).backward(seed)
    a.grad.array *= 5  # mutating one gradient must not change the other or the seed
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(seed.numpy(), [1.0, 1.0])
    (a + b).backward(seed)
    np.testing.assert_array_equal(a.grad.numpy(), [6.0, 6.0])
    np.testing.assert_array_equal(b.grad.numpy(), [2.0, 2.0])


def test_graph_is_released_after_backward():
    x = f64(np.ones(1000), True)
    y = md.exp(x)
    node = weakref.ref(y.grad_fn)
    z = (y * y).sum()
    z.backward()
    del y, z
    gc.collect()
    assert node() is None or node().inputs is None


# --------------------------------------------------------------------------- non-scalar outputs
def test_backward_with_gradient_for_non_scalar():
    x = f64([[1.0, 2.0], [3.0, 4.0]], True)
    y = x * x
    y.backward(gradient=f64([[1.0, 0.0], [0.5, 2.0]]))
    np.testing.assert_array_equal(x.grad.numpy(), [[2.0, 0.0], [3.0, 16.0]])
    x.grad = None
    (x * 2).backward(np.ones((2, 2)))  # arrays are accepted too
    np.testing.assert_array_equal(x.grad.numpy(), 2 * np.ones((2, 2)))


def test_backward_on_non_scalar_without_gradient_raises():
    x = f64([1.0, 2.0], True)
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*shape \(2,\)"):
        (x * 2).backward()


def test_backward_gradient_of_wrong_shape_raises():
    x = f64([1.0, 2.0], True)
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\) but the output has shape \(2,\)"):
        (x * 2).backward(f64([1.0, 1.0, 1.0]))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        md.tensor(1.0).backward()


def test_backward_inputs_argument_limits_accumulation():
    a, b = f64(2.0, True), f64(3.0, True)
    (a * b).backward(inputs=[a])
    assert a.grad.item() == 3.0 and b.grad is None


# --------------------------------------------------------------------------- higher order
def test_third_derivative_of_sin_with_grad():
    xv = np.array([0.3, 1.2, -2.0])
    x = f64(xv, True)
    (g1,) = grad(md.sin(x).sum(), x, create_graph=True)
    (g2,) = grad(g1.sum(), x, create_graph=True)
    (g3,) = grad(g2.sum(), x, create_graph=True)
    (g4,) = grad(g3.sum(), x)
    np.testing.assert_allclose(g1.numpy(), np.cos(xv), rtol=1e-14)
    np.testing.assert_allclose(g2.numpy(), -np.sin(xv), rtol=1e-14)
    np.testing.assert_allclose(g3.numpy(), -np.cos(xv), rtol=1e-14)
    np.testing.assert_allclose(g4.numpy(), np.sin(xv), rtol=1e-14)
    assert x.grad is None


def test_third_derivative_with_backward_create_graph():
    x = f64(0.7, True)
    y = md.sin(x) * x ** 3
    y.backward(create_graph=True)
    g1 = x.grad
    assert g1.requires_grad
    x.grad = None
    g1.backward(create_graph=True)
    g2 = x.grad
    x.grad = None
    g2.backward()
    g3 = x.grad.item()
    v = 0.7
    # d^3/dx^3 [x^3 sin x] = 6 sin x + 18 x cos x - 9 x^2 sin x - x^3 cos x
    expect = 6 * np.sin(v) + 18 * v * np.cos(v) - 9 * v * v * np.sin(v) - v ** 3 * np.cos(v)
    assert g3 == pytest.approx(expect, rel=1e-12)


def test_third_derivative_matches_torch():
    torch = pytest.importorskip("torch")
    xv = np.array([0.2, -0.4, 1.1])
    x = f64(xv, True)
    tx = torch.tensor(xv, requires_grad=True)

    def f(lib, t):
        return (lib.tanh(t) * lib.exp(t * 0.5) + t ** 4).sum()

    gs, tgs = [f(md, x)], [f(torch, tx)]
    for _ in range(3):
        (g,) = grad(gs[-1], x, create_graph=True)
        (tg,) = torch.autograd.grad(tgs[-1], tx, create_graph=True)
        np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), rtol=1e-12)
        gs.append(g.sum())
        tgs.append(tg.sum())


# --------------------------------------------------------------------------- grad mode
def test_no_grad_context_and_decorator():
    x = f64([1.0], True)
    with md.no_grad():
        y = x * 2
        assert not md.is_grad_enabled()
    assert md.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @md.no_grad()
    def f(t):
        assert not md.is_grad_enabled()
        return t * 2

    assert not f(x).requires_grad and md.is_grad_enabled()
    assert f.__name__ == "f"


def test_enable_grad_inside_no_grad():
    x = f64([1.0], True)
    with md.no_grad():
        with md.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad

        @md.enable_grad()
        def g(t):
            return t * 2

        assert g(x).requires_grad
        assert not md.is_grad_enabled()


def test_set_grad_enabled_as_call_context_and_decorator():
    x = f64([1.0], True)
    with md.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert md.is_grad_enabled()
    with md.set_grad_enabled(True):
        assert (x * 2).requires_grad

    @md.set_grad_enabled(False)
    def h(t):
        return t * 2

    assert md.is_grad_enabled()
    assert not h(x).requires_grad and md.is_grad_enabled()
    md.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        md.set_grad_enabled(True)
    assert md.is_grad_enabled()


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with md.no_grad():
            raise ValueError("boom")
    assert md.is_grad_enabled()

    @md.no_grad()
    def boom():
        raise ValueError("boom")

    with pytest.raises(ValueError):
        boom()
    assert md.is_grad_enabled()


def test_nested_no_grad_contexts():
    with md.no_grad():
        with md.no_grad():
            pass
        assert not md.is_grad_enabled()
    assert md.is_grad_enabled()


# --------------------------------------------------------------------------- in-place
def test_inplace_change_of_saved_tensor_raises_naming_the_op():
    x = f64([1.0, 2.0], True)
    w = f64([3.0, 4.0])
    y = (w * x).sum()  # Mul saved w
    w.mul_(2)
    with pytest.raises(RuntimeError, match=r"Mul: .*shape \(2,\).*modified by an in-place operation"):
        y.backward()


def test_inplace_change_of_saved_intermediate_raises():
    x = f64([1.0, 2.0], True)
    a = x * 1.0
    y = md.sin(a)
    with md.no_grad():
        a.add_(1.0)
    with pytest.raises(RuntimeError, match="Sin: .*in-place"):
        y.sum().backward()


def test_inplace_via_setitem_is_detected():
    x = f64([1.0, 2.0, 3.0], True)
    w = f64([1.0, 1.0, 1.0])
    y = (x * w).sum()
    w[1] = 5.0
    with pytest.raises(RuntimeError, match="in-place"):
        y.backward()


def test_inplace_on_leaf_requiring_grad_is_refused():
    x = f64([1.0], True)
    with pytest.raises(RuntimeError, match="leaf"):
        x.add_(1.0)
    with md.no_grad():
        x.add_(1.0)  # allowed outside grad mode (optimizer updates)
    assert x.item() == 2.0


def test_recorded_inplace_on_non_leaf_gives_correct_gradient():
    torch = pytest.importorskip("torch")
    xv = np.array([0.5, -1.0, 2.0])
    x = f64(xv, True)
    y = x * 2
    y += x * x  # recorded out of place; nothing saved y yet
    y[0] = 7.0
    y.sum().backward()
    tx = torch.tensor(xv, requires_grad=True)
    ty = tx * 2
    ty += tx * tx
    ty[0] = 7.0
    ty.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_out_of_place_update_after_use_is_fine():
    x = f64([1.0, 2.0], True)
    w = f64([3.0, 4.0])
    y = (w * x).sum()
    w = w * 2  # rebinding the name, not changing the saved tensor
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


def test_seed_takes_the_output_dtype():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).backward(f64([1.0, 1.0]))
    assert x.grad.dtype == md.float32


def test_leaf_hook_runs_once_on_the_total_gradient():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    x.register_hook(lambda g: calls.append(g.numpy().copy()))
    (x * x + x * 3).sum().backward()  # x reaches the loss along three paths
    assert len(calls) == 1
    np.testing.assert_array_equal(calls[0], [5.0, 7.0])
    y = md.tensor([1.0, -2.0], requires_grad=True)
    y.register_hook(lambda g: md.clamp(g, -1.0, 1.0))  # non-linear hook: needs the total
    (y * y + y * y).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, -1.0])


def test_leaf_hook_with_create_graph():
    x = f64([1.0, 2.0], True)
    x.register_hook(lambda g: g * 2)
    (x * x * x).sum().backward(create_graph=True)
    g = x.grad
    np.testing.assert_allclose(g.numpy(), [6.0, 24.0])
    (h,) = grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [12.0, 24.0])  # d/dx 2 * 3x^2


def test_retained_grad_accumulates_and_does_not_alias_leaf_grad():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    y = x + 0.0
    y.retain_grad()
    z = y.sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_array_equal(y.grad.numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    x.grad.array += 1
    np.testing.assert_array_equal(y.grad.numpy(), [2.0, 2.0])


def test_inplace_through_detached_alias_is_detected():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    z = x * x
    x.detach().mul_(3)
    with pytest.raises(RuntimeError, match="in-place"):
        z.sum().backward()

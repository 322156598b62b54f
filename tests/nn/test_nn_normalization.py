"""layer_norm and batch_norm primitives: gradcheck and gradgradcheck in float64 (every
combination of affine parameters), and the fast and the differentiable backward agree."""

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
from mathdl.autograd import gradcheck, gradgradcheck


def _t(*shape, seed=0, scale=1.0, shift=0.0):
    a = np.random.default_rng(seed).standard_normal(shape) * scale + shift
    return mathdl.tensor(a, requires_grad=True)


@pytest.mark.parametrize("affine", ["none", "weight", "both"])
@pytest.mark.parametrize("shape,norm", [((3, 4), (4,)), ((2, 2, 3), (2, 3))])
def test_layer_norm_gradcheck(affine, shape, norm):
    x = _t(*shape, scale=2.0, shift=1.0)
    args = [x]
    if affine != "none":
        args.append(_t(*norm, seed=1))
    if affine == "both":
        args.append(_t(*norm, seed=2))

    def f(x, w=None, b=None):
        return F.layer_norm(x, norm, w, b, eps=1e-3)

    assert gradcheck(f, args)
    assert gradgradcheck(f, args)


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 4), (2, 3, 2, 2)])
@pytest.mark.parametrize("affine", [False, True])
def test_batch_norm_training_gradcheck(shape, affine):
    x = _t(*shape, scale=2.0, shift=1.0)
    args = [x] + ([_t(shape[1], seed=1), _t(shape[1], seed=2)] if affine else [])

    def f(x, w=None, b=None):
        return F.batch_norm(x, None, None, w, b, training=True, eps=1e-3)

    assert gradcheck(f, args)
    assert gradgradcheck(f, args)


def test_batch_norm_eval_gradcheck():
    x = _t(4, 3, 2)
    w, b = _t(3, seed=1), _t(3, seed=2)
    rm = mathdl.tensor(np.array([0.1, -0.2, 0.3]))
    rv = mathdl.tensor(np.array([0.5, 1.5, 2.0]))

    def f(x, w, b):
        return F.batch_norm(x, rm, rv, w, b, training=False)

    assert gradcheck(f, [x, w, b])
    assert gradgradcheck(f, [x, w, b])


@pytest.mark.parametrize("which", ["layer", "batch"])
def test_fast_and_differentiable_backward_agree(which):
    """The raw-array backward (no graph) equals the mathdl-op backward (create_graph)."""
    x = _t(4, 3, 5, seed=3, scale=3.0)
    w, b = _t(3 if which == "batch" else 5, seed=4), _t(3 if which == "batch" else 5, seed=5)

    def f(x, w, b):
        if which == "layer":
            return F.layer_norm(x, (5,), w, b)
        return F.batch_norm(x, None, None, w, b, training=True)

    g = mathdl.tensor(np.random.default_rng(6).standard_normal((4, 3, 5)))
    fast = mathdl.autograd.grad(f(x, w, b), [x, w, b], g)
    slow = mathdl.autograd.grad(f(x, w, b), [x, w, b], g, create_graph=True)
    for a, c in zip(fast, slow):
        np.testing.assert_allclose(a.array, c.array, rtol=1e-10, atol=1e-12)


def test_layer_norm_float32_stays_float32_and_is_normalized():
    x = mathdl.randn(8, 64) * 100 + 1000
    y = F.layer_norm(x, (64,))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.array.mean(-1), 0, atol=1e-4)
    np.testing.assert_allclose(y.array.std(-1), 1, atol=1e-3)


def test_layer_norm_bad_shape():
    with pytest.raises(ValueError, match=r"layer_norm.*\(2, 3\).*\(4,\)"):
        F.layer_norm(mathdl.randn(2, 3), (4,))


def test_batch_norm_running_stats_not_recorded():
    rm, rv = mathdl.zeros(3), mathdl.ones(3)
    x = mathdl.randn(6, 3, requires_grad=True)
    y = F.batch_norm(x, rm, rv, training=True, momentum=0.5)
    assert not rm.requires_grad and rm.grad_fn is None
    np.testing.assert_allclose(rm.array, 0.5 * x.array.mean(0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(rv.array, 0.5 + 0.5 * x.array.var(0, ddof=1), rtol=1e-5)
    y.sum().backward()
    assert x.grad is not None

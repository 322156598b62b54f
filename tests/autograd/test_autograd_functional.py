"""Functional calculus (issue 2, item 6): grad, JAX-style grad, vjp, jvp, hvp, jacobian,
hessian; PyTorch's torch.autograd.functional as the oracle; none of them writes ``.grad``."""

import numpy as np
import pytest

import mathdl as md
from mathdl.autograd import grad, hessian, hvp, jacobian, jvp, vhp, vjp

RNG = np.random.default_rng(7)


def f64(a, requires_grad=False):
    return md.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


# --------------------------------------------------------------------------- grad(outputs, inputs)
def test_grad_basic_and_does_not_touch_dot_grad():
    x = f64([1.0, 2.0], True)
    w = f64([3.0, -1.0], True)
    y = (x * x * w).sum()
    gx, gw = grad(y, [x, w])
    np.testing.assert_array_equal(gx.numpy(), [6.0, -4.0])
    np.testing.assert_array_equal(gw.numpy(), [1.0, 4.0])
    assert x.grad is None and w.grad is None
    assert not gx.requires_grad
    (g_single,) = grad((x * 3).sum(), x)  # one tensor in, one-tuple out
    np.testing.assert_array_equal(g_single.numpy(), [3.0, 3.0])


def test_grad_allow_unused():
    x, z = f64([1.0, 2.0], True), f64([5.0], True)
    with pytest.raises(RuntimeError, match=r"inputs\[1\] \(shape \(1,\)\) was not used.*allow_unused=True"):
        grad((x * x).sum(), [x, z])
    gx, gz = grad((x * x).sum(), [x, z], allow_unused=True)
    np.testing.assert_array_equal(gx.numpy(), [2.0, 4.0])
    assert gz is None


def test_grad_outputs_for_non_scalar_and_several_outputs():
    x = f64([1.0, 2.0], True)
    (g,) = grad(x * x, x, grad_outputs=f64([1.0, 10.0]))
    np.testing.assert_array_equal(g.numpy(), [2.0, 40.0])
    (g,) = grad([x * 2, (x * x).sum()], x, grad_outputs=[f64([1.0, 1.0]), None])
    np.testing.assert_array_equal(g.numpy(), [4.0, 6.0])
    with pytest.raises(RuntimeError, match="scalar outputs"):
        grad(x * x, x)
    with pytest.raises(ValueError, match="2 outputs but 1 grad_outputs"):
        grad([x * 2, x * 3], x, grad_outputs=[f64([1.0, 1.0])])


def test_grad_create_graph_and_retain_graph():
    x = f64([0.5, 1.5], True)
    y = (x ** 3).sum()
    (g,) = grad(y, x, create_graph=True)
    assert g.requires_grad
    (h,) = grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * np.array([0.5, 1.5]))
    z = (md.exp(x)).sum()
    grad(z, x, retain_graph=True)
    (g2,) = grad(z, x)
    np.testing.assert_allclose(g2.numpy(), np.exp([0.5, 1.5]))
    with pytest.raises(RuntimeError, match="second time"):
        grad(z, x)
    assert x.grad is None


def test_grad_with_respect_to_non_leaf():
    x = f64([1.0, 2.0], True)
    a = x * 3
    y = (a * a).sum()
    ga, gx = grad(y, [a, x])
    np.testing.assert_array_equal(ga.numpy(), [6.0, 12.0])
    np.testing.assert_array_equal(gx.numpy(), [18.0, 36.0])


def test_gradient_penalty_pattern():
    """d/dw of ||d loss/dx||^2: the WGAN-GP / physics-informed pattern."""
    torch = pytest.importorskip("torch")
    xv, wv = RNG.standard_normal(3), RNG.standard_normal(3)
    x, w = f64(xv, True), f64(wv, True)
    (gx,) = grad(md.tanh((x * w).sum()) * 2.0, x, create_graph=True)
    ((gx * gx).sum()).backward()
    tx, tw = torch.tensor(xv, requires_grad=True), torch.tensor(wv, requires_grad=True)
    (tgx,) = torch.autograd.grad(torch.tanh((tx * tw).sum()) * 2.0, tx, create_graph=True)
    ((tgx * tgx).sum()).backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


# --------------------------------------------------------------------------- JAX-style grad
def test_jax_style_grad_argnums():
    def f(x, y):
        return (x * x * y).sum()

    x, y = f64([1.0, 2.0]), f64([3.0, 4.0])
    gx = grad(f)(x, y)
    np.testing.assert_array_equal(gx.numpy(), [6.0, 16.0])
    assert not gx.requires_grad and gx.grad_fn is None
    gy = grad(f, argnums=1)(x, y)
    np.testing.assert_array_equal(gy.numpy(), [1.0, 4.0])
    gx2, gy2 = grad(f, argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gx2.numpy(), gx.numpy())
    np.testing.assert_array_equal(gy2.numpy(), gy.numpy())
    assert x.grad is None and not x.requires_grad


def test_jax_style_grad_nests_to_third_order():
    x = f64(0.5)
    d1, d2, d3 = grad(md.sin), grad(grad(md.sin)), grad(grad(grad(md.sin)))
    assert d1(x).item() == pytest.approx(np.cos(0.5), rel=1e-14)
    assert d2(x).item() == pytest.approx(-np.sin(0.5), rel=1e-14)
    assert d3(x).item() == pytest.approx(-np.cos(0.5), rel=1e-14)


def test_jax_style_grad_has_aux_and_errors():
    def f(x):
        return (x * x).sum(), "aux"

    g, aux = grad(f, has_aux=True)(f64([1.0, 3.0]))
    np.testing.assert_array_equal(g.numpy(), [2.0, 6.0])
    assert aux == "aux"
    with pytest.raises(TypeError, match=r"scalar.*\(2,\)"):
        grad(lambda x: x * 2)(f64([1.0, 2.0]))
    with pytest.raises(TypeError, match="argument 0 must be a Tensor"):
        grad(lambda x: x)(1.0)
    # a function that does not depend on its argument has zero gradient
    np.testing.assert_array_equal(grad(lambda x: f64(3.0))(f64([1.0, 2.0])).numpy(), [0.0, 0.0])


# --------------------------------------------------------------------------- vjp / jvp / jacobian
def _f_md(a, b):
    return md.sin(a)[:, None] * b + (a * a).sum() * md.exp(b * 0.1)


def _f_torch(a, b):
    import torch

    return torch.sin(a)[:, None] * b + (a * a).sum() * torch.exp(b * 0.1)


def _inputs():
    a, b = RNG.standard_normal(3), RNG.standard_normal((3, 2))
    return a, b


def test_vjp_matches_torch():
    torch = pytest.importorskip("torch")
    a, b = _inputs()
    v = RNG.standard_normal((3, 2))
    xa, xb = f64(a, True), f64(b, True)
    out, (va, vb) = vjp(_f_md, (xa, xb), f64(v))
    tout, (tva, tvb) = torch.autograd.functional.vjp(_f_torch, (torch.tensor(a), torch.tensor(b)), torch.tensor(v))
    np.testing.assert_allclose(out.numpy(), tout.numpy(), rtol=1e-12)
    np.testing.assert_allclose(va.numpy(), tva.numpy(), rtol=1e-12)
    np.testing.assert_allclose(vb.numpy(), tvb.numpy(), rtol=1e-12)
    assert xa.grad is None and xb.grad is None and not out.requires_grad
    # scalar output: v defaults to 1
    out, g = vjp(lambda t: (t * t).sum(), f64([1.0, 2.0]))
    np.testing.assert_array_equal(g.numpy(), [2.0, 4.0])


def test_jvp_matches_torch():
    torch = pytest.importorskip("torch")
    a, b = _inputs()
    ua, ub = RNG.standard_normal(3), RNG.standard_normal((3, 2))
    xa, xb = f64(a, True), f64(b, True)
    out, jv = jvp(_f_md, (xa, xb), (f64(ua), f64(ub)))
    tout, tjv = torch.autograd.functional.jvp(
        _f_torch, (torch.tensor(a), torch.tensor(b)), (torch.tensor(ua), torch.tensor(ub)))
    np.testing.assert_allclose(out.numpy(), tout.numpy(), rtol=1e-12)
    np.testing.assert_allclose(jv.numpy(), tjv.numpy(), rtol=1e-12, atol=1e-14)
    assert xa.grad is None and xb.grad is None
    # scalar input: v defaults to 1
    _, d = jvp(lambda t: t ** 3, f64(2.0))
    assert d.item() == pytest.approx(12.0)
    with pytest.raises(ValueError, match="v has shape"):
        jvp(_f_md, (xa, xb), (f64(ua), f64(ua)))


def test_jvp_with_several_outputs_and_unused_input():
    def f(x, y):
        return x * 2, md.sin(x).sum() + 0 * x.sum()

    x, y = f64([0.1, 0.2]), f64([5.0])
    _, (j1, j2) = jvp(f, (x, y), (f64([1.0, -1.0]), f64([3.0])))
    np.testing.assert_allclose(j1.numpy(), [2.0, -2.0])
    assert j2.item() == pytest.approx(np.cos(0.1) - np.cos(0.2))


@pytest.mark.parametrize("tuple_inputs", [False, True])
def test_jacobian_matches_torch(tuple_inputs):
    torch = pytest.importorskip("torch")
    a, b = _inputs()
    if tuple_inputs:
        J = jacobian(_f_md, (f64(a), f64(b)))
        Jt = torch.autograd.functional.jacobian(_f_torch, (torch.tensor(a), torch.tensor(b)))
        assert isinstance(J, tuple) and len(J) == 2
        for j, jt in zip(J, Jt):
            assert j.shape == tuple(jt.shape)
            np.testing.assert_allclose(j.numpy(), jt.numpy(), rtol=1e-12, atol=1e-15)
    else:
        J = jacobian(lambda t: md.tanh(t @ t.T), f64(b))
        Jt = torch.autograd.functional.jacobian(lambda t: torch.tanh(t @ t.T), torch.tensor(b))
        assert J.shape == (3, 3, 3, 2)
        np.testing.assert_allclose(J.numpy(), Jt.numpy(), rtol=1e-12, atol=1e-15)
        assert not J.requires_grad


def test_jacobian_of_several_outputs_and_constant_output():
    x = f64([0.3, -0.7])
    J1, J2 = jacobian(lambda t: (md.sin(t), t * t), x)
    np.testing.assert_allclose(J1.numpy(), np.diag(np.cos([0.3, -0.7])))
    np.testing.assert_allclose(J2.numpy(), np.diag([0.6, -1.4]))
    Jc = jacobian(lambda t: f64([1.0, 2.0, 3.0]), x)
    assert Jc.shape == (3, 2) and not Jc.numpy().any()
    assert jacobian(lambda t: (t * t).sum(), x).shape == (2,)


# --------------------------------------------------------------------------- Hessians of an MLP
SHAPES = [(5, 4), (5,), (3, 5), (3,)]  # a 4-5-3 tanh MLP


def _mlp_data():
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(s) * 0.7 for s in SHAPES]
    X, Y = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    return params, X, Y


def _loss(lib, X, Y, W1, b1, W2, b2):
    h = lib.tanh(X @ W1.T + b1)
    return ((h @ W2.T + b2 - Y) ** 2).mean()


def _unflatten(theta):
    out, i = [], 0
    for s in SHAPES:
        n = int(np.prod(s))
        out.append(theta[i:i + n].reshape(s))
        i += n
    return out


@pytest.fixture(scope="module")
def mlp():
    torch = pytest.importorskip("torch")
    params, X, Y = _mlp_data()
    theta = np.concatenate([p.ravel() for p in params])
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    H_flat = torch.autograd.functional.hessian(lambda th: _loss(torch, Xt, Yt, *_unflatten(th)),
                                               torch.tensor(theta)).numpy()
    H_blocks = torch.autograd.functional.hessian(lambda *ps: _loss(torch, Xt, Yt, *ps),
                                                 tuple(torch.tensor(p) for p in params))
    H_blocks = [[H_blocks[i][j].numpy() for j in range(4)] for i in range(4)]
    return dict(params=params, theta=theta, X=f64(X), Y=f64(Y), H_flat=H_flat, H_blocks=H_blocks)


def test_mlp_hessian_flat_matches_torch(mlp):
    X, Y = mlp["X"], mlp["Y"]
    th = f64(mlp["theta"])
    H = hessian(lambda t: _loss(md, X, Y, *_unflatten(t)), th)
    assert H.shape == (43, 43) and H.dtype == md.float64
    np.testing.assert_allclose(H.numpy(), mlp["H_flat"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(H.numpy(), H.numpy().T, atol=1e-12)
    assert th.grad is None


def test_mlp_hessian_per_parameter_matches_torch(mlp):
    X, Y = mlp["X"], mlp["Y"]
    ps = tuple(f64(p, True) for p in mlp["params"])
    H = hessian(lambda *p: _loss(md, X, Y, *p), ps)
    for i in range(4):
        for j in range(4):
            assert H[i][j].shape == SHAPES[i] + SHAPES[j]
            np.testing.assert_allclose(H[i][j].numpy(), mlp["H_blocks"][i][j], rtol=0, atol=1e-8)
    assert all(p.grad is None for p in ps)


def test_mlp_hessian_from_hvp_columns_matches_torch(mlp):
    X, Y = mlp["X"], mlp["Y"]
    th = f64(mlp["theta"], True)
    n = th.shape[0]

    def loss(t):
        return _loss(md, X, Y, *_unflatten(t))

    cols = []
    for j in range(n):
        e = np.zeros(n)
        e[j] = 1.0
        value, hv = hvp(loss, th, f64(e))
        cols.append(hv.numpy())
    np.testing.assert_allclose(np.stack(cols, axis=1), mlp["H_flat"], rtol=0, atol=1e-8)
    assert value.item() == pytest.approx(loss(th).item(), rel=1e-14)
    assert th.grad is None


def test_hvp_per_parameter_and_vhp_match_torch(mlp):
    torch = pytest.importorskip("torch")
    X, Y = mlp["X"], mlp["Y"]
    ps = tuple(f64(p) for p in mlp["params"])
    vs = tuple(RNG.standard_normal(s) for s in SHAPES)
    _, hv = hvp(lambda *p: _loss(md, X, Y, *p), ps, tuple(f64(v) for v in vs))
    _, vh = vhp(lambda *p: _loss(md, X, Y, *p), ps, tuple(f64(v) for v in vs))
    Xt, Yt = torch.tensor(X.numpy()), torch.tensor(Y.numpy())
    _, thv = torch.autograd.functional.hvp(lambda *p: _loss(torch, Xt, Yt, *p),
                                          tuple(torch.tensor(p) for p in mlp["params"]),
                                          tuple(torch.tensor(v) for v in vs))
    for a, b, c in zip(hv, vh, thv):
        np.testing.assert_allclose(a.numpy(), c.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(b.numpy(), c.numpy(), rtol=1e-10, atol=1e-12)


def test_hvp_create_graph_is_differentiable_wrt_inputs():
    # d/dx <H(x) v, u> for f = sum(x^4): H v = 12 x^2 v, so the gradient is 24 x v u
    xv, v, u = np.array([0.5, -1.0]), np.array([1.0, 2.0]), np.array([3.0, 0.5])
    x = f64(xv, True)
    _, hv = hvp(lambda t: (t ** 4).sum(), x, f64(v), create_graph=True)
    np.testing.assert_allclose(hv.numpy(), 12 * xv ** 2 * v)
    (g,) = grad((hv * f64(u)).sum(), x)
    np.testing.assert_allclose(g.numpy(), 24 * xv * v * u)
    assert x.grad is None


def test_hessian_create_graph_and_scalar_input():
    x = f64(2.0, True)
    H = hessian(lambda t: t ** 4, x, create_graph=True)
    assert H.item() == pytest.approx(48.0)
    (d3,) = grad(H, x)
    assert d3.item() == pytest.approx(48.0)  # d/dx 12 x^2 = 24 x
    with pytest.raises(ValueError, match="scalar"):
        hessian(lambda t: t * 2, f64([1.0, 2.0]))
    with pytest.raises(ValueError, match="scalar"):
        hvp(lambda t: t * 2, f64([1.0, 2.0]), f64([1.0, 1.0]))


def test_functional_rejects_integer_inputs():
    with pytest.raises(TypeError, match="jacobian: input 0 has dtype int64"):
        jacobian(lambda t: t * 2, md.tensor([1, 2]))


def test_functional_never_writes_dot_grad():
    x = f64([0.3, 0.4], True)
    w = f64([1.0, 2.0], True)

    def f(t):
        return (md.tanh(t * w) ** 2).sum()

    vjp(f, x)
    jvp(f, x, f64([1.0, 0.0]))
    hvp(f, x, f64([1.0, 0.0]))
    jacobian(f, x)
    hessian(f, x)
    grad(f)(x)
    grad(f(x), x)
    assert x.grad is None and w.grad is None


def test_grad_wrt_non_leaf_leaves_upstream_graph_intact():
    x = f64([1.0, 2.0], True)
    a = md.exp(x)
    (ga,) = grad((a * a).sum(), a)
    np.testing.assert_allclose(ga.numpy(), 2 * np.exp([1.0, 2.0]))
    a.sum().backward()  # the graph below a was not run by grad(), so it is still there
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0]))


def test_grad_does_not_free_branches_it_does_not_need():
    x, w = f64([1.0, 2.0], True), f64([3.0, 4.0], True)
    hw = md.sin(w)
    y = (x * x).sum() + hw.sum()
    (gx,) = grad(y, x)
    np.testing.assert_array_equal(gx.numpy(), [2.0, 4.0])
    hw.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.cos([3.0, 4.0]))


def test_jvp_and_jacobian_with_an_integer_output():
    x = f64([0.1, 0.5, 0.3])
    _, (jv, ji) = jvp(lambda t: (md.sin(t), md.argmax(t)), x, f64([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(jv.numpy(), np.cos([0.1, 0.5, 0.3]) * [1, 2, 3])
    assert ji.shape == () and ji.item() == 0
    J1, J2 = jacobian(lambda t: (t * 2, md.argmax(t)), x)
    np.testing.assert_array_equal(J1.numpy(), 2 * np.eye(3))
    assert J2.shape == (3,) and not J2.numpy().any()

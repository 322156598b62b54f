"""Forward (Taylor-mode) derivative propagation through MLPs against nested reverse mode."""

import numpy as np
import pytest

import mathdl as md
from mathdl import nn
from mathdl.autograd import gradcheck
from mathdl.physics import PINN, Derivatives, DirichletBC, InputScale, mlp_jet, supports_jet

NU = 0.01 / np.pi
KEYS = [(), (0,), (1,), (0, 0), (1, 1), (0, 1)]


def _mlp(act=nn.Tanh, depth=3, width=7, seed=0, scale=True):
    md.manual_seed(seed)
    layers = [InputScale([(0, 1), (-1, 1)])] if scale else []
    d = 2
    for _ in range(depth):
        layers += [nn.Linear(d, width), act()]
        d = width
    layers.append(nn.Linear(d, 1))
    return nn.Sequential(*layers).double()


def _points(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.random(n), rng.uniform(-1, 1, n)], 1)


@pytest.mark.parametrize("act", [nn.Tanh, nn.Sigmoid])
def test_jet_derivatives_equal_nested_reverse_mode(act):
    net, pts = _mlp(act), _points()
    x = md.tensor(pts, requires_grad=True)
    D = Derivatives(net(x), x)
    J = mlp_jet(net, md.tensor(pts), first=[0, 1], second=[(0, 0), (1, 1), (1, 0)])
    for k in KEYS:
        ref = D(*k).numpy()
        assert np.abs(ref).max() > 1e-5  # a derivative that is really there
        np.testing.assert_allclose(J(*k).numpy(), ref, rtol=0, atol=1e-10, err_msg=str(k))
    np.testing.assert_allclose(J(1, 0).numpy(), J(0, 1).numpy(), rtol=0, atol=0)


def test_jet_matches_calculus_on_a_one_layer_network():
    # u = v . tanh(W x + b) + c: u_x = v . (s w_x), u_xx = v . (-2 a s w_x^2), s = 1 - a^2
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).double()
    pts = _points(5)
    W, b = net[0].weight.numpy(), net[0].bias.numpy()
    v = net[2].weight.numpy()[0]
    a = np.tanh(pts @ W.T + b)
    s = 1 - a * a
    J = mlp_jet(net, md.tensor(pts), first=[1], second=[(1, 1)])
    np.testing.assert_allclose(J(1).numpy(), (s * W[:, 1]) @ v, atol=1e-14)
    np.testing.assert_allclose(J(1, 1).numpy(), (-2 * a * s * W[:, 1] ** 2) @ v, atol=1e-14)


def _burgers_loss(net, pts, method):
    if method == "jet":
        D = mlp_jet(net, md.tensor(pts), first=[0, 1], second=[(1, 1)])
    else:
        x = md.tensor(pts, requires_grad=True)
        D = Derivatives(net(x), x)
    r = D(0) + D() * D(1) - NU * D(1, 1)
    return (r * r).mean()


def test_parameter_gradients_of_the_residual_loss_agree():
    net, pts = _mlp(depth=4, width=8), _points(60, 1)
    grads = {}
    for method in ("jet", "autograd"):
        net.zero_grad()
        loss = _burgers_loss(net, pts, method)
        loss.backward()
        grads[method] = (loss.item(), [p.grad.numpy().copy() for p in net.parameters()])
    assert abs(grads["jet"][0] - grads["autograd"][0]) < 1e-12
    for gj, ga in zip(grads["jet"][1], grads["autograd"][1]):
        assert np.abs(ga).max() > 1e-6
        np.testing.assert_allclose(gj, ga, rtol=0, atol=1e-10)


def test_jet_loss_gradcheck_in_a_weight():
    net, pts = _mlp(depth=2, width=4), _points(12, 2)
    # gradcheck perturbs the parameter in place; the loss reads it through the network
    assert gradcheck(lambda w: _burgers_loss(net, pts, "jet"), [net[3].weight])


def test_pinn_picks_the_jet_when_it_can():
    pts = _points(20)
    bc = [DirichletBC([[0.0, 0.0]], 0.0)]

    def burgers(X, D):
        return D(0) + D() * D(1) - NU * D(1, 1)

    def third(X, D):
        return D(1, 1, 1)
    assert PINN(_mlp(), burgers, pts, bc).method() == "jet"
    assert PINN(_mlp(), burgers, pts, bc, derivatives="autograd").method() == "autograd"
    assert PINN(_mlp(), third, pts, bc).method() == "autograd"
    p1, p2 = PINN(_mlp(), burgers, pts, bc), PINN(_mlp(), burgers, pts, bc, derivatives="autograd")
    np.testing.assert_allclose(p1.loss().item(), p2.loss().item(), rtol=1e-13)
    relu_net = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1)).double()
    assert not supports_jet(relu_net) and supports_jet(_mlp())
    assert PINN(relu_net, burgers, pts, bc).method() == "autograd"
    with pytest.raises(TypeError, match="derivatives='jet'"):
        PINN(relu_net, burgers, pts, bc, derivatives="jet")
    with pytest.raises(ValueError, match="second order"):
        PINN(_mlp(), third, pts, bc, derivatives="jet").method()
    with pytest.raises(ValueError, match="derivatives must be"):
        PINN(_mlp(), burgers, pts, bc, derivatives="forward")


def test_jet_bad_input():
    net, X = _mlp(), md.tensor(_points(4))
    with pytest.raises(TypeError, match="ReLU"):
        mlp_jet(nn.Sequential(nn.Linear(2, 2), nn.ReLU()).double(), X, first=[0])
    with pytest.raises(ValueError, match="out of range"):
        mlp_jet(net, X, first=[2])
    J = mlp_jet(net, X, first=[0], second=[(0, 0)])
    with pytest.raises(ValueError, match="not requested"):
        J(1)
    with pytest.raises(ValueError, match="not requested"):
        J(0, 1)
    with pytest.raises(ValueError, match="order 3"):
        J(0, 0, 0)
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        mlp_jet(net, md.tensor(np.zeros(3)))


def test_input_scale_maps_the_box_onto_minus_one_one():
    s = InputScale([(0, 1), (-2, 6)])
    out = s(md.tensor(np.array([[0.0, -2.0], [1.0, 6.0], [0.5, 2.0]]))).numpy()
    np.testing.assert_allclose(out, [[-1, -1], [1, 1], [0, 0]], atol=1e-15)
    with pytest.raises(ValueError, match="lo < hi"):
        InputScale([(1, 0)])
    with pytest.raises(ValueError, match="coordinates"):
        s(md.tensor(np.zeros((2, 3))))


@pytest.mark.parametrize("kind", ["tanh", "sigmoid"])
def test_activation_jet_gradcheck_and_gradgradcheck(kind):
    from mathdl.autograd import gradgradcheck
    from mathdl.physics.jet import ActivationJet

    rng = np.random.default_rng(3)
    S = md.tensor(rng.standard_normal((5, 3, 2)), requires_grad=True)  # value, 2 first, 2 second slots
    b = md.tensor(rng.standard_normal(2), requires_grad=True)

    def f(S, b):
        return ActivationJet(kind, 2, [(0, 0), (0, 1)])(S, b)
    assert gradcheck(f, [S, b])
    assert gradgradcheck(f, [S, b])


def test_hessian_vector_products_of_the_loss_agree():
    # create_graph through the jet (its backward in mathdl ops) against nested reverse mode
    from mathdl.autograd import grad

    net, pts = _mlp(depth=2, width=5), _points(15, 4)
    params = list(net.parameters())
    rng = np.random.default_rng(5)
    v = [md.tensor(rng.standard_normal(p.shape)) for p in params]
    hv = {}
    for method in ("jet", "autograd"):
        gs = grad(_burgers_loss(net, pts, method), params, create_graph=True)
        dot = sum((g * u).sum() for g, u in zip(gs, v))
        hv[method] = [h.numpy() for h in grad(dot, params)]
    for a, b in zip(hv["jet"], hv["autograd"]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("kind", ["tanh", "sigmoid"])
@pytest.mark.parametrize("bias", [True, False])
def test_compiled_kernels_equal_the_array_code(kind, bias, monkeypatch):
    from mathdl.physics import jet_kernels
    from mathdl.physics.jet import ActivationJet

    if not jet_kernels.available():
        pytest.skip("numba is not installed (or MATHDL_NO_NUMBA is set): only the array code runs")
    rng = np.random.default_rng(7)
    S0 = rng.standard_normal((6, 9, 4))  # value, 3 first-derivative slots, 2 pairs
    b0 = rng.standard_normal(4)
    G = rng.standard_normal(S0.shape)
    res = {}
    for compiled in (True, False):
        monkeypatch.setattr(jet_kernels, "_kernels", jet_kernels._kernels if compiled else False)
        S, b = md.tensor(S0, requires_grad=True), md.tensor(b0, requires_grad=True)
        fn = ActivationJet(kind, 3, [(0, 2), (1, 1)])
        out = fn(S, b) if bias else fn(S)
        assert (fn.saved is None) == compiled
        out.backward(md.tensor(G))
        res[compiled] = (out.numpy(), S.grad.numpy(), b.grad.numpy() if bias else 0)
    for x, y in zip(res[True], res[False]):
        np.testing.assert_allclose(x, y, rtol=1e-13, atol=1e-13)

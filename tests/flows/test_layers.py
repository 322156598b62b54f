"""Every flow layer in float64: inverse(forward(x)) = x (1e-10), log|det J| = slogdet of the autodiff
Jacobian (1e-8), gradcheck of the output and log|det| in the input and in a parameter."""

import numpy as np
import pytest

import mathdl as md
import mathdl.flows as fl
from mathdl.autograd.functional import jacobian

D = 4


@pytest.fixture(autouse=True)
def f64():
    md.set_default_dtype("float64")
    md.manual_seed(0)
    yield
    md.set_default_dtype("float32")


def _perturb(layer, scale=0.3, seed=1):
    g = np.random.default_rng(seed)
    for p in layer.parameters():
        p.array[...] = p.array + scale * g.normal(size=p.shape)
    return layer


LAYERS = {
    "planar": lambda: fl.PlanarFlow(D, init_scale=0.8),
    "radial": lambda: fl.RadialFlow(D, init_scale=0.8),
    "affine_coupling": lambda: _perturb(fl.AffineCoupling(fl.alternating_mask(D), hidden=8)),
    "actnorm": lambda: _perturb(fl.ActNorm(D)),
    "invertible_1x1": lambda: _perturb(fl.Invertible1x1Conv(D, seed=0), 0.1),
    "maf": lambda: _perturb(fl.MAF(D, hidden=(8, 8))),
    "iaf": lambda: _perturb(fl.IAF(D, hidden=(8, 8))),
    "rq_spline": lambda: _perturb(fl.RQSplineCoupling(fl.alternating_mask(D, even=False), hidden=8, num_bins=5),
                                  0.5),
    "reverse": lambda: fl.ReversePermutation(D),
}


def _x(shape=(3, D), seed=2):
    return md.tensor(np.random.default_rng(seed).normal(size=shape) * 1.2)


def _prepare(name):
    layer = LAYERS[name]()
    if name == "actnorm":
        layer.initialized = True
    return layer


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_inverse_of_forward_is_identity(name):
    layer = _prepare(name)
    x = _x()
    y, ld = layer(x)
    x2, ld_inv = layer.inverse(y)
    np.testing.assert_allclose(x2.numpy(), x.numpy(), atol=1e-10, rtol=0)
    np.testing.assert_allclose(ld_inv.numpy(), -ld.numpy(), atol=1e-10)
    assert ld.shape == (3,)


def _blocks(J, b, n):
    J = J.reshape(b, n, b, n)
    return np.stack([J[i, :, i, :] for i in range(b)])


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_log_det_equals_slogdet_of_jacobian(name):
    layer = _prepare(name)
    x = _x()
    J = jacobian(lambda t: layer(t)[0], x).numpy()
    sign, logdet = np.linalg.slogdet(_blocks(J, 3, D))
    assert np.all(sign != 0)
    np.testing.assert_allclose(layer(x)[1].numpy(), logdet, atol=1e-8, rtol=0)
    y = layer(x)[0].detach()
    Ji = jacobian(lambda t: layer.inverse(t)[0], y).numpy()
    np.testing.assert_allclose(layer.inverse(y)[1].numpy(), np.linalg.slogdet(_blocks(Ji, 3, D))[1], atol=1e-7)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_gradcheck(name):
    layer = _prepare(name)
    x = _x((2, D))
    x.requires_grad_(True)
    assert md.gradcheck(lambda t: layer(t)[0], [x])
    assert md.gradcheck(lambda t: layer(t)[1], [x]) if name != "reverse" else True
    params = list(layer.parameters())
    if params:
        p = params[0]
        v = md.tensor(p.array.copy(), requires_grad=True)
        assert md.gradcheck(lambda vv: _with_param(layer, p, vv, x.detach()), [v])


def _with_param(layer, p, v, x):
    """layer(x) with parameter p replaced by tensor v (so that v is in the graph)."""
    owner, attr = _find(layer, p)
    params = owner.__dict__["_parameters"]
    saved = params[attr]
    params[attr] = v
    try:
        y, ld = layer(x)
        return y.sum(-1) + ld
    finally:
        params[attr] = saved


def _find(module, p):
    for mod in module.modules():
        for k, q in mod.__dict__["_parameters"].items():
            if q is p:
                return mod, k
    raise AssertionError("parameter not found")


def test_glow_layers_on_images():
    x = md.tensor(np.random.default_rng(3).normal(size=(2, 3, 2, 2)))
    for layer in (fl.ActNorm(3), _perturb(fl.Invertible1x1Conv(3, seed=1), 0.1)):
        y, ld = layer(x)
        if isinstance(layer, fl.ActNorm):  # data-dependent init: zero mean, unit variance per channel
            assert np.allclose(y.numpy().mean((0, 2, 3)), 0, atol=1e-10)
            assert np.allclose(y.numpy().std((0, 2, 3)), 1, atol=1e-5)
        np.testing.assert_allclose(layer.inverse(y)[0].numpy(), x.numpy(), atol=1e-10)
        J = jacobian(lambda t, lay=layer: lay(t)[0], x).numpy().reshape(2, 12, 2, 12)
        want = [np.linalg.slogdet(J[i, :, i, :])[1] for i in range(2)]
        np.testing.assert_allclose(ld.numpy(), want, atol=1e-8)


def test_planar_reparameterization_keeps_it_invertible():
    layer = fl.PlanarFlow(2)
    layer.w.array[...] = [1.0, 0.0]
    layer.u.array[...] = [-5.0, 0.0]  # w^T u = -5 < -1 would not be invertible without u_hat
    assert float((layer.w * layer.u_hat()).sum().item()) >= -1
    x = _x((5, 2))
    np.testing.assert_allclose(layer.inverse(layer(x)[0])[0].numpy(), x.numpy(), atol=1e-10)


def test_flow_log_prob_matches_both_directions_and_change_of_variables():
    layers = [_perturb(fl.AffineCoupling(fl.alternating_mask(D), hidden=8)), fl.ReversePermutation(D),
              _perturb(fl.MAF(D, hidden=(8,))), _perturb(fl.RQSplineCoupling(fl.alternating_mask(D), hidden=8), 0.5)]
    flow = fl.Flow(layers, event_shape=(D,))
    x, lq = flow.rsample_and_log_prob(5)
    np.testing.assert_allclose(flow.log_prob(x.detach()).numpy(), lq.numpy(), atol=1e-9)
    # an affine flow is a Gaussian: compare with the closed form
    an = fl.ActNorm(D)
    an.initialized = True
    an.bias.array[...] = [0.5, -1.0, 0.0, 2.0]
    an.log_scale.array[...] = [0.1, -0.3, 0.2, 0.0]
    g = fl.Flow([an], event_shape=(D,))
    y = _x((4, D))
    s = np.exp(an.log_scale.array)
    loc = an.bias.array * s
    want = (-0.5 * ((y.numpy() - loc) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)).sum(-1)
    np.testing.assert_allclose(g.log_prob(y).numpy(), want, atol=1e-10)
    assert flow.sample(7).shape == (7, D)


def test_iaf_with_context():
    layer = _perturb(fl.IAF(D, hidden=(8,), context_features=3))
    x = _x()
    c = md.tensor(np.random.default_rng(5).normal(size=(3, 3)))
    y, ld = layer(x, c)
    np.testing.assert_allclose(layer.inverse(y, c)[0].numpy(), x.numpy(), atol=1e-10)
    J = jacobian(lambda t: layer(t, c)[0], x).numpy()
    np.testing.assert_allclose(ld.numpy(), np.linalg.slogdet(_blocks(J, 3, D))[1], atol=1e-8)
    y2, _ = layer(x, c * 2)
    assert not np.allclose(y2.numpy(), y.numpy())  # the context matters
    with pytest.raises(ValueError, match="context"):
        layer(x)


def test_actnorm_initialization_survives_state_dict():
    a = fl.ActNorm(3)
    a(_x((8, 3)))
    b = fl.ActNorm(3)
    b.load_state_dict(a.state_dict())
    x = _x((5, 3), seed=9)
    np.testing.assert_allclose(b(x)[0].numpy(), a(x)[0].numpy())  # b keeps a's statistics

"""The distributions on the emulated CuPy module of tests/device: log_prob, entropy, KL and rsample stay on
the device and equal the CPU's values and gradients."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl as md
import mathdl.distributions as D

emulated_cupy = pytest.importorskip("device.emulated_cupy")
from linalg.test_device import host, install_device  # noqa: E402

R = np.random.default_rng(0)


def _pos(*shape):
    return R.uniform(0.5, 2.0, shape)


def _tril_plus(L):
    return md.tril(L) + 2 * md.eye(3, dtype="float64").to(L.device)


CASES = {
    "Normal": (lambda a, b: D.Normal(a, b), [R.normal(size=3), _pos(3)], R.normal(size=(2, 3))),
    "Gamma": (lambda a, b: D.Gamma(a, b), [_pos(3), _pos(3)], _pos(2, 3)),
    "Beta": (lambda a, b: D.Beta(a, b), [_pos(3), _pos(3)], R.uniform(0.1, 0.9, (2, 3))),
    "Dirichlet": (lambda a: D.Dirichlet(a), [_pos(2, 3)], R.dirichlet(np.ones(3), 2)),
    "StudentT": (lambda a, b, c: D.StudentT(a, b, c), [_pos(3) + 2, R.normal(size=3), _pos(3)], R.normal(size=(2, 3))),
    "MultivariateNormal": (lambda m, L: D.MultivariateNormal(m, scale_tril=_tril_plus(L)),
                           [R.normal(size=3), R.normal(size=(3, 3)) * 0.3], R.normal(size=(2, 3))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_log_prob_entropy_on_device(monkeypatch, name):
    xp = install_device(monkeypatch)
    make, params, value = CASES[name]
    pc = [md.tensor(p, requires_grad=True) for p in params]
    pd = [md.tensor(p).to("cuda").requires_grad_(True) for p in params]
    dc, dd = make(*pc), make(*pd)
    vc, vd = md.tensor(value), md.tensor(value).to("cuda")
    oc = dc.log_prob(vc).sum() + dc.entropy().sum()
    od = dd.log_prob(vd).sum() + dd.entropy().sum()
    assert isinstance(od.array, xp.ndarray)
    np.testing.assert_allclose(host(od), host(oc), rtol=1e-10)
    oc.backward()
    od.backward()
    for a, b in zip(pc, pd):
        assert isinstance(b.grad.array, xp.ndarray)
        np.testing.assert_allclose(host(b.grad), host(a.grad), rtol=1e-9, atol=1e-12)
    s = make(*pd).rsample((4,))
    assert isinstance(s.array, xp.ndarray) and s.shape == (4,) + tuple(dd.batch_shape) + tuple(dd.event_shape)
    s.sum().backward()


def test_kl_categorical_and_gumbel_on_device(monkeypatch):
    xp = install_device(monkeypatch)
    lg = R.normal(size=(2, 4))
    p = D.Categorical(logits=md.tensor(lg).to("cuda"))
    q = D.Categorical(logits=md.tensor(lg[::-1].copy()).to("cuda"))
    kl = D.kl_divergence(p, q)
    assert isinstance(kl.array, xp.ndarray)
    want = D.kl_divergence(D.Categorical(logits=md.tensor(lg)), D.Categorical(logits=md.tensor(lg[::-1].copy())))
    np.testing.assert_allclose(host(kl), host(want), rtol=1e-10)
    y = D.gumbel_softmax(md.tensor(lg).to("cuda"), tau=0.5, hard=True)
    assert isinstance(y.array, xp.ndarray) and np.all(host(y).sum(-1) == 1)
    assert isinstance(p.sample((3,)).array, xp.ndarray)

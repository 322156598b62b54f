"""The VAE and a RealNVP flow on the emulated CuPy module of tests/device: losses and gradients stay on
the device and equal the CPU's."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl as md

emulated_cupy = pytest.importorskip("device.emulated_cupy")
from linalg.test_device import host, install_device  # noqa: E402


def _same_model(make):
    md.manual_seed(0)
    a = make()
    md.manual_seed(0)
    b = make()
    return a, b


def test_vae_loss_on_device(monkeypatch):
    from mathdl.models.vae import VAE

    xp = install_device(monkeypatch)
    cpu, dev = _same_model(lambda: VAE((16,), latent_dim=2, hidden=(8,)))
    dev.to("cuda")
    x = np.random.default_rng(0).random((5, 16)).astype(np.float32)
    px_c, px_d = cpu.to_pixels(md.tensor(x)), dev.to_pixels(md.tensor(x).to("cuda"))
    assert isinstance(px_d.array, xp.ndarray)
    with md.no_grad():
        kc = md.distributions.kl_divergence(cpu.encode(px_c), cpu.prior((5,)))
        kd = md.distributions.kl_divergence(dev.encode(px_d), dev.prior((5,)))
    np.testing.assert_allclose(host(kd), host(kc), rtol=1e-5)
    loss, _ = dev.compute_loss(md.tensor(x).to("cuda"))
    loss.backward()
    assert all(isinstance(p.grad.array, xp.ndarray) for p in dev.parameters())


def test_realnvp_log_prob_on_device(monkeypatch):
    from mathdl import flows as fl

    xp = install_device(monkeypatch)

    def make():
        return fl.Flow([fl.AffineCoupling(fl.alternating_mask(4), hidden=8), fl.ReversePermutation(4)],
                       event_shape=(4,))

    cpu, dev = _same_model(make)
    for layer_c, layer_d in zip(cpu.layers, dev.layers):
        for p in list(layer_c.parameters()):
            p.array[...] = p.array + 0.1
        for p in list(layer_d.parameters()):
            p.array[...] = p.array + 0.1
    dev.to("cuda")
    x = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)
    lc = cpu.log_prob(md.tensor(x))
    ld = dev.log_prob(md.tensor(x).to("cuda"))
    assert isinstance(ld.array, xp.ndarray)
    np.testing.assert_allclose(host(ld), host(lc), rtol=1e-5)
    ld.sum().backward()
    x, lq = dev.rsample_and_log_prob(2)
    assert isinstance(x.array, xp.ndarray) and isinstance(lq.array, xp.ndarray)

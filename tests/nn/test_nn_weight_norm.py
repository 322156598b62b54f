"""nn.utils.weight_norm / spectral_norm: same parameters and buffers as torch, same outputs and
gradients (power iteration included), removal restores a plain parameter."""

import numpy as np
import pytest

import mathdl
import mathdl.nn as nn

torch = pytest.importorskip("torch")
tnn = torch.nn


def _load(m, t):
    m.load_state_dict({k: mathdl.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_matches_torch(dim):
    m, t = nn.Linear(4, 3).double(), tnn.Linear(4, 3).double()
    _load(m, t)
    nn.utils.weight_norm(m, dim=dim)
    tnn.utils.weight_norm(t, dim=dim)
    assert list(m.state_dict()) == list(t.state_dict()) == ["bias", "weight_g", "weight_v"]
    x = np.random.default_rng(0).standard_normal((5, 4))
    y, yt = m(mathdl.tensor(x)), t(torch.tensor(x))
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    y.sum().backward()
    yt.sum().backward()
    for k in ("weight_g", "weight_v"):
        np.testing.assert_allclose(getattr(m, k).grad.numpy(), getattr(t, k).grad.numpy(), rtol=1e-10, atol=1e-13)
    w = m.weight.numpy().copy()
    nn.utils.remove_weight_norm(m)
    assert list(m.state_dict()) == ["bias", "weight"] and isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(m.weight.numpy(), w, rtol=1e-12)


@pytest.mark.parametrize("make", [lambda M: M.Conv2d(3, 4, 3), lambda M: M.ConvTranspose2d(3, 4, 2),
                                  lambda M: M.Linear(5, 3)])
def test_spectral_norm_matches_torch(make):
    m, t = make(nn).double(), make(tnn).double()
    tnn.utils.spectral_norm(t)
    nn.utils.spectral_norm(m)
    assert list(m.state_dict()) == list(t.state_dict())
    _load(m, t)  # the same random u, v
    shape = (2, 3, 5, 5) if not isinstance(t, tnn.Linear) else (4, 5)
    x = np.random.default_rng(1).standard_normal(shape)
    for _ in range(3):  # power iterations advance u, v in training
        y, yt = m(mathdl.tensor(x)), t(torch.tensor(x))
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(m.weight_u.numpy(), t.weight_u.numpy(), rtol=1e-10, atol=1e-12)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(m.weight_orig.grad.numpy(), t.weight_orig.grad.numpy(), rtol=1e-9, atol=1e-12)
    m.eval()
    t.eval()
    u = m.weight_u.numpy().copy()
    np.testing.assert_allclose(m(mathdl.tensor(x)).numpy(), t(torch.tensor(x)).detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_array_equal(m.weight_u.numpy(), u)  # no power iteration in eval
    nn.utils.remove_spectral_norm(m)
    assert list(m.state_dict()) == ["bias", "weight"]


def test_spectral_norm_estimates_the_largest_singular_value():
    lin = nn.Linear(6, 4).double()
    nn.utils.spectral_norm(lin, n_power_iterations=30)
    lin(mathdl.tensor(np.zeros((1, 6))))
    s = np.linalg.svd(lin.weight.numpy(), compute_uv=False)
    assert s[0] == pytest.approx(1.0, rel=1e-6)


def test_reparameterization_errors():
    lin = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="no parameter 'kernel'"):
        nn.utils.weight_norm(lin, "kernel")
    nn.utils.weight_norm(lin)
    with pytest.raises(RuntimeError, match="already"):
        nn.utils.spectral_norm(lin)
    with pytest.raises(ValueError, match="no such"):
        nn.utils.remove_spectral_norm(lin)

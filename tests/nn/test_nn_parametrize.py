"""nn.utils.parametrize and nn.utils.parametrizations: PyTorch's state-dict names, values and
gradients (weight_norm, spectral_norm, a user-defined parametrization), removal."""

import numpy as np
import pytest

import mathdl
import mathdl.nn as nn

torch = pytest.importorskip("torch")
tnn = torch.nn


def _load(m, t):
    m.load_state_dict({k: mathdl.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_parametrization_matches_torch(dim):
    m, t = nn.Linear(4, 3).double(), tnn.Linear(4, 3).double()
    _load(m, t)
    nn.utils.parametrizations.weight_norm(m, dim=dim)
    tnn.utils.parametrizations.weight_norm(t, dim=dim)
    assert list(m.state_dict()) == list(t.state_dict())
    _load(m, t)
    x = np.random.default_rng(0).standard_normal((5, 4))
    y, yt = m(mathdl.tensor(x)), t(torch.tensor(x))
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    y.sum().backward()
    yt.sum().backward()
    for (k, a), (_, b) in zip(m.named_parameters(), t.named_parameters()):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=k)
    w = m.weight.numpy().copy()
    nn.utils.parametrize.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear and list(m.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(m.weight.numpy(), w, rtol=1e-12)


def test_spectral_norm_parametrization_matches_torch():
    m, t = nn.Conv2d(3, 4, 3).double(), tnn.Conv2d(3, 4, 3).double()
    nn.utils.parametrizations.spectral_norm(m)
    tnn.utils.parametrizations.spectral_norm(t)
    assert list(m.state_dict()) == list(t.state_dict())
    _load(m, t)
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 5))
    for _ in range(2):
        y, yt = m(mathdl.tensor(x)), t(torch.tensor(x))
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(m.parametrizations.weight.original.grad.numpy(),
                               t.parametrizations.weight.original.grad.numpy(), rtol=1e-9, atol=1e-12)


class _Symmetric(nn.Module):
    def forward(self, X):
        return mathdl.triu(X) + mathdl.triu(X, 1).transpose(-1, -2)


def test_user_parametrization_and_chaining():
    lin = nn.Linear(3, 3)
    nn.utils.parametrize.register_parametrization(lin, "weight", _Symmetric())
    w = lin.weight.numpy()
    np.testing.assert_array_equal(w, w.T)
    assert nn.utils.parametrize.is_parametrized(lin, "weight") and not nn.utils.parametrize.is_parametrized(lin, "bias")
    lin(mathdl.tensor(np.ones((2, 3), np.float32))).sum().backward()
    g = lin.parametrizations.weight.original.grad.numpy()
    assert np.all(np.tril(g, -1) == 0) and np.any(g != 0)  # only the upper triangle is free
    with nn.utils.parametrize.cached():
        assert isinstance(lin.weight, mathdl.Tensor)
    with pytest.raises(ValueError, match="no parameter or buffer"):
        nn.utils.parametrize.register_parametrization(lin, "kernel", _Symmetric())
    with pytest.raises(ValueError, match="no parametrization"):
        nn.utils.parametrize.remove_parametrizations(lin, "bias")

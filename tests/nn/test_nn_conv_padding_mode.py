"""Conv1d/2d/3d padding_mode ('reflect', 'replicate', 'circular'; mathdl/nn/modules/conv.py) against PyTorch."""

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", "zeros"])
@pytest.mark.parametrize("nd, padding, kernel", [(1, 2, 3), (2, (1, 2), 3), (2, "same", 4), (3, 1, 3), (1, "valid", 3)])
def test_values_gradients_and_repr_as_pytorch(mode, nd, padding, kernel):
    name = f"Conv{nd}d"
    ours = getattr(mathdl.nn, name)(2, 3, kernel, padding=padding, padding_mode=mode, dtype=mathdl.float64)
    theirs = getattr(torch.nn, name)(2, 3, kernel, padding=padding, padding_mode=mode, dtype=torch.float64)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 2) + (5,) * nd)
    xo, xt = mathdl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    yo.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    if padding != "valid":  # (PyTorch prints padding=valid beside a non-zeros mode, a quirk of its repr)
        assert repr(ours).split("  # ")[0] == repr(theirs)  # (mathdl appends a parameter count)


def test_bad_padding_modes():
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        mathdl.nn.Conv2d(1, 1, 3, padding_mode="bad")
    with pytest.raises(ValueError, match='only "zeros" padding mode'):
        mathdl.nn.ConvTranspose2d(1, 1, 3, padding_mode="reflect")

"""Convolution layers: PyTorch parameter shapes and default inits, parity with torch modules given
the same weights (train and eval batch norm included), and errors that name layer and shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mathdl
from mathdl import nn

torch = pytest.importorskip("torch")
tnn = torch.nn


def _load(ours, theirs):
    """Copy mathdl parameters and buffers into the torch module (same names)."""
    sd = {k: torch.tensor(np.asarray(v.array)) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(sd, strict=True)


def _run_both(ours, theirs, x, seed=0):
    xm = mathdl.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    y, yt = ours(xm), theirs(xt)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), atol=1e-9, rtol=1e-8)
    v = np.random.default_rng(seed).standard_normal(tuple(yt.shape))
    (y * mathdl.tensor(v)).sum().backward()
    (yt * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), atol=1e-9, rtol=1e-8)
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), atol=1e-9, rtol=1e-8, err_msg=name)


LAYERS = [
    ("Conv2d", (3, 6, 3), dict(padding=1), (2, 3, 6, 7)),
    ("Conv2d", (4, 6, (2, 3)), dict(stride=2, padding=(1, 0), dilation=(1, 2), groups=2, bias=False), (2, 4, 8, 9)),
    ("Conv2d", (2, 4, 3), dict(padding="same", dilation=2), (1, 2, 5, 6)),
    ("Conv1d", (3, 5, 3), dict(stride=2, padding=1), (2, 3, 10)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2), (2, 4, 4, 5)),
    ("MaxPool2d", (3,), dict(stride=2, padding=1), (2, 3, 7, 7)),
    ("AvgPool2d", (2,), dict(), (2, 3, 6, 7)),
    ("AdaptiveAvgPool2d", ((3, 2),), dict(), (2, 3, 7, 5)),
    ("GroupNorm", (2, 6), dict(), (2, 6, 3, 4)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", LAYERS)
def test_layer_matches_torch(name, args, kwargs, shape):
    mathdl.manual_seed(0)
    ours = getattr(nn, name)(*args, **kwargs).double()
    theirs = getattr(tnn, name)(*args, **kwargs).double()
    assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    rng = np.random.default_rng(1)
    for p in ours.parameters():  # random affine parameters so that they matter
        p.array[...] = rng.standard_normal(p.shape)
    _load(ours, theirs)
    _run_both(ours, theirs, rng.standard_normal(shape))


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm2d_train_and_eval_match_torch(momentum):
    ours = nn.BatchNorm2d(4, momentum=momentum).double()
    theirs = tnn.BatchNorm2d(4, momentum=momentum).double()
    rng = np.random.default_rng(2)
    for p in ours.parameters():
        p.array[...] = rng.standard_normal(p.shape)
    _load(ours, theirs)
    for step in range(3):
        _run_both(ours, theirs, rng.standard_normal((5, 4, 3, 3)) * 2 + 1, seed=step)
    np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), atol=1e-12)
    assert int(ours.num_batches_tracked.item()) == 3
    ours.eval()
    theirs.eval()
    _run_both(ours, theirs, rng.standard_normal((2, 4, 3, 3)))


def test_default_inits_follow_pytorch():
    mathdl.manual_seed(0)
    conv = nn.Conv2d(16, 32, 3)
    bound = 1 / math.sqrt(16 * 9)
    w, b = conv.weight.numpy(), conv.bias.numpy()
    assert w.shape == (32, 16, 3, 3) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound  # U(-a, a) has std a / sqrt 3
    assert np.abs(b).max() <= bound
    ct = nn.ConvTranspose2d(8, 4, 3, groups=2)
    assert tuple(ct.weight.shape) == (8, 2, 3, 3)
    assert np.abs(ct.weight.numpy()).max() <= 1 / math.sqrt(2 * 9)
    bn = nn.BatchNorm2d(5)
    assert np.all(bn.weight.numpy() == 1) and np.all(bn.bias.numpy() == 0)
    assert np.all(bn.running_var.numpy() == 1) and np.all(bn.running_mean.numpy() == 0)
    assert set(bn.state_dict()) == set(tnn.BatchNorm2d(5).state_dict())
    assert set(nn.Conv2d(1, 2, 3).state_dict()) == {"weight", "bias"}


def test_dropout2d_layer_train_eval():
    mathdl.manual_seed(0)
    layer = nn.Dropout2d(0.5)
    x = mathdl.ones(8, 32, 2, 2)
    y = layer(x).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 0 < (y == 0).mean() < 1
    layer.eval()
    assert np.all(layer(x).numpy() == 1)


def test_layer_errors_name_layer_and_shapes():
    conv = nn.Conv2d(3, 8, 3)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8, kernel_size=\(3, 3\).*expected input with 3 channels.*"
                                         r"\(2, 4, 5, 5\)"):
        conv(mathdl.randn(2, 4, 5, 5))
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8.*expected a 4-D input \(N, C, H, W\), got shape \(3, 5, 5\)"):
        conv(mathdl.randn(3, 5, 5))
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8.*kernel size \(3, 3\).*larger than the padded input \(2, 2\)"):
        conv(mathdl.randn(1, 3, 2, 2))
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=2.*expected a 4-D input.*\(4, 4\)"):
        nn.MaxPool2d(2)(mathdl.randn(4, 4))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(4\): expected 4-D input with 4 channels.*\(2, 3, 2, 2\)"):
        nn.BatchNorm2d(4)(mathdl.randn(2, 3, 2, 2))
    with pytest.raises(ValueError, match=r"Conv1d\(2, 3.*expected a 3-D input \(N, C, L\)"):
        nn.Conv1d(2, 3, 3)(mathdl.randn(1, 2, 4, 4))
    with pytest.raises(ValueError, match="groups=2 must divide in_channels=3"):
        nn.Conv2d(3, 4, 3, groups=2)

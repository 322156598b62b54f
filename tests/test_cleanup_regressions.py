"""Regression tests for bugs found while removing duplicated code (review / clean-up pass).

Each test failed before its fix: an out-of-range ``dim`` was silently wrapped modulo ndim (or
ignored for 0-d tensors) instead of raising IndexError (as PyTorch does), ``max(x, dim,
keepdim=0)`` returned indices of another shape than its values, ``cumsum`` of a 0-d tensor
failed, and ``FocalLoss(alpha=<NumPy scalar>)`` took the scalar for a per-class weight vector.
"""

import numpy as np
import pytest

import mathdl as md
from mathdl import nn
from mathdl.nn import functional as F


def _x(*shape):
    return md.tensor(np.arange(np.prod(shape), dtype=np.float32).reshape(shape))


@pytest.mark.parametrize("call", [
    lambda x: md.permute(x, (0, 3)),
    lambda x: md.gather(x, 2, md.tensor(np.zeros((2, 3), dtype=np.int64))),
    lambda x: md.take_along_dim(x, md.tensor(np.zeros((2, 3), dtype=np.int64)), 2),
    lambda x: md.linalg.matrix_norm(x, "fro", (0, 2)),
    lambda x: md.max(md.tensor(1.0), 3),
    lambda x: md.softmax(md.tensor(1.0), 1),
    lambda x: md.flatten(md.tensor(1.0), 1),
], ids=["permute", "gather", "take_along_dim", "matrix_norm", "max_0d", "softmax_0d", "flatten_0d"])
def test_out_of_range_dim_raises(call):
    with pytest.raises(IndexError, match="dim . is out of range"):
        call(_x(2, 3))


def test_in_range_negative_dims_still_work():
    x = _x(2, 3)
    assert md.permute(x, (-1, 0)).shape == (3, 2)
    idx = md.tensor(np.array([[2, 0, 1], [1, 1, 0]], dtype=np.int64))
    np.testing.assert_array_equal(md.gather(x, -1, idx).numpy(), np.take_along_axis(x.numpy(), idx.numpy(), -1))
    assert md.squeeze(md.tensor(1.0), -1).shape == ()  # a 0-d tensor takes dim 0 or -1, as PyTorch


def test_zero_dim_cumsum_keeps_shape():
    x = md.tensor(1.5, requires_grad=True)
    y = md.cumsum(x, 0)
    assert y.shape == () and y.item() == 1.5
    y.backward()
    assert x.grad.item() == 1.0
    with pytest.raises(IndexError, match="cumsum: dim 1 is out of range"):
        md.cumsum(x, 1)


def test_max_keepdim_falsy_int_gives_matching_indices():
    x = _x(2, 3)
    values, indices = md.max(x, 1, keepdim=0)
    assert values.shape == indices.shape == (2,)
    values, indices = md.max(x, 1, keepdim=1)
    assert values.shape == indices.shape == (2, 1)


def test_focal_loss_module_numpy_scalar_alpha():
    x = md.tensor(np.array([[1.0, -0.5, 0.2], [0.3, 0.1, -1.0]], dtype=np.float32))
    t = md.tensor(np.array([0, 2]))
    want = F.focal_loss(x, t, alpha=0.25)
    got = nn.FocalLoss(alpha=np.float32(0.25))(x, t)
    np.testing.assert_allclose(got.item(), want.item(), rtol=1e-6)

"""In-place ops on a read-only view (expand) raise PyTorch's RuntimeError with a clear message."""

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")


@pytest.mark.parametrize("op", [lambda t: t.add_(1), lambda t: t.mul_(2), lambda t: t.div_(2)])
def test_in_place_on_an_expanded_tensor_is_refused_as_pytorch(op):
    with pytest.raises(RuntimeError, match="more than one element"):
        op(torch.ones(3).expand(2, 3))
    with pytest.raises(RuntimeError, match="read-only.*expand\\(\\).*clone\\(\\) it first"):
        op(mathdl.ones(3).expand(2, 3))


def test_clone_then_in_place_works():
    x = mathdl.ones(3)
    y = x.expand(2, 3).clone().add_(1)
    np.testing.assert_array_equal(y.numpy(), np.full((2, 3), 2.0))
    np.testing.assert_array_equal(x.numpy(), np.ones(3))

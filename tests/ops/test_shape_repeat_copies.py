"""repeat and tile return new memory, as PyTorch's (fast_neural_style: style.repeat(...) then batch.div_)."""

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")


@pytest.mark.parametrize("call", [
    lambda lib, x: x.repeat(2, 1, 1, 1),
    lambda lib, x: x.repeat(1, 1, 1),  # nothing repeated: still a copy
    lambda lib, x: lib.tile(x, (2, 1, 1, 1)),
    lambda lib, x: lib.tile(x, (1, 2)),
])
def test_repeat_and_tile_copy(call):
    data = np.arange(24, dtype=np.float32).reshape(3, 2, 4)
    ours, theirs = call(mathdl, mathdl.tensor(data)), call(torch, torch.tensor(data))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    x = mathdl.tensor(data)
    y = call(mathdl, x)
    y.div_(2.0)  # writable, and x is untouched
    np.testing.assert_array_equal(x.numpy(), data)


def test_repeat_gradient_sums_the_copies():
    x = mathdl.tensor([[1.0, 2.0]], requires_grad=True)
    y = x.repeat(3, 2)
    y.mul_(1.0)  # in place on the copy, inside the graph
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[6.0, 6.0]])

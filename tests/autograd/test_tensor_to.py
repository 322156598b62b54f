"""Tensor.to / cpu / cuda take PyTorch's arguments (imagenet example: images.to(device, non_blocking=True))."""

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")


@pytest.mark.parametrize("call", [
    lambda lib, x: x.to("cpu", non_blocking=True),
    lambda lib, x: x.to(lib.device("cpu"), lib.float64, non_blocking=False),
    lambda lib, x: x.to(lib.zeros(1, dtype=lib.float64)),  # another tensor's dtype and device
    lambda lib, x: x.to(dtype=lib.int64, copy=True),
    lambda lib, x: x.to(copy=True),
    lambda lib, x: x.cpu(),
])
def test_to_as_pytorch(call):
    ours = call(mathdl, mathdl.tensor([1.5, -2.0]))
    theirs = call(torch, torch.tensor([1.5, -2.0]))
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_copy_true_always_makes_a_new_tensor_and_keeps_the_graph():
    x = mathdl.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(copy=True)
    assert y is not x and not np.shares_memory(y.array, x.array)
    (y * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    assert x.to("cpu") is x  # nothing to do: the same tensor, as PyTorch


@pytest.mark.skipif(mathdl.cuda.is_available(), reason="checks the message given without a GPU")
@pytest.mark.parametrize("call", [lambda x: x.to(0), lambda x: x.cuda(1, non_blocking=True), lambda x: x.cuda()])
def test_an_int_is_a_cuda_index_and_needs_a_gpu(call):
    with pytest.raises(RuntimeError, match="cuda"):
        call(mathdl.ones(2))

"""PyTorch's legacy tensor types (mathdl/ops/tensor_types.py): constructors, isinstance, Tensor.type."""

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")

NAMES = ["FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "LongTensor", "IntTensor", "ShortTensor",
         "CharTensor", "ByteTensor", "BoolTensor"]


def _same(ours, theirs):
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    assert tuple(ours.shape) == tuple(theirs.shape)
    if theirs.dtype != torch.bfloat16:
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("name", NAMES)
def test_constructors_as_pytorch(name):
    ours, theirs = getattr(mathdl, name), getattr(torch, name)
    _same(ours([1, 0, 2]), theirs([1, 0, 2]))
    _same(ours((2, 3)), theirs((2, 3)))  # one sequence is data
    assert tuple(ours(2, 3).shape) == tuple(theirs(2, 3).shape) == (2, 3)  # separate ints are sizes
    assert tuple(ours().shape) == tuple(theirs().shape) == (0,)
    assert isinstance(ours([1]), ours) and not isinstance(mathdl.zeros(1, dtype=mathdl.int8 if name != "CharTensor"
                                                                       else mathdl.uint8), ours)
    assert mathdl.tensor([1, 0]).type(ours).type() == theirs(2).type().replace("torch.", "mathdl.")


def test_long_tensor_of_an_int32_array():
    # the seq2seq tutorial: TensorDataset(torch.LongTensor(input_ids), ...) with np.int32 ids
    ids = np.arange(6, dtype=np.int32).reshape(2, 3)
    _same(mathdl.LongTensor(ids), torch.LongTensor(ids))


def test_type_by_name():
    x = mathdl.tensor([1.5, 2.5])
    assert x.type() == "mathdl.FloatTensor"
    assert x.type("torch.LongTensor").dtype == mathdl.int64 and x.type("mathdl.DoubleTensor").dtype == mathdl.float64


def test_a_tensor_of_another_dtype_is_refused():
    with pytest.raises(TypeError, match="FloatTensor\\(\\): expected a tensor of dtype float32, got int64"):
        mathdl.FloatTensor(mathdl.tensor([1, 2]))
    t = mathdl.tensor([1.0])
    assert mathdl.FloatTensor(t) is t
    with pytest.raises(TypeError, match="expected sizes as ints"):
        mathdl.FloatTensor(2, [3])

"""where with two Python numbers, and where(cond) alone, as PyTorch (siamese_network: torch.where(out > 0.5, 1, 0))."""

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")


@pytest.mark.parametrize("a, b", [(1, 0), (1.0, 0), (True, False), (1, 0.5), (-2, 7)])
def test_two_number_branches_as_pytorch(a, b):
    data = np.array([0.2, 0.7, 0.9, 0.4], dtype=np.float32)
    ours = mathdl.where(mathdl.tensor(data) > 0.5, a, b)
    theirs = torch.where(torch.tensor(data) > 0.5, a, b)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_condition_alone_is_nonzero_as_tuple():
    data = np.array([[0, 1, 0], [1, 1, 0]])
    ours, theirs = mathdl.where(mathdl.tensor(data) > 0), torch.where(torch.tensor(data) > 0)
    assert len(ours) == len(theirs) == 2
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.numpy(), t.numpy())


def test_branches_of_another_kind_are_refused():
    with pytest.raises(TypeError, match="where: the branches must be Tensors or Python numbers, got str"):
        mathdl.where(mathdl.tensor([True]), "a", 1)

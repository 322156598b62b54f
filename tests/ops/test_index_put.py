"""index_put / index_put_ (mathdl/ops/indexing.py) against PyTorch: values, accumulate, masks, gradients."""

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")

X = np.arange(12, dtype=np.float64).reshape(3, 4)


@pytest.mark.parametrize("make", [
    lambda L: ((L.tensor([0, 2, 0]), L.tensor([1, 3, 1])), L.tensor([10.0, 20.0, 30.0], dtype=L.float64)),
    lambda L: ((L.tensor([2, 0]),), L.tensor([1.0, -1.0, 2.0, 5.0], dtype=L.float64)),  # whole rows
    lambda L: ((L.tensor(X) > 6,), L.tensor(-1.0, dtype=L.float64)),  # a boolean mask, a broadcast value
])
@pytest.mark.parametrize("accumulate", [False, True])
def test_values_and_gradients_as_pytorch(make, accumulate):
    results = []
    for L in (mathdl, torch):
        x = L.tensor(X, requires_grad=True)
        indices, values = make(L)
        values = values.clone().requires_grad_(True)
        out = L.index_put(x, indices, values, accumulate=accumulate)
        (out * L.tensor(np.arange(12.0).reshape(3, 4) + 1)).sum().backward()
        results.append((out.detach().numpy(), x.grad.numpy(), values.grad.numpy()))
    for a, b in zip(*results):  # a repeated (0, 1) without accumulate: the last write wins in both
        np.testing.assert_allclose(a, b)


def test_in_place_method_and_gradcheck():
    x = mathdl.zeros(3)
    x.index_put_((mathdl.tensor([0, 2]),), mathdl.tensor([1.0, 2.0]))
    np.testing.assert_array_equal(x.numpy(), [1.0, 0.0, 2.0])
    idx = (mathdl.tensor([0, 1, 1]),)

    def f(a, v):
        return mathdl.index_put(a, idx, v, accumulate=True)

    a = mathdl.tensor(np.random.default_rng(0).standard_normal(4), requires_grad=True)
    v = mathdl.tensor(np.random.default_rng(1).standard_normal(3), requires_grad=True)
    assert mathdl.autograd.gradcheck(f, (a, v))
    assert mathdl.autograd.gradgradcheck(f, (a, v))


def test_bad_indices():
    with pytest.raises(TypeError, match="index_put: indices must be a tuple"):
        mathdl.index_put(mathdl.zeros(3), mathdl.tensor([0]), mathdl.tensor([1.0]))
    with pytest.raises(IndexError, match="index_put: indexing a tensor of shape \\(3,\\)"):
        mathdl.index_put(mathdl.zeros(3), (mathdl.tensor([5]),), mathdl.tensor([1.0]))

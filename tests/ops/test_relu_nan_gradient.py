"""ReLU's gradient at a NaN input passes the upstream gradient, as PyTorch's threshold_backward
(g where NOT x <= 0); the generated edge cases seed NaN gradients there and cannot see it."""

import numpy as np
import pytest

import mathdl as md
import mathdl.nn.functional as F

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("fn", ["md.relu", "F.relu", "nn.ReLU"])
def test_relu_gradient_at_nan_equals_torch(fn, create_graph):
    f = {"md.relu": md.relu, "F.relu": F.relu, "nn.ReLU": md.nn.ReLU()}[fn]
    vals = [float("nan"), 1.0, -1.0, 0.0, float("inf"), -float("inf")]
    x = md.tensor(vals, dtype=md.float64, requires_grad=True)
    (g,) = md.autograd.grad(f(x).sum(), x, create_graph=create_graph)
    xt = torch.tensor(vals, dtype=torch.float64, requires_grad=True)
    (gt,) = torch.autograd.grad(torch.relu(xt).sum(), xt)
    np.testing.assert_array_equal(g.detach().numpy(), gt.numpy())

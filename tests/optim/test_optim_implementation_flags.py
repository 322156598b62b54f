"""PyTorch's implementation switches (foreach, fused, capturable, differentiable) on mathdl's optimizers
(mathdl/optim/optimizer.py implementation_flags): the same signatures and param-group keys as PyTorch,
the same update whatever the switches say, and differentiable=True refused clearly."""

import inspect

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")

NAMES = ["SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop", "Adam", "AdamW"]
SWITCHES = ("foreach", "fused", "capturable", "differentiable")


@pytest.mark.parametrize("name", NAMES)
def test_signature_and_group_keys_as_pytorch(name):
    ours, theirs = getattr(mathdl.optim, name), getattr(torch.optim, name)
    assert set(inspect.signature(ours).parameters) == set(inspect.signature(theirs).parameters)
    g_ours = ours([mathdl.nn.Parameter(mathdl.zeros(1))]).param_groups[0]
    g_theirs = theirs([torch.nn.Parameter(torch.zeros(1))]).param_groups[0]
    assert set(g_ours) == set(g_theirs)
    for key in SWITCHES:
        if key in g_theirs:
            assert g_ours[key] == g_theirs[key]


@pytest.mark.parametrize("name", NAMES)
def test_the_switches_change_nothing(name):
    params = inspect.signature(getattr(mathdl.optim, name)).parameters
    accepted = [k for k in ("foreach", "fused", "capturable") if k in params]
    results = []
    for flags in ({}, {k: True for k in accepted}):
        p = mathdl.nn.Parameter(mathdl.tensor([1.0, -2.0, 3.0]))
        opt = getattr(mathdl.optim, name)([p], lr=0.1, **flags)
        for _ in range(3):
            p.grad = p.detach() * 2.0
            opt.step()
        results.append(p.detach().numpy())
    np.testing.assert_array_equal(results[0], results[1])


def test_differentiable_true_and_bad_switches_are_refused():
    p = [mathdl.nn.Parameter(mathdl.zeros(1))]
    with pytest.raises(NotImplementedError, match="SGD: differentiable=True"):
        mathdl.optim.SGD(p, lr=0.1, differentiable=True)
    with pytest.raises(TypeError, match="RMSprop: foreach must be None or a bool"):
        mathdl.optim.RMSprop(p, foreach="yes")

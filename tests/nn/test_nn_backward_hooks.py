"""Module.register_full_backward_hook / register_full_backward_pre_hook (mathdl/nn/modules/backward_hooks.py)
against PyTorch: what the hooks see, replacing gradients, modules whose input needs no gradient, removal."""

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")


def _net(lib):
    lib.manual_seed(0)
    net = lib.nn.Sequential(lib.nn.Conv2d(2, 3, 3, padding=1), lib.nn.ReLU(), lib.nn.Conv2d(3, 4, 3),
                            lib.nn.Flatten(), lib.nn.Linear(4 * 2 * 2, 2))
    return net.double()


def _same_weights(ours, theirs):
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})


def _run(lib, net, modify=None, pre=None):
    seen = {}

    def full(module, grad_input, grad_output):
        seen["grad_input"] = [None if g is None else g.numpy().copy() for g in grad_input]
        seen["grad_output"] = [g.numpy().copy() for g in grad_output]
        if modify is not None:
            return tuple(None if g is None else g * modify for g in grad_input)

    def pre_hook(module, grad_output):
        seen["pre"] = grad_output[0].numpy().copy()
        if pre is not None:
            return (grad_output[0] * pre,)

    handles = [net[2].register_full_backward_hook(full), net[2].register_full_backward_pre_hook(pre_hook)]
    x = lib.tensor(np.random.default_rng(1).standard_normal((2, 2, 4, 4)))
    net(x).sum().backward()
    seen["w0"] = net[0].weight.grad.numpy().copy()
    seen["w2"] = net[2].weight.grad.numpy().copy()
    for h in handles:
        h.remove()
    return seen


@pytest.mark.parametrize("modify, pre", [(None, None), (2.0, None), (None, 3.0), (0.5, -1.0)])
def test_hooks_see_and_replace_gradients_as_pytorch(modify, pre):
    ours_net, theirs_net = _net(mathdl), _net(torch)
    _same_weights(ours_net, theirs_net)
    ours, theirs = _run(mathdl, ours_net, modify, pre), _run(torch, theirs_net, modify, pre)
    for key in ("pre", "w0", "w2"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-10, atol=1e-12)
    for key in ("grad_input", "grad_output"):
        assert len(ours[key]) == len(theirs[key])
        for a, b in zip(ours[key], theirs[key]):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_a_module_whose_input_needs_no_gradient_gets_none():
    # the first layer of a network: PyTorch calls the hook with grad_input (None,)
    results = []
    for lib in (mathdl, torch):
        lin = lib.nn.Linear(3, 2)
        seen = []
        lin.register_full_backward_hook(lambda m, gi, go, seen=seen: seen.append((gi, go[0].shape)))
        with pytest.warns(UserWarning, match="Full backward hook is firing when gradients are computed with"):
            lin(lib.ones(4, 3)).sum().backward()
        results.append((len(seen), seen[0][0], tuple(seen[0][1])))
    assert results[0] == results[1] == (1, (None,), (4, 2))


def test_removed_hooks_do_not_run_and_grad_free_calls_skip_them():
    lin = mathdl.nn.Linear(3, 2)
    calls = []
    handle = lin.register_full_backward_hook(lambda m, gi, go: calls.append(1))
    with mathdl.no_grad():
        lin(mathdl.ones(1, 3))
    handle.remove()
    lin(mathdl.ones(1, 3, requires_grad=True)).sum().backward()
    assert calls == []


def test_replacing_several_input_gradients_is_refused():
    class Add(mathdl.nn.Module):
        def forward(self, a, b):
            return a + b

    m = Add()
    m.register_full_backward_hook(lambda mod, gi, go: tuple(g * 2 for g in gi))
    a, b = mathdl.ones(2, requires_grad=True), mathdl.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="may replace the gradient of one differentiable input only"):
        m(a, b).sum().backward()

"""Module: registration, traversal, state dicts, modes, conversions, hooks, containers, repr."""

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import mathdl
import mathdl.nn as nn
from mathdl.autograd.tensor import Tensor


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.norm = nn.BatchNorm1d(4)
        self.scale = nn.Parameter(mathdl.ones(4))
        self.register_buffer("steps", mathdl.zeros(()))
        self.register_buffer("cache", mathdl.zeros(2), persistent=False)
        self.plain = 5

    def forward(self, x):
        return self.norm(self.fc(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.layers = nn.ModuleList([nn.Linear(4, 4), nn.ReLU()])
        self.heads = nn.ModuleDict({"a": nn.Linear(4, 2), "b": nn.Linear(4, 1)})

    def forward(self, x):
        h = self.block(x)
        for m in self.layers:
            h = m(h)
        return self.heads["a"](h)


def test_parameter_is_tensor_with_slots():
    p = nn.Parameter(mathdl.randn(2, 3))
    assert isinstance(p, Tensor) and p.requires_grad and p.is_leaf
    assert not hasattr(p, "__dict__")
    assert "Parameter containing" in repr(p)
    q = nn.Parameter(mathdl.randn(2), requires_grad=False)
    assert not q.requires_grad
    a = np.ones(3, dtype=np.float32)
    assert nn.Parameter(a).array is a  # shares memory
    (p * 2).sum().backward()
    np.testing.assert_array_equal(p.grad.array, 2)


def test_registration_and_traversal():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["block.scale", "block.fc.weight", "block.fc.bias", "block.norm.weight", "block.norm.bias",
                     "layers.0.weight", "layers.0.bias", "heads.a.weight", "heads.a.bias", "heads.b.weight",
                     "heads.b.bias"]
    assert len(list(net.parameters())) == 11
    assert [n for n, _ in net.named_buffers()] == [
        "block.steps", "block.cache", "block.norm.running_mean", "block.norm.running_var",
        "block.norm.num_batches_tracked"]
    assert [n for n, _ in net.named_children()] == ["block", "layers", "heads"]
    assert [n for n, _ in net.named_modules()] == [
        "", "block", "block.fc", "block.norm", "layers", "layers.0", "layers.1", "heads", "heads.a", "heads.b"]
    assert net.block.plain == 5 and "plain" not in net.block._parameters
    assert net.num_parameters() == 4 + 12 + 4 + 8 + 20 + 10 + 5
    assert net.get_submodule("heads.a") is net.heads["a"]
    assert net.get_parameter("block.fc.bias") is net.block.fc.bias


def test_shared_parameter_counted_once():
    a = nn.Linear(3, 3)
    seq = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_reassignment_moves_between_kinds():
    m = nn.Module()
    m.x = nn.Parameter(mathdl.ones(2))
    with pytest.raises(TypeError, match="cannot assign Linear to Module.x: a parameter"):
        m.x = nn.Linear(2, 2)  # as PyTorch: replacing a parameter needs None or a Parameter
    m.x = nn.Parameter(mathdl.zeros(3))
    assert m.x.shape == (3,)
    del m.x
    assert not hasattr(m, "x")
    m.w = nn.Parameter(mathdl.ones(2))
    with pytest.raises(TypeError, match="parameter"):
        m.w = mathdl.ones(2)
    m.w = None
    assert m.w is None and list(m.parameters()) == []
    m.buf = nn.Buffer(mathdl.zeros(3))
    assert [n for n, _ in m.named_buffers()] == ["buf"]


def test_state_dict_round_trip_is_exact():
    mathdl.manual_seed(0)
    a = Net()
    a(mathdl.randn(5, 3))  # changes running stats
    sd = a.state_dict()
    assert "block.cache" not in sd and "block.norm.running_mean" in sd
    assert all(not v.requires_grad for v in sd.values())
    mathdl.manual_seed(1)
    b = Net()
    res = b.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    for (k, v), (k2, v2) in zip(a.state_dict().items(), b.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(v.array, v2.array)
    a.eval()
    b.eval()
    x = mathdl.randn(4, 3)
    np.testing.assert_array_equal(a(x).array, b(x).array)
    # loading copies: the parameter objects stay the same, the data are not shared
    p = b.block.fc.weight
    b.load_state_dict(a.state_dict())
    assert b.block.fc.weight is p and p.array is not a.block.fc.weight.array


def test_state_dict_accepts_numpy_and_casts():
    m = nn.Linear(2, 2)
    m.load_state_dict({"weight": np.ones((2, 2)), "bias": np.zeros(2)})
    assert m.weight.dtype == np.float32
    np.testing.assert_array_equal(m.weight.array, 1)


def test_load_state_dict_errors_are_clear():
    m = Net()
    sd = m.state_dict()
    del sd["block.fc.bias"]
    sd["extra.weight"] = mathdl.zeros(1)
    sd["heads.a.weight"] = mathdl.zeros(3, 3)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert "Net" in msg
    assert 'Missing key(s) in state_dict: "block.fc.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    assert "heads.a.weight: checkpoint shape (3, 3), model shape (2, 4)" in msg
    del sd["heads.a.weight"]
    res = m.load_state_dict(sd, strict=False)
    assert set(res.missing_keys) == {"block.fc.bias", "heads.a.weight"}
    assert res.unexpected_keys == ["extra.weight"]


def test_torch_state_dict_keys_match():
    torch = pytest.importorskip("torch")
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.LayerNorm(4), nn.Embedding(3, 4))
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.LayerNorm(4),
                             torch.nn.Embedding(3, 4))
    assert list(m.state_dict()) == list(tm.state_dict())
    for k, v in m.state_dict().items():
        assert tuple(v.shape) == tuple(tm.state_dict()[k].shape), k
    # a torch state dict (converted to numpy) loads
    m.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    np.testing.assert_array_equal(m[0].weight.array, tm[0].weight.detach().numpy())


def test_train_eval_flags():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_and_requires_grad():
    net = Net()
    net(mathdl.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters() if p is not net.heads["b"].weight
               and p is not net.heads["b"].bias)
    net.zero_grad(set_to_none=False)
    assert all(p.grad is None or not p.grad.array.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_apply_and_to_dtype():
    net = Net()
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen.count("Linear") == 4
    w = net.block.fc.weight
    net.to(mathdl.float64)
    assert net.block.fc.weight is w and w.dtype == np.float64
    assert net.block.norm.running_mean.dtype == np.float64
    assert net.block.norm.num_batches_tracked.dtype == np.int64
    assert net(mathdl.randn(3, 3, dtype=mathdl.float64)).dtype == np.float64
    net.float()
    assert w.dtype == np.float32
    with pytest.raises(TypeError, match="floating"):
        net.to(mathdl.int64)


def test_forward_hooks():
    m = nn.Linear(2, 3)
    calls = []
    h = m.register_forward_hook(lambda mod, inp, out: calls.append(out.shape))
    pre = m.register_forward_pre_hook(lambda mod, inp: (inp[0] * 0,))
    y = m(mathdl.ones(4, 2))
    np.testing.assert_allclose(y.array, np.broadcast_to(m.bias.array, (4, 3)))
    assert calls == [(4, 3)]
    h.remove()
    pre.remove()
    m(mathdl.ones(1, 2))
    assert calls == [(4, 3)]
    m.register_forward_hook(lambda mod, inp, out: out * 0)
    assert not m(mathdl.ones(1, 2)).array.any()


def test_repr_shows_tree_and_counts():
    r = repr(nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10)))
    assert r.splitlines() == [
        "Sequential(",
        "  (0): Linear(in_features=784, out_features=512, bias=True)  # 401,920 params",
        "  (1): ReLU()",
        "  (2): Linear(in_features=512, out_features=10, bias=True)  # 5,130 params",
        ")  # 407,050 params",
    ]
    assert "(heads): ModuleDict(" in repr(Net())


def test_sequential_container():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    assert isinstance(seq[:2], nn.Sequential) and len(seq[:2]) == 2
    assert seq(mathdl.randn(5, 2)).shape == (5, 1)
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and list(seq._modules) == ["0", "1", "2", "3"]
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"]
    named = nn.Sequential(OrderedDict(fc=nn.Linear(2, 2), act=nn.Tanh()))
    assert [n for n, _ in named.named_children()] == ["fc", "act"]
    with pytest.raises(IndexError, match="out of range"):
        seq[10]


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and len(list(ml.parameters())) == 6
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh()])
    assert isinstance(ml[-1], nn.Tanh) and len(ml) == 5
    ml.insert(0, nn.Identity())
    assert isinstance(ml[0], nn.Identity) and [n for n, _ in ml.named_children()][-1] == "5"
    md = nn.ModuleDict({"x": nn.Linear(1, 1)})
    md["y"] = nn.ReLU()
    assert list(md.keys()) == ["x", "y"] and "x" in md and len(md) == 2
    with pytest.raises(TypeError):
        ml.extend(3)


def test_parameter_list_and_dict():
    pl = nn.ParameterList([mathdl.ones(2), mathdl.zeros(3)])
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"]
    pd = nn.ParameterDict({"a": mathdl.ones(1)})
    assert isinstance(pd["a"], nn.Parameter)


def test_pickle_and_deepcopy():
    net = Net()
    for clone in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        assert type(clone.block.fc.weight) is nn.Parameter
        np.testing.assert_array_equal(clone.block.fc.weight.array, net.block.fc.weight.array)
        assert clone.block.fc.weight.array is not net.block.fc.weight.array
        assert clone.state_dict().keys() == net.state_dict().keys()


def test_forward_not_implemented():
    with pytest.raises(NotImplementedError, match="Module.forward"):
        nn.Module()(1)

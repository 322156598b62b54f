"""Optimizer interface: param groups, zero_grad, closures, state_dict round trips, errors."""

import copy

import numpy as np
import pytest

import mathdl
import mathdl.optim as optim


def _params(seed=0, dtype=mathdl.float64):
    rng = np.random.default_rng(seed)
    return [mathdl.tensor(rng.standard_normal(s), dtype=dtype, requires_grad=True) for s in [(4, 3), (3,), (50000,)]]


def _loss(ps):
    w, b, big = ps
    return ((w @ b) ** 2).sum() + (mathdl.sin(big) * mathdl.cos(big * 0.5)).sum()


def _train(opt, ps, steps):
    for _ in range(steps):
        opt.zero_grad()
        _loss(ps).backward()
        opt.step()


OPTS = [
    (optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    (optim.Adam, dict(lr=0.05, amsgrad=True)),
    (optim.AdamW, dict(lr=0.05, weight_decay=0.1)),
    (optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5)),
    (optim.Adagrad, dict(lr=0.1, lr_decay=0.1)),
]


@pytest.mark.parametrize("cls,kw", OPTS, ids=[c.__name__ for c, _ in OPTS])
def test_state_dict_round_trip_continues_identically(cls, kw):
    ps = _params()
    opt = cls(ps, **kw)
    _train(opt, ps, 3)
    sd = opt.state_dict()
    saved_params = [p.numpy().copy() for p in ps]
    frozen = copy.deepcopy(sd)
    _train(opt, ps, 2)  # the uninterrupted run
    # the state dict holds copies: training on did not change it
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if k != "step":
                np.testing.assert_array_equal(v.numpy(), frozen["state"][idx][k].numpy())
    ps2 = [mathdl.tensor(a, requires_grad=True) for a in saved_params]
    opt2 = cls(ps2, lr=123.0)  # hyper-parameters come back from the state dict
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == kw["lr"]
    _train(opt2, ps2, 2)
    for a, b in zip(ps, ps2):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # loaded arrays are copies, not aliases of the state dict
    first = next(iter(sd["state"].values()))
    key = next(k for k in first if k != "step")
    assert first[key].array is not opt2.state[ps2[0]][key].array


def test_state_dict_format_is_keyed_by_index():
    ps = _params()
    opt = optim.Adam([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.1}], lr=0.01)
    _train(opt, ps, 1)
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sorted(sd["state"]) == [0, 1, 2]
    assert sd["state"][2]["step"] == 1
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert sd["param_groups"][1]["lr"] == 0.1 and sd["param_groups"][0]["lr"] == 0.01


def test_load_state_dict_casts_to_param_dtype_and_checks_shapes():
    ps = _params()
    opt = optim.Adam(ps, lr=0.01)
    _train(opt, ps, 1)
    sd = opt.state_dict()
    ps32 = _params(dtype=mathdl.float32)
    opt32 = optim.Adam(ps32)
    opt32.load_state_dict(sd)
    assert opt32.state[ps32[0]]["exp_avg"].dtype == np.float32
    _train(opt32, ps32, 1)
    bad = [mathdl.zeros(5, 5, requires_grad=True), ps32[1], ps32[2]]
    with pytest.raises(ValueError, match="shape"):
        optim.Adam(bad).load_state_dict(sd)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.Adam([{"params": ps32[:1]}, {"params": ps32[1:]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="parameters"):
        optim.Adam(ps32[:2]).load_state_dict(sd)


def test_param_groups_defaults_and_add_param_group():
    ps = _params()
    opt = optim.SGD([{"params": ps[:1], "lr": 0.5}, {"params": ps[1:2]}], lr=0.1, momentum=0.9)
    assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[1]["lr"] == 0.1
    assert all(g["momentum"] == 0.9 and g["nesterov"] is False for g in opt.param_groups)
    opt.add_param_group({"params": ps[2], "weight_decay": 0.1})
    assert len(opt.param_groups) == 3 and opt.param_groups[2]["params"][0] is ps[2]
    assert opt.param_groups[2]["weight_decay"] == 0.1 and opt.param_groups[2]["lr"] == 0.1
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [ps[0]]})


def test_zero_grad_and_skipping_params_without_grad():
    ps = _params()
    opt = optim.Adam(ps, lr=0.1)
    _loss(ps).backward()
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in ps)
    opt.zero_grad()
    assert all(p.grad is None for p in ps)
    before = [p.numpy().copy() for p in ps]
    opt.step()  # no gradients: nothing changes, no state
    for a, p in zip(before, ps):
        np.testing.assert_array_equal(a, p.numpy())
    assert len(opt.state) == 0


def test_step_with_closure_returns_loss():
    ps = _params()
    opt = optim.SGD(ps, lr=0.01)
    calls = []

    def closure():
        opt.zero_grad()
        loss = _loss(ps)
        loss.backward()
        calls.append(loss.item())
        return loss

    with mathdl.no_grad():  # the closure still runs with grad enabled
        loss = opt.step(closure)
    assert calls and loss.item() == calls[0]
    assert opt.step(closure).item() < calls[0]


def test_update_is_in_place_and_bumps_version():
    ps = _params()
    data = [p.array for p in ps]
    opt = optim.Adam(ps, lr=0.1)
    y = (ps[0] * ps[0]).sum()  # saves ps[0] for backward
    _loss(ps).backward()
    opt.step()
    assert all(p.array is d for p, d in zip(ps, data))
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_sgd_plain_step_is_exact():
    p = mathdl.tensor([1.0, -2.0], dtype=mathdl.float64, requires_grad=True)
    opt = optim.SGD([p], lr=0.5)
    (p * p).sum().backward()  # grad = 2p
    opt.step()
    np.testing.assert_array_equal(p.numpy(), [0.0, 0.0])


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda ps: optim.SGD(ps, lr=-1.0), "learning rate"),
        (lambda ps: optim.Adam(ps, lr=-0.1), "learning rate"),
        (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), "beta parameter at index 0"),
        (lambda ps: optim.AdamW(ps, betas=(0.9, -0.1)), "beta parameter at index 1"),
        (lambda ps: optim.Adam(ps, eps=-1.0), "epsilon"),
        (lambda ps: optim.RMSprop(ps, momentum=-1.0), "momentum"),
        (lambda ps: optim.Adagrad(ps, lr_decay=-1.0), "lr_decay"),
        (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), "Nesterov"),
        (lambda ps: optim.SGD([ps[0], ps[0]], lr=0.1), "more than once"),
        (lambda ps: optim.SGD([{"params": [ps[0]]}, {"params": [ps[0]]}], lr=0.1), "more than one parameter group"),
        (lambda ps: optim.SGD([], lr=0.1), "empty parameter list"),
        (lambda ps: optim.SGD([ps[0] * 2], lr=0.1), "non-leaf"),
        (lambda ps: optim.SGD([mathdl.zeros(3)], lr=0.1), "does not require grad"),
    ],
)
def test_bad_arguments_raise_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make(_params())


def test_bad_param_container_types():
    ps = _params()
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(ps[0], lr=0.1)
    with pytest.raises(TypeError, match="set"):
        optim.SGD(set(ps), lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.zeros(3)], lr=0.1)


def test_named_parameters_are_accepted_and_named_in_state_dict():
    ps = _params()
    named = [("w", ps[0]), ("b", ps[1]), ("big", ps[2])]
    opt = optim.Adam(named, lr=0.1)
    assert opt.param_groups[0]["params"][0] is ps[0]
    _train(opt, ps, 1)
    sd = opt.state_dict()
    assert sd["param_groups"][0]["param_names"] == ["w", "b", "big"]
    with pytest.raises(ValueError, match="all"):
        optim.Adam([("w", ps[0]), ps[1]])


def test_gradient_of_wrong_shape_is_reported():
    p = mathdl.zeros(3, 2, requires_grad=True)
    p.grad = mathdl.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"shape \(3, 2\) has a gradient of shape \(2, 3\)"):
        optim.SGD([p], lr=0.1).step()

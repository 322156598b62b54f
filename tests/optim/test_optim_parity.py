"""Optimizer parity with PyTorch: same initial parameters, same loss, 5 steps, float64.

The loss (a small tanh network plus an elementwise term on a large parameter, so NumPy's
chunked update path runs too) is differentiated by each framework; parameters and every state
buffer must agree with torch after each run.
"""

import numpy as np
import pytest

import mathdl
import mathdl.optim as optim

torch = pytest.importorskip("torch")

SHAPES = {"W1": (5, 4), "b1": (4,), "W2": (4, 3), "big": (190, 180), "unused": (3,)}


def _init(seed=0):
    rng = np.random.default_rng(seed)
    vals = {k: rng.standard_normal(s) * 0.5 for k, s in SHAPES.items()}
    X = rng.standard_normal((8, 5))
    C = rng.standard_normal(SHAPES["big"])
    return vals, X, C


def _loss(M, P, X, C):
    h = M.tanh(X @ P["W1"] + P["b1"])
    return ((h @ P["W2"]) ** 2).sum() + (M.sin(P["big"]) * C).sum() * 0.1


def _groups(P, grouped):
    names = list(SHAPES)
    if not grouped:
        return [P[k] for k in names]
    return [{"params": [P["W1"], P["b1"]]}, {"params": [P["W2"], P["big"], P["unused"]], "lr": 0.02}]


def _run(framework, opt_name, kwargs, grouped=False, steps=5):
    vals, X, C = _init()
    if framework == "torch":
        M = torch
        P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in vals.items()}
        Xt, Ct = torch.tensor(X), torch.tensor(C)
        opt = getattr(torch.optim, opt_name)(_groups(P, grouped), **kwargs)
    else:
        M = mathdl
        P = {k: mathdl.tensor(v, dtype=mathdl.float64, requires_grad=True) for k, v in vals.items()}
        Xt, Ct = mathdl.tensor(X, dtype=mathdl.float64), mathdl.tensor(C, dtype=mathdl.float64)
        opt = getattr(optim, opt_name)(_groups(P, grouped), **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        _loss(M, P, Xt, Ct).backward()
        opt.step()
    params = {k: np.array(v.detach().numpy()) for k, v in P.items()}
    return params, opt


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.1, nesterov=True, maximize=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-3, maximize=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, maximize=True, betas=(0.5, 0.7))),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1, eps=1e-4)),
    ("RMSprop", dict(lr=0.01, maximize=True, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.2)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, eps=1e-3, maximize=True)),
]


def _ids(case):
    name, kw = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
@pytest.mark.parametrize("grouped", [False, True], ids=["one-group", "two-groups"])
def test_matches_torch_after_5_steps(case, grouped):
    name, kw = case
    ours, opt = _run("mathdl", name, kw, grouped)
    ref, topt = _run("torch", name, kw, grouped)
    for k in SHAPES:
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-9, atol=1e-9, err_msg=f"{name} {kw} param {k}")
    np.testing.assert_array_equal(ours["unused"], _init()[0]["unused"])  # no grad: untouched
    # every state buffer too, keyed by parameter index like torch's state_dict
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sorted(sd["state"]) == sorted(tsd["state"])
    for idx, tstate in tsd["state"].items():
        assert set(sd["state"][idx]) >= {k for k, v in tstate.items() if v is not None}, (name, idx)
        for key, tv in tstate.items():
            if tv is None:
                continue
            ov = sd["state"][idx][key]
            if key == "step":
                assert int(ov) == int(tv.item())
            else:
                np.testing.assert_allclose(ov.numpy(), tv.numpy(), rtol=1e-9, atol=1e-9, err_msg=f"{name} {key}")
    for g, tg in zip(sd["param_groups"], tsd["param_groups"]):
        assert g["params"] == tg["params"]
        assert g["lr"] == tg["lr"]


@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=0.05, amsgrad=True)), ("SGD", dict(lr=0.05, momentum=0.9)),
                                     ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
                                     ("Adagrad", dict(lr=0.1, lr_decay=0.1))])
def test_float32_close_to_torch(name, kw):
    vals, X, C = _init(1)
    P = {k: mathdl.tensor(v.astype(np.float32), requires_grad=True) for k, v in vals.items()}
    T = {k: torch.tensor(v.astype(np.float32), requires_grad=True) for k, v in vals.items()}
    opt = getattr(optim, name)(list(P.values()), **kw)
    topt = getattr(torch.optim, name)(list(T.values()), **kw)
    for _ in range(5):
        for o, M, Pm, Xm, Cm in ((opt, mathdl, P, mathdl.tensor(X.astype(np.float32)),
                                  mathdl.tensor(C.astype(np.float32))),
                                 (topt, torch, T, torch.tensor(X, dtype=torch.float32),
                                  torch.tensor(C, dtype=torch.float32))):
            o.zero_grad()
            _loss(M, Pm, Xm, Cm).backward()
            o.step()
    for k in SHAPES:
        assert P[k].dtype == np.float32
        np.testing.assert_allclose(P[k].numpy(), T[k].detach().numpy(), rtol=1e-4, atol=1e-5)


def test_add_param_group_matches_torch():
    def run(fw):
        ours = fw == "mathdl"
        vals, X, C = _init(2)
        if ours:
            P = {k: mathdl.tensor(v, dtype=mathdl.float64, requires_grad=True) for k, v in vals.items()}
            Xt, Ct = mathdl.tensor(X, dtype=mathdl.float64), mathdl.tensor(C, dtype=mathdl.float64)
            M, Opt = mathdl, optim
        else:
            P = {k: torch.tensor(v, requires_grad=True) for k, v in vals.items()}
            Xt, Ct, M, Opt = torch.tensor(X), torch.tensor(C), torch, torch.optim
        opt = Opt.Adam([P["W1"], P["b1"]], lr=0.03)
        for i in range(5):
            if i == 2:
                opt.add_param_group({"params": [P["W2"], P["big"]], "lr": 0.1, "amsgrad": True})
            opt.zero_grad()
            _loss(M, P, Xt, Ct).backward()
            opt.step()
        return {k: np.array(v.detach().numpy()) for k, v in P.items()}, opt

    ours, opt = run("mathdl")
    ref, topt = run("torch")
    for k in SHAPES:
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-9, atol=1e-9)
    assert opt.param_groups[1]["betas"] == topt.param_groups[1]["betas"]
    assert opt.param_groups[1]["amsgrad"] and not opt.param_groups[0]["amsgrad"]


def test_loads_a_torch_state_dict_and_continues_like_torch():
    """A PyTorch Adam state dict (tensor ``step``, torch tensors) loads and continues identically."""
    ref_params, topt = _run("torch", "Adam", dict(lr=0.05, amsgrad=True), steps=3)
    vals, X, C = _init()
    P = {k: mathdl.tensor(ref_params[k], dtype=mathdl.float64, requires_grad=True) for k in SHAPES}
    opt = optim.Adam([P[k] for k in SHAPES], lr=0.05, amsgrad=True)
    opt.load_state_dict(topt.state_dict())
    assert opt.state[P["W1"]]["step"] == 3
    Xm, Cm = mathdl.tensor(X, dtype=mathdl.float64), mathdl.tensor(C, dtype=mathdl.float64)
    Tp = topt.param_groups[0]["params"]
    Xt, Ct = torch.tensor(X), torch.tensor(C)
    for _ in range(2):
        opt.zero_grad()
        _loss(mathdl, P, Xm, Cm).backward()
        opt.step()
        topt.zero_grad()
        _loss(torch, dict(zip(SHAPES, Tp)), Xt, Ct).backward()
        topt.step()
    for k, t in zip(SHAPES, Tp):
        np.testing.assert_allclose(P[k].numpy(), t.detach().numpy(), rtol=1e-9, atol=1e-9)

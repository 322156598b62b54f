"""NAdam, RAdam, Adamax, Adadelta, Rprop, ASGD, Adafactor: parity with torch.optim over several
float64 steps (parameters and every state entry), state_dict round trip, registry, bad input."""

import numpy as np
import pytest

import mathdl
import mathdl.optim as optim

torch = pytest.importorskip("torch")

SHAPES = {"W1": (5, 4), "b1": (4,), "W2": (4, 3), "T": (2, 3, 4), "unused": (3,)}


def _init(seed=0):
    rng = np.random.default_rng(seed)
    vals = {k: rng.standard_normal(s) * 0.5 for k, s in SHAPES.items()}
    return vals, rng.standard_normal((8, 5)), rng.standard_normal(SHAPES["T"])


def _loss(M, P, X, C):
    h = M.tanh(X @ P["W1"] + P["b1"])
    return ((h @ P["W2"]) ** 2).sum() + (M.sin(P["T"]) * C).sum() * 0.3


def _groups(P, grouped):
    if not grouped:
        return [P[k] for k in SHAPES]
    return [{"params": [P["W1"], P["b1"]]}, {"params": [P["W2"], P["T"], P["unused"]], "lr": 0.02}]


def _run(framework, name, kw, grouped=False, steps=6, opt=None, vals=None):
    init, X, C = _init()
    vals = init if vals is None else vals
    if framework == "torch":
        M, P = torch, {k: torch.tensor(v, requires_grad=True) for k, v in vals.items()}
        X, C = torch.tensor(X), torch.tensor(C)
        opt = getattr(torch.optim, name)(_groups(P, grouped), **kw)
    else:
        M = mathdl
        P = {k: mathdl.tensor(v, dtype=mathdl.float64, requires_grad=True) for k, v in vals.items()}
        X, C = mathdl.tensor(X, dtype=mathdl.float64), mathdl.tensor(C, dtype=mathdl.float64)
        opt = getattr(optim, name)(_groups(P, grouped), **kw)
    for _ in range(steps):
        opt.zero_grad()
        _loss(M, P, X, C).backward()
        opt.step()
    return {k: np.array(v.detach().numpy()) for k, v in P.items()}, opt, P


@pytest.fixture
def torch_float64():
    # torch keeps scalar state (NAdam's mu_product, ASGD's eta and mu) in the default dtype
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


CASES = [
    ("NAdam", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, momentum_decay=0.01, maximize=True)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, betas=(0.8, 0.9))),
    ("RAdam", dict(lr=0.05)),
    ("RAdam", dict(lr=0.05, betas=(0.5, 0.6), weight_decay=0.1)),  # rho_t > 5 from step 2 on
    ("RAdam", dict(lr=0.05, betas=(0.5, 0.6), weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("Adamax", dict(lr=0.05)),
    ("Adamax", dict(lr=0.05, weight_decay=0.1, eps=1e-3, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1, maximize=True)),
    ("Rprop", dict(lr=0.05)),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.08), maximize=True)),
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, lambd=0.1, alpha=0.5, t0=2, weight_decay=0.1, maximize=True)),
    ("Adafactor", dict(lr=0.05)),
    ("Adafactor", dict(lr=0.5, beta2_decay=-0.5, eps=(1e-4, 1e-2), d=1.5, weight_decay=0.1, maximize=True)),
]


def _ids(case):
    return case[0] + "-" + ",".join(f"{k}={v}" for k, v in case[1].items())


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
@pytest.mark.parametrize("grouped", [False, True], ids=["one-group", "two-groups"])
def test_matches_torch_after_6_steps(case, grouped, torch_float64):
    name, kw = case
    ours, opt, _ = _run("mathdl", name, kw, grouped)
    ref, topt, _ = _run("torch", name, kw, grouped)
    for k in SHAPES:
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-9, atol=1e-10, err_msg=f"{name} {kw} param {k}")
    np.testing.assert_array_equal(ours["unused"], _init()[0]["unused"])
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sorted(sd["state"]) == sorted(tsd["state"])
    for idx, tstate in tsd["state"].items():
        assert set(sd["state"][idx]) == set(tstate), (name, idx)
        for key, tv in tstate.items():
            ov = sd["state"][idx][key]
            ov = ov.numpy() if hasattr(ov, "numpy") else np.asarray(ov)
            np.testing.assert_allclose(ov, tv.numpy(), rtol=1e-9, atol=1e-12, err_msg=f"{name} {key}")


@pytest.mark.parametrize("case", CASES[::2], ids=[_ids(c) for c in CASES[::2]])
def test_state_dict_round_trip_continues_identically(case):
    """3 steps, save, load into a fresh optimizer over copies of the parameters, 3 more steps:
    the same as 6 uninterrupted steps."""
    name, kw = case
    full, _, _ = _run("mathdl", name, kw, steps=6)
    half, opt, P = _run("mathdl", name, kw, steps=3)
    sd = opt.state_dict()
    P2 = {k: mathdl.tensor(v, dtype=mathdl.float64, requires_grad=True) for k, v in half.items()}
    opt2 = getattr(optim, name)([P2[k] for k in SHAPES], **kw)
    opt2.load_state_dict(sd)
    _, X, C = _init()
    X, C = mathdl.tensor(X, dtype=mathdl.float64), mathdl.tensor(C, dtype=mathdl.float64)
    for _ in range(3):
        opt2.zero_grad()
        _loss(mathdl, P2, X, C).backward()
        opt2.step()
    for k in SHAPES:
        np.testing.assert_allclose(P2[k].numpy(), full[k], rtol=1e-12, atol=1e-13)


def test_registered_for_the_command():
    from mathdl.optim.registry import OPTIMIZERS, build_optimizer

    model = mathdl.nn.Linear(3, 2)
    for name, cls in [("nadam", optim.NAdam), ("radam", optim.RAdam), ("adamax", optim.Adamax),
                      ("adadelta", optim.Adadelta), ("rprop", optim.Rprop), ("asgd", optim.ASGD),
                      ("adafactor", optim.Adafactor)]:
        assert name in OPTIMIZERS
        assert isinstance(build_optimizer(name, model, {"lr": 0.01, "weight_decay": 0.0}), cls)


@pytest.mark.parametrize("make,word", [
    (lambda p: optim.NAdam(p, lr=-1), "learning rate"),
    (lambda p: optim.RAdam(p, betas=(0.9, 1.0)), "beta"),
    (lambda p: optim.Adamax(p, eps=-1), "eps"),
    (lambda p: optim.Adadelta(p, rho=1.5), "rho"),
    (lambda p: optim.Rprop(p, etas=(1.5, 1.2)), "etas"),
    (lambda p: optim.ASGD(p, weight_decay=-1), "weight_decay"),
    (lambda p: optim.Adafactor(p, d=0.5), "clipping threshold d"),
    (lambda p: optim.Adafactor(p, beta2_decay=0.5), "beta2_decay"),
    (lambda p: optim.NAdam(p, momentum_decay=-1), "momentum_decay"),
])
def test_bad_hyper_parameters(make, word):
    with pytest.raises(ValueError, match=word):
        make([mathdl.zeros(2, requires_grad=True)])


def test_lazy_second_order_names():
    import mathdl.optim as o

    for name in o._LAZY:
        try:
            getattr(o, name)
        except ModuleNotFoundError:
            continue  # that module is not written yet
        assert name in dir(o)


def test_step_hooks_run_around_the_update():
    p = mathdl.tensor(np.ones(2), requires_grad=True)
    p.grad = mathdl.tensor(np.ones(2))
    opt = optim.SGD([p], lr=0.5)
    seen = []
    h1 = opt.register_step_pre_hook(lambda o, a, k: seen.append(("pre", float(p.numpy()[0]))))
    opt.register_step_post_hook(lambda o, a, k: seen.append(("post", float(p.numpy()[0]))))
    opt.step()
    assert seen == [("pre", 1.0), ("post", 0.5)]
    h1.remove()
    opt.step()
    assert seen[-1] == ("post", 0.0) and len(seen) == 3

"""Learning-rate schedules: the lr (and momentum) sequence over 30+ epochs equals torch's."""

import math

import numpy as np
import pytest

import mathdl
import mathdl.optim as optim
from mathdl.optim import lr_scheduler as sched

torch = pytest.importorskip("torch")


def _pair(opt_name="SGD", **opt_kw):
    opt_kw = opt_kw or dict(lr=0.1, momentum=0.9)
    p = [mathdl.zeros(2, requires_grad=True), mathdl.zeros(3, requires_grad=True)]
    t = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
    lr = opt_kw.pop("lr")
    ours = getattr(optim, opt_name)([{"params": p[:1]}, {"params": p[1:], "lr": lr / 10}], lr=lr, **opt_kw)
    ref = getattr(torch.optim, opt_name)([{"params": t[:1]}, {"params": t[1:], "lr": lr / 10}], lr=lr, **opt_kw)
    return ours, ref


def _compare(make, n=30, opt_name="SGD", momentum_key=None, **opt_kw):
    ours_opt, ref_opt = _pair(opt_name, **opt_kw)
    ours = make(sched, ours_opt)
    ref = make(torch.optim.lr_scheduler, ref_opt)
    seq, ref_seq = [ours.get_last_lr()], [ref.get_last_lr()]
    for _ in range(n):
        ours_opt.step()
        ref_opt.step()
        ours.step()
        ref.step()
        seq.append(ours.get_last_lr())
        ref_seq.append(ref.get_last_lr())
        assert [g["lr"] for g in ours_opt.param_groups] == pytest.approx([g["lr"] for g in ref_opt.param_groups],
                                                                        rel=1e-12, abs=1e-15)
        if momentum_key:
            ours_m = [g[momentum_key] for g in ours_opt.param_groups]
            ref_m = [g[momentum_key] for g in ref_opt.param_groups]
            if momentum_key == "betas":
                ours_m, ref_m = [b[0] for b in ours_m], [b[0] for b in ref_m]
            assert ours_m == pytest.approx(ref_m, rel=1e-12)
    np.testing.assert_allclose(np.array(seq), np.array(ref_seq), rtol=1e-12, atol=1e-15)
    return seq


CASES = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[3, 10, 10, 22], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=12, eta_min=0.001),
    "CosineAnnealingLR-long": lambda m, o: m.CosineAnnealingLR(o, T_max=30),
    "LinearLR-warmup": lambda m, o: m.LinearLR(o, start_factor=0.1, total_iters=8),
    "LinearLR-decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=20),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lr_lambda=lambda e: 1.0 / (1 + e) ** 0.5),
    "LambdaLR-per-group": lambda m, o: m.LambdaLR(o, lr_lambda=[lambda e: 0.95**e, lambda e: 1 + e]),
    "OneCycleLR-cos": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=31),
    "OneCycleLR-linear-3phase": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.5], epochs=4, steps_per_epoch=8,
                                                        anneal_strategy="linear", three_phase=True),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lr_lambda=lambda e: 0.9 if e % 2 else 1.05),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=6),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=20, power=2.0),
    "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2, eta_min=0.01),
    "warmup-then-cosine": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.25, total_iters=5), m.CosineAnnealingLR(o, T_max=25)], milestones=[5]),
    "CyclicLR-triangular": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4, step_size_down=3),
    "CyclicLR-triangular2": lambda m, o: m.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=3,
                                                    mode="triangular2", base_momentum=0.7, max_momentum=0.95),
    "CyclicLR-exp_range": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.2, step_size_up=5, mode="exp_range",
                                                  gamma=0.95),
    "CyclicLR-scale_fn": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.2, step_size_up=2,
                                                 scale_fn=lambda x: 0.8 ** x, scale_mode="iterations"),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, factor=0.5, total_iters=4), m.ExponentialLR(o, gamma=0.9), m.StepLR(o, 5, gamma=0.5)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_lr_sequence_matches_torch(name):
    momentum_key = "momentum" if name.startswith(("OneCycle", "CyclicLR")) else None
    seq = _compare(CASES[name], momentum_key=momentum_key)
    assert len(set(tuple(s) for s in seq)) > 1  # the schedule really moved


def test_one_cycle_cycles_adam_beta1_like_torch():
    _compare(lambda m, o: m.OneCycleLR(o, max_lr=0.01, total_steps=30), opt_name="Adam", momentum_key="betas",
             n=30, lr=0.001)


def test_cosine_closed_form_values():
    (opt, _) = _pair()
    s = sched.CosineAnnealingLR(opt, T_max=10, eta_min=0.0)
    lrs = []
    for _ in range(10):
        opt.step()
        s.step()
        lrs.append(s.get_last_lr()[0])
    expected = [0.05 * (1 + math.cos(math.pi * e / 10)) for e in range(1, 11)]
    np.testing.assert_allclose(lrs, expected, atol=1e-12)


def test_plateau_matches_torch():
    metrics = [1.0, 0.9, 0.9, 0.9, 0.95, 0.89, 0.9, 0.9, 0.9, 0.9, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5,
               0.49999, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    for kw in [dict(patience=2), dict(patience=1, cooldown=2, factor=0.5, min_lr=0.02),
               dict(mode="max", patience=3, threshold=0.1, threshold_mode="abs"),
               dict(patience=0, min_lr=[0.05, 0.001], factor=0.3)]:
        ours_opt, ref_opt = _pair()
        ours = sched.ReduceLROnPlateau(ours_opt, **kw)
        ref = torch.optim.lr_scheduler.ReduceLROnPlateau(ref_opt, **kw)
        for m in metrics:
            ours.step(mathdl.tensor(m))
            ref.step(m)
            assert ours.get_last_lr() == pytest.approx(ref.get_last_lr(), rel=1e-12)
            assert ours.num_bad_epochs == ref.num_bad_epochs and ours.cooldown_counter == ref.cooldown_counter


def test_scheduler_state_dict_round_trip():
    opt, _ = _pair()
    s = sched.StepLR(opt, step_size=3, gamma=0.5)
    for _ in range(4):
        opt.step()
        s.step()
    sd, osd = s.state_dict(), opt.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 4
    opt2, _ = _pair()
    opt2.load_state_dict(osd)
    s2 = sched.StepLR(opt2, step_size=3, gamma=0.5, last_epoch=3)
    s2.load_state_dict(sd)
    for _ in range(6):
        for o, sc in ((opt, s), (opt2, s2)):
            o.step()
            sc.step()
        assert s.get_last_lr() == s2.get_last_lr()


def test_scheduler_errors():
    opt, _ = _pair()
    with pytest.raises(TypeError, match="not an Optimizer"):
        sched.StepLR(object(), step_size=2)
    with pytest.raises(ValueError, match="factor"):
        sched.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="start_factor"):
        sched.LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError, match="total_steps"):
        sched.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(KeyError, match="initial_lr"):
        sched.StepLR(optim.SGD([mathdl.zeros(1, requires_grad=True)], lr=0.1), step_size=2, last_epoch=3)
    s = sched.OneCycleLR(opt, max_lr=0.1, total_steps=2)
    s.step()
    s.step()
    with pytest.raises(ValueError, match="total_steps is 2"):
        s.step()


def test_warm_restarts_with_fractional_epochs_matches_torch():
    ours_opt, ref_opt = _pair()
    ours = sched.CosineAnnealingWarmRestarts(ours_opt, T_0=3, T_mult=2)
    ref = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(ref_opt, T_0=3, T_mult=2)
    for e in np.arange(0, 12, 0.25):
        ours_opt.step()
        ref_opt.step()
        ours.step(float(e))
        ref.step(float(e))
        assert ours.get_last_lr() == pytest.approx(ref.get_last_lr(), rel=1e-12)


def test_multistep_state_survives_a_json_round_trip():
    import json

    opt, _ = _pair()
    s = sched.MultiStepLR(opt, milestones=[2, 4], gamma=0.5)
    opt.step()
    s.step()
    sd = json.loads(json.dumps(s.state_dict()))
    opt2, _ = _pair()
    s2 = sched.MultiStepLR(opt2, milestones=[99], gamma=0.5)
    s2.load_state_dict(sd)
    opt2.load_state_dict(opt.state_dict())
    for _ in range(4):
        for o, sc in ((opt, s), (opt2, s2)):
            o.step()
            sc.step()
        assert s.get_last_lr() == s2.get_last_lr()
    assert s2.get_last_lr()[0] == pytest.approx(0.025)


def test_cyclic_lr_cycles_adam_beta1_like_torch():
    _compare(lambda m, o: m.CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=3), opt_name="Adam",
             momentum_key="betas", n=20, lr=0.001)


def test_cyclic_and_chained_state_dict_round_trip():
    for make in (lambda o: sched.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="triangular2"),
                 lambda o: sched.ChainedScheduler([sched.ConstantLR(o, factor=0.5, total_iters=3),
                                                   sched.ExponentialLR(o, gamma=0.8)])):
        opt, _ = _pair()
        s = make(opt)
        for _ in range(4):
            s.step()
        sd = s.state_dict()
        rest = [(s.step(), s.get_last_lr())[1] for _ in range(5)]
        opt2, _ = _pair()
        s2 = make(opt2)
        s2.load_state_dict(sd)
        for group, lr in zip(opt2.param_groups, sd.get("_last_lr")):
            group["lr"] = lr
        again = [(s2.step(), s2.get_last_lr())[1] for _ in range(5)]
        np.testing.assert_allclose(np.array(again), np.array(rest), rtol=1e-12)


def test_cyclic_and_chained_errors():
    opt, _ = _pair()
    with pytest.raises(ValueError, match="mode"):
        sched.CyclicLR(opt, 0.01, 0.1, mode="sawtooth")
    with pytest.raises(ValueError, match="step_size_up"):
        sched.CyclicLR(opt, 0.01, 0.1, step_size_up=0)
    with pytest.raises(ValueError, match="momentum"):
        sched.CyclicLR(optim.Adagrad([mathdl.zeros(2, requires_grad=True)]), 0.01, 0.1)
    with pytest.raises(ValueError, match="at least one"):
        sched.ChainedScheduler([])
    other, _ = _pair()
    with pytest.raises(ValueError, match="different"):
        sched.ChainedScheduler([sched.StepLR(opt, 2), sched.StepLR(other, 2)])

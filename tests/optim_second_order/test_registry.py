"""Every second-order optimizer is registered for ``mathdl train --optimizer NAME``."""

import numpy as np
import pytest

import mathdl as md
from mathdl import nn
from mathdl.nn import functional as F
from mathdl.optim import adahessian, hessian_free, kfac, lbfgs, lookahead, natural_gradient, newton  # noqa: F401
from mathdl.optim.registry import build_optimizer, optimizer_names

NAMES = ["lbfgs", "newton", "hessian-free", "adahessian", "kfac", "natural-gradient", "lookahead-sgd",
         "lookahead-adam", "lookahead-adamw", "lookahead-rmsprop", "lookahead-adagrad"]


def _cfg(**opts):
    return {"lr": 0.1, "weight_decay": 0.0, "momentum": None, "optimizer_options": opts}


@pytest.mark.parametrize("name", NAMES)
def test_builders_make_working_optimizers(name):
    assert name in optimizer_names()
    md.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    rng = np.random.default_rng(0)
    x, y = md.tensor(rng.standard_normal((12, 4)).astype(np.float32)), md.tensor(rng.integers(0, 3, 12))
    cfg = _cfg()
    if name in ("lookahead-adam", "lookahead-adamw", "lookahead-rmsprop"):
        cfg["lr"] = 0.01
    opt = build_optimizer(name, model, cfg)
    before = F.cross_entropy(model(x), y).item()
    for _ in range(3):
        if getattr(opt, "needs_closure", False):
            def closure():
                if getattr(opt, "closure_backward", True):
                    opt.zero_grad()
                    loss = F.cross_entropy(model(x), y)
                    loss.backward()
                    return loss
                return F.cross_entropy(model(x), y)
            opt.step(closure)
        else:
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    assert F.cross_entropy(model(x), y).item() < before


def test_dense_method_refuses_large_models_with_count_and_memory():
    model = nn.Sequential(nn.Linear(100, 100))
    with pytest.raises(ValueError, match=r"10,100 parameters.*GiB"):
        build_optimizer("newton", model, _cfg())
    build_optimizer("newton", model, _cfg(max_params=20000))
    with pytest.raises(ValueError, match="no supported layer"):
        build_optimizer("kfac", nn.Sequential(nn.LayerNorm(4)), _cfg())

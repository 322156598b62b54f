import json

import numpy as np
import pytest

import mathdl as md
from mathdl.bayes.cli_support import METHODS, bayesian_training, evaluate_uncertainty
from mathdl.data import DataLoader, load_dataset
from mathdl.models import build_model


def _train(wrapper, spec, epochs=3):
    """What the generic trainer does: optimize wrapper.model through compute_loss, then the hooks."""
    opt = md.optim.Adam(wrapper.model.parameters(), lr=1e-2)
    loader = DataLoader(spec.train, batch_size=128, shuffle=True)
    for epoch in range(1, epochs + 1):
        wrapper.model.train()
        for x, y in loader:
            loss, part = wrapper.model.compute_loss(x, y)
            assert part["n"] == x.shape[0]
            opt.zero_grad()
            loss.backward()
            opt.step()
        wrapper.after_epoch(epoch)
    return wrapper.finalize(DataLoader(spec.train, batch_size=256))


@pytest.fixture(scope="module")
def spec():
    return load_dataset("digits")


@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains_and_predicts(method, spec, tmp_path):
    md.manual_seed(0)
    model = build_model("mlp", spec, hidden=(32,), dropout=0.2 if method == "mc-dropout" else 0.0)
    cfg = {"epochs": 2, "seed": 0, "bayes_options": {"num_samples": 3, "members": 2}}
    w = bayesian_training(method, model, cfg, spec)
    info = _train(w, spec)
    if method == "laplace":
        assert info["prior_precision"] > 0
    res = evaluate_uncertainty(w, spec, str(tmp_path))
    assert res["accuracy"] > 0.5 and res["n"] == len(spec.test)
    assert (tmp_path / "reliability.png").exists()
    assert json.loads((tmp_path / "uncertainty.json").read_text())["nll"] == pytest.approx(res["nll"])
    if method in ("mc-dropout", "bbb", "ensemble", "swag"):
        assert res["mean_mutual_information"] >= 0
    state = w.state_dict()
    w2 = bayesian_training(method, build_model("mlp", spec, hidden=(32,), dropout=0.2 if method == "mc-dropout"
                                               else 0.0), cfg, spec)
    w2.load_state_dict(state)
    w2.model.load_state_dict(w.model.state_dict())


def test_plain_model_and_errors(spec, tmp_path):
    md.manual_seed(0)
    model = build_model("mlp", spec, hidden=(16,))
    res = evaluate_uncertainty(model, spec, str(tmp_path))
    assert set(res) >= {"accuracy", "nll", "brier", "ece", "mce"}
    with pytest.raises(ValueError, match="unknown method"):
        bayesian_training("dropconnect", model, {}, spec)
    with pytest.raises(ValueError, match="no dropout"):
        bayesian_training("mc-dropout", model, {}, spec)
    w = bayesian_training("laplace", model, {}, spec)
    with pytest.raises(RuntimeError, match="finalize"):
        w.predict_proba(np.zeros((1, 64), np.float32))
    with pytest.raises(TypeError, match="predict_proba"):
        evaluate_uncertainty(object(), spec, str(tmp_path))

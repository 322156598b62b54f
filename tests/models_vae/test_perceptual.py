"""Named intermediate features (forward hooks) and the perceptual loss built on them."""

import numpy as np
import pytest

import mathdl as md
from mathdl import nn
from mathdl.nn.feature_extraction import create_feature_extractor, get_graph_node_names
from mathdl.nn.modules.perceptual import PerceptualLoss


@pytest.fixture(autouse=True)
def f64():
    md.set_default_dtype("float64")
    md.manual_seed(0)
    yield
    md.set_default_dtype("float32")


def _net():
    return nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 3), nn.Tanh()), nn.Linear(3, 2))


def test_feature_extractor_returns_named_activations():
    net = _net()
    assert "2.0" in get_graph_node_names(net)[0]
    ext = create_feature_extractor(net, {"1": "relu", "2.0": "inner"})
    x = md.tensor(np.random.default_rng(0).normal(size=(6, 5)))
    out = ext(x)
    W0, b0 = net[0].weight.numpy(), net[0].bias.numpy()
    h = np.maximum(x.numpy() @ W0.T + b0, 0)
    np.testing.assert_allclose(out["relu"].numpy(), h, rtol=1e-12)
    np.testing.assert_allclose(out["inner"].numpy(), h @ net[2][0].weight.numpy().T + net[2][0].bias.numpy(),
                               rtol=1e-12)
    with pytest.raises(ValueError, match="nope"):
        create_feature_extractor(net, ["nope"])


def test_perceptual_loss_value_gradient_and_frozen_extractor():
    net = _net()
    loss = PerceptualLoss(net, ["1", "3"], weights=[0.5, 2.0])
    assert list(loss.parameters()) == []
    rng = np.random.default_rng(1)
    x = md.tensor(rng.normal(size=(4, 5)), requires_grad=True)
    y = md.tensor(rng.normal(size=(4, 5)))
    ext = create_feature_extractor(net, ["1", "3"])
    fx, fy = ext(x), ext(y)
    want = 0.5 * ((fx["1"].numpy() - fy["1"].numpy()) ** 2).mean() + 2.0 * ((fx["3"].numpy() - fy["3"].numpy())
                                                                           ** 2).mean()
    assert np.isclose(float(loss(x, y).item()), want, rtol=1e-12)
    assert md.gradcheck(lambda t: loss(t, y), [x])
    assert loss.per_example(x, y).shape == (4,)
    with pytest.raises(ValueError, match="weights"):
        PerceptualLoss(net, ["1"], weights=[1.0, 2.0])

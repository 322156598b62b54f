"""nn.init: statistics of each initializer, gains against torch, PyTorch's per-layer defaults,
and determinism under mathdl.manual_seed."""

import math

import numpy as np
import pytest

import mathdl
import mathdl.nn as nn
from mathdl.nn import init


def _w(*shape):
    return nn.Parameter(mathdl.zeros(*shape))


@pytest.mark.parametrize("nl,param", [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                                      ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)])
def test_calculate_gain_matches_torch(nl, param):
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(nl, param) == pytest.approx(torch.nn.init.calculate_gain(nl, param), rel=1e-12)


def test_calculate_gain_bad_name():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swoosh'"):
        init.calculate_gain("swoosh")


def test_kaiming_normal_std():
    mathdl.manual_seed(0)
    w = init.kaiming_normal_(_w(400, 250), nonlinearity="relu")
    assert np.std(w.array) == pytest.approx(math.sqrt(2 / 250), rel=0.02)
    assert abs(np.mean(w.array)) < 0.002
    w = init.kaiming_normal_(_w(400, 10, 3, 3), mode="fan_out", nonlinearity="relu")
    assert np.std(w.array) == pytest.approx(math.sqrt(2 / (400 * 9)), rel=0.02)


def test_kaiming_uniform_bound_and_std():
    mathdl.manual_seed(0)
    w = init.kaiming_uniform_(_w(300, 200), a=0.1)
    bound = init.calculate_gain("leaky_relu", 0.1) * math.sqrt(3 / 200)
    assert np.abs(w.array).max() <= bound
    assert np.abs(w.array).max() > 0.99 * bound
    assert np.std(w.array) == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_xavier():
    mathdl.manual_seed(0)
    w = init.xavier_uniform_(_w(300, 200), gain=2.0)
    a = 2.0 * math.sqrt(6 / 500)
    assert np.abs(w.array).max() <= a and np.std(w.array) == pytest.approx(a / math.sqrt(3), rel=0.02)
    w = init.xavier_normal_(_w(300, 200))
    assert np.std(w.array) == pytest.approx(math.sqrt(2 / 500), rel=0.02)
    assert init.glorot_uniform_ is init.xavier_uniform_ and init.he_normal_ is init.kaiming_normal_


def test_uniform_normal_constant():
    mathdl.manual_seed(0)
    w = init.uniform_(_w(100, 100), -2, 3)
    assert w.array.min() >= -2 and w.array.max() <= 3 and np.mean(w.array) == pytest.approx(0.5, abs=0.05)
    w = init.normal_(_w(100, 100), 1.0, 0.5)
    assert np.mean(w.array) == pytest.approx(1.0, abs=0.02) and np.std(w.array) == pytest.approx(0.5, rel=0.03)
    np.testing.assert_array_equal(init.constant_(_w(3), 0.7).array, np.float32(0.7))
    np.testing.assert_array_equal(init.ones_(_w(3)).array, 1)
    np.testing.assert_array_equal(init.zeros_(mathdl.ones(3)).array, 0)
    np.testing.assert_array_equal(init.eye_(_w(2, 3)).array, np.eye(2, 3))
    t = init.trunc_normal_(_w(1000), std=1.0, a=-1.0, b=1.0)
    assert t.array.min() >= -1 and t.array.max() <= 1


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 2, 3)])
def test_orthogonal(shape):
    mathdl.manual_seed(0)
    w = init.orthogonal_(_w(*shape), gain=1.5).array.reshape(shape[0], -1).astype(np.float64)
    r, c = w.shape
    gram = w.T @ w if r >= c else w @ w.T
    np.testing.assert_allclose(gram, 2.25 * np.eye(min(r, c)), atol=1e-5)


def test_fan_needs_two_dims():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(_w(5))


def test_init_keeps_dtype_and_identity():
    w = nn.Parameter(mathdl.zeros(4, 4, dtype=mathdl.float64))
    data = w.array
    out = init.kaiming_uniform_(w)
    assert out is w and w.array is data and w.dtype == np.float64


def test_determinism_under_manual_seed():
    mathdl.manual_seed(42)
    a = nn.Sequential(nn.Linear(5, 6), nn.Embedding(4, 3), nn.Bilinear(2, 2, 2))
    mathdl.manual_seed(42)
    b = nn.Sequential(nn.Linear(5, 6), nn.Embedding(4, 3), nn.Bilinear(2, 2, 2))
    for (k, v), (_, v2) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(v.array, v2.array, err_msg=k)
    mathdl.manual_seed(43)
    c = nn.Linear(5, 6)
    assert not np.array_equal(c.weight.array, a[0].weight.array)


def test_linear_default_init_follows_pytorch():
    """W ~ kaiming_uniform(a=sqrt 5) = U(-1/sqrt(in), 1/sqrt(in)); b ~ U(-1/sqrt(in), 1/sqrt(in))."""
    mathdl.manual_seed(0)
    m = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for t in (m.weight, m.bias):
        assert np.abs(t.array).max() <= bound
    assert np.abs(m.weight.array).max() > 0.99 * bound
    assert np.std(m.weight.array) == pytest.approx(bound / math.sqrt(3), rel=0.02)
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tw = torch.nn.Linear(400, 300).weight.detach().numpy()
    assert np.std(m.weight.array) == pytest.approx(np.std(tw), rel=0.02)


def test_embedding_and_norm_defaults():
    mathdl.manual_seed(0)
    e = nn.Embedding(500, 40, padding_idx=3)
    assert np.std(e.weight.array) == pytest.approx(1.0, rel=0.03) and not e.weight.array[3].any()
    ln, bn = nn.LayerNorm(5), nn.BatchNorm1d(5)
    for m in (ln, bn):
        np.testing.assert_array_equal(m.weight.array, 1)
        np.testing.assert_array_equal(m.bias.array, 0)
    np.testing.assert_array_equal(bn.running_var.array, 1)
    p = nn.PReLU(3)
    np.testing.assert_array_equal(p.weight.array, np.float32(0.25))

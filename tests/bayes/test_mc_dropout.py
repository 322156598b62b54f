import math

import numpy as np
import pytest

import mathdl as md
from mathdl.bayes import MCDropout, decompose, mc_dropout_samples
from mathdl.bayes.mc_dropout import mc_dropout_mode


def _h(p):
    p = np.asarray(p, float)
    return -(p * np.log(p)).sum()


def test_decompose_matches_hand_computation():
    s = np.array([[[0.9, 0.1], [0.6, 0.4]], [[0.1, 0.9], [0.6, 0.4]]])
    d = decompose(s)
    np.testing.assert_allclose(d["mean"], [[0.5, 0.5], [0.6, 0.4]])
    np.testing.assert_allclose(d["predictive_entropy"], [math.log(2), _h([0.6, 0.4])])
    np.testing.assert_allclose(d["expected_entropy"], [_h([0.9, 0.1]), _h([0.6, 0.4])])
    # members that agree carry no epistemic uncertainty; disagreeing ones do
    np.testing.assert_allclose(d["mutual_information"], [math.log(2) - _h([0.9, 0.1]), 0.0], atol=1e-12)


def test_decompose_bad_input():
    with pytest.raises(ValueError, match="shape"):
        decompose(np.ones((2, 3)))
    with pytest.raises(ValueError, match="probabilities"):
        decompose(np.ones((2, 1, 3)))


def _net():
    md.manual_seed(0)
    return md.nn.Sequential(md.nn.Linear(4, 16), md.nn.BatchNorm1d(16), md.nn.ReLU(), md.nn.Dropout(0.5),
                            md.nn.Linear(16, 3))


def test_dropout_on_batchnorm_eval_and_flags_restored():
    net = _net()
    net.train()
    x = md.randn(6, 4)
    with mc_dropout_mode(net):
        assert net[3].training and not net[1].training and not net[0].training
        with md.no_grad():
            a, b = net(x).numpy(), net(x).numpy()
        assert not np.allclose(a, b)  # dropout is on
        # one example alone gives the same distribution as in a batch: batch norm uses running stats
        with md.no_grad():
            before = net[1].running_mean.numpy().copy()
            net(x)
            np.testing.assert_array_equal(net[1].running_mean.numpy(), before)
    assert all(m.training for m in net.modules())


def test_samples_and_predictive():
    net = _net()
    s = mc_dropout_samples(net, np.random.default_rng(0).standard_normal((5, 4)), num_samples=7)
    assert s.shape == (7, 5, 3)
    np.testing.assert_allclose(s.sum(-1), 1, atol=1e-6)
    mc = MCDropout(net, num_samples=50)
    u = mc.uncertainty(np.zeros((2, 4), np.float32))
    assert (u["mutual_information"] >= 0).all() and u["mutual_information"].max() > 0


def test_no_dropout_is_an_error():
    with pytest.raises(ValueError, match="no dropout"):
        MCDropout(md.nn.Linear(3, 2))

import numpy as np
import pytest

import mathdl as md
from mathdl.bayes import SWAG, DeepEnsemble, bn_update, train_ensemble


def _set(net, w, b):
    net.weight.array[...] = w
    net.bias.array[...] = b


def test_swag_moments_on_a_known_sequence():
    net = md.nn.Linear(2, 1).double()
    sw = SWAG(net, max_num_models=3)
    seq = [np.array([1.0, 2.0, 0.0]), np.array([3.0, 0.0, 1.0]), np.array([2.0, 2.0, 5.0]),
           np.array([0.0, 4.0, 2.0])]
    for th in seq:
        _set(net, th[:2][None], th[2:])
        sw.collect_model()
    S = np.stack(seq)
    np.testing.assert_allclose(sw.mean, S.mean(0))
    np.testing.assert_allclose(sw.sq_mean, (S ** 2).mean(0))
    np.testing.assert_allclose(sw.variance, S.var(0))
    running = [S[:i + 1].mean(0) for i in range(4)]
    D = np.stack([seq[i] - running[i] for i in range(1, 4)], 1)  # the last K=3 deviations
    np.testing.assert_allclose(sw.deviation_matrix, D)
    np.testing.assert_allclose(sw.covariance(), 0.5 * (np.diag(S.var(0)) + D @ D.T / 2))


def test_swag_samples_have_the_swag_covariance():
    net = md.nn.Linear(2, 1).double()
    sw = SWAG(net, max_num_models=4)
    rng = np.random.default_rng(0)
    for _ in range(6):
        th = rng.standard_normal(3)
        _set(net, th[:2][None], th[2:])
        sw.collect_model()
    draws = np.stack([sw.sample_vector(rng=rng) for _ in range(20000)])
    np.testing.assert_allclose(draws.mean(0), sw.mean, atol=0.03)
    np.testing.assert_allclose(np.cov(draws.T), sw.covariance(), atol=0.03)


def test_swag_errors_and_predictive():
    net = md.nn.Linear(2, 3)
    sw = SWAG(net)
    with pytest.raises(RuntimeError, match="collect"):
        sw.sample()
    with pytest.raises(ValueError, match="max_num_models"):
        SWAG(net, max_num_models=1)
    for _ in range(3):
        net.weight.array[...] += 0.1
        sw.collect_model()
    before = net.weight.numpy().copy()
    p = sw.predict_proba(np.ones((4, 2), np.float32), num_samples=5)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-6)
    np.testing.assert_array_equal(net.weight.numpy(), before)  # the model's weights are restored


def test_bn_update_recomputes_statistics():
    net = md.nn.Sequential(md.nn.Linear(2, 2), md.nn.BatchNorm1d(2))
    net.eval()
    x = np.random.default_rng(0).standard_normal((64, 2)).astype(np.float32) * 3 + 1
    bn_update(net, [(x[:32], None), (x[32:], None)])
    with md.no_grad():
        h = net[0](md.tensor(x)).numpy()
    np.testing.assert_allclose(net[1].running_mean.numpy(), h.mean(0), rtol=1e-4, atol=1e-5)
    assert not net.training


def test_ensemble_mean_and_disagreement():
    a, b = md.nn.Linear(2, 2), md.nn.Linear(2, 2)
    _set(a, np.array([[5.0, 0], [0, 0]]), np.zeros(2))
    _set(b, np.array([[0.0, 0], [5.0, 0]]), np.zeros(2))
    ens = DeepEnsemble([a, b])
    x = np.array([[1.0, 0.0]], np.float32)
    s = ens.samples(x)
    np.testing.assert_allclose(ens.predict_proba(x), s.mean(0))
    np.testing.assert_allclose(ens.predict_proba(x), [[0.5, 0.5]], atol=1e-6)
    assert ens.uncertainty(x)["mutual_information"][0] > 0.6  # the members disagree


def test_train_ensemble_members_differ():
    calls = []
    ens = train_ensemble(lambda: md.nn.Linear(3, 2), lambda m, s: calls.append(s), num_members=3, seed=10)
    assert calls == [10, 11, 12] and len(ens) == 3
    assert not np.allclose(ens.models[0].weight.numpy(), ens.models[1].weight.numpy())
    with pytest.raises(ValueError, match="num_members"):
        train_ensemble(lambda: None, lambda m, s: None, 0)
    with pytest.raises(ValueError, match="at least one"):
        DeepEnsemble([])

"""Layers against torch with copied weights: same outputs and gradients (float32 and float64);
train/eval behaviour, running statistics, and bad input."""

import numpy as np
import pytest

import mathdl
import mathdl.nn as nn
import mathdl.nn.functional as F

torch = pytest.importorskip("torch")

TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def _tol(dtype):
    return dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-11)


def _sync(m, tm):
    """Copy mathdl's parameters and buffers into the torch module (names must match)."""
    tsd = tm.state_dict()
    sd = m.state_dict()
    assert list(sd) == list(tsd), (list(sd), list(tsd))
    with torch.no_grad():
        for k, v in sd.items():
            tsd[k].copy_(torch.from_numpy(np.asarray(v.array)))


def _check(m, tm, inputs, dtype, grad_seed=7):
    """Forward both with the same inputs, backprop the same upstream gradient, compare all."""
    xs = [mathdl.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    txs = [torch.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    y, ty = m(*xs), tm(*txs)
    assert y.dtype == dtype
    np.testing.assert_allclose(y.array, ty.detach().numpy(), **_tol(dtype))
    g = np.random.default_rng(grad_seed).standard_normal(y.shape).astype(dtype)
    y.backward(mathdl.tensor(g))
    ty.backward(torch.from_numpy(g))
    for x, tx in zip(xs, txs):
        if tx.grad is not None:
            np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), **_tol(dtype))
    tparams = dict(tm.named_parameters())
    for name, p in m.named_parameters():
        np.testing.assert_allclose(p.grad.array, tparams[name].grad.numpy(), **_tol(dtype), err_msg=name)


def _randn(*shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 7), (7,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_parity(dtype, shape, bias):
    m = nn.Linear(7, 4, bias=bias).to(dtype)
    tm = torch.nn.Linear(7, 4, bias=bias).to(TORCH_DTYPE[dtype])
    _sync(m, tm)
    _check(m, tm, [_randn(*shape, dtype=dtype)], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bilinear_parity(dtype):
    m = nn.Bilinear(3, 5, 4).to(dtype)
    tm = torch.nn.Bilinear(3, 5, 4).to(TORCH_DTYPE[dtype])
    _sync(m, tm)
    _check(m, tm, [_randn(6, 3, dtype=dtype), _randn(6, 5, dtype=dtype, seed=1)], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,norm", [((4, 6), 6), ((2, 3, 6), (6,)), ((2, 3, 4), (3, 4))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_parity(dtype, shape, norm, affine):
    m = nn.LayerNorm(norm, eps=1e-4, elementwise_affine=affine).to(dtype)
    tm = torch.nn.LayerNorm(norm, eps=1e-4, elementwise_affine=affine).to(TORCH_DTYPE[dtype])
    if affine:
        m.weight.array[...] = _randn(*m.weight.shape, dtype=dtype, seed=3)
        m.bias.array[...] = _randn(*m.bias.shape, dtype=dtype, seed=4)
    _sync(m, tm)
    _check(m, tm, [_randn(*shape, dtype=dtype) * 3 + 1], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)])
def test_batch_norm1d_train_then_eval_parity(dtype, shape):
    m = nn.BatchNorm1d(3, momentum=0.2).to(dtype)
    tm = torch.nn.BatchNorm1d(3, momentum=0.2).to(TORCH_DTYPE[dtype])
    m.weight.array[...] = _randn(3, dtype=dtype, seed=3)
    m.bias.array[...] = _randn(3, dtype=dtype, seed=4)
    _sync(m, tm)
    for step in range(3):
        m.zero_grad()
        tm.zero_grad()
        _check(m, tm, [_randn(*shape, dtype=dtype, seed=step) * 2 + 0.5], dtype)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(m, name).array, getattr(tm, name).numpy(), **_tol(dtype))
    assert int(m.num_batches_tracked.item()) == 3
    # counted in place, as PyTorch's num_batches_tracked.add_(1): the buffer stays a 0-d int64 array
    assert isinstance(m.num_batches_tracked.array, np.ndarray) and m.num_batches_tracked.array.shape == ()
    m.eval()
    tm.eval()
    m.zero_grad()
    tm.zero_grad()
    _check(m, tm, [_randn(*shape, dtype=dtype, seed=9)], dtype)


def test_batch_norm_momentum_none_is_cumulative_average():
    m = nn.BatchNorm1d(2, momentum=None).double()
    tm = torch.nn.BatchNorm1d(2, momentum=None).double()
    for s in range(4):
        x = _randn(6, 2, seed=s) * (s + 1)
        m(mathdl.tensor(x))
        tm(torch.from_numpy(x))
    np.testing.assert_allclose(m.running_mean.array, tm.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(m.running_var.array, tm.running_var.numpy(), rtol=1e-12)


def test_batch_norm_without_running_stats_uses_batch_stats_in_eval():
    m = nn.BatchNorm1d(3, track_running_stats=False, affine=False).double().eval()
    tm = torch.nn.BatchNorm1d(3, track_running_stats=False, affine=False).double().eval()
    assert list(m.state_dict()) == []
    _check(m, tm, [_randn(5, 3)], np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("training", [True, False])
def test_functional_batch_norm_4d_parity(dtype, training):
    x = _randn(3, 4, 5, 6, dtype=dtype) * 2 + 1
    w, b = _randn(4, dtype=dtype, seed=1), _randn(4, dtype=dtype, seed=2)
    rm, rv = _randn(4, dtype=dtype, seed=3), np.abs(_randn(4, dtype=dtype, seed=4)) + 0.5
    xs = [mathdl.tensor(a, requires_grad=True) for a in (x, w, b)]
    txs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    mrm, mrv = mathdl.tensor(rm), mathdl.tensor(rv)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    y = F.batch_norm(xs[0], mrm, mrv, xs[1], xs[2], training=training, momentum=0.3, eps=1e-3)
    ty = torch.nn.functional.batch_norm(txs[0], trm, trv, txs[1], txs[2], training=training, momentum=0.3, eps=1e-3)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), **_tol(dtype))
    np.testing.assert_allclose(mrm.array, trm.numpy(), **_tol(dtype))
    np.testing.assert_allclose(mrv.array, trv.numpy(), **_tol(dtype))
    g = _randn(*y.shape, dtype=dtype, seed=5)
    y.backward(mathdl.tensor(g))
    ty.backward(torch.from_numpy(g))
    for a, ta in zip(xs, txs):
        np.testing.assert_allclose(a.grad.array, ta.grad.numpy(), **_tol(dtype))


def test_batch_norm_bad_input():
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\).*3 channels.*\(4, 5\)"):
        nn.BatchNorm1d(3)(mathdl.randn(4, 5))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(mathdl.randn(1, 3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_parity_with_padding(dtype):
    m = nn.Embedding(10, 4, padding_idx=2).to(dtype)
    tm = torch.nn.Embedding(10, 4, padding_idx=2).to(TORCH_DTYPE[dtype])
    assert np.all(m.weight.array[2] == 0)
    _sync(m, tm)
    idx = np.array([[1, 2, 3, 1], [9, 2, 0, 1]])
    _check(m, tm, [idx], dtype)
    assert np.all(m.weight.grad.array[2] == 0)
    np.testing.assert_allclose(m.weight.grad.array[5], 0)


def test_embedding_bad_index_names_layer_and_range():
    m = nn.Embedding(5, 3)
    with pytest.raises(IndexError, match=r"Embedding\(5, 3\).*index 7 is out of range for num_embeddings=5"):
        m(mathdl.tensor([1, 7]))
    with pytest.raises(IndexError, match="index -1"):
        m(mathdl.tensor([-1, 2]))
    with pytest.raises(TypeError, match="integer"):
        m(mathdl.tensor([1.0]))


def test_embedding_grad_of_grad():
    w = mathdl.tensor(_randn(6, 3), requires_grad=True)
    idx = mathdl.tensor([[0, 5, 0], [2, 2, 1]])
    assert mathdl.gradcheck(lambda w: F.embedding(idx, w) ** 2, [w])
    assert mathdl.gradgradcheck(lambda w: F.embedding(idx, w) ** 2, [w])


def test_dropout_statistics_and_eval():
    mathdl.manual_seed(0)
    m = nn.Dropout(0.3)
    x = mathdl.ones(200, 500, requires_grad=True)
    y = m(x)
    kept = y.array != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y.array[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.array, y.array)  # gradient uses the same mask
    m.eval()
    assert m(x) is x
    assert F.dropout(x, 1.0).array.max() == 0
    with pytest.raises(ValueError, match="probability"):
        nn.Dropout(1.5)


def test_dropout_deterministic_under_manual_seed():
    x = mathdl.ones(50, 50)
    mathdl.manual_seed(3)
    a = F.dropout(x, 0.5).array
    mathdl.manual_seed(3)
    b = F.dropout(x, 0.5).array
    np.testing.assert_array_equal(a, b)


def test_dropout_gradcheck():
    x = mathdl.tensor(_randn(4, 5), requires_grad=True)
    mathdl.manual_seed(1)
    fn = lambda x: F.dropout(x, 0.4)  # noqa: E731
    mathdl.manual_seed(1)
    y1 = fn(x)
    mathdl.manual_seed(1)
    y2 = fn(x)
    np.testing.assert_array_equal(y1.array, y2.array)
    (g,) = mathdl.autograd.grad(y1.sum(), [x])
    np.testing.assert_array_equal(g.array, (y1.array != 0) / 0.6)


def test_linear_wrong_feature_size_names_layer_and_sizes():
    m = nn.Linear(784, 10)
    with pytest.raises(ValueError, match=r"Linear\(in_features=784, out_features=10\).*784 features.*\(32, 100\)"):
        m(mathdl.randn(32, 100))
    with pytest.raises(ValueError, match="784"):
        F.linear(mathdl.randn(3, 5), m.weight)
    with pytest.raises(TypeError, match="input dtype float64 does not match weight dtype float32"):
        m(mathdl.randn(3, 784, dtype=mathdl.float64))


def test_linear_grad_of_grad():
    x = mathdl.tensor(_randn(2, 3, 4), requires_grad=True)
    w = mathdl.tensor(_randn(5, 4, seed=1), requires_grad=True)
    b = mathdl.tensor(_randn(5, seed=2), requires_grad=True)
    f = lambda x, w, b: F.linear(x, w, b) ** 2  # noqa: E731
    assert mathdl.gradcheck(f, [x, w, b])
    assert mathdl.gradgradcheck(f, [x, w, b])


def test_bilinear_gradcheck():
    x1 = mathdl.tensor(_randn(3, 2), requires_grad=True)
    x2 = mathdl.tensor(_randn(3, 4, seed=1), requires_grad=True)
    w = mathdl.tensor(_randn(2, 2, 4, seed=2), requires_grad=True)
    b = mathdl.tensor(_randn(2, seed=3), requires_grad=True)
    assert mathdl.gradgradcheck(F.bilinear, [x1, x2, w, b])


def test_flatten_unflatten_identity():
    x = mathdl.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Unflatten(1, (2, 30))(nn.Flatten()(x)).shape == (2, 2, 30)
    assert nn.Identity(3, foo=1)(x) is x
    t = torch.randn(2, 3, 4, 5)
    assert tuple(torch.nn.Flatten()(t).shape) == nn.Flatten()(mathdl.tensor(t.numpy())).shape


def test_alpha_dropout_keeps_mean_and_variance():
    mathdl.manual_seed(0)
    x = mathdl.randn(400, 500)
    m = nn.AlphaDropout(0.2)
    y = m(x).array
    assert abs(y.mean()) < 0.01 and abs(y.var() - 1) < 0.02
    _, counts = np.unique(y, return_counts=True)
    assert counts.max() / y.size == pytest.approx(0.2, abs=0.01)  # dropped entries share one value
    m.eval()
    assert m(x) is x

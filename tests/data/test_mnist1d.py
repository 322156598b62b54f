"""MNIST-1D: generated locally with the paper's parameters and split, cached, no network, the
caller's random state untouched; the paper's logistic baseline reaches its accuracy."""

import random
import socket

import numpy as np
import pytest

pytest.importorskip("mnist1d")

from mathdl.data import load_dataset  # noqa: E402
from mathdl.data import mnist1d as M  # noqa: E402


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MATHDL_CACHE_DIR", str(tmp_path))
    return tmp_path


def _arrays(ds):
    x = np.stack([ds[i][0] for i in range(len(ds))])
    y = np.array([ds[i][1] for i in range(len(ds))])
    return x, y


def test_shapes_split_classes_and_cache(cache, monkeypatch):
    np.random.seed(123)
    random.seed(7)
    np_before, py_before = np.random.get_state()[1].copy(), random.getstate()

    def no_network(*args, **kwargs):
        raise AssertionError("mnist1d tried to open a network connection")

    with monkeypatch.context() as m:
        m.setattr(socket, "socket", no_network)
        spec = load_dataset("mnist1d")
    # the global generators are as the caller left them
    assert np.array_equal(np.random.get_state()[1], np_before) and random.getstate() == py_before
    assert spec.input_shape == (40,) and spec.num_classes == 10 and spec.task == "classification"
    assert (len(spec.train), len(spec.test)) == (4000, 1000)
    xtr, ytr = _arrays(spec.train)
    xte, yte = _arrays(spec.test)
    assert xtr.dtype == np.float32 and ytr.dtype == np.int64
    assert set(np.unique(ytr)) == set(range(10)) and set(np.unique(yte)) == set(range(10))
    counts = np.bincount(np.concatenate([ytr, yte]))
    assert np.all(counts == 500)  # 500 examples per digit
    x = np.concatenate([xtr, xte])
    assert abs(x.mean()) < 1e-5 and abs(x.std() - 1) < 1e-4  # centred, unit standard deviation
    files = list(cache.glob("mnist1d-*.npz"))
    assert len(files) == 1

    # the second load reads the cache (generation would fail here) and gives the same arrays
    def fail(**kwargs):
        raise AssertionError("regenerated although cached")

    monkeypatch.setattr(M, "generate_mnist1d", fail)
    again = load_dataset("mnist1d")
    np.testing.assert_array_equal(_arrays(again.train)[0], xtr)
    np.testing.assert_array_equal(_arrays(again.test)[1], yte)


def test_unwritable_cache_still_loads(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("MATHDL_CACHE_DIR", str(blocked / "sub"))
    spec = M.load_mnist1d(num_samples=100)
    assert (len(spec.train), len(spec.test)) == (80, 20)


def test_bad_options():
    with pytest.raises(ValueError, match="train_split"):
        M.load_mnist1d(train_split=1.5, cache=False)


def test_logistic_baseline_reaches_paper_accuracy(cache):
    """The paper's logistic regression (32% test accuracy) trained with its optimizer settings."""
    import mathdl as md
    from mathdl.models import build_model

    spec = load_dataset("mnist1d")
    xtr, ytr = _arrays(spec.train)
    xte, yte = _arrays(spec.test)
    md.manual_seed(0)
    model = build_model("mnist1d_logistic", spec)
    opt = md.optim.Adam(model.parameters(), lr=1e-2)
    X, Y = md.tensor(xtr), md.tensor(ytr)
    for step in range(1500):
        b = (step * 100) % 4000
        loss = md.nn.functional.cross_entropy(model(X[b:b + 100]), Y[b:b + 100])
        opt.zero_grad()
        loss.backward()
        opt.step()
    acc = (model(md.tensor(xte)).array.argmax(1) == yte).mean()
    assert 0.27 <= acc <= 0.40, acc

"""MNIST-1D (Greydanus & Kobak, "Scaling down deep learning", 2020), generated locally.

Each example is a 1-D signal of 40 samples that draws one of 10 digit templates (12 points each),
then applies, with the paper's parameters: zero padding to 36..60 points, random translation
(up to 48), correlated noise (scale 0.25, Gaussian filter sigma 2), shear (0.75), scaling
(0.4), i.i.d. noise (0.02) and interpolation back to 40 points; the whole set is then centred
and scaled to unit standard deviation.  5000 examples (500 per class) with the package's seed 42
are split 4000 / 1000 into train / test, the paper's split.  The split is fixed by the generator:
the loader's ``seed`` (the training seed) is accepted and ignored; ``data_seed`` changes the data.

The generator is the ``mnist1d`` package's ``make_dataset`` (no download is attempted: its
``get_dataset`` is never called).  It seeds NumPy's and Python's global generators; this loader
restores both afterwards.  Generation takes about 1 s plus 0.7 s of imports, so the arrays are
cached as ``.npz`` in ``$MATHDL_CACHE_DIR`` (default ``$XDG_CACHE_HOME/mathdl`` or
``~/.cache/mathdl``), keyed by the generator's parameters and the package version; a cache that
cannot be written is skipped and ``cache=False`` regenerates.

Test accuracies reported in the paper (their Table/Figure 2): logistic regression 32%, MLP 68%,
CNN 94%, GRU 91% (``spec.extra["paper_test_accuracy"]``; models ``mnist1d_logistic``,
``mnist1d_mlp``, ``mnist1d_cnn`` and ``gru``).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile

import numpy as np

from .dataset import TensorDataset
from .registry import DatasetSpec, register_dataset

__all__ = ["load_mnist1d", "generate_mnist1d", "cache_dir", "PAPER_TEST_ACCURACY"]

PAPER_TEST_ACCURACY = {"mnist1d_logistic": 0.32, "mnist1d_mlp": 0.68, "mnist1d_cnn": 0.94, "gru": 0.91}


def cache_dir():
    """Where generated datasets are cached: $MATHDL_CACHE_DIR, else $XDG_CACHE_HOME/mathdl or ~/.cache/mathdl."""
    d = os.environ.get("MATHDL_CACHE_DIR")
    if d:
        return os.path.expanduser(d)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "mathdl")


def _generator_args(num_samples, train_split, data_seed, shuffle_seq):
    from mnist1d.data import get_dataset_args

    args = get_dataset_args()
    args.num_samples = int(num_samples)
    args.train_split = float(train_split)
    args.seed = int(data_seed)
    args.shuffle_seq = bool(shuffle_seq)
    args.url = None  # never used: nothing here downloads
    return args


def generate_mnist1d(num_samples=5000, train_split=0.8, data_seed=42, shuffle_seq=False):
    """(x_train, y_train, x_test, y_test, t) from the ``mnist1d`` package, without touching the caller's
    global random state."""
    from mnist1d.data import make_dataset

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        d = make_dataset(_generator_args(num_samples, train_split, data_seed, shuffle_seq))
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return (np.asarray(d["x"], np.float32), np.asarray(d["y"], np.int64), np.asarray(d["x_test"], np.float32),
            np.asarray(d["y_test"], np.int64), np.asarray(d["t"], np.float32))


def _cache_path(params):
    try:
        from importlib.metadata import version

        ver = version("mnist1d")
    except Exception:  # pragma: no cover - metadata missing
        ver = "unknown"
    key = hashlib.sha1(json.dumps({**params, "mnist1d": ver}, sort_keys=True).encode()).hexdigest()[:16]
    return os.path.join(cache_dir(), f"mnist1d-{key}.npz")


def _load_arrays(params, cache):
    path = _cache_path(params)
    names = ("x_train", "y_train", "x_test", "y_test", "t")
    if cache and os.path.exists(path):
        try:
            with np.load(path, allow_pickle=False) as f:
                return tuple(f[n] for n in names)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file: regenerate below
    arrays = generate_mnist1d(**params)
    if cache:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".npz")
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **dict(zip(names, arrays)))
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only home: work without the cache
    return arrays


@register_dataset("mnist1d")
def load_mnist1d(seed=0, num_samples=5000, train_split=0.8, data_seed=42, shuffle_seq=False, cache=True):
    """MNIST-1D (Greydanus & Kobak 2020): 1-D signals of 40 samples, 10 digits, 4000 train / 1000 test."""
    if int(num_samples) < 10 or not 0.0 < float(train_split) < 1.0:
        raise ValueError(f"mnist1d: need num_samples >= 10 and 0 < train_split < 1, got {num_samples} and "
                         f"{train_split}")
    params = {"num_samples": int(num_samples), "train_split": float(train_split), "data_seed": int(data_seed),
              "shuffle_seq": bool(shuffle_seq)}
    xtr, ytr, xte, yte, t = _load_arrays(params, cache)
    return DatasetSpec(
        train=TensorDataset(xtr, ytr), test=TensorDataset(xte, yte), input_shape=(xtr.shape[1],), num_classes=10,
        task="classification",
        extra={"name": "mnist1d", "class_names": [str(i) for i in range(10)], "t": t.tolist(),
               "source": "Greydanus & Kobak (2020), generated with the mnist1d package", **params,
               "paper_test_accuracy": dict(PAPER_TEST_ACCURACY)},
    )

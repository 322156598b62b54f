"""Bundled datasets: real tabular/image data shipped with scikit-learn, and synthetic sets.

Real data (no downloads; ``sklearn.datasets.load_*``): ``digits`` (8x8 handwritten digits,
1797 images, 10 classes), ``digits_image`` (the same as (1, 8, 8) images), ``iris``, ``wine``,
``breast_cancer`` and ``diabetes`` (regression).  Each is split once into train/test with a
fixed seed (stratified for classification; ``test_size`` = 0.2 by default) and its features are
standardized with the *training* mean and standard deviation: x' = (x - mu_train) / sigma_train.

Synthetic data (drawn from ``numpy.random.default_rng(seed)``): ``moons``, ``circles``,
``spirals`` (K interleaved arms r = t, theta = 4 pi t / ... plus noise) and ``curves``
(noisy 1-D regression: y = f(x) + noise for f in sin, cubic, step).

Every loader is registered (``mathdl.data.registry``) and returns a
:class:`~mathdl.data.registry.DatasetSpec`.  Inputs are float32 arrays, classification targets
int64 class indices, regression targets float32 arrays of shape (1,).
"""

from __future__ import annotations

import numpy as np

from .dataset import TensorDataset
from .registry import DatasetSpec, register_dataset

__all__ = [
    "load_digits", "load_digits_image", "load_iris", "load_wine", "load_breast_cancer", "load_diabetes",
    "make_moons", "make_circles", "make_spirals", "make_curves", "standardize",
]


def standardize(train_x, test_x, eps=1e-8):
    """(x - mean) / std with the training set's per-feature statistics (constant features: std 1)."""
    mean = train_x.mean(axis=0)
    std = train_x.std(axis=0)
    std = np.where(std < eps, 1.0, std)
    return ((train_x - mean) / std).astype(np.float32), ((test_x - mean) / std).astype(np.float32), mean, std


def _split(x, y, test_size, seed, stratify):
    from sklearn.model_selection import train_test_split

    return train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y if stratify else None)


def _sklearn_classification(name, seed, test_size):
    """scikit-learn's ``load_<name>()``, split (stratified) and standardized with the train statistics."""
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    xtr, xte, ytr, yte = _split(x, y, test_size, seed, stratify=True)
    xtr, xte, mean, std = standardize(xtr, xte)
    names = [str(n) for n in getattr(bunch, "target_names", range(int(y.max()) + 1))]
    extra = {
        "name": name, "class_names": names, "feature_names": [str(f) for f in getattr(bunch, "feature_names", [])],
        "mean": mean.tolist(), "std": std.tolist(), "test_size": test_size, "split_seed": seed,
    }
    return DatasetSpec(TensorDataset(xtr, ytr), TensorDataset(xte, yte), (x.shape[1],), len(names),
                       "classification", extra)


@register_dataset("digits")
def load_digits(seed=0, test_size=0.2):
    """Handwritten digits 0-9 (scikit-learn, 1797 8x8 images) as 64 standardized features."""
    return _sklearn_classification("digits", seed, test_size)


@register_dataset("digits_image")
def load_digits_image(seed=0, test_size=0.2):
    """Handwritten digits as (1, 8, 8) images scaled to [0, 1] then normalized by the train mean/std."""
    from sklearn import datasets

    bunch = datasets.load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[:, None]
    y = bunch.target.astype(np.int64)
    xtr, xte, ytr, yte = _split(x, y, test_size, seed, stratify=True)
    mean, std = float(xtr.mean()), float(xtr.std())
    xtr = ((xtr - mean) / std).astype(np.float32)
    xte = ((xte - mean) / std).astype(np.float32)
    extra = {"name": "digits_image", "class_names": [str(i) for i in range(10)], "mean": mean, "std": std,
             "test_size": test_size, "split_seed": seed}
    return DatasetSpec(TensorDataset(xtr, ytr), TensorDataset(xte, yte), (1, 8, 8), 10, "classification", extra)


@register_dataset("iris")
def load_iris(seed=0, test_size=0.2):
    """Iris flowers (150 examples, 4 features, 3 classes)."""
    return _sklearn_classification("iris", seed, test_size)


@register_dataset("wine")
def load_wine(seed=0, test_size=0.2):
    """Wine cultivars (178 examples, 13 features, 3 classes)."""
    return _sklearn_classification("wine", seed, test_size)


@register_dataset("breast_cancer")
def load_breast_cancer(seed=0, test_size=0.2):
    """Breast cancer Wisconsin diagnostic (569 examples, 30 features, 2 classes)."""
    return _sklearn_classification("breast_cancer", seed, test_size)


@register_dataset("diabetes")
def load_diabetes(seed=0, test_size=0.2):
    """Diabetes progression regression (442 examples, 10 features); targets standardized, shape (1,)."""
    from sklearn import datasets

    bunch = datasets.load_diabetes()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.float64)
    xtr, xte, ytr, yte = _split(x, y, test_size, seed, stratify=False)
    xtr, xte, mean, std = standardize(xtr, xte)
    ymean, ystd = float(ytr.mean()), float(ytr.std())
    ytr = ((ytr - ymean) / ystd).astype(np.float32)[:, None]
    yte = ((yte - ymean) / ystd).astype(np.float32)[:, None]
    extra = {"name": "diabetes", "feature_names": list(bunch.feature_names), "mean": mean.tolist(),
             "std": std.tolist(), "target_mean": ymean, "target_std": ystd, "test_size": test_size, "split_seed": seed}
    return DatasetSpec(TensorDataset(xtr, ytr), TensorDataset(xte, yte), (10,), 1, "regression", extra)


# ----------------------------------------------------------------------------- synthetic
def _synthetic_spec(x, y, seed, test_size, name, num_classes, task="classification", **extra):
    rng = np.random.default_rng(seed + 1)
    perm = rng.permutation(len(x))
    n_test = int(round(len(x) * test_size))
    te, tr = perm[:n_test], perm[n_test:]
    spec_extra = {"name": name, "test_size": test_size, "seed": seed, **extra}
    return DatasetSpec(TensorDataset(x[tr], y[tr]), TensorDataset(x[te], y[te]), (x.shape[1],), num_classes,
                       task, spec_extra)


def _two_classes(rng, class0, class1, noise):
    """Points of class 0 then class 1 (labels int64), plus N(0, noise^2) noise on every coordinate."""
    x = np.concatenate([class0, class1])
    x = (x + rng.normal(0.0, noise, x.shape)).astype(np.float32)
    y = np.concatenate([np.zeros(len(class0)), np.ones(len(class1))]).astype(np.int64)
    return x, y


@register_dataset("moons")
def make_moons(seed=0, n_samples=1000, noise=0.1, test_size=0.2):
    """Two interleaving half circles (2 features, 2 classes), Gaussian noise of std ``noise``."""
    rng = np.random.default_rng(seed)
    n0 = n_samples // 2
    n1 = n_samples - n0
    t0 = np.linspace(0, np.pi, n0)
    t1 = np.linspace(0, np.pi, n1)
    x, y = _two_classes(rng, np.stack([np.cos(t0), np.sin(t0)], 1), np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1),
                        noise)
    return _synthetic_spec(x, y, seed, test_size, "moons", 2, noise=noise)


@register_dataset("circles")
def make_circles(seed=0, n_samples=1000, noise=0.05, factor=0.5, test_size=0.2):
    """A circle inside a larger one (radius ratio ``factor``; 2 features, 2 classes)."""
    rng = np.random.default_rng(seed)
    n0 = n_samples // 2
    n1 = n_samples - n0
    t0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
    x, y = _two_classes(rng, np.stack([np.cos(t0), np.sin(t0)], 1), factor * np.stack([np.cos(t1), np.sin(t1)], 1),
                        noise)
    return _synthetic_spec(x, y, seed, test_size, "circles", 2, noise=noise, factor=factor)


@register_dataset("spirals")
def make_spirals(seed=0, n_samples=900, n_classes=3, noise=0.2, turns=1.0, test_size=0.2):
    """``n_classes`` interleaved spiral arms: r = t, theta = 2 pi (turns t + k / K) + noise, t in [0, 1]."""
    rng = np.random.default_rng(seed)
    per = n_samples // n_classes
    xs, ys = [], []
    for k in range(n_classes):
        t = np.linspace(0.05, 1.0, per)
        theta = 2 * np.pi * (turns * t + k / n_classes) + rng.normal(0.0, noise, per)
        xs.append(np.stack([t * np.cos(theta), t * np.sin(theta)], 1))
        ys.append(np.full(per, k))
    x = np.concatenate(xs).astype(np.float32)
    y = np.concatenate(ys).astype(np.int64)
    return _synthetic_spec(x, y, seed, test_size, "spirals", n_classes, noise=noise, turns=turns)


_CURVES = {
    "sin": lambda x: np.sin(3 * x),
    "cubic": lambda x: x ** 3 - x,
    "step": lambda x: np.sign(x) * 0.5,
}


@register_dataset("curves")
def make_curves(seed=0, n_samples=500, curve="sin", noise=0.1, test_size=0.2):
    """Noisy 1-D regression y = f(x) + N(0, noise^2), x ~ U[-2, 2], f in {sin(3x), x^3 - x, sign(x)/2}."""
    if curve not in _CURVES:
        raise ValueError(f"curves: unknown curve {curve!r}; expected one of {sorted(_CURVES)}")
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, (n_samples, 1))
    y = _CURVES[curve](x) + rng.normal(0.0, noise, x.shape)
    return _synthetic_spec(x.astype(np.float32), y.astype(np.float32), seed, test_size, "curves", 1, "regression",
                           curve=curve, noise=noise)

"""Bundled datasets: shapes, dtypes, standardization, fixed split, registry."""

import numpy as np
import pytest

from mathdl.data import DatasetSpec, dataset_names, load_dataset

EXPECTED = {  # name: (train, test, input_shape, num_classes, task)
    "digits": (1437, 360, (64,), 10, "classification"),
    "digits_image": (1437, 360, (1, 8, 8), 10, "classification"),
    "iris": (120, 30, (4,), 3, "classification"),
    "wine": (142, 36, (13,), 3, "classification"),
    "breast_cancer": (455, 114, (30,), 2, "classification"),
    "diabetes": (353, 89, (10,), 1, "regression"),
    "moons": (800, 200, (2,), 2, "classification"),
    "circles": (800, 200, (2,), 2, "classification"),
    "spirals": (720, 180, (2,), 3, "classification"),
    "curves": (400, 100, (1,), 1, "regression"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shapes(name):
    n_train, n_test, shape, classes, task = EXPECTED[name]
    spec = load_dataset(name)
    assert isinstance(spec, DatasetSpec)
    assert (len(spec.train), len(spec.test), spec.input_shape, spec.num_classes, spec.task) == EXPECTED[name]
    x, y = spec.train[0]
    assert x.shape == shape and x.dtype == np.float32
    xs = spec.train.arrays[0]
    ys = spec.train.arrays[1]
    assert np.isfinite(xs).all()
    if task == "classification":
        assert ys.dtype == np.int64 and set(np.unique(ys)) == set(range(classes))
    else:
        assert ys.dtype == np.float32 and ys.shape == (n_train, 1)


@pytest.mark.parametrize("name", ["digits", "iris", "wine", "breast_cancer", "diabetes"])
def test_standardized_with_train_statistics(name):
    spec = load_dataset(name)
    x = spec.train.arrays[0].astype(np.float64)
    std = x.std(0)
    np.testing.assert_allclose(x.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(std[std > 0], 1, atol=1e-4)  # constant pixels of digits stay 0


def test_split_is_fixed_and_seeded():
    a, b = load_dataset("digits"), load_dataset("digits")
    np.testing.assert_array_equal(a.test.arrays[0], b.test.arrays[0])
    c = load_dataset("digits", seed=1)
    assert not np.array_equal(a.test.arrays[1], c.test.arrays[1])
    # stratified: every class in the test split in proportion
    counts = np.bincount(a.test.arrays[1])
    assert counts.min() >= 35


def test_synthetic_seeded():
    a, b, c = load_dataset("spirals", seed=3), load_dataset("spirals", seed=3), load_dataset("spirals", seed=4)
    np.testing.assert_array_equal(a.train.arrays[0], b.train.arrays[0])
    assert not np.array_equal(a.train.arrays[0], c.train.arrays[0])
    m = load_dataset("moons", n_samples=100, noise=0.0)
    assert len(m.train) + len(m.test) == 100
    assert load_dataset("curves", curve="cubic").extra["curve"] == "cubic"
    with pytest.raises(ValueError, match="unknown curve"):
        load_dataset("curves", curve="zigzag")


def test_registry_errors_and_names():
    names = dataset_names()
    for n in EXPECTED:
        assert n in names
    with pytest.raises(ValueError, match="unknown dataset 'nope'; available: .*digits"):
        load_dataset("nope")
    with pytest.raises(ValueError, match="unknown task"):
        DatasetSpec([], [], (1,), 2, task="nonsense")

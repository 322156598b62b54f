"""Dtypes, creation functions and randomness (issue 2, item 3)."""

import ml_dtypes
import numpy as np
import pytest

import mathdl as md

DTYPES = [md.float16, md.bfloat16, md.float32, md.float64, md.int32, md.int64, md.bool]
FLOATS = [md.float16, md.bfloat16, md.float32, md.float64]


@pytest.fixture(autouse=True)
def _restore_default_dtype():
    yield
    md.set_default_dtype(md.float32)


def test_dtype_objects():
    assert md.float16 == np.float16 and md.float32 == np.float32 and md.float64 == np.float64
    assert md.int32 == np.int32 and md.int64 == np.int64 and md.bool == np.bool_
    assert md.bfloat16 == np.dtype(ml_dtypes.bfloat16)
    assert md.get_default_dtype() == md.float32


CREATORS = {
    "tensor": lambda dt: md.tensor([[1, 0], [0, 1]], dtype=dt),
    "as_tensor": lambda dt: md.as_tensor([[1, 0], [0, 1]], dtype=dt),
    "Tensor": lambda dt: md.Tensor([[1, 0], [0, 1]], dtype=dt),
    "zeros": lambda dt: md.zeros(2, 2, dtype=dt),
    "ones": lambda dt: md.ones((2, 2), dtype=dt),
    "empty": lambda dt: md.empty([2, 2], dtype=dt),
    "full": lambda dt: md.full((2, 2), 1, dtype=dt),
    "arange": lambda dt: md.arange(0, 2, dtype=dt),
    "linspace": lambda dt: md.linspace(0, 1, 3, dtype=dt),
    "eye": lambda dt: md.eye(2, dtype=dt),
    "zeros_like": lambda dt: md.zeros_like(md.ones(2, 2), dtype=dt),
    "ones_like": lambda dt: md.ones_like(md.ones(2, 2), dtype=dt),
    "empty_like": lambda dt: md.empty_like(md.ones(2, 2), dtype=dt),
    "full_like": lambda dt: md.full_like(md.ones(2, 2), 1, dtype=dt),
    "randint": lambda dt: md.randint(0, 2, (2, 2), dtype=dt),
    "astype": lambda dt: md.ones(2, 2).astype(dt),
    "to": lambda dt: md.ones(2, 2).to(dt),
    "to(dtype=)": lambda dt: md.ones(2, 2).to(dtype=dt),
}
RANDOM_FLOAT = {
    "rand": lambda dt: md.rand(2, 2, dtype=dt),
    "randn": lambda dt: md.randn(2, 2, dtype=dt),
    "normal": lambda dt: md.normal(0.0, 1.0, (2, 2), dtype=dt),
    "rand_like": lambda dt: md.rand_like(md.ones(2, 2), dtype=dt),
    "randn_like": lambda dt: md.randn_like(md.ones(2, 2), dtype=dt),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: str(d))
@pytest.mark.parametrize("name", sorted(CREATORS))
def test_every_dtype_is_accepted_by_creation(name, dtype):
    t = CREATORS[name](dtype)
    assert t.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: str(d))
@pytest.mark.parametrize("name", sorted(RANDOM_FLOAT))
def test_random_floats_take_float_dtypes_and_refuse_others(name, dtype):
    if dtype in FLOATS:
        t = RANDOM_FLOAT[name](dtype)
        assert t.dtype == dtype and t.shape == (2, 2)
    else:
        with pytest.raises(TypeError, match=f"{name.replace('_like', '')}: expected a floating dtype"):
            RANDOM_FLOAT[name](dtype)


@pytest.mark.parametrize("spelling,dtype", [
    ("float32", md.float32), ("float64", md.float64), ("double", md.float64), ("half", md.float16),
    ("bfloat16", md.bfloat16), ("int64", md.int64), ("long", md.int64), ("bool", md.bool),
    (float, md.float32), (int, md.int64), (bool, md.bool), (np.float64, md.float64),
])
def test_dtype_spellings(spelling, dtype):
    assert md.zeros(1, dtype=spelling).dtype == dtype


def test_unknown_dtype_is_rejected():
    with pytest.raises(TypeError, match="unknown dtype 'float128x'"):
        md.zeros(2, dtype="float128x")


def test_tensor_infers_dtypes_like_pytorch():
    assert md.tensor(3.0).dtype == md.float32 and md.tensor(3.0).shape == ()
    assert md.tensor([1, 2.5]).dtype == md.float32
    assert md.tensor(3).dtype == md.int64 and md.tensor([1, 2]).dtype == md.int64
    assert md.tensor([True, False]).dtype == md.bool
    assert md.tensor(np.ones(2)).dtype == md.float64  # arrays keep their dtype
    assert md.tensor(np.ones(2, dtype=np.int32)).dtype == md.int32
    np.testing.assert_array_equal(md.tensor([md.tensor(1.0), md.tensor(2.0)]).numpy(), [1.0, 2.0])


def test_tensor_copies_as_tensor_shares():
    a = np.ones(3, dtype=np.float32)
    t = md.tensor(a)
    assert not np.shares_memory(t.array, a)
    assert np.shares_memory(md.as_tensor(a).array, a)
    assert np.shares_memory(md.from_numpy(a).array, a)
    x = md.tensor([1.0], requires_grad=True)
    assert md.as_tensor(x) is x
    c = md.tensor(x)
    assert not c.requires_grad and not np.shares_memory(c.array, x.array)


def test_filled_and_ranges():
    np.testing.assert_array_equal(md.zeros(2, 3).numpy(), np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(md.ones(()).numpy(), np.ones((), np.float32))
    assert md.zeros().shape == ()
    assert md.full((2,), 3).dtype == md.int64 and md.full((2,), 3.0).dtype == md.float32
    assert md.full((2,), True).dtype == md.bool
    assert md.full(3, 0.5).shape == (3,)
    np.testing.assert_array_equal(md.arange(5).numpy(), np.arange(5))
    assert md.arange(5).dtype == md.int64 and md.arange(0.0, 1.0, 0.25).dtype == md.float32
    np.testing.assert_allclose(md.arange(0, 1, 0.25).numpy(), [0, 0.25, 0.5, 0.75])
    np.testing.assert_array_equal(md.arange(5, 0, -2).numpy(), [5, 3, 1])
    np.testing.assert_allclose(md.linspace(-1, 1, 5).numpy(), [-1, -0.5, 0, 0.5, 1])
    assert md.linspace(0, 1, 5).dtype == md.float32
    np.testing.assert_array_equal(md.eye(2, 3).numpy(), np.eye(2, 3))
    x = md.ones(2, 3, dtype=md.float64)
    assert md.zeros_like(x).dtype == md.float64 and md.full_like(x, 7).numpy()[0, 0] == 7
    assert md.rand_like(x).dtype == md.float64 and md.randn_like(x).shape == (2, 3)
    assert md.zeros(2, requires_grad=True).requires_grad
    assert md.randn(2, requires_grad=True).requires_grad


def test_random_values_have_the_right_distribution():
    md.manual_seed(0)
    u = md.rand(20000).numpy()
    assert u.dtype == np.float32 and u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    z = md.randn(20000, dtype=md.float64).numpy()
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03
    n = md.normal(3.0, 2.0, (20000,)).numpy()
    assert abs(n.mean() - 3) < 0.06 and abs(n.std() - 2) < 0.06
    nb = md.normal(md.tensor([0.0, 100.0], dtype=md.float64), 0.1)
    assert nb.dtype == md.float64 and nb.shape == (2,) and abs(nb.numpy()[1] - 100) < 1
    r = md.randint(3, 7, (1000,)).numpy()
    assert r.dtype == np.int64 and r.min() == 3 and r.max() == 6
    r2 = md.randint(5, (4,))  # randint(high, size), as in PyTorch
    assert r2.shape == (4,) and r2.numpy().max() < 5
    p = md.randperm(10).numpy()
    np.testing.assert_array_equal(np.sort(p), np.arange(10))


def test_random_input_errors():
    with pytest.raises(ValueError, match="low < high"):
        md.randint(3, 3, (2,))
    with pytest.raises(ValueError, match="std must be non-negative"):
        md.normal(0.0, -1.0, (2,))
    with pytest.raises(ValueError, match="non-negative integer"):
        md.manual_seed(-1)


def _draw_all():
    return [md.rand(3).tolist(), md.randn(2, 2).tolist(), md.randint(0, 100, (4,)).tolist(),
            md.normal(1.0, 2.0, (3,)).tolist(), md.randperm(6).tolist(),
            md.rand(2, dtype=md.float64).tolist()]


def test_manual_seed_reproducibility():
    md.manual_seed(42)
    a = _draw_all()
    md.manual_seed(42)
    b = _draw_all()
    assert a == b
    md.manual_seed(43)
    assert _draw_all() != a


def test_random_ops_do_not_use_numpy_global_state():
    md.manual_seed(7)
    a = md.randn(4).tolist()
    md.manual_seed(7)
    np.random.seed(123)
    np.random.rand(10)
    assert md.randn(4).tolist() == a


def test_set_default_dtype():
    md.set_default_dtype(md.float64)
    assert md.get_default_dtype() == md.float64
    assert md.tensor([1.0]).dtype == md.float64 and md.zeros(2).dtype == md.float64
    assert md.rand(2).dtype == md.float64 and md.randn(2).dtype == md.float64
    assert md.arange(0.0, 2.0).dtype == md.float64 and md.linspace(0, 1, 3).dtype == md.float64
    assert md.full((1,), 1.5).dtype == md.float64
    assert md.arange(3).dtype == md.int64  # integers stay integers
    md.set_default_dtype("float32")
    assert md.zeros(2).dtype == md.float32
    with pytest.raises(TypeError, match="floating dtype.*int32"):
        md.set_default_dtype(md.int32)


# --------------------------------------------------------------------------- no silent promotion
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: str(d))
def test_python_scalars_do_not_promote_float_tensors(dtype):
    x = md.ones(3, dtype=dtype)
    results = [x + 1, x * 2.5, 1 - x, 2.0 / x, x / 2, x ** 2, 2 ** x, x ** 0.5, -x,
               md.maximum(x, 0.5), md.minimum(x, 2), md.where(x > 0, x, 0.0), md.clamp(x, 0.0, 0.5)]
    assert [str(r.dtype) for r in results] == [str(np.dtype(dtype))] * len(results)


def test_python_scalars_keep_integer_tensors_integer():
    for dt in (md.int32, md.int64):
        x = md.ones(3, dtype=dt)
        assert (x + 1).dtype == dt and (x * 2).dtype == dt and (3 - x).dtype == dt
    b = md.tensor([True, False])
    assert (b + 1).dtype == md.int64 and (b * 1.5).dtype == md.float32


def test_integer_tensor_with_python_float_gives_default_float():
    x = md.ones(3, dtype=md.int64)
    assert (x * 2.5).dtype == md.float32 and (x / 2).dtype == md.float32


def test_float32_gradients_stay_float32():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 0.5 + 1) ** 2 / 3.0
    y.sum().backward()
    assert y.dtype == md.float32 and x.grad.dtype == md.float32
    b = md.tensor([1.0, 2.0], dtype=md.bfloat16, requires_grad=True)
    (b * 3.0).sum().backward()
    assert b.grad.dtype == md.bfloat16
    np.testing.assert_array_equal(b.grad.numpy().astype(np.float32), [3.0, 3.0])

"""Tensor API (issue 2, item 2): attributes, operators, comparisons, indexing with its
scatter-add backward, hooks, retain_grad, dtype conversion, detach and their errors."""

import numpy as np
import pytest

import mathdl as md
from mathdl.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(1234)


def f64(a, requires_grad=False):
    return md.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


# --------------------------------------------------------------------------- attributes
def test_attributes_and_conversions():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = md.tensor(a, requires_grad=True)
    assert isinstance(x.array, np.ndarray) and np.array_equal(x.array, a)
    assert x.shape == (2, 3) and x.ndim == 2 and x.dim() == 2
    assert x.size() == (2, 3) and x.size(1) == 3 and x.size(-2) == 2
    assert x.numel() == 6
    assert x.dtype == md.float32 and x.device == "cpu"
    assert x.grad is None and x.requires_grad and x.is_leaf and x.grad_fn is None
    np.testing.assert_array_equal(x.numpy(), a)
    assert x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert md.tensor([[2.5]]).item() == 2.5 and isinstance(md.tensor([[2.5]]).item(), float)
    assert md.tensor(7).item() == 7 and isinstance(md.tensor(7).item(), int)
    y = x * 2
    assert not y.is_leaf and y.grad_fn is not None and y.requires_grad
    assert float(md.tensor(1.5)) == 1.5 and int(md.tensor(3)) == 3
    # a 0-d op result converts too (its array may be a NumPy scalar)
    s = (x * x).sum()
    assert s.item() == pytest.approx(55.0) and s.tolist() == pytest.approx(55.0)
    assert np.asarray(s) == pytest.approx(55.0)


def test_item_of_many_elements_raises():
    with pytest.raises(ValueError, match=r"item\(\).*shape \(2,\)"):
        md.tensor([1.0, 2.0]).item()


def test_detach_shares_data_and_cuts_graph():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert np.shares_memory(d.array, y.array)
    z = (d * x).sum()
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 6.0])  # d is a constant


def test_requires_grad_():
    x = md.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    y = md.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)


@pytest.mark.parametrize("dtype", [md.int32, md.int64, md.bool])
def test_integer_tensor_cannot_require_grad(dtype):
    x = md.zeros(3, dtype=dtype)
    with pytest.raises(TypeError, match=f"floating.*{np.dtype(dtype).name}"):
        x.requires_grad_()
    with pytest.raises(TypeError, match="floating"):
        md.tensor([1, 2], dtype=dtype, requires_grad=True)
    with pytest.raises(TypeError, match="floating"):
        md.ones(2, dtype=dtype, requires_grad=True)


def test_len_and_iteration():
    x = md.zeros(4, 2)
    assert len(x) == 4
    rows = list(x)
    assert len(rows) == 4 and rows[0].shape == (2,)
    with pytest.raises(TypeError, match="0-d"):
        len(md.tensor(1.0))


def test_repr():
    assert repr(md.tensor([1.0, 2.5])) == "tensor([1. , 2.5])"
    assert repr(md.tensor([1, 2])) == "tensor([1, 2])"
    assert "dtype=float64" in repr(md.tensor([1.0], dtype=md.float64))
    assert "dtype=int32" in repr(md.tensor([1], dtype=md.int32))
    assert "dtype=bool" in repr(md.tensor([True]))
    x = md.tensor([1.0], requires_grad=True)
    assert repr(x).endswith("requires_grad=True)")
    assert "grad_fn=<Mul>" in repr(x * 2)
    assert repr((x * x).sum()).startswith("tensor(1.")  # 0-d results print
    assert "..." in repr(md.zeros(1001)) and "..." not in repr(md.zeros(1000))  # summarised past 1000, as torch


# --------------------------------------------------------------------------- operators
BINARY = [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
    ("pow", lambda a, b: a ** b),
]


@pytest.mark.parametrize("name,op", BINARY)
def test_binary_operators_match_torch(name, op):
    torch = pytest.importorskip("torch")
    a = RNG.uniform(0.5, 2.0, (3, 4))
    b = RNG.uniform(0.5, 2.0, (4,))  # broadcast
    x, y = f64(a, True), f64(b, True)
    out = op(x, y)
    out.backward(f64(np.ones((3, 4)) * 0.5))
    tx = torch.tensor(a, requires_grad=True)
    ty = torch.tensor(b, requires_grad=True)
    tout = op(tx, ty)
    tout.backward(torch.full((3, 4), 0.5, dtype=torch.float64))
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name,op", BINARY)
def test_binary_operators_with_python_scalars(name, op):
    a = RNG.uniform(0.5, 2.0, (2, 3))
    x = f64(a, True)
    for left, right, expect in ((x, 1.5, op(a, 1.5)), (1.5, x, op(1.5, a))):
        out = op(left, right)
        assert out.dtype == md.float64
        np.testing.assert_allclose(out.numpy(), expect, rtol=1e-12)
    x32 = md.tensor(a.astype(np.float32))
    assert op(x32, 2.5).dtype == md.float32 and op(2.5, x32).dtype == md.float32
    assert op(x32, 2).dtype == md.float32 and op(2, x32).dtype == md.float32


def test_matmul_and_unary_operators():
    torch = pytest.importorskip("torch")
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    x, y = f64(a, True), f64(b, True)
    out = (-(x @ y)).sum() + abs(x).sum() + (+x).sum()
    out.backward()
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    tout = (-(tx @ ty)).sum() + abs(tx).sum() + (+tx).sum()
    tout.backward()
    assert out.item() == pytest.approx(tout.item(), rel=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-12)
    # reflected matmul with a NumPy array
    np.testing.assert_allclose((b.T @ x.T).numpy(), b.T @ a.T, rtol=1e-12)


CMPS = [
    (lambda a, b: a < b, np.less), (lambda a, b: a <= b, np.less_equal),
    (lambda a, b: a > b, np.greater), (lambda a, b: a >= b, np.greater_equal),
    (lambda a, b: a == b, np.equal), (lambda a, b: a != b, np.not_equal),
]


@pytest.mark.parametrize("op,ref", CMPS)
def test_comparisons_return_bool_without_grad(op, ref):
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    b = np.array([2.0, 2.0, 2.0])
    x, y = f64(a, True), f64(b, True)
    for out, expect in ((op(x, y), ref(a, b)), (op(x, 2.0), ref(a, 2.0)), (op(2.0, x), ref(2.0, a))):
        assert out.dtype == md.bool
        assert not out.requires_grad and out.grad_fn is None
        np.testing.assert_array_equal(out.numpy(), expect)


def test_bool_operators():
    x = md.tensor([1.0, -1.0, 3.0])
    m = (x > 0) & (x < 2)
    np.testing.assert_array_equal(m.numpy(), [True, False, False])
    np.testing.assert_array_equal(((x > 0) | (x < -2)).numpy(), [True, False, True])
    np.testing.assert_array_equal((~(x > 0)).numpy(), [False, True, False])


# --------------------------------------------------------------------------- indexing
def _index_cases():
    return [
        ("int", lambda t: 1),
        ("negative int", lambda t: -1),
        ("slice", lambda t: slice(1, 3)),
        ("step slice", lambda t: (slice(None), slice(None, None, 2))),
        ("None and ellipsis", lambda t: (None, Ellipsis, 1)),
        ("int and slice", lambda t: (2, slice(0, 3))),
        ("repeated int list", lambda t: [0, 2, 0, 0]),
        ("pair of arrays with repeats", lambda t: (t([0, 1, 0, 3]), t([1, 1, 1, 4]))),
        ("slice then array", lambda t: (slice(None), t([4, 0, 4]))),
        ("2-d index array", lambda t: t([[0, 1], [1, 0]])),
        ("bool mask full", lambda t: "mask"),
        ("bool mask rows", lambda t: t([True, False, True, True])),
        ("mask and slice", lambda t: (t([False, True, True, False]), slice(1, 4))),
    ]


@pytest.mark.parametrize("name,make", _index_cases(), ids=[c[0] for c in _index_cases()])
def test_getitem_forward_backward_match_torch(name, make):
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal((4, 5))
    x = f64(a, True)
    tx = torch.tensor(a, requires_grad=True)

    def as_md(v):
        arr = np.asarray(v)
        return md.tensor(arr)

    def as_t(v):
        return torch.tensor(np.asarray(v))

    idx_md, idx_t = make(as_md), make(as_t)
    if isinstance(idx_md, str):
        idx_md, idx_t = x > 0.1, tx > 0.1
    out, tout = x[idx_md], tx[idx_t]
    assert tuple(out.shape) == tuple(tout.shape)
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    w = RNG.standard_normal(tuple(tout.shape))
    (out * f64(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_getitem_repeated_indices_accumulate():
    x = md.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])
    y = md.tensor(np.zeros((2, 2)), requires_grad=True)
    y[md.tensor([1, 1, 0]), md.tensor([0, 0, 1])].sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [[0.0, 1.0], [2.0, 0.0]])


def test_getitem_gradcheck_and_gradgradcheck():
    x = f64(RNG.standard_normal((3, 4)), True)
    idx = md.tensor([2, 0, 2])

    def fn(t):
        return t[idx, 1:] * t[idx, 1:]

    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))
    assert gradcheck(lambda t: t[t.detach() > 0] ** 3, (x,))


def test_getitem_out_of_range_names_shape():
    with pytest.raises(IndexError, match=r"\(3, 4\)"):
        md.zeros(3, 4)[5]


# --------------------------------------------------------------------------- retain_grad / hooks
def test_retain_grad_on_non_leaf():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = x * 4
    y.retain_grad()
    assert y.retains_grad and not z.retains_grad
    ((y * y).sum() + z.sum()).backward()
    np.testing.assert_allclose(y.grad.numpy(), [6.0, 12.0])
    assert z.grad is None
    x.retain_grad()  # no-op on a leaf
    np.testing.assert_allclose(x.grad.numpy(), [18.0 + 4, 36.0 + 4])


def test_register_hook_on_leaf_replaces_gradient():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    h1 = x.register_hook(lambda g: seen.append(g.numpy().copy()))  # returns None: grad unchanged
    h2 = x.register_hook(lambda g: g * 10)
    (x * x).sum().backward()
    np.testing.assert_allclose(seen[0], [2.0, 4.0])
    np.testing.assert_allclose(x.grad.numpy(), [20.0, 40.0])
    h1.remove()
    h2.remove()
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    assert len(seen) == 1


def test_register_hook_on_non_leaf_changes_upstream_gradient():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g * 0 + 1)
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [1.0, 1.0])  # retained grad sees the hook's result
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])  # and so does everything upstream


def test_register_hook_requires_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        md.tensor([1.0]).register_hook(lambda g: g)


# --------------------------------------------------------------------------- dtype conversion
@pytest.mark.parametrize("conv", [
    lambda t: t.astype(md.float64), lambda t: t.to(md.float64), lambda t: t.to(dtype=md.float64),
    lambda t: t.to("float64"), lambda t: t.double(), lambda t: t.to("cpu", md.float64),
])
def test_to_dtype_is_differentiable(conv):
    x = md.tensor([1.0, 2.0], requires_grad=True)
    y = conv(x)
    assert y.dtype == md.float64 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == md.float32
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_to_same_dtype_and_integer_casts():
    x = md.tensor([1.7, -2.2], requires_grad=True)
    assert x.to(md.float32) is x
    i = x.astype(md.int64)
    assert i.dtype == md.int64 and not i.requires_grad
    np.testing.assert_array_equal(i.numpy(), [1, -2])
    assert x.bool().dtype == md.bool and x.half().dtype == md.float16 and x.long().dtype == md.int64
    b = x.astype(md.bfloat16)
    assert b.dtype == md.bfloat16 and b.requires_grad
    b.astype(md.float32).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0])


def test_repr_of_bfloat16_shows_floats():
    assert repr(md.ones(2, dtype=md.bfloat16) * 2) == "tensor([2., 2.], dtype=bfloat16)"

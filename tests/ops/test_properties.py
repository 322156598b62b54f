"""Property tests (hypothesis): broadcasting gradients, indexing gradients, shape roundtrips."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mathdl as md

SETTINGS = settings(max_examples=30, deadline=None, database=None)


def _sum_to(a, shape):
    """Reference: sum a NumPy array down to ``shape`` over its broadcast axes."""
    lead = a.ndim - len(shape)
    a = a.sum(axis=tuple(range(lead))) if lead else a
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and a.shape[i] != 1)
    return a.sum(axis=axes, keepdims=True) if axes else a


@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast: drawn from one shape with dims set to 1 or dropped."""
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3))
    a_shape, b_shape = shapes.input_shapes
    seed = draw(st.integers(0, 2**31 - 1))
    return a_shape, b_shape, seed


@SETTINGS
@given(broadcast_pair(), st.sampled_from(["add", "sub", "mul", "div"]))
def test_broadcast_gradients_sum_over_broadcast_axes(pair, name):
    a_shape, b_shape, seed = pair
    rng = np.random.default_rng(seed)
    a_np = rng.standard_normal(a_shape)
    b_np = rng.uniform(0.5, 2.0, b_shape)
    a = md.tensor(a_np, requires_grad=True)
    b = md.tensor(b_np, requires_grad=True)
    out = getattr(md, name)(a, b)
    out_shape = np.broadcast_shapes(a_shape, b_shape)
    assert out.shape == out_shape
    w = rng.standard_normal(out_shape)
    (out * md.tensor(w)).sum().backward()
    A, B = np.broadcast_to(a_np, out_shape), np.broadcast_to(b_np, out_shape)
    da, db = {"add": (w, w), "sub": (w, -w), "mul": (w * B, w * A), "div": (w / B, -w * A / B**2)}[name]
    assert a.grad.shape == a_shape and b.grad.shape == b_shape
    np.testing.assert_allclose(a.grad.numpy(), _sum_to(da, a_shape), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), _sum_to(db, b_shape), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(hnp.array_shapes(min_dims=0, max_dims=4, max_side=3), st.data())
def test_broadcast_to_and_sum_to_are_adjoint(shape, data):
    target = data.draw(hnp.broadcastable_shapes(shape, min_dims=len(shape), max_dims=len(shape) + 2, max_side=3)
                       .map(lambda s: np.broadcast_shapes(s, shape)))
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(shape), rng.standard_normal(target)
    lhs = float((md.broadcast_to(md.tensor(x), target).numpy() * y).sum())
    rhs = float((x * md.sum_to(md.tensor(y), shape).numpy()).sum())
    assert np.isclose(lhs, rhs, rtol=1e-10, atol=1e-10)


@SETTINGS
@given(st.integers(1, 5), st.integers(1, 4), st.lists(st.integers(-5, 4), min_size=1, max_size=8), st.data())
def test_repeated_advanced_indices_accumulate(n, m, raw, data):
    idx = np.array([i % n for i in raw])          # may repeat
    use_neg = data.draw(st.booleans())
    if use_neg:
        idx = idx - n                             # negative indices address the same rows
    rng = np.random.default_rng(len(raw))
    x = md.tensor(rng.standard_normal((n, m)), requires_grad=True)
    y = x[md.tensor(idx)]
    np.testing.assert_array_equal(y.numpy(), x.numpy()[idx])
    w = rng.standard_normal(y.shape)
    (y * md.tensor(w)).sum().backward()
    ref = np.zeros((n, m))
    np.add.at(ref, idx, w)
    np.testing.assert_allclose(x.grad.numpy(), ref, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 4), st.data())
def test_two_array_index_and_gather_accumulate(n, m, data):
    k = data.draw(st.integers(1, 6))
    rows = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k)))
    cols = np.array(data.draw(st.lists(st.integers(0, m - 1), min_size=k, max_size=k)))
    rng = np.random.default_rng(k)
    x = md.tensor(rng.standard_normal((n, m)), requires_grad=True)
    w = rng.standard_normal(k)
    (x[rows, cols] * md.tensor(w)).sum().backward()
    ref = np.zeros((n, m))
    np.add.at(ref, (rows, cols), w)
    np.testing.assert_allclose(x.grad.numpy(), ref, rtol=1e-12, atol=1e-12)
    # gather along dim 1 with repeated columns
    x.grad = None
    idx = np.array(data.draw(st.lists(st.integers(0, m - 1), min_size=n * 2, max_size=n * 2))).reshape(n, 2)
    g = rng.standard_normal((n, 2))
    (md.gather(x, 1, md.tensor(idx)) * md.tensor(g)).sum().backward()
    ref = np.zeros((n, m))
    for i in range(n):
        for j in range(2):
            ref[i, idx[i, j]] += g[i, j]
    np.testing.assert_allclose(x.grad.numpy(), ref, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), st.data())
def test_boolean_mask_gradient(shape, data):
    mask = data.draw(hnp.arrays(np.bool_, shape))
    rng = np.random.default_rng(1)
    x = md.tensor(rng.standard_normal(shape), requires_grad=True)
    y = x[md.tensor(mask)]
    w = rng.standard_normal(y.shape)
    (y * md.tensor(w)).sum().backward()
    ref = np.zeros(shape)
    ref[mask] = w
    np.testing.assert_allclose(x.grad.numpy(), ref)


@SETTINGS
@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), st.data())
def test_basic_slice_gradient(shape, data):
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    rng = np.random.default_rng(2)
    x_np = rng.standard_normal(shape)
    x = md.tensor(x_np, requires_grad=True)
    y = x[index]
    np.testing.assert_array_equal(y.numpy(), x_np[index])
    w = rng.standard_normal(y.shape)
    (y * md.tensor(w)).sum().backward()
    ref = np.zeros(shape)
    ref[index] += w  # basic indices never repeat an entry
    np.testing.assert_allclose(x.grad.numpy(), ref)


@SETTINGS
@given(hnp.array_shapes(min_dims=0, max_dims=4, max_side=3), st.data())
def test_reshape_and_permute_roundtrip(shape, data):
    rng = np.random.default_rng(3)
    x_np = rng.standard_normal(shape)
    x = md.tensor(x_np, requires_grad=True)
    n = x_np.size
    # a random factorisation of n as the new shape
    new_shape = []
    rest = n
    while rest > 1 and len(new_shape) < 3:
        divisors = [d for d in range(1, rest + 1) if rest % d == 0]
        d = data.draw(st.sampled_from(divisors))
        new_shape.append(d)
        rest //= d
    new_shape.append(rest)
    perm = data.draw(st.permutations(range(len(shape))))
    y = md.reshape(x, tuple(new_shape))
    z = md.reshape(y, shape)
    p = md.permute(x, tuple(perm))
    np.testing.assert_array_equal(p.numpy(), x_np.transpose(perm))
    back = md.permute(p, tuple(np.argsort(perm)))
    np.testing.assert_array_equal(z.numpy(), x_np)
    np.testing.assert_array_equal(back.numpy(), x_np)
    w = rng.standard_normal(shape)
    ((z + back) * md.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * w)


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2))
def test_einsum_matches_numpy_and_matmul_gradient(i, j, k, batch):
    rng = np.random.default_rng(i * 100 + j * 10 + k)
    bshape = (2,) * batch
    a_np, b_np = rng.standard_normal(bshape + (i, j)), rng.standard_normal((j, k))
    a = md.tensor(a_np, requires_grad=True)
    b = md.tensor(b_np, requires_grad=True)
    out = md.einsum("...ij,jk->...ik", a, b)
    np.testing.assert_allclose(out.numpy(), a_np @ b_np, rtol=1e-12, atol=1e-12)
    w = rng.standard_normal(out.shape)
    (out * md.tensor(w)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), w @ b_np.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), _sum_to(np.swapaxes(a_np, -1, -2) @ w, b_np.shape),
                               rtol=1e-10, atol=1e-12)


@SETTINGS
@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), st.data())
def test_sort_values_gradient_is_a_permutation(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(4)
    n = int(np.prod(shape))
    x_np = rng.permutation(np.arange(n, dtype=np.float64)).reshape(shape)   # no ties
    x = md.tensor(x_np, requires_grad=True)
    values, indices = md.sort(x, dim=dim, descending=data.draw(st.booleans()))
    np.testing.assert_array_equal(values.numpy(), np.take_along_axis(x_np, indices.numpy(), dim))
    assert indices.dtype == np.int64
    w = rng.standard_normal(shape)
    (values * md.tensor(w)).sum().backward()
    ref = np.zeros(shape)
    np.put_along_axis(ref, indices.numpy(), w, dim)
    np.testing.assert_allclose(x.grad.numpy(), ref)


@SETTINGS
@given(st.data())
def test_two_operand_contraction_by_matmul_matches_numpy_einsum(data):
    from mathdl.ops.linalg import _contract_by_matmul

    letters = "abcdef"
    sizes = {c: data.draw(st.integers(1, 3)) for c in letters}
    sa = "".join(data.draw(st.permutations(letters))[: data.draw(st.integers(0, 4))])
    sb = "".join(data.draw(st.permutations(letters))[: data.draw(st.integers(0, 4))])
    union = sorted(set(sa) | set(sb))
    out = "".join(data.draw(st.permutations(union))[: data.draw(st.integers(0, len(union)))])
    rng = np.random.default_rng(5)
    a = rng.standard_normal([sizes[c] for c in sa])
    b = rng.standard_normal([sizes[c] for c in sb])
    got = _contract_by_matmul(np, a, b, sa, sb, out)
    np.testing.assert_allclose(got, np.einsum(f"{sa},{sb}->{out}", a, b), rtol=1e-10, atol=1e-12)

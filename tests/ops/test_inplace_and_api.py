"""In-place ops (recorded out of place under a graph), setitem, and the public API details of
the ops: named results, Tensor methods, ``mathdl.linalg`` as a module, dtype preservation."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl as md
import mathdl.linalg as mla



def test_inplace_chain_matches_torch():
    torch = pytest.importorskip("torch")
    a_np, b_np = np.array([1.0, 2.0, 3.0]), np.array([0.5, -0.5, 2.0])
    a, b = md.tensor(a_np, requires_grad=True), md.tensor(b_np, requires_grad=True)
    ta, tb = torch.tensor(a_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)
    for x_, y_ in ((a, b), (ta, tb)):
        x = x_ * 1.0
        x += y_
        x *= y_
        x -= x_
        x /= y_
        x.clamp_(min=-1.0)
        x.add_(y_, alpha=2.0)
        (x * x).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-12)


def test_inplace_on_leaf_requiring_grad_raises():
    a = md.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="add_: a leaf tensor that requires grad"):
        a.add_(1.0)
    with pytest.raises(RuntimeError, match="setitem: a leaf tensor that requires grad"):
        a[0] = 3.0
    with md.no_grad():
        a.add_(1.0)          # allowed without grad mode (optimizer updates)
    np.testing.assert_array_equal(a.numpy(), [2.0, 3.0])


def test_inplace_change_of_saved_tensor_is_detected():
    w = md.tensor([1.0, 2.0], requires_grad=True)
    y = w * 2.0
    z = y * y
    with md.no_grad():
        y.mul_(3.0)
    with pytest.raises(RuntimeError, match=r"Mul: a tensor of shape \(2,\) that this op saved .* in-place"):
        z.sum().backward()


def test_copy_and_fill_under_graph():
    a = md.tensor([1.0, 2.0], requires_grad=True)
    b = md.tensor([3.0, 4.0], requires_grad=True)
    x = a * 1.0
    x.copy_(b * 3.0)
    x.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(b.grad.numpy(), [3.0, 3.0])
    x = a * 1.0
    x.fill_(2.0)
    np.testing.assert_array_equal(x.numpy(), [2.0, 2.0])


def test_setitem_gradients_and_last_write_wins():
    a = md.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = md.tensor([0.5, 0.7, 2.0], requires_grad=True)
    x = a * 1.0
    x[md.tensor([0, 0])] = b[:2]
    np.testing.assert_allclose(x.numpy(), [0.7, 2.0, 3.0])       # as NumPy and PyTorch
    (x * md.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 2.0, 3.0])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0, 0.0])


def test_setitem_without_grad_writes_in_place():
    x = md.zeros(2, 3)
    x[:, 1] = 5.0
    x[md.tensor([0, 1]), md.tensor([2, 0])] = md.tensor([1.0, 2.0])
    np.testing.assert_array_equal(x.numpy(), [[0, 5, 1], [2, 5, 0]])


def test_named_results_and_methods():
    x = md.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    v, i = x.sort(dim=1, descending=True)
    np.testing.assert_array_equal(v.numpy(), [[3, 2, 1], [5, 4, 0]])
    np.testing.assert_array_equal(i.numpy(), [[0, 2, 1], [1, 2, 0]])
    r = x.topk(2)
    assert r.values.shape == (2, 2) and r.indices.dtype == np.int64
    np.testing.assert_array_equal(r.indices.numpy(), [[0, 2], [1, 2]])
    r = x.topk(1, dim=0, largest=False)
    np.testing.assert_array_equal(r.values.numpy(), [[0.0, 1.0, 2.0]])
    np.testing.assert_array_equal(x.argsort(dim=0).numpy(), [[1, 0, 0], [0, 1, 1]])
    m = x.max(dim=1)
    np.testing.assert_array_equal(m.values.numpy(), [3.0, 5.0])
    np.testing.assert_array_equal(m.indices.numpy(), [0, 1])
    m = md.min(x, 0, keepdim=True)
    assert m.values.shape == (1, 3) and m.indices.shape == (1, 3)
    assert md.max(md.tensor(2.0), dim=0).indices.item() == 0


def test_topk_unsorted_selects_the_same_set():
    rng = np.random.default_rng(0)
    x = md.tensor(rng.permutation(20).astype(np.float64).reshape(4, 5))
    for largest in (True, False):
        a = md.topk(x, 3, largest=largest, sorted=False)
        b = md.topk(x, 3, largest=largest)
        np.testing.assert_array_equal(np.sort(a.values.numpy(), 1), np.sort(b.values.numpy(), 1))
    xi = md.tensor(rng.permutation(20).reshape(4, 5))
    np.testing.assert_array_equal(np.sort(md.topk(xi, 2, sorted=False).values.numpy(), 1),
                                  np.sort(xi.numpy(), 1)[:, -2:])
    np.testing.assert_array_equal(md.sort(xi, descending=True).values.numpy(), -np.sort(-xi.numpy(), 1))


def test_linalg_is_a_module_of_mathdl():
    assert md.linalg is mla
    for name in ("inv", "solve", "det", "slogdet", "cholesky", "norm", "eigh", "svdvals"):
        assert callable(getattr(md.linalg, name))


def test_linalg_keeps_float32():
    a = md.tensor(np.eye(3, dtype=np.float32) * 2 + 0.1, requires_grad=True)
    outs = [mla.inv(a), mla.det(a), mla.slogdet(a).logabsdet, mla.cholesky(a @ a.mT), mla.solve(a, md.ones(3)),
            mla.norm(a, "nuc"), mla.eigh(a + a.mT).eigenvalues]
    for o in outs:
        assert o.dtype == np.float32
    sum(o.sum() for o in outs).backward()
    assert a.grad.dtype == np.float32


def test_slogdet_sign_and_det_agree():
    rng = np.random.default_rng(1)
    a_np = rng.standard_normal((3, 4, 4))
    s, logabs = mla.slogdet(md.tensor(a_np))
    np.testing.assert_allclose(s.numpy() * np.exp(logabs.numpy()), np.linalg.det(a_np), rtol=1e-10)
    np.testing.assert_allclose(mla.det(md.tensor(a_np)).numpy(), np.linalg.det(a_np), rtol=1e-10)


def test_cholesky_reconstructs_and_upper():
    rng = np.random.default_rng(2)
    m = rng.standard_normal((4, 4))
    a = md.tensor(m @ m.T + 4 * np.eye(4))
    L = mla.cholesky(a)
    U = mla.cholesky(a, upper=True)
    np.testing.assert_allclose((L @ L.mT).numpy(), a.numpy(), rtol=1e-12)
    np.testing.assert_allclose((U.mT @ U).numpy(), a.numpy(), rtol=1e-12)
    assert np.allclose(np.triu(L.numpy(), 1), 0)


def test_einsum_accepts_a_list_and_matches_numpy():
    rng = np.random.default_rng(3)
    a, b, c = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal((4,))
    out = md.einsum("ij,jk,k->i", [md.tensor(a), md.tensor(b), md.tensor(c)])
    np.testing.assert_allclose(out.numpy(), np.einsum("ij,jk,k->i", a, b, c), rtol=1e-12)


def test_var_std_correction_and_axis_alias():
    rng = np.random.default_rng(4)
    x_np = rng.standard_normal((3, 5))
    x = md.tensor(x_np)
    for c in (0, 1, 2):
        np.testing.assert_allclose(md.var(x, 1, correction=c).numpy(), x_np.var(1, ddof=c), rtol=1e-12)
        np.testing.assert_allclose(x.std(axis=0, correction=c).numpy(), x_np.std(0, ddof=c), rtol=1e-12)
    np.testing.assert_allclose(md.var(x, unbiased=False).numpy(), x_np.var(), rtol=1e-12)


def test_cast_gradient_returns_to_the_input_dtype():
    x = md.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x.astype(md.float32)
    assert y.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    assert not x.long().requires_grad


def test_norm_nuc_and_fro_through_mathdl_norm():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((3, 4))
    assert np.isclose(md.norm(md.tensor(a), "nuc").item(), np.linalg.norm(a, "nuc"))
    assert np.isclose(md.norm(md.tensor(a), "fro").item(), np.linalg.norm(a, "fro"))
    assert np.isclose(mla.norm(md.tensor(a), 2).item(), np.linalg.norm(a, 2))


def test_eigenvalue_and_nuclear_norm_gradients_finite_at_repeated_values():
    a = md.tensor(np.eye(3) * 2.0, requires_grad=True)
    mla.eigvalsh(a).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.eye(3), atol=1e-12)   # d trace / dA
    a.grad = None
    mla.norm(a, "nuc").backward()
    np.testing.assert_allclose(a.grad.numpy(), np.eye(3), atol=1e-12)   # U V^T


@pytest.mark.parametrize("a", [
    np.array([[1.0, 2.0], [2.0, 4.0]]),
    np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]),   # det is 6.7e-16 in floating point
    np.diag([0.0, 2.0, 3.0]),
    np.zeros((3, 3)),
])
def test_det_gradient_at_singular_matrices_is_the_cofactor_matrix(a):
    x = md.tensor(a, requires_grad=True)
    mla.det(x).backward()
    num = np.zeros_like(a)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            e = np.zeros_like(a)
            e[i, j] = 1e-6
            num[i, j] = (np.linalg.det(a + e) - np.linalg.det(a - e)) / 2e-6
    np.testing.assert_allclose(x.grad.numpy(), num, atol=1e-6)

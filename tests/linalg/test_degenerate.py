"""Degenerate cases: repeated singular values in the SVD backward, rank-deficient least squares,
the Eckart-Young property of the truncated SVD, errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl as md
import mathdl.linalg as mla


def _orth(rng, n):
    return np.linalg.qr(rng.standard_normal((n, n)))[0]


def _with_singular_values(rng, m, n, s):
    U, V = _orth(rng, m)[:, :len(s)], _orth(rng, n)[:, :len(s)]
    return (U * np.asarray(s)) @ V.T


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_svd_repeated_singular_values_basis_independent_losses(shape):
    """At A with s = (3, 2, 2): sum(S), ||U S V^T||^2 and the projector onto the leading singular
    vector have finite gradients that match the closed forms U V^T, 2A and finite differences."""
    rng = np.random.default_rng(0)
    k = min(shape)
    s = [3.0] + [2.0] * (k - 1)
    a = _with_singular_values(rng, *shape, s)
    A = md.tensor(a, requires_grad=True)
    U, S, Vh = mla.svd(A, full_matrices=False)
    S.sum().backward()
    np.testing.assert_allclose(A.grad.numpy(), U.detach().numpy() @ Vh.detach().numpy(), atol=1e-10)

    A = md.tensor(a, requires_grad=True)
    U, S, Vh = mla.svd(A, full_matrices=False)
    (((U * S) @ Vh) ** 2).sum().backward()
    assert np.all(np.isfinite(A.grad.numpy()))
    np.testing.assert_allclose(A.grad.numpy(), 2 * a, atol=1e-9)

    # the leading singular vector is unique (s_1 = 3 is simple): its projector is differentiable
    def proj(x):
        u = mla.svd(x, full_matrices=False)[0][:, :1]
        return (u @ u.mT).sum() * 1.0
    assert md.gradcheck(proj, [md.tensor(a, requires_grad=True)], eps=1e-6, atol=1e-5, rtol=1e-3)


def test_svd_repeated_singular_values_torch_agrees_on_S_only():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    a = _with_singular_values(rng, 4, 4, [2.0, 2.0, 1.0, 0.5])
    A, At = md.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    (mla.svd(A)[1] ** 2).sum().backward()
    (torch.linalg.svd(At)[1] ** 2).sum().backward()
    np.testing.assert_allclose(A.grad.numpy(), At.grad.numpy(), atol=1e-10)


def test_eckart_young():
    """The rank-r truncation U_r S_r V_r^T has Frobenius error sqrt(sum of the tail s_i^2)."""
    rng = np.random.default_rng(2)
    a = rng.standard_normal((8, 6))
    U, S, Vh = mla.svd(md.tensor(a), full_matrices=False)
    s = S.numpy()
    for r in range(7):
        approx = (U[:, :r] * S[:r]) @ Vh[:r]
        err = float(np.linalg.norm(a - approx.numpy()))
        assert abs(err - np.sqrt((s[r:] ** 2).sum())) < 1e-10


def test_svd_reconstructs_and_is_orthonormal():
    rng = np.random.default_rng(3)
    for shape, full in [((5, 3), True), ((3, 5), True), ((2, 4, 3), False)]:
        a = rng.standard_normal(shape)
        U, S, Vh = mla.svd(md.tensor(a), full_matrices=full)
        k = S.shape[-1]
        np.testing.assert_allclose(((U[..., :k] * S.unsqueeze(-2)) @ Vh[..., :k, :]).numpy(), a, atol=1e-12)
        np.testing.assert_allclose((U.mT @ U).numpy(), np.broadcast_to(np.eye(U.shape[-1]), (U.mT @ U).shape),
                                   atol=1e-12)
        assert U.shape[-1] == (shape[-2] if full else k)


def test_qr_complete_tall_refuses_backward():
    A = md.tensor(np.random.default_rng(4).standard_normal((4, 2)), requires_grad=True)
    Q, R = mla.qr(A, mode="complete")
    with pytest.raises(RuntimeError, match="complete"):
        Q.sum().backward()


def test_qr_mode_r_and_bad_mode():
    a = np.random.default_rng(5).standard_normal((4, 3))
    Q, R = mla.qr(md.tensor(a), mode="r")
    assert Q.numel() == 0
    np.testing.assert_allclose(np.abs(R.numpy()), np.abs(np.linalg.qr(a)[1]), atol=1e-12)
    with pytest.raises(ValueError, match="mode"):
        mla.qr(md.tensor(a), mode="full")


def test_svd_bad_input():
    with pytest.raises(ValueError, match="shape"):
        mla.svd(md.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="dtype"):
        mla.svd(md.tensor([[1, 2], [3, 4]]))


def test_lstsq_rank_deficient_is_minimum_norm():
    """For rank-deficient A the solution is the minimum-norm least-squares one: pinv(A) b."""
    rng = np.random.default_rng(6)
    a = rng.standard_normal((6, 2)) @ rng.standard_normal((2, 4))
    b = rng.standard_normal((6, 1))
    res = mla.lstsq(md.tensor(a), md.tensor(b))
    x = res.solution.numpy()
    np.testing.assert_allclose(x, np.linalg.lstsq(a, b, rcond=None)[0], atol=1e-10)
    assert int(res.rank.item()) == 2
    # any other least-squares solution x + null-space vector is longer
    null = np.linalg.svd(a)[2][-1][:, None]
    assert np.linalg.norm(x) < np.linalg.norm(x + 0.1 * null)


def test_lstsq_residuals_overdetermined():
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    res = mla.lstsq(md.tensor(a), md.tensor(b), driver="gelsd")
    np.testing.assert_allclose(res.residuals.numpy(), ((a @ res.solution.numpy() - b) ** 2).sum(0), atol=1e-10)
    assert mla.lstsq(md.tensor(a), md.tensor(b)).residuals.numel() == 0   # gelsy, as torch on the CPU
    with pytest.raises(ValueError, match="rows"):
        mla.lstsq(md.tensor(a), md.tensor(b[:5]))
    with pytest.raises(ValueError, match="driver"):
        mla.lstsq(md.tensor(a), md.tensor(b), driver="magic")


def test_eig_refuses_complex_spectrum():
    rot = md.tensor([[0.0, -1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="complex eigenvalues"):
        mla.eig(rot)


def test_ex_variants_report_info_instead_of_raising():
    A = md.tensor(np.stack([np.eye(2), np.zeros((2, 2))]))
    X, info = mla.inv_ex(A)
    assert info.tolist() == [0, 1]
    with pytest.raises(ValueError, match="singular"):
        mla.inv_ex(A, check_errors=True)
    L, info = mla.cholesky_ex(md.tensor([[1.0, 0.0], [0.0, -1.0]]))
    assert int(info.item()) == 1


def test_matrix_exp_of_commuting_and_rotation():
    t = 0.7
    R = mla.matrix_exp(md.tensor([[0.0, -t], [t, 0.0]])).numpy()
    np.testing.assert_allclose(R, [[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]], atol=1e-14)
    big = mla.matrix_exp(md.tensor(np.diag([5.0, -3.0]))).numpy()
    np.testing.assert_allclose(big, np.diag(np.exp([5.0, -3.0])), rtol=1e-13)


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="size 3"):
        mla.cross(md.randn(2, 4), md.randn(2, 4))
    with pytest.raises(TypeError, match="int"):
        mla.matrix_power(md.randn(2, 2), 1.5)
    with pytest.raises(ValueError, match="square"):
        mla.matrix_exp(md.randn(2, 3))
    with pytest.raises(ValueError, match="multiplied"):
        mla.multi_dot([md.randn(2, 3), md.randn(2, 3)])
    with pytest.raises(ValueError, match="match"):
        mla.solve_triangular(md.randn(3, 3), md.randn(2, 2), upper=True)
    with pytest.raises(ValueError, match="square system"):
        mla.tensorsolve(md.randn(2, 3, 5), md.randn(2, 3))


def test_eigh_reads_the_chosen_triangle():
    a = np.array([[2.0, 1.0], [-5.0, 3.0]])
    lower = mla.eigvalsh(md.tensor(a)).numpy()
    upper = mla.eigvalsh(md.tensor(a), UPLO="U").numpy()
    np.testing.assert_allclose(lower, np.linalg.eigvalsh(np.tril(a) + np.tril(a, -1).T), atol=1e-12)
    np.testing.assert_allclose(upper, np.linalg.eigvalsh(np.triu(a) + np.triu(a, 1).T), atol=1e-12)
    with pytest.raises(ValueError, match="UPLO"):
        mla.eigh(md.tensor(a), UPLO="X")

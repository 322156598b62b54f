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

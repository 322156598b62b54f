"""Conjugate gradient for (M + damping I) x = b with a matrix-free symmetric positive-definite M.

    r_0 = b - A x_0,  p_0 = r_0;   alpha = r^T r / p^T A p,   x += alpha p,   r -= alpha A p,
    beta = r_new^T r_new / r^T r,  p = r + beta p                      (Hestenes & Stiefel 1952)

stopping when ||r|| <= tol ||b|| or after ``max_iter`` products.  Returns the solution and the list
of iterates' quadratic-model values q(x) = x^T A x / 2 - b^T x when ``track=True`` (Hessian-free
optimization uses them for its stopping rule and backtracking).
"""

from __future__ import annotations

from .. import backend

__all__ = ["conjugate_gradient"]


def conjugate_gradient(matvec, b, x0=None, damping=0.0, max_iter=100, tol=1e-10, track=False):
    """Solve (M + damping I) x = b; ``matvec(v)`` = M v.  Returns ``x`` (and, if ``track``, a list of
    (iteration, x copy, q(x)) for every iteration)."""
    xp = backend.xp_of(b)

    def A(v):
        out = matvec(v)
        return out + damping * v if damping else out

    x = xp.zeros_like(b) if x0 is None else x0.copy()
    r = b - A(x) if x0 is not None else b.copy()
    p = r.copy()
    rr = float(r @ r)
    bnorm = float(xp.sqrt(b @ b)) or 1.0
    history = []
    for k in range(int(max_iter)):
        if rr ** 0.5 <= tol * bnorm:
            break
        Ap = A(p)
        pAp = float(p @ Ap)
        if pAp <= 0:  # not positive definite along p: stop with the current iterate
            break
        alpha = rr / pAp
        x += alpha * p
        r -= alpha * Ap
        rr_new = float(r @ r)
        p *= rr_new / rr
        p += r
        rr = rr_new
        if track:
            q = 0.5 * float(x @ (b - r)) - float(b @ x)  # A x = b - r
            history.append((k + 1, x.copy(), q))
    return (x, history) if track else x

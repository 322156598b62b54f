import numpy as np
import pytest

from mathdl.analysis import spectrum as S
from mathdl.analysis.operators import as_operator, check_symmetric, model_hessian


def _sym(n=60, seed=0, neg=10):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.concatenate([rng.uniform(-2, -0.5, neg), rng.uniform(0.1, 3, n - neg - 2), [8.0, 12.0]])
    return (Q * lam) @ Q.T, np.sort(lam)


def test_lanczos_extremes_match_eigvalsh():
    A, lam = _sym()
    top, vecs = S.extreme_eigenpairs(A, 2, "LA")
    assert np.allclose(top, lam[-2:], rtol=1e-6)
    assert np.allclose(A @ vecs, vecs * top, atol=1e-6)
    assert np.allclose(S.extreme_eigenpairs(A, 1, "SA", return_eigenvectors=False), lam[:1], rtol=1e-6)
    be = S.extreme_eigenpairs(A, 2, "BE", return_eigenvectors=False)
    assert np.allclose(be, [lam[0], lam[-1]], rtol=1e-6)


def test_operator_forms_agree():
    A, lam = _sym(30)
    from scipy.sparse.linalg import aslinearoperator

    for op, n in ((A, None), (aslinearoperator(A), None), (lambda v: A @ v, 30)):
        assert np.isclose(S.extreme_eigenpairs(op, 1, n=n, return_eigenvectors=False)[0], lam[-1], rtol=1e-6)
    with pytest.raises(ValueError, match="size n"):
        as_operator(lambda v: A @ v)


def test_nonsymmetric_operator_is_refused():
    A = np.triu(np.random.default_rng(0).standard_normal((20, 20)))
    with pytest.raises(ValueError, match="not symmetric"):
        S.extreme_eigenpairs(A, 1)
    with pytest.raises(ValueError, match="which"):
        S.extreme_eigenpairs(A + A.T, 1, "LM")


def test_traces_with_standard_errors():
    A, lam = _sym(80)
    exact = lam.sum()
    h = S.hutchinson_trace(A, 200, seed=1)
    assert abs(h.estimate - exact) < 4 * h.stderr and h.stderr > 0
    hp = S.hutchpp_trace(A, 90, seed=1)
    assert abs(hp.estimate - exact) < 4 * hp.stderr + 1e-9
    assert hp.stderr < h.stderr  # the sketch removes the large eigenvalues' variance


def test_slq_moments_and_negative_curvature():
    A, lam = _sym(120, neg=30)
    res = S.slq(A, num_probes=20, lanczos_steps=30, seed=0)
    for w in res.weights:
        assert np.isclose(w.sum(), 1.0)
    # each probe's quadrature is exact for polynomials of degree <= 2m - 1: v^T A^p v
    rng = np.random.default_rng(0)
    v = rng.choice([-1.0, 1.0], size=120)
    v /= np.linalg.norm(v)
    for p in (1, 2, 3, 4):
        assert np.isclose(np.sum(res.weights[0] * res.nodes[0] ** p), v @ np.linalg.matrix_power(A, p) @ v)
    for p in (1, 2):
        per = res.per_probe(lambda t, p=p: t ** p)
        exact = np.mean(lam ** p)
        assert abs(per.mean() - exact) < 4 * per.std(ddof=1) / np.sqrt(len(per)) + 1e-9
    grid, phi = res.density(num=4000)
    assert np.isclose(np.trapezoid(phi, grid), 1.0, atol=1e-3)
    assert np.isclose(np.trapezoid(phi * grid, grid), res.moment(1), atol=1e-3)
    neg = S.negative_curvature(A, res)
    lo, hi = neg["count_interval"]
    assert lo <= 30 <= hi
    assert np.isclose(neg["ratio"], abs(lam[0] / lam[-1]), rtol=1e-6)
    exact_mass = np.abs(lam[lam < 0]).sum() / np.abs(lam).sum()
    assert neg["mass_interval"][0] <= exact_mass <= neg["mass_interval"][1]


def test_model_hessian_agrees_with_dense(tiny_mlp):
    model, data = tiny_mlp
    H = model_hessian(model, data=data)
    assert H.num_params <= 2000
    D = H.to_dense()
    assert np.allclose(D, D.T, atol=1e-10)
    check_symmetric(H)
    lam = np.linalg.eigvalsh(D)
    top = S.extreme_eigenpairs(H, 2, "LA", return_eigenvectors=False)
    assert np.allclose(top, lam[-2:], rtol=1e-6)
    bottom = S.extreme_eigenpairs(H, 1, "SA", return_eigenvectors=False, tol=0)
    assert np.allclose(bottom, lam[:1], rtol=1e-6, atol=1e-9 * lam[-1])
    res = S.slq(H, num_probes=2, lanczos_steps=12, seed=0, check=False)
    v = np.random.default_rng(0).choice([-1.0, 1.0], size=H.num_params)
    v /= np.linalg.norm(v)
    for p in (1, 2, 3):  # the quadrature of the first probe reproduces v^T H^p v of the dense Hessian
        exact = v @ np.linalg.matrix_power(D, p) @ v
        assert np.isclose(np.sum(res.weights[0] * res.nodes[0] ** p), exact, rtol=1e-6)


def test_plot_density(tmp_path):
    A, _ = _sym(40)
    out = S.plot_density(S.slq(A, 3, 20), tmp_path / "d.png")
    assert (tmp_path / "d.png").stat().st_size > 1000 and out


def test_time_top_eigenvalue(tiny_mlp):
    model, data = tiny_mlp
    out = S.time_top_eigenvalue(model, data, repeats=1)
    lam = np.linalg.eigvalsh(model_hessian(model, data=data).to_dense())
    assert np.isclose(out["top_eigenvalue"], lam[-1], rtol=1e-3) and out["hvp_over_grad"] > 0
    assert out["lanczos_products"] > 0 and out["hvp_cpu_s"] >= 0

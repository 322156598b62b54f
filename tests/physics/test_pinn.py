"""Physics-informed networks: derivatives, collocation, conditions, and 1-D Poisson to rel. L2 < 1e-3."""

import numpy as np
import pytest

import mathdl as md
from mathdl import nn
from mathdl.physics import PINN, DataCondition, Derivatives, DirichletBC, NeumannBC, sample_boundary, sample_box


def test_derivatives_of_any_order_match_calculus():
    pts = np.random.default_rng(0).uniform(-1, 1, (7, 2))
    x = md.tensor(pts, requires_grad=True)
    u = md.sin(x[:, 0]) * x[:, 1] ** 3
    D = Derivatives(u, x)
    a, b = pts[:, 0], pts[:, 1]
    np.testing.assert_allclose(D(0).numpy(), np.cos(a) * b ** 3, atol=1e-12)
    np.testing.assert_allclose(D(1, 1).numpy(), 6 * np.sin(a) * b, atol=1e-12)
    np.testing.assert_allclose(D(0, 1).numpy(), 3 * np.cos(a) * b ** 2, atol=1e-12)
    np.testing.assert_allclose(D(1, 1, 1, 0).numpy(), 6 * np.cos(a), atol=1e-12)
    np.testing.assert_allclose(D(1, 1, 1, 1).numpy(), 0 * a, atol=1e-12)
    assert D(0) is D(0)  # cached
    with pytest.raises(ValueError, match="out of range"):
        D(2)
    with pytest.raises(ValueError, match="requires_grad"):
        Derivatives(u, md.tensor(pts))


def test_collocation_designs():
    box = [(0, 1), (-1, 1)]
    for method in ("uniform", "lhs", "sobol", "grid"):
        p = sample_box(box, 64, method, seed=0)
        assert p.shape[1] == 2 and len(p) >= 64 and p[:, 0].min() >= 0 and p[:, 1].max() <= 1
    lhs = sample_box([(0, 1)], 50, "lhs", seed=1)[:, 0]
    np.testing.assert_array_equal(np.sort(np.floor(lhs * 50)), np.arange(50))  # one point per stratum
    np.testing.assert_array_equal(sample_box(box, 16, "sobol", seed=3), sample_box(box, 16, "sobol", seed=3))
    face = sample_boundary(box, 10, dim=1, side="hi")
    assert np.all(face[:, 1] == 1)
    with pytest.raises(ValueError, match="method"):
        sample_box(box, 4, "halton")
    with pytest.raises(ValueError, match="lo < hi"):
        sample_box([(1, 0)], 4)


def _net(seed=0):
    md.manual_seed(seed)
    return nn.Sequential(nn.Linear(1, 20), nn.Tanh(), nn.Linear(20, 20), nn.Tanh(), nn.Linear(20, 1)).double()


def _poisson_residual(X, D):
    return -D(0, 0) - np.pi ** 2 * md.sin(np.pi * X[:, 0])


def test_poisson_1d_reaches_relative_l2_below_1e_3():
    from mathdl.experiments.pinn import run

    res = run(quick=True)
    assert res["rel_l2_mean"] < 1e-3 and res["verdict"] == "holds", res


def test_neumann_and_data_conditions():
    # -u'' = pi^2 sin(pi x), u(0) = 0, u'(1) = -pi: the same solution sin(pi x)
    pinn = PINN(_net(1), _poisson_residual, sample_box([(0, 1)], 64, "sobol", seed=0),
                [DirichletBC([[0.0]], 0.0), NeumannBC([[1.0]], normals=[1.0], values=-np.pi)])
    pinn.fit(adam_steps=200, adam_lr=1e-2, lbfgs_steps=3, lbfgs_max_iter=50)
    xt = np.linspace(0, 1, 101)[:, None]
    ref = np.sin(np.pi * xt[:, 0])
    assert np.linalg.norm(pinn.predict(xt) - ref) / np.linalg.norm(ref) < 1e-2
    total, parts = pinn.losses()
    assert set(parts) == {"residual", "dirichlet_0", "neumann_1"}
    d = DataCondition(xt, ref)
    assert d.loss(pinn.model).item() < 1e-3


def test_no_boundary_condition_is_refused():
    with pytest.raises(ValueError, match="no boundary or initial condition"):
        PINN(_net(), _poisson_residual, np.linspace(0, 1, 8)[:, None], [])
    with pytest.raises(ValueError, match="no boundary or initial condition"):
        PINN(_net(), _poisson_residual, np.linspace(0, 1, 8)[:, None], [DataCondition([[0.5]], 1.0)])
    with pytest.raises(TypeError, match="conditions"):
        PINN(_net(), _poisson_residual, np.linspace(0, 1, 8)[:, None], [(0.0, 0.0)])


def test_lbfgs_scale_is_checked_and_the_logged_loss_is_unscaled():
    pts = sample_box([(0, 1)], 32, "sobol", seed=0)
    pinn = PINN(_net(2), _poisson_residual, pts, [DirichletBC([[0.0], [1.0]], 0.0)])
    with pytest.raises(ValueError, match="lbfgs_scale"):
        pinn.fit(adam_steps=0, lbfgs_steps=1, lbfgs_scale=-1.0)
    l0 = pinn.loss().item()
    pinn.fit(adam_steps=0, lbfgs_steps=1, lbfgs_max_iter=5, lbfgs_scale=1e6)
    phase, _, logged, _, iters = pinn.history[-1]
    assert phase == "lbfgs" and 0 < iters <= 5
    assert logged == pytest.approx(l0, rel=1e-12)  # the loss where the call started, unscaled
    assert pinn.loss().item() < l0

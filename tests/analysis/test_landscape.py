import numpy as np
import pytest

import mathdl
from mathdl import nn
from mathdl.analysis import landscape as L
from mathdl.analysis.operators import model_hessian
from mathdl.analysis.params import get_flat, loss_and_gradient, unflatten


def _relu_net(seed=0):
    mathdl.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3)).double()


def _data(n=30, d=5, seed=0):
    rng = np.random.default_rng(seed)
    return mathdl.tensor(rng.standard_normal((n, d))), mathdl.tensor(rng.integers(0, 3, n))


def test_centre_is_training_loss_and_parameters_restored():
    import mathdl.nn.functional as F

    model, (x, y) = _relu_net(), _data()
    before = get_flat(list(model.parameters()))
    res = L.slice_2d(model, [(x[:12], y[:12]), (x[12:], y[12:])], L.random_directions(model), L.grid(0.5, 3))
    with mathdl.no_grad():
        assert np.isclose(res.centre_loss, float(F.cross_entropy(model(x), y).item()), rtol=1e-12)
    assert np.array_equal(before, get_flat(list(model.parameters())))
    assert res.loss.shape == (3, 3) and np.isfinite(res.acc).all()


def test_filter_normalized_directions():
    model = _relu_net()
    ps = list(model.parameters())
    d1, d2 = L.random_directions(model)
    for a, b, p in zip(unflatten(d1, ps), unflatten(d2, ps), ps):
        if p.ndim == 1:
            assert not a.any() and not b.any()  # biases ignored
        else:
            w = np.linalg.norm(p.numpy(), axis=1)
            assert np.allclose(np.linalg.norm(a, axis=1), w) and np.allclose(np.linalg.norm(b, axis=1), w)
    assert abs(d1 @ d2) < 1e-9 * np.linalg.norm(d1) * np.linalg.norm(d2)


def test_filter_normalized_slice_is_scale_invariant():
    data = _data()
    xs = L.grid(1.0, 5)
    a = _relu_net()
    ref = L.slice_2d(a, data, L.random_directions(a, seed=3), xs)
    b = _relu_net()
    c = 7.0
    for p in (b[0].weight, b[0].bias):
        p.array[...] *= c
    b[2].weight.array[...] /= c
    scaled = L.slice_2d(b, data, L.random_directions(b, seed=3), xs)
    assert np.allclose(ref.loss, scaled.loss, rtol=1e-10)
    # without filter normalization the slice changes
    raw = L.slice_1d(b, data, L.random_direction(b, seed=3, normalization=None), xs)
    raw_ref = L.slice_1d(a, data, L.random_direction(a, seed=3, normalization=None), xs)
    assert not np.allclose(raw.loss, raw_ref.loss, rtol=1e-3)


def test_quadratic_slice_is_exact_parabola():
    import mathdl.nn.functional as F

    mathdl.manual_seed(1)
    model = nn.Linear(6, 1, bias=False).double()
    rng = np.random.default_rng(1)
    x, y = mathdl.tensor(rng.standard_normal((25, 6))), mathdl.tensor(rng.standard_normal((25, 1)))
    d = rng.standard_normal(6)
    xs = L.grid(2.0, 9)
    res = L.slice_1d(model, (x, y), d, xs, loss_fn=F.mse_loss)
    f0, g = loss_and_gradient(model, (x, y), F.mse_loss)
    curv = d @ model_hessian(model, F.mse_loss, (x, y)).matvec(d)
    assert np.allclose(res.loss, f0 + xs * (g @ d) + 0.5 * xs ** 2 * curv, rtol=1e-10)


def test_bad_grids():
    with pytest.raises(ValueError, match="odd"):
        L.grid(1.0, 10)
    with pytest.raises(ValueError, match="odd"):
        L.check_grid(np.linspace(-1, 1, 4))
    with pytest.raises(ValueError, match="centre"):
        L.check_grid([0.1, 0.2, 0.3])


def test_interpolation_includes_batchnorm_statistics():
    mathdl.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3)).double()
    data = _data()
    sa = {k: np.array(v.numpy(), copy=True) for k, v in model.state_dict().items()}
    model.train()
    with mathdl.no_grad():
        model(data[0] * 3 + 1)  # moves the running statistics
    sb = {k: np.array(v.numpy(), copy=True) for k, v in model.state_dict().items()}
    sb["0.weight"] = sb["0.weight"] * 1.5
    assert not np.allclose(sa["1.running_mean"], sb["1.running_mean"])
    res = L.interpolate(model, sa, sb, data, np.array([0.0, 0.5, 1.0]))
    for alpha, val in zip((0.0, 0.5, 1.0), res.loss):
        mix = {k: ((1 - alpha) * sa[k] + alpha * sb[k]).astype(sa[k].dtype) if sa[k].dtype.kind == "f" else sa[k]
               for k in sa}
        model.load_state_dict({k: mathdl.tensor(v) for k, v in mix.items()})
        model.eval()
        with mathdl.no_grad():
            import mathdl.nn.functional as F

            assert np.isclose(val, float(F.cross_entropy(model(data[0]), data[1]).item()), rtol=1e-12)


def test_pca_directions_and_plots(tmp_path):
    rng = np.random.default_rng(0)
    u, v = rng.standard_normal(50), rng.standard_normal(50)
    t = np.linspace(1, 0, 12)
    traj = [5 + a * u + (a ** 2) * v for a in t]
    dirs, coords, ratio = L.pca_directions(traj)
    assert np.isclose(ratio.sum(), 1.0) and coords.shape == (12, 2)
    assert np.allclose(coords[-1], 0)
    D = np.array(traj) - traj[-1]
    assert np.allclose(coords @ np.array(dirs), D)  # the path lies in the plane
    model, data = _relu_net(), _data()
    res1 = L.slice_1d(model, data, L.random_direction(model), L.grid(1, 5))
    res2 = L.slice_2d(model, data, L.random_directions(model), L.grid(1, 5))
    res2.path = np.array([[0.5, 0.5], [0, 0]])
    paths = L.plot_landscape(res1, str(tmp_path / "a")) + L.plot_landscape(res2, str(tmp_path / "b"))
    assert len(paths) == 4 and all((tmp_path / p.split("/")[-1]).stat().st_size > 1000 for p in paths)


def test_convexity_maps_of_bowl_and_saddle():
    xs = L.grid(1.0, 5)
    X, Y = np.meshgrid(xs, xs, indexing="ij")
    bowl = L.Landscape(xs, X ** 2 + 2 * Y ** 2, ys=xs)
    saddle = L.Landscape(xs, X ** 2 - 0.5 * Y ** 2 + 0.3 * X * Y, ys=xs)
    assert np.allclose(L.surface_convexity(bowl), 0.0)
    h = np.array([[2.0, 0.3], [0.3, -1.0]])
    lam = np.linalg.eigvalsh(h)
    assert np.allclose(L.surface_convexity(saddle), abs(lam[0] / lam[1]))
    # the full-Hessian map of a linear least-squares model is 0 (a convex quadratic) everywhere
    import mathdl.nn.functional as F

    mathdl.manual_seed(0)
    model = nn.Linear(4, 1).double()
    rng = np.random.default_rng(0)
    data = (mathdl.tensor(rng.standard_normal((20, 4))), mathdl.tensor(rng.standard_normal((20, 1))))
    dirs = L.random_directions(model, normalization=None)
    assert np.allclose(L.convexity_map(model, data, dirs, L.grid(1, 3), loss_fn=F.mse_loss, tol=1e-8), 0.0,
                       atol=1e-8)
    # a ReLU network: a finite, non-negative map
    net = _relu_net()
    ratio = L.convexity_map(net, _data(), L.random_directions(net), L.grid(1, 3), tol=1e-6)
    assert ratio.shape == (3, 3) and np.all(ratio >= 0)


def test_trajectory_slice_projects_the_path():
    import mathdl.nn.functional as F
    from mathdl.analysis.params import set_flat

    model, data = _relu_net(), _data()
    ps = list(model.parameters())
    traj = [get_flat(ps)]
    for _ in range(6):  # a few gradient steps
        _, g = loss_and_gradient(model, data, F.cross_entropy)
        set_flat(ps, traj[-1] - 0.5 * g)
        traj.append(get_flat(ps))
    res = L.trajectory_slice(model, data, traj, num=5)
    assert res.path.shape == (7, 2) and np.allclose(res.path[-1], 0)
    assert res.xs.max() >= np.abs(res.path).max() and res.kind == "pca"
    assert res.centre_loss == pytest.approx(loss_and_gradient(model, data, F.cross_entropy)[0])
    with pytest.raises(ValueError, match="end at the model"):
        L.trajectory_slice(model, data, traj[:-1])

import numpy as np
import pytest

pytest.importorskip("ripser")

import mathdl  # noqa: E402
from mathdl import nn  # noqa: E402
from mathdl.analysis import topology as T  # noqa: E402


def _circle(n=100, r=1.0, centre=(0.0, 0.0), seed=0):
    rng = np.random.default_rng(seed)
    th = rng.uniform(0, 2 * np.pi, n)
    return np.c_[r * np.cos(th), r * np.sin(th)] + centre + 0.03 * rng.standard_normal((n, 2))


def test_betti_numbers_circle_two_circles():
    c = _circle()
    assert T.persistent_homology(c).betti(0.5) == (1, 1)
    two = np.r_[c, _circle(80, 0.7, (4.0, 0.0), 1)]
    assert T.persistent_homology(two).betti(0.4) == (2, 2)
    assert T.persistent_homology(two, metric="geodesic", k=10).betti(0.4) == (2, 2)
    curve = T.persistent_homology(two).betti_curve([0.0, 0.4, 3.0, 10.0])
    assert curve[0, 0] == len(two) and curve[-1].tolist() == [1, 0]


def test_betti_numbers_torus():
    rng = np.random.default_rng(0)
    u, v = rng.uniform(0, 2 * np.pi, (2, 800))
    X = np.c_[(2 + np.cos(v)) * np.cos(u), (2 + np.cos(v)) * np.sin(u), np.sin(v)]
    p = T.persistent_homology(X, maxdim=2, n_points=200)
    assert p.betti(0.9)[0] == 1
    # two long loops (persistence > 1 vs < 0.7 for noise), one void (about 0.5-0.7 vs < 0.15 for noise)
    assert p.betti_persistent(0.9)[1] == 2 and p.betti_persistent(0.3)[2] == 1


def test_geodesic_metric_separates_components():
    X = np.r_[_circle(40), _circle(40, 1.0, (10.0, 0.0))]
    D = T.distances(X, "geodesic", k=4)
    assert np.isinf(D[0, 50]) and np.isfinite(D[0, 1])
    assert T.persistent_homology(X, metric="geodesic", k=4).betti(1.0)[0] == 2


def test_memory_guard_and_bad_inputs():
    X = np.random.default_rng(0).standard_normal((3000, 3))
    with pytest.raises(ValueError, match=r"3000 points needs about .* GiB.*n_points="):
        T.persistent_homology(X, max_memory=2 ** 20)
    with pytest.raises(ValueError, match="metric"):
        T.distances(X[:5], "cosine")


def test_farthest_point_sampling_covers():
    X = _circle(500)
    idx = T.farthest_point_sample(X, 30)
    assert len(set(idx.tolist())) == 30
    d = np.min(np.linalg.norm(X[:, None] - X[idx][None], axis=2), axis=1)
    assert d.max() < 0.35  # 30 landmarks on a unit circle: spacing about 0.21


def test_capture_activations_and_bad_layer_name():
    mathdl.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
    x = np.random.default_rng(0).standard_normal((7, 3)).astype(np.float32)
    acts = T.capture_activations(model, x, ["0", "1"], batch_size=3)
    assert acts["0"].shape == (7, 5) and np.all(acts["1"] >= 0)
    with mathdl.no_grad():
        assert np.allclose(acts["1"], np.maximum(model[0](mathdl.tensor(x)).numpy(), 0), atol=1e-6)
    with pytest.raises(ValueError, match=r"no layer named 'fc9'.*0, 1, 2"):
        T.capture_activations(model, x, ["fc9"])
    assert not model[0]._forward_hooks  # hooks removed


def test_plots_and_diagram_distance(tmp_path):
    a, b = T.persistent_homology(_circle()), T.persistent_homology(_circle(seed=3))
    assert T.diagram_distance(a, b) < 0.2 < T.diagram_distance(a, T.persistent_homology(_circle(r=3.0)))
    T.plot_diagrams(a, tmp_path / "d.png")
    T.plot_barcode(a, tmp_path / "b.png")
    assert (tmp_path / "d.png").stat().st_size > 1000 and (tmp_path / "b.png").stat().st_size > 1000

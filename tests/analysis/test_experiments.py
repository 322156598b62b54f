"""Each experiment's quick mode runs and returns the claim, the numbers, a verdict by its rule and figures."""

import importlib

import pytest

VERDICTS = {"holds", "holds partly", "does not hold", "not testable here"}


@pytest.mark.parametrize("name", ["edge_of_stability", "landscape_skip", "topology_depth", "information_plane",
                                  "curvature_generalization"])
def test_quick_mode(name, tmp_path):
    if name == "topology_depth":
        pytest.importorskip("ripser")
    mod = importlib.import_module(f"mathdl.experiments.{name}")
    lines = []
    res = mod.run(quick=True, out=str(tmp_path), log=lines.append)
    assert res["claim"] == mod.CLAIM and res["rule"] == mod.RULE and res["verdict"] in VERDICTS
    assert res["figures"] and all((tmp_path / f.split("/")[-1]).stat().st_size > 1000 for f in res["figures"])
    assert (tmp_path / f"{name}.json").exists()
    assert any("verdict" in line for line in lines)


def test_edge_of_stability_verdict_rule():
    from mathdl.experiments.edge_of_stability import _verdict

    assert _verdict([1.0, 1.1]) == "holds" and _verdict([1.0, 1.1, 0.5]) == "holds partly"
    assert _verdict([0.3, 0.4]) == "does not hold"


def test_twelve_bit_task_and_datasets():
    import numpy as np

    from mathdl.experiments.information_plane import twelve_bit_task
    from mathdl.experiments.topology_depth import make_dataset

    X, y, _ = twelve_bit_task()
    assert X.shape == (4096, 12) and len(np.unique(X, axis=0)) == 4096 and abs(y.mean() - 0.5) < 0.05
    # spherically symmetric: the label is invariant under the icosahedron's symmetries, e.g. x -> (1 - x)
    # maps sum x_i v_i to (sum_i v_i) - sum x_i v_i = -sum x_i v_i (the vertices sum to 0)
    assert np.array_equal(y, y[4095 - np.arange(4096)])
    for name, d in (("D-I", 2), ("D-II", 3), ("D-III", 3)):
        X, y = make_dataset(name, 50)
        assert X.shape == (100, d) and y.sum() == 50
    with pytest.raises(ValueError, match="unknown dataset"):
        make_dataset("D-IV")


def test_information_plane_compression_rule():
    from mathdl.experiments.information_plane import compression

    # an early drop (units dying) is not compression; the loss of I(X;T) after fitting is
    assert compression([(8, 0.1), (3, 0.2), (6, 0.97), (5, 0.99), (2, 1.0)]) == 4
    assert compression([(8, 0.1), (3, 0.5), (4, 1.0)]) == 0

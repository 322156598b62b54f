"""The shared output of experiments: JSON records and headless figures (mathdl/experiments/output.py)."""

import json
import os

from mathdl.experiments.output import pyplot, save_figure, write_json


def test_write_json_writes_and_skips_without_folder(tmp_path):
    assert write_json(None, "x.json", {"a": 1}) is None
    assert write_json("", "x.json", {"a": 1}) is None
    path = write_json(str(tmp_path), "x.json", {"a": 1.5, "b": [1, 2]})
    assert path == os.path.join(str(tmp_path), "x.json")
    assert json.load(open(path)) == {"a": 1.5, "b": [1, 2]}
    write_json(str(tmp_path), "y.json", {"s": {3}}, default=sorted)  # a set is not JSON: converted
    assert json.load(open(tmp_path / "y.json")) == {"s": [3]}


def test_save_figure_is_headless_closes_and_returns_the_name(tmp_path):
    plt = pyplot()
    assert plt.get_backend().lower() == "agg"
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    n_open = len(plt.get_fignums())
    name = save_figure(fig, str(tmp_path / "f.png"), dpi=50)
    assert name == "f.png" and (tmp_path / "f.png").stat().st_size > 0
    assert len(plt.get_fignums()) == n_open - 1

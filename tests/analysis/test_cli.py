import argparse
import json
import os

import numpy as np
import pytest

from mathdl.analysis import cli


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from mathdl.cli import DEFAULTS, train

    out = tmp_path_factory.mktemp("run")
    cfg = {**DEFAULTS, "model": "mlp", "dataset": "digits", "epochs": 1, "lr": 3e-3, "scheduler": "none",
           "model_options": {"hidden": (16,)}, "data_options": {}, "threads": 1}
    train(cfg, str(out), progress=False, plot=False, log=lambda *a: None)
    return os.path.join(out, "checkpoint.safetensors")


def _run(argv):
    parser = argparse.ArgumentParser(prog="mathdl")
    cli.add_parser(parser.add_subparsers(dest="command"))
    return cli.run(parser.parse_args(["analyze", *argv]))


def test_spectrum(checkpoint, tmp_path, capsys):
    assert _run(["spectrum", "--checkpoint", checkpoint, "--out", str(tmp_path), "--samples", "64", "--top-k", "2",
                 "--probes", "2", "--lanczos-steps", "10", "--trace-matvecs", "12", "--no-progress"]) == 0
    res = json.load(open(tmp_path / "spectrum.json"))
    assert len(res["top_eigenvalues"]) == 2 and res["top_eigenvalues"][0] >= res["top_eigenvalues"][1]
    assert (tmp_path / "spectrum_density.png").exists() and "top eigenvalues" in capsys.readouterr().out


def test_landscape_and_bad_grid(checkpoint, tmp_path):
    assert _run(["landscape", "--checkpoint", checkpoint, "--out", str(tmp_path), "--samples", "64", "--points", "3",
                 "--no-progress"]) == 0
    res = json.load(open(tmp_path / "landscape_random.json"))
    assert np.asarray(res["loss"]).shape == (3, 3) and res["loss"][1][1] == res["centre_loss"]
    assert (tmp_path / "landscape_random_surface.png").exists()
    with pytest.raises(ValueError, match="odd"):
        _run(["landscape", "--checkpoint", checkpoint, "--out", str(tmp_path), "--points", "4"])
    assert _run(["landscape", "--checkpoint", checkpoint, "--out", str(tmp_path), "--samples", "32", "--points", "3",
                 "--kind", "interpolate", "--from", checkpoint, "--no-progress"]) == 0
    loss = json.load(open(tmp_path / "landscape_interpolate.json"))["loss"]
    assert np.allclose(loss, loss[0])  # from a checkpoint to itself: flat
    with pytest.raises(ValueError, match="needs --from"):
        _run(["landscape", "--checkpoint", checkpoint, "--out", str(tmp_path), "--kind", "interpolate"])


def test_topology_information_and_bad_layer(checkpoint, tmp_path, capsys):
    assert _run(["topology", "--checkpoint", checkpoint, "--out", str(tmp_path), "--samples", "120", "--points", "60",
                 "--no-progress"]) == 0
    res = json.load(open(tmp_path / "topology.json"))
    assert res["layers"] == ["input", "net.2", "net.3"]
    assert res["table"][0][3][0] < 60  # connected at the default scale, not 60 separate landmarks
    assert _run(["information", "--checkpoint", checkpoint, "--out", str(tmp_path), "--samples", "200",
                 "--bins", "4,8"]) == 0
    assert "H(X)" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"no layer named 'fc1'; the layers are: net, net.0"):
        _run(["topology", "--checkpoint", checkpoint, "--layers", "fc1"])
    with pytest.raises(ValueError, match=r"a cloud of 100 points needs about .* GiB"):
        _run(["topology", "--checkpoint", checkpoint, "--out", str(tmp_path), "--samples", "100", "--points", "100",
              "--max-memory", "1e-6"])


def test_checkpoint_of_another_model(checkpoint, tmp_path):
    from mathdl.serialization import load, save

    state = load(checkpoint)
    state["config"]["model_options"] = {"hidden": (32,)}
    bad = str(tmp_path / "bad.safetensors")
    save(state, bad)
    with pytest.raises(ValueError, match="do not fit the model"):
        _run(["spectrum", "--checkpoint", bad])
    with pytest.raises(ValueError, match="does not exist"):
        _run(["spectrum", "--checkpoint", str(tmp_path / "none.safetensors")])

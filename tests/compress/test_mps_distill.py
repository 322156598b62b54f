"""The MPS classifier (exact contraction on a tiny case, training on digits, the registered model)
and knowledge distillation (API and the ``mathdl distill`` command)."""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import pytest

import mathdl as md
from mathdl import nn
from mathdl.compress import MPSClassifier, accuracy, distill, fit


def _exact_mps_logits(model, x):
    """Sum over all 2^N index strings of prod_j phi_{s_j}(x_j) * (b^T A_1[s_1] ... A_N[s_N] W): the
    MPS as the full 2^N-dimensional linear model, before normalization."""
    A = model.sites.detach().numpy()
    W = model.label.detach().numpy()
    N, D = A.shape[0], A.shape[1]
    phi = np.stack([np.cos(np.pi * x / 2), np.sin(np.pi * x / 2)], -1)   # (B, N, 2)
    out = np.zeros((x.shape[0], W.shape[1]))
    for s in itertools.product((0, 1), repeat=N):
        M = np.eye(D)[0]
        for j, sj in enumerate(s):
            M = M @ A[j, :, sj, :]
        weight = np.prod([phi[:, j, sj] for j, sj in enumerate(s)], axis=0)
        out += weight[:, None] * (M @ W)[None]
    return out


def test_mps_contraction_equals_the_full_tensor_product_up_to_normalization():
    md.manual_seed(0)
    model = MPSClassifier(5, 3, bond_dim=3, init_std=0.5, dtype=md.float64)
    x = np.random.default_rng(0).random((4, 5))
    got = model(md.tensor(x)).numpy()
    want = _exact_mps_logits(model, x)
    # the model normalizes the running vector: logits are proportional per example
    ratio = got / want
    np.testing.assert_allclose(ratio, ratio[:, :1].repeat(3, 1), rtol=1e-10)
    assert np.all(ratio > 0)
    assert model.num_parameters() == 5 * 2 * 9 + 3 * 3 + 1


def test_mps_learns_digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = (d.data / 16).astype(np.float32), d.target
    md.manual_seed(0)
    model = MPSClassifier(64, 10, bond_dim=8)
    fit(model, x[:1000], y[:1000], epochs=4, lr=5e-3, batch_size=100)
    assert accuracy(model, x[1200:], y[1200:]) > 0.75     # chance: 0.1


def test_mps_registered_model_and_errors():
    from mathdl.data.registry import load_dataset
    from mathdl.models.registry import build_model

    spec = load_dataset("digits")
    model = build_model("mps", spec, bond_dim=4)
    assert isinstance(model, MPSClassifier) and model.squash and model.n_sites == 64
    assert model(md.randn(2, 64)).shape == (2, 10)
    with pytest.raises(ValueError, match="input values"):
        model(md.randn(2, 10))
    with pytest.raises(ValueError, match="bond_dim"):
        MPSClassifier(4, 2, bond_dim=0)


def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = ((d.data - d.data.mean(0)) / (d.data.std(0) + 1e-8)).astype(np.float32)
    return x, d.target


def test_distill_moves_the_student_towards_the_teacher():
    """With alpha = 1 the student fits the teacher's soft labels: its agreement with the teacher
    exceeds that of an untrained student, and the KD loss falls."""
    x, y = _digits()
    md.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    fit(teacher, x[:1000], y[:1000], epochs=3)
    student = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))
    t_pred = teacher(md.tensor(x[1000:])).numpy().argmax(1)
    before = float((student(md.tensor(x[1000:])).numpy().argmax(1) == t_pred).mean())
    hist = distill(teacher, student, x[:1000], y[:1000], epochs=5, lr=1e-2, alpha=1.0, temperature=2.0)
    after = float((student(md.tensor(x[1000:])).numpy().argmax(1) == t_pred).mean())
    assert hist[-1] < 0.5 * hist[0] and after > max(before, 0.8)
    with pytest.raises(ValueError, match="temperature"):
        distill(teacher, student, x, y, temperature=0)


def test_distill_command(tmp_path, capsys):
    from mathdl.cli import main
    from mathdl.compress import cli as dcli

    run_dir = tmp_path / "teacher"
    assert main(["train", "--model", "mlp", "--dataset", "digits", "--epochs", "1", "--out", str(run_dir)]) == 0
    parser = argparse.ArgumentParser()
    dcli.add_parser(parser.add_subparsers(dest="command"))
    ckpt = str(run_dir / "checkpoint.safetensors")
    args = parser.parse_args(["distill", "--teacher", ckpt, "--student", "mlp", "--model-opt", "hidden=16,",
                              "--epochs", "1", "--compare", "--out", str(tmp_path / "student")])
    assert dcli.run(args) == 0
    out = capsys.readouterr().out
    assert "distilled" in out and "from scratch" in out
    assert (tmp_path / "student" / "checkpoint.safetensors").exists()
    bad = parser.parse_args(["distill", "--teacher", str(tmp_path / "none.safetensors"), "--student", "mlp"])
    assert dcli.run(bad) == 2
    assert "error" in capsys.readouterr().out
    bad = parser.parse_args(["distill", "--teacher", ckpt, "--student", "mlp", "--temperature", "-1"])
    assert dcli.run(bad) == 2

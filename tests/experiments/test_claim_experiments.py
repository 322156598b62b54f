"""The claim experiments written for ``mathdl reproduce`` in tiny configurations, and their verdict rules."""

from __future__ import annotations

import math

import numpy as np

from mathdl.experiments import verdict as V


def _check_record(rec, tmp_path=None):
    assert set(rec) >= {"setup", "measurement", "numbers", "verdict", "figures"}
    assert rec["verdict"]["verdict"] in V.VERDICTS and rec["verdict"]["rule"] and rec["verdict"]["why"]
    assert rec["setup"] and rec["measurement"]
    for f in rec["figures"]:
        assert "/" not in f and f.endswith(".png") and (tmp_path / f).exists()


def test_activations_tiny(tmp_path):
    from mathdl.experiments import activations

    rec = activations.run(seeds=(0, 1), out=str(tmp_path), log=lambda *a: None, datasets=("digits",), steps=15,
                          hidden=8, n_train=200)
    _check_record(rec, tmp_path)
    acc = rec["numbers"]["accuracy"]["digits"]
    assert set(acc) == {"relu", "swish", "gelu", "prelu", "mish"} and all(a["n"] == 2 for a in acc.values())
    assert set(rec["numbers"]["comparisons"]) == {f"digits/{a}" for a in ("swish", "gelu", "prelu", "mish")}
    again = activations.run(seeds=(0,), log=lambda *a: None, datasets=("digits",), steps=15, hidden=8, n_train=200)
    assert again["numbers"]["accuracy"]["digits"]["relu"]["values"][0] == acc["relu"]["values"][0], "deterministic"


def test_calibration_tiny(tmp_path):
    from mathdl.experiments import calibration

    rec = calibration.run(seeds=(0, 1), out=str(tmp_path), log=lambda *a: None, datasets=("digits",), steps=15,
                          hidden=8, n_train=200)
    _check_record(rec, tmp_path)
    m = rec["numbers"]["metrics"]["digits"]
    assert 0 <= m["ce"]["ece"]["mean"] <= 1 and m["mse"]["nll"]["mean"] > 0
    assert set(rec["numbers"]["comparisons"]) == {"digits/ece", "digits/nll"}


def test_long_tail_counts_and_focal_tiny(tmp_path):
    from mathdl.experiments import focal_loss

    y = np.repeat(np.arange(10), 100)
    x = np.arange(1000, dtype=np.float32)[:, None]
    _, yl, order = focal_loss.long_tailed(x, y, 100, seed=0, num_classes=10)
    counts = np.bincount(yl, minlength=10)[order]
    assert counts[0] == 100 and counts[-1] == 2 and np.all(np.diff(counts) <= 0)  # ceil(100 / 100) -> at least 2
    rec = focal_loss.run(seeds=(0, 1), out=str(tmp_path), log=lambda *a: None, datasets=("digits",), steps=15,
                         hidden=8)
    _check_record(rec, tmp_path)
    assert set(rec["numbers"]["comparisons"]) == {"digits/overall", "digits/minority"}


def test_optimizer_parts_tiny(tmp_path):
    from mathdl.experiments import optimizers

    quiet = dict(log=lambda *a: None)
    rec = optimizers.adam_vs_sgd(seeds=(0, 1), out=str(tmp_path), max_steps=20, models=("mlp",), target=5.0, **quiet)
    _check_record(rec, tmp_path)
    assert rec["numbers"]["models"]["mlp"]["adam_steps"]["values"] == [10, 10]  # loss 5 is reached at the first check
    rec = optimizers.lbfgs_time(seeds=(0,), out=str(tmp_path), tasks=("logreg",), pinn=False,
                                budget={"first_order": 20, "lbfgs": 2}, **quiet)
    _check_record(rec, tmp_path)
    assert rec["numbers"]["logreg"]["ratio"]["mean"] > 0
    rec = optimizers.lookahead(seeds=(0, 1), out=str(tmp_path), steps=10, lrs={"sgd": (0.03, 0.1)}, **quiet)
    _check_record(rec, tmp_path)
    assert len(rec["numbers"]["optimizers"]["sgd"]["per_lr_lookahead"]) == 2


def test_autodiff_gradients_agree_and_rule():
    from mathdl.experiments import autodiff_speed

    P, t_ad, t_fd, err = autodiff_speed.gradients(2, 0, reps=1)
    assert P == 16 * 2 + 2 + 2 * 2 + 2 + 2 + 1 and err < 1e-6 and t_ad > 0 and t_fd > 0
    rec = autodiff_speed.run(seeds=(0,), widths=(2,), log=lambda *a: None)
    assert rec["verdict"]["verdict"] == V.NOT_TESTABLE  # no network with P >= 1,000 measured


def test_throughput_tiny_and_gpu_rule(tmp_path):
    from mathdl.experiments import throughput

    rec = throughput.run(quick=True, seeds=(0,), out=str(tmp_path), size=32, rounds=1, batch=2, log=lambda *a: None)
    _check_record(rec, tmp_path)
    assert rec["verdict"]["verdict"] == V.NOT_TESTABLE and "ResNet-20" in rec["verdict"]["why"]
    assert rec["numbers"]["parameters"] > 25_000_000
    cpu = {"inference": 5.0, "training": 2.0}
    gpu = {"resnet50_inference_images_per_s": 600.0, "resnet50_training_images_per_s": 250.0, "device": "X"}
    v, s = throughput.gpu_verdict(cpu, gpu, 224)
    assert v.verdict == V.HOLDS and s == {"inference": 120.0, "training": 125.0}
    assert throughput.gpu_verdict(cpu, {"resnet50_training_images_per_s": 10.0}, 224)[0].verdict == V.PARTLY
    assert throughput.gpu_verdict(cpu, {"resnet50_training_images_per_s": 3.0}, 224)[0].verdict == V.DOES_NOT_HOLD
    assert throughput.gpu_verdict(cpu, gpu, 64)[0].verdict == V.NOT_TESTABLE  # not ResNet-50 at 224


def test_mixed_precision_tiny(tmp_path):
    from mathdl.experiments import mixed_precision

    rec = mixed_precision.run(seeds=(0,), out=str(tmp_path), steps=4, hidden=16, log=lambda *a: None)
    _check_record(rec, tmp_path)
    assert rec["verdict"]["verdict"] in (V.NOT_TESTABLE, V.DOES_NOT_HOLD)
    assert rec["numbers"]["float16_master"]["ms_per_step"]["mean"] > 0 and rec["numbers"]["amp"]["accuracy"]["n"] == 1
    assert isinstance(rec["numbers"]["autocast_effective"], bool)


def test_depth_1000_tiny(tmp_path):
    from mathdl.experiments import depth_1000

    rec = depth_1000.run(quick=True, seeds=(0,), out=str(tmp_path), steps=3, depth=11, log=lambda *a: None)
    _check_record(rec, tmp_path)
    runs = rec["numbers"]["runs"]
    assert [r["residual"] for r in runs] == [True, False] and len(runs[0]["losses"]) == 3
    assert math.isclose(runs[0]["initial_loss"], math.log(10), rel_tol=0.05)  # zero-init residual: identity blocks

"""Uncertainty metrics against hand computations and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl as md
from mathdl import metrics

P = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
Y = np.array([0, 1, 1, 1])


def test_accuracy_nll_brier_by_hand():
    assert metrics.accuracy(P, Y) == 0.75
    assert metrics.nll(P, Y) == pytest.approx(-(np.log(0.9) + np.log(0.4) + np.log(0.7) + np.log(0.8)) / 4)
    brier = ((0.1 ** 2 * 2) + (0.6 ** 2 * 2) + (0.3 ** 2 * 2) + (0.2 ** 2 * 2)) / 4
    assert metrics.brier_score(P, Y) == pytest.approx(brier)
    assert metrics.accuracy(md.tensor(P), md.tensor(Y)) == 0.75  # tensors are accepted


def test_ece_mce_by_hand():
    # confidences 0.9, 0.6, 0.7, 0.8 in 10 bins: each alone; correct: yes, no, yes, yes
    ece = (abs(1 - 0.9) + abs(0 - 0.6) + abs(1 - 0.7) + abs(1 - 0.8)) / 4
    assert metrics.expected_calibration_error(P, Y, n_bins=10) == pytest.approx(ece)
    assert metrics.maximum_calibration_error(P, Y, n_bins=10) == pytest.approx(0.6)
    # one bin: |mean accuracy - mean confidence|
    assert metrics.expected_calibration_error(P, Y, n_bins=1) == pytest.approx(abs(0.75 - 0.75))


def test_perfectly_calibrated_sample_has_small_ece():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.5, 1.0, 200_000)
    correct = rng.uniform(size=conf.size) < conf
    p = np.stack([conf, 1 - conf], 1)
    y = np.where(correct, 0, 1)
    assert metrics.expected_calibration_error(p, y) < 0.01


def test_auroc_matches_sklearn_and_bad_inputs(tmp_path):
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(1)
    logits = rng.standard_normal((300, 4)) * 2
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = rng.integers(0, 4, 300)
    ent = metrics.predictive_entropy(p)
    au, ap = metrics.misclassification_auroc(p, y)
    wrong = p.argmax(1) != y
    assert au == pytest.approx(roc_auc_score(wrong, ent)) and ap == pytest.approx(average_precision_score(wrong, ent))
    a, _ = metrics.ood_auroc(np.array([0.1, 0.2, 0.3]), np.array([0.25, 0.4, 0.5]))
    assert a == pytest.approx(8 / 9)
    path = metrics.reliability_diagram(p, y, tmp_path / "rel.png")
    assert (tmp_path / "rel.png").stat().st_size > 1000 and path == tmp_path / "rel.png"
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        metrics.nll(logits, y)
    with pytest.raises(ValueError, match="sum to 1"):
        metrics.nll(p * 0.5, y)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\]"):
        metrics.accuracy(p, y + 1)
    with pytest.raises(ValueError, match="shape"):
        metrics.brier_score(p[:, None], y)
    with pytest.raises(ValueError, match="both positives and negatives"):
        metrics.auroc_aupr([0.1, 0.2], [True, True])

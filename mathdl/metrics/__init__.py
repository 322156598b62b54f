"""Metrics of predictions and of their uncertainty.

* :mod:`~mathdl.metrics.classification`: accuracy, negative log-likelihood, Brier score;
* :mod:`~mathdl.metrics.calibration`: expected and maximum calibration error, reliability diagram;
* :mod:`~mathdl.metrics.uncertainty`: how well an uncertainty score ranks errors and
  out-of-distribution inputs (AUROC, AUPR through scikit-learn's ranking metrics).

Inputs are probabilities (N, C) (rows summing to one) and integer labels (N,), as NumPy arrays or
mathdl tensors; the functions check both and return Python floats.
"""

from .calibration import calibration_bins, expected_calibration_error, maximum_calibration_error, reliability_diagram
from .classification import accuracy, brier_score, nll
from .uncertainty import auroc_aupr, misclassification_auroc, ood_auroc, predictive_entropy

__all__ = [
    "accuracy", "nll", "brier_score", "calibration_bins", "expected_calibration_error",
    "maximum_calibration_error", "reliability_diagram", "auroc_aupr", "misclassification_auroc", "ood_auroc",
    "predictive_entropy",
]

"""Numbers with their spread, and verdicts computed from them by stated rules.

Every claim that mathdl re-measures ends in one of four verdicts, never written by hand:

* **holds** — the measurement reaches what the claim states;
* **holds only partly** — it goes the claimed way but falls short (the rule says by how much);
* **does not hold** — it does not go the claimed way, or the difference is not significant;
* **not testable here** — what the claim needs (data, hardware) is missing here; the reason is given.

Spread: ``spread(values)`` gives mean, sample standard deviation (n-1) and a 95% confidence
interval for the mean, mean ± t_{0.975, n-1} · s / sqrt(n).  Two samples are compared with Welch's
t-test (unequal variances), two-sided.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["HOLDS", "PARTLY", "DOES_NOT_HOLD", "NOT_TESTABLE", "VERDICTS", "Verdict", "spread", "fmt_spread",
           "welch_p", "paired_p", "at_least", "at_most", "improvement", "not_testable"]

HOLDS = "holds"
PARTLY = "holds only partly"
DOES_NOT_HOLD = "does not hold"
NOT_TESTABLE = "not testable here"
VERDICTS = (HOLDS, PARTLY, DOES_NOT_HOLD, NOT_TESTABLE)


@dataclass
class Verdict:
    verdict: str
    rule: str     # the rule, stated so that a reader can apply it to the numbers
    why: str      # the rule applied to this measurement

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    def as_dict(self):
        return {"verdict": self.verdict, "rule": self.rule, "why": self.why}


def spread(values) -> dict:
    """mean, std (n-1), n, and the 95% t-interval of the mean of ``values`` (NaN-free floats)."""
    v = np.asarray([float(x) for x in values], dtype=np.float64)
    if v.size == 0:
        raise ValueError("spread: no values")
    if not np.isfinite(v).all():
        raise ValueError(f"spread: non-finite values {v.tolist()}")
    n = int(v.size)
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if n > 1 else 0.0
    if n > 1:
        from scipy import stats

        half = float(stats.t.ppf(0.975, n - 1) * std / math.sqrt(n))
    else:
        half = float("nan")
    return {"mean": mean, "std": std, "n": n, "ci95": [mean - half, mean + half], "values": v.tolist()}


def fmt_spread(s: dict, digits=3, unit="") -> str:
    """'0.912 ± 0.004 (n=5)' — mean ± std."""
    return f"{s['mean']:.{digits}g}{unit} ± {s['std']:.2g}{unit} (n={s['n']})"


def welch_p(a, b) -> float:
    """Two-sided p-value of Welch's t-test for equal means: NaN with fewer than two values a side;
    with no spread on either side, 0 if the means differ and 1 if they are equal."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size < 2 or b.size < 2:
        return float("nan")
    if a.std() == 0 and b.std() == 0:
        return 0.0 if a.mean() != b.mean() else 1.0
    return _quiet_p(lambda stats: stats.ttest_ind(a, b, equal_var=False).pvalue)


def paired_p(a, b) -> float:
    """Two-sided p-value of the paired t-test (the differences a_i - b_i have mean 0), for runs paired
    by seed (same initialization and batch order); NaN with fewer than two pairs; with constant
    differences, 0 if they are non-zero and 1 if they are zero."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired_p: {a.size} and {b.size} values cannot be paired")
    if a.size < 2:
        return float("nan")
    d = a - b
    if d.std() == 0:
        return 0.0 if d.mean() != 0 else 1.0
    return _quiet_p(lambda stats: stats.ttest_rel(a, b).pvalue)


def _quiet_p(test) -> float:
    """Run a scipy.stats test without its precision-loss warnings on nearly identical samples."""
    import warnings

    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(test(stats))


def at_least(value, target, partly=None, what="value") -> Verdict:
    """holds if value >= target; partly if value >= partly (when given); else does not hold."""
    rule = f"holds if {what} >= {target:g}" + (f"; holds only partly if >= {partly:g}" if partly is not None else "")
    if value >= target:
        return Verdict(HOLDS, rule, f"{what} = {value:.4g} >= {target:g}")
    if partly is not None and value >= partly:
        return Verdict(PARTLY, rule, f"{what} = {value:.4g}: >= {partly:g} but < {target:g}")
    return Verdict(DOES_NOT_HOLD, rule, f"{what} = {value:.4g} < {partly if partly is not None else target:g}")


def at_most(value, target, partly=None, what="value") -> Verdict:
    """holds if value <= target; partly if value <= partly (when given); else does not hold."""
    rule = f"holds if {what} <= {target:g}" + (f"; holds only partly if <= {partly:g}" if partly is not None else "")
    if value <= target:
        return Verdict(HOLDS, rule, f"{what} = {value:.4g} <= {target:g}")
    if partly is not None and value <= partly:
        return Verdict(PARTLY, rule, f"{what} = {value:.4g}: <= {partly:g} but > {target:g}")
    return Verdict(DOES_NOT_HOLD, rule, f"{what} = {value:.4g} > {partly if partly is not None else target:g}")


def improvement(ours, baseline, claimed, higher_is_better=True, alpha=0.05, what="gain", paired=False) -> Verdict:
    """Compare two samples (one value per seed) against a claimed mean gain ``claimed`` (same units).

    holds: the mean gain >= claimed and p < alpha; partly: the gain has the claimed sign and
    p < alpha but is smaller than claimed; does not hold: otherwise (wrong sign, or not significant).
    p is Welch's t-test, or the paired t-test when ``paired`` (runs paired by seed).
    """
    a = np.asarray(ours, dtype=np.float64)
    b = np.asarray(baseline, dtype=np.float64)
    gain = float(a.mean() - b.mean()) if higher_is_better else float(b.mean() - a.mean())
    p = paired_p(a, b) if paired else welch_p(a, b)
    test = "paired t-test" if paired else "Welch"
    rule = (f"holds if the mean {what} >= {claimed:g} with {test} p < {alpha}; holds only partly if the {what} is "
            f"positive and significant but smaller; else does not hold")
    sig = (not math.isnan(p)) and p < alpha
    why = f"mean {what} = {gain:.4g} (claimed {claimed:g}), {test} p = {p:.3g}"
    if gain >= claimed and sig:
        return Verdict(HOLDS, rule, why)
    if gain > 0 and sig:
        return Verdict(PARTLY, rule, why)
    return Verdict(DOES_NOT_HOLD, rule, why)


def not_testable(reason) -> Verdict:
    return Verdict(NOT_TESTABLE, "not testable when what the claim needs is missing here", reason)

"""Bjøntegaard-delta metrics: BD-rate (rate change at equal accuracy) and BD-mAP (accuracy change at equal rate).

As JVET's CTC spreadsheet: the rate axis is log10(rate); each curve is interpolated piecewise-cubically
with monotone Hermite polynomials (``pchip``, the Fritsch-Carlson slopes of scipy's ``PchipInterpolator``,
which is what the JVET-T2010 spreadsheet computes) and the two are integrated over the range where both are
defined. The second method is the VCEG-M33 original: one cubic polynomial per curve fitted by least squares
(``cubic``; degree n-1 for fewer than 4 points).

    BD-rate = (10 ** (mean over the overlapping accuracy range of log10 R_test - log10 R_anchor) - 1) * 100 %
    BD-mAP  = mean over the overlapping log10-rate range of (A_test - A_anchor)     (accuracy units)

Negative BD-rate = the test codec needs less rate; positive BD-mAP = it is more accurate.

A curve whose accuracy does not rise with the rate cannot be inverted (BD-rate needs rate as a function
of accuracy): its dominated points are dropped (the Pareto front is kept) and a warning says which. A
warning is also given when the overlap is below ``min_overlap`` of the union of the two ranges; no overlap
gives NaN, and so does a mean rate ratio beyond 100x either way (the fits diverged: it happens to the cubic
fit when the accuracy saturates). The results are the same as the bjontegaard package's (tested).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

METHODS = ("pchip", "cubic")
MAX_LOG10_RATE_RATIO = 2.0  # a BD-rate beyond 100x (or 1/100x) means the fits diverged: NaN with a warning


@dataclass
class BDResult:
    value: float  # percent (BD-rate) or accuracy units (BD-metric); NaN when it cannot be computed
    method: str
    overlap: float  # overlapping range / union of both ranges (0..1)
    warnings: list[str] = field(default_factory=list)

    def __float__(self) -> float:
        return self.value


def _curve(rates, accuracies, label: str, warnings: list[str]):
    rates, accuracies = np.asarray(rates, float).ravel(), np.asarray(accuracies, float).ravel()
    if rates.shape != accuracies.shape:
        raise ValueError(f"{label}: {len(rates)} rates but {len(accuracies)} accuracies")
    good = np.isfinite(rates) & np.isfinite(accuracies) & (rates > 0)
    if not good.all():
        warnings.append(f"{label}: {int((~good).sum())} point(s) with a non-positive or missing rate/accuracy left out")
        rates, accuracies = rates[good], accuracies[good]
    order = np.lexsort((-accuracies, rates))  # by rate, the better point first among equal rates
    rates, accuracies = rates[order], accuracies[order]
    keep = np.zeros(len(rates), bool)
    best = -math.inf
    for i, value in enumerate(accuracies):  # the Pareto front: accuracy above every lower-rate point's
        if value > best:
            keep[i], best = True, value
    if not keep.all():
        dropped = ", ".join(f"{r:.4g}" for r in rates[~keep])
        warnings.append(f"{label}: not monotonic, point(s) at rate {dropped} dropped (Pareto front used)")
    return np.log10(rates[keep]), accuracies[keep]


def _interpolator(x, y, method: str):
    """An object with ``integrate(a, b)`` for the curve y(x); x strictly increasing."""
    if method == "pchip":
        from scipy.interpolate import PchipInterpolator
        return PchipInterpolator(x, y, extrapolate=False)
    if method == "cubic":
        degree = min(3, len(x) - 1)
        coefficients = np.polyfit(x, y, degree)
        integral = np.polyint(coefficients)

        class _Poly:
            @staticmethod
            def integrate(a, b):
                return float(np.polyval(integral, b) - np.polyval(integral, a))

        return _Poly()
    raise ValueError(f"unknown BD method '{method}' (use {', '.join(METHODS)})")


def _delta(x_anchor, y_anchor, x_test, y_test, method: str, min_overlap: float, warnings: list[str],
           axis: str) -> tuple[float, float]:
    for x, label in ((x_anchor, "anchor"), (x_test, "test")):
        if len(x) < 2:
            warnings.append(f"{label} curve has fewer than 2 usable points")
            return float("nan"), 0.0
    if method == "cubic" and min(len(x_anchor), len(x_test)) < 4:
        warnings.append("fewer than 4 points: the cubic fit uses a lower degree")
    low, high = max(x_anchor.min(), x_test.min()), min(x_anchor.max(), x_test.max())
    union = max(x_anchor.max(), x_test.max()) - min(x_anchor.min(), x_test.min())
    overlap = max(0.0, high - low) / union if union > 0 else 0.0
    if high <= low:
        warnings.append(f"the curves do not overlap in {axis}")
        return float("nan"), 0.0
    if overlap < min_overlap:
        warnings.append(f"small overlap in {axis}: {100 * overlap:.0f} % of the combined range "
                        f"(below {100 * min_overlap:.0f} %)")
    anchor = _interpolator(x_anchor, y_anchor, method).integrate(low, high)
    test = _interpolator(x_test, y_test, method).integrate(low, high)
    return float((test - anchor) / (high - low)), overlap


def bd_rate_detail(rate_anchor, acc_anchor, rate_test, acc_test, method: str = "pchip",
                   min_overlap: float = 0.5) -> BDResult:
    """BD-rate in percent, with the overlap and the warnings."""
    warnings: list[str] = []
    xa, ya = _curve(rate_anchor, acc_anchor, "anchor", warnings)
    xt, yt = _curve(rate_test, acc_test, "test", warnings)
    # Rate as a function of accuracy: x = accuracy, y = log10 rate.
    mean, overlap = _delta(ya, xa, yt, xt, method, min_overlap, warnings, "accuracy")
    value = float("nan")
    if math.isfinite(mean):
        if abs(mean) <= MAX_LOG10_RATE_RATIO:
            value = (10.0 ** mean - 1.0) * 100.0
        else:  # e.g. a cubic through a saturating curve, inverted: no meaningful rate ratio
            warnings.append(f"the fitted curves diverge (mean rate ratio 10^{mean:.3g}): BD-rate not given")
    return BDResult(value, method, overlap, warnings)


def bd_metric_detail(rate_anchor, acc_anchor, rate_test, acc_test, method: str = "pchip",
                     min_overlap: float = 0.5) -> BDResult:
    """BD-accuracy (BD-mAP, BD-PSNR) in the accuracy's units, with the overlap and the warnings."""
    warnings: list[str] = []
    xa, ya = _curve(rate_anchor, acc_anchor, "anchor", warnings)
    xt, yt = _curve(rate_test, acc_test, "test", warnings)
    mean, overlap = _delta(xa, ya, xt, yt, method, min_overlap, warnings, "log10 rate")
    return BDResult(mean, method, overlap, warnings)


def bd_rate(rate_anchor, acc_anchor, rate_test, acc_test, method: str = "pchip") -> float:
    """BD-rate in percent (negative: the test codec saves rate). NaN when the curves do not overlap."""
    return bd_rate_detail(rate_anchor, acc_anchor, rate_test, acc_test, method, min_overlap=0.0).value


def bd_metric(rate_anchor, acc_anchor, rate_test, acc_test, method: str = "pchip") -> float:
    """BD-accuracy (e.g. BD-mAP) in accuracy units (positive: the test codec is more accurate)."""
    return bd_metric_detail(rate_anchor, acc_anchor, rate_test, acc_test, method, min_overlap=0.0).value


bd_map = bd_metric

"""Statistics for small test sets: bootstrap resampling of images, percentile intervals, and the
monotonic (Pareto / isotonic) view of a rate-accuracy curve."""
from __future__ import annotations

import numpy as np


def bootstrap_weights(num_images: int, replicates: int, seed: int = 0) -> np.ndarray:
    """``replicates x num_images`` integer counts: each row draws ``num_images`` images with replacement.
    The same rows are used for every point and codec (a paired bootstrap), so differences between curves
    are not blurred by the draw."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, num_images, size=(replicates, num_images))
    weights = np.zeros((replicates, num_images), dtype=np.int64)
    np.add.at(weights, (np.repeat(np.arange(replicates), num_images), draws.ravel()), 1)
    return weights


def percentile_interval(samples, confidence: float = 0.95, estimate: float | None = None) -> tuple[float, float]:
    """A ``confidence`` interval from bootstrap ``samples`` (NaNs ignored; NaN, NaN if none).

    Without ``estimate``: the central percentile interval. With the full-sample ``estimate``: Efron's
    bias-corrected (BC) percentile interval, which shifts the percentiles by how far the replicates sit off
    the estimate (z0 = Phi^-1(share of replicates below it, ties counted half)): a statistic whose replicates
    sit above the estimate is taken to be biased upwards, and the interval moves down accordingly. mAP on
    64 images is such a statistic (its replicates average about one point above it), and a plain percentile
    interval would lie mostly above the measured value. Equal replicates give (value, value).
    """
    values = np.asarray(samples, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2.0
    levels = np.array([tail, 1.0 - tail])
    if estimate is not None and np.isfinite(estimate) and values.min() < values.max():
        from scipy.stats import norm

        below = (np.count_nonzero(values < estimate) + 0.5 * np.count_nonzero(values == estimate)) / values.size
        below = min(max(below, 0.5 / values.size), 1.0 - 0.5 / values.size)
        z0 = norm.ppf(below)
        levels = norm.cdf(2.0 * z0 + norm.ppf(levels))
    low, high = np.percentile(values, 100.0 * levels)
    return float(low), float(high)


def pareto_mask(rates, accuracies) -> np.ndarray:
    """True for the points no other point beats: a point is dropped when another one has a rate at most
    as high and a strictly higher accuracy (or the same accuracy at a strictly lower rate)."""
    rates, accuracies = np.asarray(rates, float), np.asarray(accuracies, float)
    keep = np.ones(len(rates), dtype=bool)
    for i in range(len(rates)):
        better = (rates <= rates[i]) & (accuracies >= accuracies[i]) & \
                 ((rates < rates[i]) | (accuracies > accuracies[i]))
        keep[i] = not better.any()
    return keep


def isotonic_fit(rates, accuracies) -> np.ndarray:
    """The non-decreasing (in rate) least-squares fit of the accuracies (pool-adjacent-violators),
    returned in the input order: the monotonic view of a noisy curve."""
    rates, accuracies = np.asarray(rates, float), np.asarray(accuracies, float)
    order = np.argsort(rates, kind="mergesort")
    blocks: list[list[float]] = []  # [sum, count]
    for value in accuracies[order]:
        blocks.append([value, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    fitted = np.concatenate([np.full(int(count), total / count) for total, count in blocks]) if blocks else []
    result = np.empty(len(accuracies))
    result[order] = fitted
    return result

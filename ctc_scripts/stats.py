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


def percentile_interval(samples, confidence: float = 0.95) -> tuple[float, float]:
    """The central ``confidence`` percentile interval of ``samples`` (NaNs ignored; NaN, NaN if none)."""
    values = np.asarray(samples, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
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

"""16-bit integer CDF tables, built with integer arithmetic so every machine gets the same table.

A *quantised CDF* for an alphabet of ``N`` symbols is an integer array ``cdf`` of length ``N + 1``
with ``cdf[0] == 0``, ``cdf[N] == 1 << PRECISION`` and ``cdf[i + 1] - cdf[i] >= 1`` (every
symbol gets a frequency of at least 1, so every symbol stays codable).

Rounding rule (``quantize_weights``), all in exact integer arithmetic:

1. Input: non-negative integer weights ``w`` (any common scale). ``W = sum(w)``; if ``W == 0`` the
   weights are replaced by ones (uniform table).
2. Floor share: ``f[i] = (w[i] * T) // W`` with ``T = 1 << precision``; remainder
   ``r[i] = (w[i] * T) % W``.
3. Minimum frequency: ``f[i] = max(f[i], 1)``.
4. Let ``d = T - sum(f)``.
   * ``d > 0``: add 1 to the ``d`` symbols with the largest remainder ``r`` (ties: lower index first).
   * ``d < 0``: repeatedly take 1 from the symbols with the largest frequency (ties: lower index
     first), only from symbols with ``f > 1``, until ``sum(f) == T``.

Float probabilities enter through ``pmf_to_quantized_cdf``, whose single rounding step is
``w[i] = floor(clip(pmf[i], 0, 1) * 2**32)``. Multiplying an IEEE-754 double by a power of two and
taking the floor is exact, so given the same float64 pmf every machine builds the same table.
"""
from __future__ import annotations

import hashlib

import numpy as np

PRECISION = 16
"""Bits of the total frequency: every table sums to ``1 << PRECISION``."""

TOTAL_FREQUENCY = 1 << PRECISION

PMF_FIXED_POINT_BITS = 32
"""Fixed-point resolution used to turn float pmfs into integer weights (exact for float64)."""

_MAX_WEIGHT = 1 << 46  # w * 2**16 and sum(w) (at most 2**16 symbols) stay below 2**62 in int64


def quantize_weights(weights, precision: int = PRECISION) -> np.ndarray:
    """Integer frequencies (each >= 1, summing to ``1 << precision``) for integer ``weights``.

    See the module docstring for the exact rule. ``weights`` must be non-negative integers below
    ``2**46`` and their count at most ``1 << precision``.
    """
    w = np.asarray(weights)
    if w.ndim != 1 or w.size == 0:
        raise ValueError("weights must be a non-empty 1-D array")
    if not np.issubdtype(w.dtype, np.integer):
        raise TypeError("weights must be integers; use pmf_to_quantized_cdf for probabilities")
    w = w.astype(np.int64)
    total = 1 << precision
    if not 1 <= precision <= 16:
        raise ValueError("precision must be between 1 and 16 bits")
    if w.size > total:
        raise ValueError(f"{w.size} symbols do not fit a total frequency of {total}")
    if w.min() < 0 or w.max() >= _MAX_WEIGHT:
        raise ValueError("weights must lie in [0, 2**46)")
    weight_sum = int(w.sum())
    if weight_sum == 0:
        w = np.ones_like(w)
        weight_sum = int(w.size)
    scaled = w * total
    freq = scaled // weight_sum
    remainder = scaled % weight_sum
    freq = np.maximum(freq, 1)
    deficit = total - int(freq.sum())
    if deficit > 0:
        order = np.argsort(-remainder, kind="stable")
        freq[order[:deficit]] += 1
    while deficit < 0:
        order = np.argsort(-freq, kind="stable")
        takers = order[freq[order] > 1][: -deficit]
        freq[takers] -= 1
        deficit = total - int(freq.sum())
    return freq


def freqs_to_cdf(freqs) -> np.ndarray:
    """Cumulative table ``[0, f0, f0 + f1, ...]`` as int64."""
    f = np.asarray(freqs, dtype=np.int64)
    return np.concatenate([np.zeros(1, np.int64), np.cumsum(f)])


def weights_to_quantized_cdf(weights, precision: int = PRECISION) -> np.ndarray:
    """Quantised CDF (length ``N + 1``) from non-negative integer weights."""
    return freqs_to_cdf(quantize_weights(weights, precision))


def pmf_to_quantized_cdf(pmf, precision: int = PRECISION) -> np.ndarray:
    """Quantised CDF (length ``N + 1``) from float probabilities.

    The only float step is ``floor(clip(pmf, 0, 1) * 2**32)`` (exact in float64); the rest is
    ``quantize_weights``. Include any tail/escape mass as an explicit last entry of ``pmf``.
    """
    p = np.asarray(pmf, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError("pmf must be a non-empty 1-D array")
    if not np.all(np.isfinite(p)):
        raise ValueError("pmf contains NaN or infinity")
    weights = np.floor(np.ldexp(np.clip(p, 0.0, 1.0), PMF_FIXED_POINT_BITS)).astype(np.int64)
    return weights_to_quantized_cdf(weights, precision)


def check_quantized_cdf(cdf, precision: int = PRECISION) -> None:
    """Raise ``ValueError`` unless ``cdf`` is a valid quantised CDF for ``precision``."""
    c = np.asarray(cdf)
    if c.ndim != 1 or c.size < 2:
        raise ValueError("a quantised CDF needs at least 2 entries")
    if not np.issubdtype(c.dtype, np.integer):
        raise ValueError("a quantised CDF must hold integers")
    if int(c[0]) != 0 or int(c[-1]) != 1 << precision:
        raise ValueError(f"a quantised CDF must run from 0 to {1 << precision}")
    if np.any(np.diff(c.astype(np.int64)) < 1):
        raise ValueError("a quantised CDF must be strictly increasing (each frequency >= 1)")


def cdf_digest(cdfs) -> str:
    """SHA-256 (hex) of a sequence of CDF tables, for determinism checks."""
    h = hashlib.sha256()
    for cdf in cdfs:
        arr = np.asarray(cdf, dtype="<i8")
        h.update(len(arr).to_bytes(4, "little"))
        h.update(arr.tobytes())
    return h.hexdigest()

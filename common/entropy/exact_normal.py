"""The standard normal CDF in exact integer (fixed-point) arithmetic.

Library ``erf``/``exp`` differ in their last bits between platforms and SIMD paths; entropy-coding
tables built from them could differ between an encoder and a decoder. This module evaluates
Phi(x) with Python integers only, so the result is the same on every machine by construction.

Method (absolute error far below 2**-50, checked against scipy in the tests):

* Anchors ``a_k = k / 8`` for ``k = 0 .. 64``. At each anchor the density
  ``phi(a_k) = exp(-a_k**2 / 2) / sqrt(2 pi)`` comes from the exponential series (all terms
  positive), ``pi`` from a 50-digit constant and the square root from ``math.isqrt``.
* Derivatives of phi are Hermite polynomials: ``phi^(n)(a) = (-1)**n He_n(a) phi(a)``, and
  ``He_n(k / 8) = P_n(k) / 8**n`` with integers ``P_0 = 1``, ``P_1 = k``,
  ``P_(n+1) = k P_n - 64 n P_(n-1)``. So the Taylor coefficients of Phi around each anchor,
  ``D_n(a) = phi^(n)(a) / (n + 1)!``, are exact rationals times phi(a).
* ``Phi(a_0) = 1/2``; ``Phi(a_(k+1))`` follows from ``Phi(a_k)`` by the Taylor series with step
  1/8 (40 terms), all at 128 fractional bits.
* A point ``t = |x|`` uses its nearest anchor (``|t - a_k| <= 1/16``) and 16 Taylor terms at
  ``FRACTION_BITS`` fractional bits; ``t > 8.0625`` gives exactly 1 (the tail is below 2**-52).
  ``Phi(-t) = 1 - Phi(t)``.

Every rounding is a floor (``>>`` or ``//`` on Python integers), hence deterministic.
"""
from __future__ import annotations

import functools
import math

import numpy as np

FRACTION_BITS = 64
"""Fractional bits of the returned fixed-point values (1.0 == 1 << FRACTION_BITS)."""

_HIGH_BITS = 128
_ANCHORS_PER_UNIT = 8
_LAST_ANCHOR = 64  # a = 8.0
_CHAIN_TERMS = 40
_POINT_TERMS = 16
_PI_TIMES_10_POW_50 = 314159265358979323846264338327950288419716939937510


def _inverse_sqrt_two_pi(bits: int) -> int:
    """floor(2**bits / sqrt(2 pi)) (to within one unit)."""
    return math.isqrt((1 << (2 * bits)) * 10**50 // (2 * _PI_TIMES_10_POW_50))


def _exp_neg_k2_over_128(k: int, bits: int) -> int:
    """exp(-k**2 / 128) at ``bits`` fractional bits, via 1 / sum(z**n / n!) with z = k**2/128."""
    one = 1 << bits
    term = one
    total = one
    n = 1
    while term:
        term = term * k * k // (128 * n)
        total += term
        n += 1
    return (one * one) // total


def _hermite_numerators(k: int, count: int) -> list[int]:
    """Integers P_n(k) with He_n(k / 8) = P_n(k) / 8**n, for n < count."""
    values = [1, k]
    for n in range(1, count - 1):
        values.append(k * values[n] - 64 * n * values[n - 1])
    return values[:count]


@functools.lru_cache(maxsize=1)
def _anchor_tables():
    """(Phi at anchors, Taylor coefficients D[n][k]) at FRACTION_BITS, as object arrays."""
    hb = _HIGH_BITS
    inv_sqrt = _inverse_sqrt_two_pi(hb)
    anchors = range(_LAST_ANCHOR + 1)
    density = [inv_sqrt * _exp_neg_k2_over_128(k, hb) >> hb for k in anchors]

    cdf_high = [1 << (hb - 1)]
    for k in anchors[:-1]:
        p = _hermite_numerators(k, _CHAIN_TERMS)
        step = 0
        for n in range(_CHAIN_TERMS):
            # phi(a) (-1)^n He_n(a) / (n+1)! * (1/8)^(n+1) = phi (-1)^n P_n / (8 * 64^n * (n+1)!)
            term = density[k] * p[n] // (8 * 64**n * math.factorial(n + 1))
            step += -term if n % 2 else term
        cdf_high.append(cdf_high[-1] + step)

    drop = hb - FRACTION_BITS
    cdf_at_anchor = np.array([c >> drop for c in cdf_high], dtype=object)
    coefficients = np.empty((_POINT_TERMS, _LAST_ANCHOR + 1), dtype=object)
    for k in anchors:
        p = _hermite_numerators(k, _POINT_TERMS)
        for n in range(_POINT_TERMS):
            value = density[k] * p[n] // (8**n * math.factorial(n + 1) << drop)
            coefficients[n, k] = -value if n % 2 else value
    return cdf_at_anchor, coefficients


def normal_cdf_fixed(numerators, denominator: int) -> np.ndarray:
    """Phi(numerators / denominator) as fixed-point Python ints (``1 << FRACTION_BITS`` == 1).

    ``numerators``: integer array (any sign, |value| < 2**40); ``denominator``: positive int
    below 2**40. Returns a 1-D object array of Python ints in ``[0, 1 << FRACTION_BITS]``.
    """
    num = np.asarray(numerators, dtype=np.int64).reshape(-1)
    den = int(denominator)
    if den <= 0 or den >= 1 << 40 or (num.size and np.abs(num).max() >= 1 << 40):
        raise ValueError("normal_cdf_fixed needs |numerator| < 2**40 and 0 < denominator < 2**40")
    one = 1 << FRACTION_BITS
    cdf_at_anchor, coefficients = _anchor_tables()

    a = np.abs(num)
    anchor = (2 * _ANCHORS_PER_UNIT * a + den) // (2 * den)  # round(8 t), half up
    far = anchor > _LAST_ANCHOR
    anchor = np.where(far, 0, anchor)
    offset = (_ANCHORS_PER_UNIT * a - anchor * den).astype(object)  # (t - a_k) * 8 * den
    delta = (offset << FRACTION_BITS) // (_ANCHORS_PER_UNIT * den)  # (t - a_k) at F bits

    acc = coefficients[_POINT_TERMS - 1][anchor]
    for n in range(_POINT_TERMS - 2, -1, -1):
        acc = coefficients[n][anchor] + ((acc * delta) >> FRACTION_BITS)
    upper = cdf_at_anchor[anchor] + ((acc * delta) >> FRACTION_BITS)
    upper = np.where(far, one, upper)
    upper = np.array([min(max(int(v), 0), one) for v in upper], dtype=object)
    return np.where(num < 0, one - upper, upper)

"""Escape code for values outside a table's range: an Exp-Golomb code carried by the range coder.

A value beyond its table is coded as the table's escape symbol, followed (later in the same
substream) by its *overflow* ``m >= 0`` (distance past the table edge) and its side:

* ``p = bit_length(m + 1) - 1`` (0 .. 32) with the fixed table ``PREFIX_CDF`` (weights
  ``2**-(p+1)``: the same cost as an order-0 Exp-Golomb unary prefix, ``p + 1`` bits);
* then, per escape, one side bit (1 = below the table) and the ``p`` low bits of ``m + 1``,
  most significant first, each with the uniform binary table ``BIT_CDF`` (1 bit each).

Overflows up to ``2**33 - 2`` fit, which covers any int32 value whatever the table edges.
All prefixes of a substream go in one coder call, all side/suffix bits in one more.
"""
from __future__ import annotations

import numpy as np

from icm.common.entropy.cdf import PRECISION, weights_to_quantized_cdf

PREFIX_CLASSES = 33
"""Possible values of the Exp-Golomb prefix ``p`` (0 .. 32)."""

PREFIX_CDF = weights_to_quantized_cdf(
    np.array([1 << (PREFIX_CLASSES - 1 - p) for p in range(PREFIX_CLASSES)], dtype=np.int64)
)
"""Fixed table for the prefix ``p``: P(p) proportional to 2**-(p+1), quantised as usual."""

BIT_CDF = np.array([0, 1 << (PRECISION - 1), 1 << PRECISION], dtype=np.int64)
"""Uniform binary table (exactly one bit per bin)."""

MAX_OVERFLOW = (1 << PREFIX_CLASSES) - 2


def _bit_length(values: np.ndarray) -> np.ndarray:
    """Exact bit length of non-negative int64 values (vectorised, integer only)."""
    length = np.zeros(values.shape, dtype=np.int64)
    remaining = values.copy()
    for shift in (32, 16, 8, 4, 2, 1):
        big = remaining >= (1 << shift)
        length += np.where(big, shift, 0)
        remaining = np.where(big, remaining >> shift, remaining)
    return length + (remaining > 0)


def split_escapes(overflow: np.ndarray, below: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(prefixes, bits) for overflows ``m >= 0`` and their sides; bits are grouped per escape."""
    m = np.asarray(overflow, dtype=np.int64).reshape(-1)
    side = np.asarray(below, dtype=bool).reshape(-1)
    if m.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if m.min() < 0 or m.max() > MAX_OVERFLOW:
        raise ValueError("escape overflow out of range")
    value = m + 1
    prefix = _bit_length(value) - 1
    per_escape = prefix + 1  # side bit + p suffix bits
    starts = np.cumsum(per_escape) - per_escape
    owner = np.repeat(np.arange(m.size), per_escape)
    position = np.arange(int(per_escape.sum())) - starts[owner]  # 0 = side bit, j>0 = suffix bit j
    shift = np.maximum(prefix[owner] - position, 0)
    suffix_bit = (value[owner] >> shift) & 1
    bits = np.where(position == 0, side[owner].astype(np.int64), suffix_bit)
    return prefix, bits


def bits_needed(prefixes: np.ndarray) -> int:
    """Number of side/suffix bits that follow these prefixes."""
    p = np.asarray(prefixes, dtype=np.int64)
    return int(p.size + p.sum())


def join_escapes(prefixes: np.ndarray, bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of ``split_escapes``: (overflow m, below) from decoded prefixes and bits."""
    p = np.asarray(prefixes, dtype=np.int64).reshape(-1)
    b = np.asarray(bits, dtype=np.int64).reshape(-1)
    if p.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    per_escape = p + 1
    if b.size != int(per_escape.sum()):
        raise ValueError("escape bit count does not match the prefixes")
    starts = np.cumsum(per_escape) - per_escape
    owner = np.repeat(np.arange(p.size), per_escape)
    position = np.arange(b.size) - starts[owner]
    shift = np.maximum(p[owner] - position, 0)
    contribution = np.where(position == 0, 0, b << shift)
    value = (1 << p) + np.add.reduceat(contribution, starts)
    below = b[starts] == 1
    return value - 1, below

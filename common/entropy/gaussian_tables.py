"""Integer coding tables for a zero-mean Gaussian at each entry of a fixed scale table.

Everything here is exact integer arithmetic, so the tables are identical on every machine:

* **Scales** are stored as integers in units of 2**-16 (``DEFAULT_SCALE_TABLE_Q16``): 64 values
  log-spaced from 0.11 to 256 (CompressAI's ``get_scale_table``), rounded once to 2**-16 and
  written out here, so no ``exp``/``log`` is evaluated at run time.
* **Range.** Table ``j`` with scale ``s`` covers the symbols ``|v| <= H`` with
  ``H = max(1, ceil(4.5 s))`` (4.5 = ``COVERAGE_SIGMAS_NUM / COVERAGE_SIGMAS_DEN``). When
  ``2H + 1`` symbols exceed ``MAX_BINS`` (the coder allows 1024 symbols per table, one is the
  escape), bins of width ``2**shift`` are used: the smallest power of two with
  ``ceil((2H + 1) / 2**shift) <= MAX_BINS``; the ``shift`` low bits of an in-range value are then
  coded uniformly (the Gaussian is nearly flat over such a bin: only scales above ~113.6 need
  this, and a bin is then at most 1/56 of a standard deviation).
  The range starts at ``low = -((bins * 2**shift - 1) // 2)``.
* **Probabilities.** Bin ``q`` covers ``[low + q w - 1/2, low + (q + 1) w - 1/2)``; its weight is the
  difference of ``Phi`` (``exact_normal``, 64 fractional bits, floored to 40 bits) at its edges;
  the escape symbol gets both tails. ``cdf.quantize_weights`` turns the weights into 16-bit
  frequencies.
"""
from __future__ import annotations

import functools

import numpy as np

from icm.common.entropy.cdf import cdf_digest, weights_to_quantized_cdf
from icm.common.entropy.exact_normal import FRACTION_BITS, normal_cdf_fixed
from icm.common.entropy.indexed_coder import MAX_SHIFT, TableSet

SCALE_FRACTION_BITS = 16
"""Scales in the table are integers in units of 2**-16."""

DEFAULT_SCALE_TABLE_Q16 = (
    7209, 8153, 9221, 10428, 11793, 13338, 15084, 17060, 19293, 21820, 24677, 27908, 31563,
    35696, 40370, 45657, 51635, 58397, 66043, 74691, 84472, 95533, 108043, 122191, 138191,
    156287, 176752, 199897, 226073, 255677, 289157, 327021, 369843, 418272, 473044, 534987,
    605042, 684270, 773872, 875208, 989814, 1119426, 1266011, 1431791, 1619278, 1831317,
    2071121, 2342327, 2649047, 2995930, 3388236, 3831913, 4333688, 4901169, 5542960, 6268790,
    7089666, 8018032, 9067964, 10255381, 11598287, 13117040, 14834670, 16777216,
)
"""round(2**16 * exp(linspace(log(0.11), log(256), 64))), as integers."""

COVERAGE_SIGMAS_NUM, COVERAGE_SIGMAS_DEN = 9, 2
"""Tables cover +-4.5 standard deviations (the two tails hold about 7e-6 of the mass)."""

MAX_BINS = 1023
WEIGHT_BITS = 40
MAX_SCALE_Q16 = 1 << 26  # scale 1024


def table_layout(scale_q16: int) -> tuple[int, int, int]:
    """(bins, shift, low) of the table for one scale (in units of 2**-16)."""
    half_range = -(-COVERAGE_SIGMAS_NUM * scale_q16 // (COVERAGE_SIGMAS_DEN << SCALE_FRACTION_BITS))
    half_range = max(1, half_range)
    count = 2 * half_range + 1
    shift = 0
    while -(-count // (1 << shift)) > MAX_BINS:
        shift += 1
    bins = -(-count // (1 << shift))
    low = -((bins * (1 << shift) - 1) // 2)
    return bins, shift, low


def gaussian_quantized_cdf(scale_q16: int) -> np.ndarray:
    """The 16-bit CDF (bins, then escape) of the table for one scale."""
    bins, shift, low = table_layout(scale_q16)
    edges = low + (np.arange(bins + 1, dtype=np.int64) << shift)
    # x = (edge - 1/2) / s = (2 edge - 1) * 2**15 / S
    fixed = normal_cdf_fixed((2 * edges - 1) << (SCALE_FRACTION_BITS - 1), scale_q16)
    drop = FRACTION_BITS - WEIGHT_BITS
    cdf_values = np.array([int(c) >> drop for c in fixed], dtype=np.int64)
    cdf_values = np.maximum.accumulate(cdf_values)
    tails = cdf_values[0] + ((1 << WEIGHT_BITS) - cdf_values[-1])
    weights = np.append(np.diff(cdf_values), tails)
    return weights_to_quantized_cdf(weights)


def check_scale_table(scale_table_q16) -> tuple[int, ...]:
    """Validate a scale table (positive, strictly increasing ints <= 2**26) and return it as a tuple."""
    table = tuple(int(s) for s in scale_table_q16)
    if not table:
        raise ValueError("the scale table is empty")
    if table[0] < 1 or table[-1] > MAX_SCALE_Q16:
        raise ValueError(f"scales (units of 2**-16) must lie in [1, {MAX_SCALE_Q16}]")
    if any(b <= a for a, b in zip(table, table[1:])):
        raise ValueError("the scale table must be strictly increasing")
    if max(table_layout(s)[1] for s in table) > MAX_SHIFT:
        raise ValueError("a scale needs wider bins than supported")
    return table


@functools.lru_cache(maxsize=8)
def gaussian_table_set(scale_table_q16=DEFAULT_SCALE_TABLE_Q16) -> TableSet:
    """Frozen integer tables for every scale of the table (computed once, exactly)."""
    table = check_scale_table(scale_table_q16)
    layouts = [table_layout(s) for s in table]
    cdfs = [gaussian_quantized_cdf(s) for s in table]
    return TableSet.build(cdfs, [lay[2] for lay in layouts], [lay[1] for lay in layouts])


def gaussian_tables_digest(scale_table_q16=DEFAULT_SCALE_TABLE_Q16) -> str:
    """SHA-256 of the CDFs, lows and shifts (for determinism checks)."""
    tables = gaussian_table_set(tuple(scale_table_q16))
    return cdf_digest(list(tables.cdfs) + [tables.lows, tables.shifts])

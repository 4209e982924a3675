"""Code integer values, each with its own table index, into one range-coder substream.

A ``TableSet`` holds integer tables. Table ``t`` covers the values
``low[t] .. low[t] + bins[t] * 2**shift[t] - 1`` in ``bins[t]`` bins of width ``2**shift[t]``;
its CDF has ``bins[t] + 1`` symbols: the bins, then the escape symbol (values outside the range).

Substream layout (every part is one range-coder run; the decoder knows every count in advance):

1. For each table index ``t`` in ascending order that occurs in ``indexes``: the bin/escape
   symbols of all values with index ``t``, in raster order (stable grouping), with table ``t``;
   then, if ``shift[t] > 0``, the ``shift[t]`` low bits of those values that were in range, as one
   run with a uniform table of ``2**shift[t]`` symbols.
2. If any value escaped: the escape prefixes, then the escape side/suffix bits
   (``icm.common.entropy.escape``), in the same group order.

The decoder rebuilds the grouping from the indexes it already knows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from icm.common.entropy import escape
from icm.common.entropy.cdf import PRECISION, check_quantized_cdf
from icm.common.entropy.range_coder_io import MAX_ALPHABET_SIZE, SymbolDecoder, SymbolEncoder
from icm.common.errors import BitstreamError

MAX_SHIFT = 10
"""Largest bin width is 2**10 (a uniform table of 1024 symbols, the coder's alphabet limit)."""

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def uniform_cdf(shift: int) -> np.ndarray:
    """Uniform table with ``2**shift`` symbols (exactly ``shift`` bits per symbol)."""
    return np.arange((1 << shift) + 1, dtype=np.int64) << (PRECISION - shift)


@dataclass(frozen=True)
class TableSet:
    """Integer tables: ``cdfs[t]`` (length ``bins + 2``), ``lows[t]``, ``shifts[t]``."""

    cdfs: tuple
    lows: np.ndarray
    shifts: np.ndarray

    @classmethod
    def build(cls, cdfs, lows, shifts=None) -> "TableSet":
        """Validate and freeze tables (each CDF: 16-bit, strictly increasing, <= 1024 symbols)."""
        frozen = []
        for cdf in cdfs:
            arr = np.array(cdf, dtype=np.int64)
            check_quantized_cdf(arr)
            if not 3 <= arr.size <= MAX_ALPHABET_SIZE + 1:
                raise ValueError("a table needs 1 to 1023 bins plus the escape symbol")
            arr.setflags(write=False)
            frozen.append(arr)
        lows = np.array(lows, dtype=np.int64).reshape(-1)
        shifts = np.zeros(len(frozen), np.int64) if shifts is None else np.array(shifts, np.int64).reshape(-1)
        if lows.size != len(frozen) or shifts.size != len(frozen):
            raise ValueError("one low and one shift per table")
        if shifts.size and (shifts.min() < 0 or shifts.max() > MAX_SHIFT):
            raise ValueError(f"shifts must lie in [0, {MAX_SHIFT}]")
        if lows.size and (lows.min() < INT32_MIN or lows.max() > INT32_MAX):
            raise ValueError("table lows must fit int32")
        lows.setflags(write=False)
        shifts.setflags(write=False)
        return cls(tuple(frozen), lows, shifts)

    def __len__(self) -> int:
        return len(self.cdfs)

    @property
    def bins(self) -> np.ndarray:
        return np.array([c.size - 2 for c in self.cdfs], dtype=np.int64)


def _check_indexes(indexes, tables: TableSet) -> np.ndarray:
    idx = np.asarray(indexes)
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise ValueError("table indexes must be integers")
    idx = idx.reshape(-1).astype(np.int64, copy=False)
    if idx.size and (idx.min() < 0 or idx.max() >= len(tables)):
        raise ValueError(f"table indexes must lie in [0, {len(tables) - 1}]")
    return idx


@dataclass
class _Split:
    """Per-value decomposition in grouped (sorted-by-index) order."""

    order: np.ndarray     # positions in raster order, grouped by table index
    counts: np.ndarray    # values per table index
    symbols: np.ndarray   # bin or escape symbol, grouped order
    refine: np.ndarray    # low bits (valid where in range), grouped order
    in_range: np.ndarray
    overflow: np.ndarray  # escape overflow m (valid where escaped)
    below: np.ndarray


def _split(values, indexes, tables: TableSet) -> _Split:
    v = np.asarray(values)
    if v.size and not np.issubdtype(v.dtype, np.integer):
        raise ValueError("values must be integers")
    v = v.reshape(-1).astype(np.int64, copy=False)
    idx = _check_indexes(indexes, tables)
    if v.size != idx.size:
        raise ValueError("values and indexes must have the same number of elements")
    if v.size and (v.min() < INT32_MIN or v.max() > INT32_MAX):
        raise ValueError("values must fit int32")
    order = np.argsort(idx, kind="stable")
    counts = np.bincount(idx, minlength=len(tables))
    gi = idx[order]
    gv = v[order]
    low = tables.lows[gi]
    shift = tables.shifts[gi]
    bins = tables.bins[gi]
    high = low + (bins << shift)  # first value above the range
    offset = gv - low
    in_range = (gv >= low) & (gv < high)
    symbols = np.where(in_range, offset >> shift, bins)
    refine = np.where(in_range, offset & ((1 << shift) - 1), 0)
    below = gv < low
    overflow = np.where(below, low - 1 - gv, gv - high)
    return _Split(order, counts, symbols, refine, in_range, overflow, below)


def _group_bounds(counts: np.ndarray):
    ends = np.cumsum(counts)
    for t in np.flatnonzero(counts):
        yield int(t), int(ends[t] - counts[t]), int(ends[t])


def encode_indexed(values, indexes, tables: TableSet, *, guard_bits: int = 0) -> bytes:
    """Encode int32 ``values`` with per-value table ``indexes`` (same shape) into one substream.

    ``guard_bits``: see ``range_coder_io`` (redundancy against undetected truncation).
    """
    s = _split(values, indexes, tables)
    with SymbolEncoder(guard_bits=guard_bits) as encoder:
        for t, start, end in _group_bounds(s.counts):
            encoder.encode(s.symbols[start:end], tables.cdfs[t])
            shift = int(tables.shifts[t])
            if shift:
                keep = s.in_range[start:end]
                if keep.any():
                    encoder.encode(s.refine[start:end][keep], uniform_cdf(shift))
        escaped = ~s.in_range
        if escaped.any():
            prefixes, bits = escape.split_escapes(s.overflow[escaped], s.below[escaped])
            encoder.encode(prefixes, escape.PREFIX_CDF)
            encoder.encode(bits, escape.BIT_CDF)
        return encoder.finish()


def decode_indexed(data: bytes, indexes, tables: TableSet, *, verify: bool = True,
                   guard_bits: int = 0) -> np.ndarray:
    """Decode the values coded by ``encode_indexed``; returns int32 with the shape of ``indexes``.

    The number of values is ``indexes.size``: the caller must have bounded it. Raises
    ``BitstreamError`` for data that is not exactly a valid substream for these indexes.
    """
    shape = np.shape(indexes)
    idx = _check_indexes(indexes, tables)
    order = np.argsort(idx, kind="stable")
    counts = np.bincount(idx, minlength=len(tables))
    gi = idx[order]
    grouped = np.empty(idx.size, dtype=np.int64)
    with SymbolDecoder(data, verify=verify, guard_bits=guard_bits) as decoder:
        in_range = np.empty(idx.size, dtype=bool)
        for t, start, end in _group_bounds(counts):
            bins = int(tables.cdfs[t].size - 2)
            shift = int(tables.shifts[t])
            symbols = decoder.decode(end - start, tables.cdfs[t])
            keep = symbols < bins
            values = tables.lows[t] + (symbols << shift)
            if shift and keep.any():
                refine = decoder.decode(int(keep.sum()), uniform_cdf(shift))
                values[keep] += refine
            grouped[start:end] = values
            in_range[start:end] = keep
        escaped = np.flatnonzero(~in_range)
        if escaped.size:
            prefixes = decoder.decode(escaped.size, escape.PREFIX_CDF)
            bits = decoder.decode(escape.bits_needed(prefixes), escape.BIT_CDF)
            overflow, below = escape.join_escapes(prefixes, bits)
            t = gi[escaped]
            high = tables.lows[t] + (tables.bins[t] << tables.shifts[t])
            grouped[escaped] = np.where(below, tables.lows[t] - 1 - overflow, high + overflow)
            if grouped[escaped].min() < INT32_MIN or grouped[escaped].max() > INT32_MAX:
                raise BitstreamError("entropy-coded value outside the int32 range")
        decoder.finish()
    out = np.empty(idx.size, dtype=np.int32)
    out[order] = grouped
    return out.reshape(shape)


def ideal_code_length_bits(values, indexes, tables: TableSet) -> float:
    """Sum of -log2(frequency / 2**16) over every symbol ``encode_indexed`` would code.

    This is the information content under the integer tables actually used (bins, low bits,
    escape prefixes and bits): what an ideal arithmetic coder would spend with these tables.
    """
    s = _split(values, indexes, tables)
    gi = np.repeat(np.arange(len(tables)), s.counts)
    total = 0.0
    for t, start, end in _group_bounds(s.counts):
        freqs = np.diff(tables.cdfs[t])
        total += float(np.sum(PRECISION - np.log2(freqs[s.symbols[start:end]])))
    total += float(np.sum(tables.shifts[gi][s.in_range]))
    escaped = ~s.in_range
    if escaped.any():
        prefixes, bits = escape.split_escapes(s.overflow[escaped], s.below[escaped])
        prefix_freqs = np.diff(escape.PREFIX_CDF)
        total += float(np.sum(PRECISION - np.log2(prefix_freqs[prefixes]))) + bits.size
    return total

"""Bulk coding of runs: ``count`` repetitions of a record of plain elements (the arrays of a ``ForEach``).

A run is converted to (or from) a string of '0'/'1' characters and split by one regular expression (one
group per element), instead of element by element: the same bits and values, about ten times faster, so that the
largest headers the level limits admit (e.g. 4,096-entry channel orders) parse in milliseconds.

A record is a tuple of kinds ``(descriptor, bits)``: ``("ue(v)", 0)``, ``("se(v)", 0)``, ``("u(n)", n)`` or
``("fl(32)", 32)``. Values are flat, record after record.
"""
import re
import struct
from functools import lru_cache
from itertools import accumulate

MAX_EXP_GOLOMB_PREFIX = 32  # ue(v) values are < 2**32 - 1; longer prefixes are corrupt data
EXP_GOLOMB = ("ue(v)", "se(v)")


def _exp_golomb_pattern(depth: int) -> str:
    """Matches one Exp-Golomb code with at most ``depth`` leading zeros, as a prefix tree (linear matching)."""
    inner = ""
    for zeros in range(depth, 0, -1):
        inner = f"1[01]{{{zeros}}}" + (f"|0(?:{inner})" if inner else "")
    return f"1|0(?:{inner})"


_EXP_GOLOMB_CODE = _exp_golomb_pattern(MAX_EXP_GOLOMB_PREFIX - 1)
_CODE_VALUES = {"0" * ((value + 1).bit_length() - 1) + format(value + 1, "b"): value for value in range(1 << 13)}


def max_bits(kinds: tuple) -> int:
    """The most bits one record can take."""
    return sum(2 * MAX_EXP_GOLOMB_PREFIX - 1 if descriptor in EXP_GOLOMB else bits for descriptor, bits in kinds)


def bit_text(data, start: int, n_bits: int) -> tuple[str, int]:
    """Bits ``start .. start + n_bits`` of ``data`` (and a few around them, to whole bytes) as '0'/'1'
    characters; returns the text and the bit position of its first character."""
    first, last = start >> 3, (start + n_bits + 7) >> 3
    chunk = data[first:last]
    return format(int.from_bytes(chunk, "big"), f"0{8 * len(chunk)}b"), 8 * first


def split_run(text: str, position: int, end: int, kinds: tuple, count: int, starts: list | None):
    """Up to ``count`` records from ``text[position:end]``: their values (flat) and the position after them.

    Stops before the first element that is damaged (an Exp-Golomb prefix over 31 zeros) or cut short by
    ``end``. The first character of each value read is appended to ``starts`` if given.
    """
    pieces = _record_pattern(kinds).findall(text, position, end)
    if len(pieces) > count:
        del pieces[count:]
    if len(kinds) > 1:  # tuples, one piece per element
        try:
            pieces = pieces[:[record[0] for record in pieces].index("")]
        except ValueError:
            pass
        pieces = [piece for record in pieces for piece in record]
    elif "" in pieces:
        pieces = pieces[:pieces.index("")]
    values = _values(kinds, pieces)
    if starts is not None:
        starts.extend(accumulate((len(piece) for piece in pieces[:-1]), initial=position) if pieces else ())
    return values, position + len("".join(pieces))


@lru_cache(maxsize=None)
def _record_pattern(kinds: tuple) -> re.Pattern:
    """One group per element; any position where no whole record starts matches one character and no group
    (an empty piece), so that findall's matches are contiguous and the first empty one marks the damage."""
    groups = "".join(f"({_EXP_GOLOMB_CODE})" if descriptor in EXP_GOLOMB else f"([01]{{{bits}}})"
                     for descriptor, bits in kinds)
    return re.compile(f"(?:{groups})|[01]")


def _values(kinds: tuple, pieces: list[str]) -> list:
    """The pieces' values, column by column: Exp-Golomb code numbers, se(v) mapping, fl(32) bit patterns."""
    width = len(kinds)
    values: list = [0] * len(pieces)
    for column, (descriptor, _) in enumerate(kinds):
        column_pieces = pieces[column::width] if width > 1 else pieces
        if descriptor in EXP_GOLOMB:
            try:
                numbers = list(map(_CODE_VALUES.__getitem__, column_pieces))
            except KeyError:  # a value of 2**13 or more
                numbers = [int(piece, 2) - 1 for piece in column_pieces]
            if descriptor == "se(v)":
                numbers = [(k + 1) // 2 if k & 1 else -(k // 2) for k in numbers]
        else:
            numbers = [int(piece, 2) for piece in column_pieces]
            if descriptor == "fl(32)":
                numbers = struct.unpack(f">{len(numbers)}f", struct.pack(f">{len(numbers)}I", *numbers))
        if width == 1:
            return list(numbers)
        values[column::width] = numbers
    return values


def run_codes(kinds: tuple, values: list) -> list[str]:
    """The code of each value (flat, record after record) as '0'/'1' characters.

    ValueError for a value its descriptor cannot hold, as ``BitWriter`` raises.
    """
    width = len(kinds)
    columns = [_column_codes(descriptor, bits, values[column::width])
               for column, (descriptor, bits) in enumerate(kinds)]
    return columns[0] if width == 1 else [code for record in zip(*columns) for code in record]


def _column_codes(descriptor: str, bits: int, values: list) -> list[str]:
    if descriptor in EXP_GOLOMB:
        if descriptor == "se(v)":
            values = [2 * v - 1 if v > 0 else -2 * v for v in values]
        too_big = (1 << MAX_EXP_GOLOMB_PREFIX) - 1
        if values and (min(values) < 0 or max(values) >= too_big):
            bad = next(value for value in values if value < 0 or value >= too_big)
            raise ValueError(f"ue(v) value out of range: {bad}")
        return ["0" * (code.bit_length() - 1) + format(code, "b") for code in (v + 1 for v in values)]
    if descriptor == "fl(32)":
        values = struct.unpack(f">{len(values)}I", struct.pack(f">{len(values)}f", *values))
    if values and (min(values) < 0 or max(values) >> bits):
        bad = next(value for value in values if value < 0 or value >> bits)
        raise ValueError(f"value {bad} does not fit in {bits} bits")
    return [format(v, f"0{bits}b") for v in values]


def code_positions(start: int, codes: list[str]) -> list[int]:
    """The bit position of each code when ``codes`` are written one after another from ``start``."""
    return list(accumulate((len(code) for code in codes[:-1]), initial=start)) if codes else []

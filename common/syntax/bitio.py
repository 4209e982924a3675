"""Bit-level reading and writing (MSB first), with the descriptors of the syntax tables.

Descriptors, as in the VVC specification:
  u(n)   unsigned integer, n bits, most significant bit first
  f(n)   fixed-pattern bit string, n bits
  ue(v)  unsigned Exp-Golomb code
  se(v)  signed Exp-Golomb code (k > 0 maps to 2k-1, k <= 0 to -2k)
  fl(32) IEEE 754 binary32, its 32-bit pattern written as u(32)
  b(8)   one byte; only at byte-aligned positions
The reader never reads past the end it was given: it raises BitstreamError instead.

Runs of records (``read_run`` / ``write_run``: the arrays of a ``ForEach``) are coded in bulk by
:mod:`.runs`: the same bits, much faster.
"""
import struct

from ..errors import BitstreamError
from .runs import MAX_EXP_GOLOMB_PREFIX, bit_text, code_positions, max_bits, run_codes, split_run


class BitWriter:
    """Collects bits MSB-first into bytes."""

    def __init__(self):
        self._bytes = bytearray()
        self._acc = 0  # pending bits, fewer than 8
        self._nacc = 0

    @property
    def bit_position(self) -> int:
        return 8 * len(self._bytes) + self._nacc

    @property
    def byte_aligned(self) -> bool:
        return self._nacc == 0

    def write_bits(self, value: int, n: int) -> None:
        if n < 0 or value < 0 or value >> n:
            raise ValueError(f"value {value} does not fit in {n} bits")
        acc, nacc = (self._acc << n) | value, self._nacc + n
        if nacc >= 8:
            whole, nacc = nacc >> 3, nacc & 7
            self._bytes += (acc >> nacc).to_bytes(whole, "big")
            acc &= (1 << nacc) - 1
        self._acc, self._nacc = acc, nacc

    def write_ue(self, value: int) -> None:
        if value < 0 or value >= (1 << MAX_EXP_GOLOMB_PREFIX) - 1:
            raise ValueError(f"ue(v) value out of range: {value}")
        code = value + 1
        length = code.bit_length()
        self.write_bits(0, length - 1)
        self.write_bits(code, length)

    def write_se(self, value: int) -> None:
        self.write_ue(2 * value - 1 if value > 0 else -2 * value)

    def write_f32(self, value: float) -> None:
        self.write_bits(struct.unpack(">I", struct.pack(">f", value))[0], 32)

    def write_run(self, kinds: tuple, values: list, positions: list | None = None) -> None:
        """Write ``values`` (flat, record after record), each coded as its kind ``(descriptor, bits)`` in the
        record ``kinds``; the bit position of each value is appended to ``positions`` if given."""
        codes = run_codes(kinds, values)
        if positions is not None:
            positions.extend(code_positions(self.bit_position, codes))
        text = "".join(codes)
        if text:
            self.write_bits(int(text, 2), len(text))

    def write_bytes(self, data: bytes) -> None:
        if not self.byte_aligned:
            raise ValueError("b(8) written at a position that is not byte-aligned")
        self._bytes += data

    def getvalue(self) -> bytes:
        if not self.byte_aligned:
            raise ValueError("bitstream ends at a position that is not byte-aligned")
        return bytes(self._bytes)


class BitReader:
    """Reads bits MSB-first from ``data[start_bit:end_bit]``."""

    def __init__(self, data: bytes, start_bit: int = 0, end_bit: int | None = None):
        self._data = data
        self._pos = start_bit
        self._end = 8 * len(data) if end_bit is None else end_bit

    @property
    def bit_position(self) -> int:
        return self._pos

    @property
    def end_bit(self) -> int:
        return self._end

    @property
    def bits_left(self) -> int:
        return self._end - self._pos

    @property
    def byte_aligned(self) -> bool:
        return self._pos % 8 == 0

    def sub_reader(self, n_bytes: int) -> "BitReader":
        """A reader over the next ``n_bytes`` bytes; this reader skips past them."""
        if not self.byte_aligned:
            raise BitstreamError("sized structure does not start byte-aligned")
        if 8 * n_bytes > self.bits_left:
            raise BitstreamError(f"truncated bitstream: {n_bytes} bytes announced, {self.bits_left // 8} left")
        sub = BitReader(self._data, self._pos, self._pos + 8 * n_bytes)
        self._pos += 8 * n_bytes
        return sub

    def _need(self, n: int) -> None:
        if n > self.bits_left:
            raise BitstreamError(f"truncated bitstream: {n} bits needed at bit {self._pos}, {self.bits_left} left")

    def _peek(self, n: int) -> int:
        """The next ``n`` bits (all available) as an integer, without moving."""
        pos = self._pos
        first, last = pos >> 3, (pos + n + 7) >> 3
        return (int.from_bytes(self._data[first:last], "big") >> (8 * last - pos - n)) & ((1 << n) - 1)

    def read_bits(self, n: int) -> int:
        self._need(n)
        value = self._peek(n)
        self._pos += n
        return value

    def read_ue(self) -> int:
        window_bits = min(self.bits_left, MAX_EXP_GOLOMB_PREFIX)
        window = self._peek(window_bits)
        if window == 0:  # no 1 bit within the longest allowed prefix, or before the end
            self._pos += window_bits
            if window_bits == MAX_EXP_GOLOMB_PREFIX:
                raise BitstreamError(f"corrupt ue(v) code at bit {self._pos}: prefix too long")
            self._need(1)
        leading_zeros = window_bits - window.bit_length()
        self._pos += leading_zeros + 1
        return (1 << leading_zeros) - 1 + self.read_bits(leading_zeros)

    def read_se(self) -> int:
        k = self.read_ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)

    def read_f32(self) -> float:
        return struct.unpack(">f", struct.pack(">I", self.read_bits(32)))[0]

    def read_run(self, kinds: tuple, count: int, positions: list | None = None) -> list:
        """Up to ``count`` records of the kinds ``(descriptor, bits)`` in ``kinds``: their values, flat; the bit
        position of each value is appended to ``positions`` if given.

        Stops before an element that is corrupt or runs past the end, with the reader at its first bit:
        reading that element on its own (``read_ue``, ``read_bits``) then raises the precise error.
        """
        start = self._pos
        span = min(self.bits_left, count * max_bits(kinds))
        text, base = bit_text(self._data, start, span)
        starts = [] if positions is not None else None
        values, end = split_run(text, start - base, start - base + span, kinds, count, starts)
        if positions is not None:
            positions.extend(base + position for position in starts)
        self._pos = base + end
        return values

    def read_bytes(self, n: int) -> bytes:
        if not self.byte_aligned:
            raise BitstreamError("b(8) read at a position that is not byte-aligned")
        self._need(8 * n)
        start = self._pos >> 3
        self._pos += 8 * n
        return bytes(self._data[start:start + n])


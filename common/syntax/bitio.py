"""Bit-level reading and writing (MSB first), with the descriptors of the syntax tables.

Descriptors, as in the VVC specification:
  u(n)   unsigned integer, n bits, most significant bit first
  f(n)   fixed-pattern bit string, n bits
  ue(v)  unsigned Exp-Golomb code
  se(v)  signed Exp-Golomb code (k > 0 maps to 2k-1, k <= 0 to -2k)
  fl(32) IEEE 754 binary32, its 32-bit pattern written as u(32)
  b(8)   one byte; only at byte-aligned positions
The reader never reads past the end it was given: it raises BitstreamError instead.
"""
import struct

from ..errors import BitstreamError

MAX_EXP_GOLOMB_PREFIX = 32  # ue(v) values are < 2**32 - 1; longer prefixes are corrupt data


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
        if n < 0 or value < 0 or (n < 64 and value >> n):
            raise ValueError(f"value {value} does not fit in {n} bits")
        for shift in range(n - 1, -1, -1):
            self._acc = (self._acc << 1) | ((value >> shift) & 1)
            self._nacc += 1
            if self._nacc == 8:
                self._bytes.append(self._acc)
                self._acc = self._nacc = 0

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

    def read_bits(self, n: int) -> int:
        self._need(n)
        value = 0
        pos = self._pos
        for _ in range(n):
            value = (value << 1) | ((self._data[pos >> 3] >> (7 - (pos & 7))) & 1)
            pos += 1
        self._pos = pos
        return value

    def read_ue(self) -> int:
        leading_zeros = 0
        while self.read_bits(1) == 0:
            leading_zeros += 1
            if leading_zeros > MAX_EXP_GOLOMB_PREFIX - 1:
                raise BitstreamError(f"corrupt ue(v) code at bit {self._pos}: prefix too long")
        return (1 << leading_zeros) - 1 + self.read_bits(leading_zeros)

    def read_se(self) -> int:
        k = self.read_ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)

    def read_f32(self) -> float:
        return struct.unpack(">f", struct.pack(">I", self.read_bits(32)))[0]

    def read_bytes(self, n: int) -> bytes:
        if not self.byte_aligned:
            raise BitstreamError("b(8) read at a position that is not byte-aligned")
        self._need(8 * n)
        start = self._pos >> 3
        self._pos += 8 * n
        return bytes(self._data[start:start + n])

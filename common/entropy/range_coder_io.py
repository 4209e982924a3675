"""The one wrapper around the ``range-coder`` package (PyPI ``range-coder`` 1.1).

That package (a Python binding of kazuho/rangecoder, 32-bit range, renormalisation at 2**24)
only reads and writes files and checks little, so this module adds what it lacks:

* **Tables.** Every CDF passed in is checked: it starts at 0, is strictly increasing (each
  frequency >= 1), has 2 to ``MAX_ALPHABET_SIZE + 1`` entries (the decoder's fixed limit of 1024
  symbols) and totals at most ``MAX_TOTAL_FREQUENCY`` (2**16). The coder divides its range
  (>= 2**24) by the total, so totals above 2**24 make the encoder loop forever; 2**16 keeps the
  division loss below 2**-8 of the range and is what ``icm.common.entropy.cdf`` produces.
* **Symbols.** The package does not reject negative indices (it reads out of bounds); here every
  symbol is checked to lie in ``[0, len(cdf) - 2]`` before it reaches the coder.
* **Files.** Temporary files live in a private directory (``tempfile.mkdtemp``, mode 0700) that
  is always removed, also when an error interrupts the work.
* **Corrupt data.** Past the end of its data the decoder reads 0xFF bytes (its own encoder relies
  on that padding), so over-reading cannot be observed directly. Decoding always returns valid
  indices (the frequencies are all >= 1) in time linear in the number of symbols; then
  ``SymbolDecoder.finish()`` re-encodes the decoded symbols with the same tables and compares the
  result with the input: the encoder is deterministic, so a stream that is not exactly the
  encoding of what was decoded (truncated, extended or altered) raises ``BitstreamError``.
  The 0xFF padding decodes to the *last* symbol of a table, so a truncated stream could be the
  exact encoding of other symbols when last symbols are likely; to close that gap every
  non-empty substream ends with a *terminator*: symbol 0 of ``TERMINATOR_CDF`` =
  ``[0, 2**16 - 1, 2**16]`` (cost about 2e-5 bits), which padding decodes as 1.
  Detection still needs redundancy: when the coded content is near-uniform, a cut stream is
  often the exact encoding of *other* symbols (nearly every byte string is valid). For that,
  ``guard_bits=k`` (encoder and decoder must agree) adds ``k`` fixed bits before the terminator;
  a damaged stream then passes with probability about ``2**-k``. The default is 0: the container
  is expected to delimit substreams and to carry a decoded-output hash.
* **Bounds.** Callers pass the number of symbols to decode and must bound it from trusted or
  level-checked values; a single call is also capped at ``MAX_SYMBOLS_PER_CALL`` and work is done
  in chunks of ``CHUNK_SYMBOLS`` to bound memory. Chunking does not change the bitstream: the
  coder's state runs on across calls, so several calls code exactly like one.

Several ``encode`` / ``decode`` calls share one substream: an empty substream (no symbols at all)
is ``b""``.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import weakref

import numpy as np
import range_coder

from icm.common.errors import BitstreamError, LevelLimitError

MAX_TOTAL_FREQUENCY = 1 << 16
"""Largest total frequency accepted (the coder itself breaks above 2**24)."""

MAX_ALPHABET_SIZE = 1024
"""Largest number of symbols in one table (the decoder's ``MAX_NUM_SYMBOLS``)."""

MAX_SYMBOLS_PER_CALL = 1 << 28
"""Hard cap on the symbols one ``decode`` call may ask for; callers should bound far tighter."""

CHUNK_SYMBOLS = 1 << 20
"""Symbols handed to the C coder per call (bounds the size of the Python lists built)."""

TERMINATOR_CDF = [0, MAX_TOTAL_FREQUENCY - 1, MAX_TOTAL_FREQUENCY]
"""Table of the end-of-substream symbol (always 0; truncated data decodes it as 1)."""

GUARD_BIT_CDF = [0, MAX_TOTAL_FREQUENCY // 2, MAX_TOTAL_FREQUENCY]
MAX_GUARD_BITS = 64


def _guard_pattern(guard_bits: int) -> list[int]:
    """The fixed guard bits 0, 1, 0, 1, ... (padding decodes as 1s, so the first one catches it)."""
    if not 0 <= guard_bits <= MAX_GUARD_BITS:
        raise ValueError(f"guard_bits must lie in [0, {MAX_GUARD_BITS}]")
    return [i % 2 for i in range(guard_bits)]


def check_cdf(cdf) -> list[int]:
    """Validate a cumulative frequency table and return it as a list of Python ints."""
    arr = np.asarray(cdf)
    if arr.ndim != 1 or not 2 <= arr.size <= MAX_ALPHABET_SIZE + 1:
        raise ValueError(f"a CDF needs 2 to {MAX_ALPHABET_SIZE + 1} entries, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError("a CDF must hold integers")
    arr = arr.astype(np.int64)
    if arr[0] != 0:
        raise ValueError("a CDF must start at 0")
    if np.any(np.diff(arr) < 1):
        raise ValueError("a CDF must be strictly increasing (every frequency >= 1)")
    if arr[-1] > MAX_TOTAL_FREQUENCY:
        raise ValueError(f"a CDF total of {int(arr[-1])} exceeds {MAX_TOTAL_FREQUENCY}")
    return arr.tolist()


def _check_symbols(symbols, alphabet_size: int) -> np.ndarray:
    arr = np.asarray(symbols)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError("symbols must be integers")
    arr = arr.reshape(-1).astype(np.int64, copy=False)
    if arr.size and (arr.min() < 0 or arr.max() >= alphabet_size):
        raise ValueError(f"symbols must lie in [0, {alphabet_size - 1}]")
    return arr


class _PrivateDir:
    """A private temporary directory, removed on ``cleanup()`` or when garbage-collected."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="icm-rc-")
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.path, True)

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def cleanup(self) -> None:
        self._finalizer()


class SymbolEncoder:
    """Encode several (symbols, cdf) runs into one substream; ``finish()`` returns the bytes.

    ``guard_bits``: fixed bits added at the end of a non-empty substream (see module docstring).
    """

    def __init__(self, *, guard_bits: int = 0):
        self._guard = _guard_pattern(guard_bits)
        self._dir = _PrivateDir()
        self._path = self._dir.file("stream.bin")
        self._encoder = range_coder.RangeEncoder(self._path)
        self._count = 0
        self._result: bytes | None = None

    def encode(self, symbols, cdf) -> None:
        """Code ``symbols`` (ints in ``[0, len(cdf) - 2]``, any shape, raster order) with ``cdf``."""
        if self._result is not None:
            raise RuntimeError("encoder already finished")
        cdf_list = check_cdf(cdf)
        flat = _check_symbols(symbols, len(cdf_list) - 1)
        for start in range(0, flat.size, CHUNK_SYMBOLS):
            self._encoder.encode(flat[start:start + CHUNK_SYMBOLS].tolist(), cdf_list)
        self._count += int(flat.size)

    @property
    def symbol_count(self) -> int:
        return self._count

    def finish(self) -> bytes:
        """Flush the coder and return the substream (``b""`` when no symbol was coded)."""
        if self._result is None:
            try:
                if self._count:
                    _write_trailer(self._encoder, self._guard)
                self._encoder.close()
                with open(self._path, "rb") as f:
                    data = f.read()
            finally:
                self._dir.cleanup()
            self._result = data if self._count else b""
        return self._result

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._result is None:
            try:
                self._encoder.close()
            finally:
                self._dir.cleanup()
        return False


def _write_trailer(encoder, guard: list[int]) -> None:
    if guard:
        encoder.encode(guard, GUARD_BIT_CDF)
    encoder.encode([0], TERMINATOR_CDF)


def encode_batches(batches, *, guard_bits: int = 0) -> bytes:
    """Encode ``[(symbols, cdf), ...]`` in order into one substream and return its bytes."""
    with SymbolEncoder(guard_bits=guard_bits) as encoder:
        for symbols, cdf in batches:
            encoder.encode(symbols, cdf)
        return encoder.finish()


class SymbolDecoder:
    """Decode runs of symbols from one substream made by ``SymbolEncoder``/``encode_batches``.

    Call ``decode(n, cdf)`` with the same counts and tables, in the same order, as the encoder,
    then ``finish()``. ``finish()`` checks the trailer (guard bits, terminator) and, with
    ``verify=True`` (the default), that the data is exactly the encoding of the decoded symbols
    (it re-encodes them as it goes); it raises ``BitstreamError`` otherwise. ``guard_bits`` must
    equal the encoder's.
    Use as a context manager, or call ``close()``, to remove the temporary files early.
    """

    def __init__(self, data: bytes, *, verify: bool = True, guard_bits: int = 0):
        self._guard = _guard_pattern(guard_bits)
        self._data = bytes(data)
        self._dir = _PrivateDir()
        path = self._dir.file("input.bin")
        with open(path, "wb") as f:
            f.write(self._data)
        self._decoder = range_coder.RangeDecoder(path)
        self._verify = verify
        self._checker = range_coder.RangeEncoder(self._dir.file("check.bin")) if verify else None
        self._count = 0
        self._closed = False

    def decode(self, n: int, cdf) -> np.ndarray:
        """Decode ``n`` symbols with ``cdf``; returns int64 indices in ``[0, len(cdf) - 2]``.

        ``n`` must come from bounded (trusted or level-checked) values: memory and time grow with it.
        """
        if self._closed:
            raise RuntimeError("decoder already closed")
        n = int(n)
        if n < 0:
            raise ValueError("cannot decode a negative number of symbols")
        if n > MAX_SYMBOLS_PER_CALL:
            raise LevelLimitError(f"{n} symbols in one entropy-coded run exceed {MAX_SYMBOLS_PER_CALL}")
        cdf_list = check_cdf(cdf)
        if n and not self._data:
            raise BitstreamError("entropy-coded data is empty but symbols are expected")
        out = np.empty(n, dtype=np.int64)
        for start in range(0, n, CHUNK_SYMBOLS):
            count = min(CHUNK_SYMBOLS, n - start)
            decoded = self._decoder.decode(count, cdf_list)
            if self._checker is not None:
                self._checker.encode(decoded, cdf_list)
            out[start:start + count] = decoded
        self._count += n
        return out

    def finish(self) -> None:
        """End decoding; with ``verify`` raise ``BitstreamError`` if the data was not exact."""
        if self._closed:
            return
        try:
            if self._count:
                guard = self._decoder.decode(len(self._guard), GUARD_BIT_CDF) if self._guard else []
                if guard != self._guard or self._decoder.decode(1, TERMINATOR_CDF) != [0]:
                    raise BitstreamError("entropy-coded data is truncated or corrupt (bad trailer)")
            if self._checker is not None:
                if self._count:
                    _write_trailer(self._checker, self._guard)
                self._checker.close()
                with open(self._dir.file("check.bin"), "rb") as f:
                    expected = f.read() if self._count else b""
                if expected != self._data:
                    raise BitstreamError("entropy-coded data is corrupt or truncated")
        finally:
            self.close()

    def close(self) -> None:
        """Release the files without verifying."""
        if not self._closed:
            self._closed = True
            try:
                self._decoder.close()
            finally:
                self._dir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

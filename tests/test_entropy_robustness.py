"""Corrupt, truncated or random data must raise BitstreamError (or decode to valid values), fast."""
import subprocess
import sys
import time

import numpy as np

from icm.common.entropy.gaussian import GaussianConditional
from icm.common.errors import BitstreamError


def _stream(rng, n, guard_bits=0):
    gc = GaussianConditional(guard_bits=guard_bits)
    scales = np.exp(rng.uniform(np.log(0.1), np.log(300), n))
    symbols = np.round(rng.laplace(size=n) * scales).astype(np.int32)
    symbols[rng.random(n) < 0.01] = rng.integers(-10**6, 10**6)
    indexes = gc.build_indexes(scales)
    return gc, symbols, indexes, gc.compress(symbols, indexes)


def _truncations_accepted(guard_bits):
    rng = np.random.default_rng(0)
    accepted = total = 0
    for _ in range(6):
        gc, symbols, indexes, data = _stream(rng, int(rng.integers(1, 300)), guard_bits)
        for cut in range(len(data)):
            total += 1
            try:
                out = gc.decompress(data[:cut], indexes)
            except BitstreamError:
                continue
            accepted += 1
            assert out.dtype == np.int32 and out.shape == symbols.shape
    return accepted, total


def test_truncations_are_detected():
    accepted, total = _truncations_accepted(guard_bits=0)
    assert total > 500 and accepted <= total // 100   # measured: about 0.1 %
    assert _truncations_accepted(guard_bits=8)[0] == 0


def test_corruptions_raise_or_decode_valid_values_quickly():
    rng = np.random.default_rng(1)
    gc, symbols, indexes, data = _stream(rng, 20000)
    start = time.perf_counter()
    accepted = 0
    for trial in range(40):
        bad = bytearray(data)
        kind = trial % 4
        if kind == 0:
            bad[int(rng.integers(len(bad)))] ^= 1 << int(rng.integers(8))
        elif kind == 1:
            bad = bad[: int(rng.integers(len(bad)))]
        elif kind == 2:
            bad = bytearray(rng.integers(0, 256, len(data), dtype=np.uint8).tobytes())
        else:
            bad += rng.integers(0, 256, 3, dtype=np.uint8).tobytes()
        try:
            out = gc.decompress(bytes(bad), indexes)
        except BitstreamError:
            continue
        accepted += 1
        assert out.dtype == np.int32 and out.shape == symbols.shape
    assert accepted <= 1
    assert time.perf_counter() - start < 20


def test_garbage_never_hangs_or_crashes_the_process():
    code = (
        "import numpy as np\n"
        "from icm.common.entropy.gaussian import GaussianConditional\n"
        "from icm.common.errors import BitstreamError\n"
        "gc = GaussianConditional(); rng = np.random.default_rng(5)\n"
        "for length in (0, 1, 2, 5, 64, 4096):\n"
        "    for fill in (None, 0x00, 0xFF):\n"
        "        data = bytes([fill]) * length if fill is not None else rng.bytes(length)\n"
        "        idx = rng.integers(0, 64, 5000)\n"
        "        try:\n"
        "            gc.decompress(data, idx)\n"
        "        except BitstreamError:\n"
        "            pass\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"

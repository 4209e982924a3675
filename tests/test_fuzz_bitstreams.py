"""Mutated bitstreams of every tool end in a correct decode (the decoded-output hash checked) or in a clean
refusal (one-line IcmError with a documented bitstream exit status), each quickly: 1,000 byte-level mutations
per tool (tests/fuzzing.py ``mutate``) and structure-aware ones (``mutate_structure``: duplicated, removed and
moved units, huge values in size and count fields, lying unit sizes, several VVC access units in one payload,
reserved units anywhere, cut and padded bodies). The streams are conformance streams: no encoder, no shared data.
"""
import os
import random
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fuzzing import mutate, mutate_structure
from icm.common.config import DecoderConfig
from icm.common.errors import BitstreamError, IcmError
from icm.common.registry import ToolInstances
from icm.ctc_scripts.conformance import manifest as M
from icm.ctc_scripts.conformance.units import read_raw, write_raw
from icm.decoder.pipeline import decode_bytes

MUTATIONS_PER_TOOL = 1000
STRUCTURE_MUTATIONS_PER_TOOL = 200
SECONDS_PER_DECODE = 20.0
WORKERS = 2
# bitstream refused (4), beyond the level limits (5), output differs from the hash (6), no model of that hash (7)
BITSTREAM_STATUSES = {4, 5, 6, 7}
STREAMS = {"vvc-image": "vvc_image_qp32_128x96.icm", "npp-vvc": "npp_vvc_task_qp32_96x72.icm",
           "vvc-feature": "vvc_feature_yf11_160_qp42.icm",
           # mfc_q5: s32 coded, s16 predicted plus a coded residual; mfc_q6: s16 coded with the linear path, s32
           # predicted by the task network's layers (every decoder path between them)
           "mfc": "mfc_q5.icm", "mfc-s16hi": "mfc_q6.icm",
           # ci-icm: a 320x320 exact synthesis per decoded mutation (about 0.75 s on one thread)
           "ci-icm": "ci_icm_q3.icm"}


@pytest.fixture(scope="module")
def tools():
    """The decoders, with torch on one thread: the exact integer networks give the same output on any thread
    count, and on a busy 2-core machine one thread decodes an mfc stream several times faster (0.1 s instead of
    0.7 s, measured)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield ToolInstances()
    torch.set_num_threads(threads)


def bound() -> float:
    """SECONDS_PER_DECODE, times the load average per core beyond 2 (an overloaded machine is slower)."""
    load_per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    return SECONDS_PER_DECODE * max(1.0, load_per_core / 2)


def outcome(data: bytes, tools: ToolInstances) -> str:
    """'decoded' (hash checked) or the refusal's class; fails the test on anything else or a slow decode."""
    start = time.perf_counter()
    try:
        result = decode_bytes(data, DecoderConfig(), tools=tools)
        assert result.hash_hex == result.output.digest(result.bitstream.output_hash["dh_hash_type"]).hex()
        found = "decoded"
    except IcmError as exc:
        message = str(exc)
        assert message and "\n" not in message, f"error message is not one line: {message!r}"
        assert exc.exit_code in BITSTREAM_STATUSES, f"exit status {exc.exit_code}: {message}"
        found = type(exc).__name__
    seconds = time.perf_counter() - start
    assert seconds < bound(), f"a mutated bitstream took {seconds:.1f} s to decode"
    return found


def outcomes(streams: list[bytes], tools: ToolInstances) -> list[str]:
    """:func:`outcome` of each stream, two at a time (a VVC decode mostly waits for its ffmpeg process)."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(lambda data: outcome(data, tools), streams))


def base(tool: str, tools: ToolInstances) -> bytes:
    data = (M.FOLDER / STREAMS[tool]).read_bytes()
    assert outcome(data, tools) == "decoded"
    return data


@pytest.mark.parametrize("tool", STREAMS)
def test_mutated_bitstreams_decode_or_fail_cleanly(tool, tools):
    data, rng = base(tool, tools), random.Random(f"fuzz-{tool}")
    found = Counter(outcomes([mutate(data, rng) for _ in range(MUTATIONS_PER_TOOL)], tools))
    print(tool, dict(found))
    assert sum(found.values()) == MUTATIONS_PER_TOOL and found["BitstreamError"] > 0


@pytest.mark.parametrize("tool", STREAMS)
def test_structure_mutations_decode_or_fail_cleanly(tool, tools):
    data, rng = base(tool, tools), random.Random(f"structure-{tool}")
    kinds, streams = zip(*(mutate_structure(data, rng) for _ in range(STRUCTURE_MUTATIONS_PER_TOOL)))
    found: dict[str, Counter] = {}
    for kind, result in zip(kinds, outcomes(list(streams), tools)):
        found.setdefault(kind, Counter())[result] += 1
    print(tool, {kind: dict(results) for kind, results in sorted(found.items())})
    assert len(found) >= 10  # most kinds drawn
    assert sum(results["BitstreamError"] + results["LevelLimitError"] for results in found.values()) > 0


@pytest.mark.parametrize("tool, copies", [("vvc-image", 2), ("vvc-feature", 2), ("vvc-image", 50)])
def test_several_access_units_in_one_vvc_payload_are_refused(tool, copies, tools):
    header, units = read_raw(base(tool, tools))
    payload = next(i for i, (t, _) in enumerate(units) if t == 3)
    body = units[payload][1]
    start = len(body) - len(decode_bytes(write_raw(header, units), DecoderConfig(), tools=tools)
                            .bitstream.payloads[0]["pl_data"])
    units[payload] = (3, body + body[start:] * (copies - 1))
    with pytest.raises(BitstreamError):
        decode_bytes(write_raw(header, units), DecoderConfig(), tools=tools)


def test_icm_dec_refuses_structure_mutations_with_one_line_and_a_documented_status(tmp_path):
    data, rng = (M.FOLDER / STREAMS["vvc-image"]).read_bytes(), random.Random("icm-dec")
    statuses = Counter()
    for number in range(6):
        kind, mutated = mutate_structure(data, rng)
        path = tmp_path / f"m{number}.icm"
        path.write_bytes(mutated)
        result = subprocess.run([str(Path(sys.executable).parent / "icm-dec"), "-i", str(path)],
                                capture_output=True, text=True, timeout=120)
        statuses[result.returncode] += 1
        if result.returncode:
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("icm-dec: error: "), (kind, result.stderr)
            assert result.returncode in BITSTREAM_STATUSES, (kind, result.stderr)
    print(dict(statuses))

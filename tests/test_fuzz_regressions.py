"""The inputs the coverage-guided fuzzing found (tests/data/fuzz_regressions/*.icm, see the README there) are
refused cleanly: a one-line IcmError with a bitstream exit status (4 to 7), within the fuzzing's bound."""
import time
from pathlib import Path

import pytest

from icm.common.config import DecoderConfig
from icm.common.errors import IcmError
from icm.decoder.pipeline import decode_bytes

FOLDER = Path(__file__).resolve().parent / "data" / "fuzz_regressions"
BITSTREAM_STATUSES = {4, 5, 6, 7}
SECONDS = 20.0


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.icm")), ids=lambda path: path.stem)
def test_fuzz_finding_is_refused_cleanly(path):
    start = time.perf_counter()
    with pytest.raises(IcmError) as refusal:
        decode_bytes(path.read_bytes(), DecoderConfig())
    message = str(refusal.value)
    assert refusal.value.exit_code in BITSTREAM_STATUSES and message and "\n" not in message, message
    assert time.perf_counter() - start < SECONDS

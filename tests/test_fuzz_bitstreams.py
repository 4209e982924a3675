"""At least 1,000 mutated bitstreams per tool: each ends in a correct decode or a clear IcmError, quickly."""
import random
import time

import numpy as np
import pytest

from fuzzing import mutate
from icm.common.config import DecoderConfig, EncoderConfig, InnerCodecConfig
from icm.common.errors import IcmError
from icm.common.image_io import read_image
from icm.decoder.pipeline import decode_bytes
from icm.encoder.pipeline import encode_picture

MUTATIONS_PER_TOOL = 1000
SECONDS_PER_DECODE = 20.0


def small_photo(shared) -> np.ndarray:
    rgb = read_image(shared / "data" / "kodak" / "kodim23.png")
    return np.ascontiguousarray(rgb[200:264, 300:380])  # 80x64 crop keeps each inner decode fast


@pytest.mark.parametrize("tool", ["vvc-image", "vvc-feature", "mfc"])
def test_mutated_bitstreams_decode_or_fail_cleanly(shared, tool):
    inner = InnerCodecConfig(preset="faster")
    # mfc: the shipped quality 5 (s32 coded, s16 predicted plus a coded residual: every decoder path)
    settings = dict(quality=5) if tool == "mfc" else dict(qp=37)
    data = encode_picture(small_photo(shared), EncoderConfig(tool=tool, inner=inner, **settings)).data
    config = DecoderConfig(inner=inner)
    rng = random.Random(f"fuzz-{tool}")
    outcomes = {"decoded": 0}
    slowest = 0.0
    for _ in range(MUTATIONS_PER_TOOL):
        mutated = mutate(data, rng)
        start = time.perf_counter()
        try:
            decode_bytes(mutated, config)
            outcomes["decoded"] += 1
        except IcmError as exc:
            message = str(exc)
            assert message and "\n" not in message, f"error message is not one line: {message!r}"
            outcomes[type(exc).__name__] = outcomes.get(type(exc).__name__, 0) + 1
        slowest = max(slowest, time.perf_counter() - start)
        assert slowest < SECONDS_PER_DECODE, f"a mutated bitstream took {slowest:.1f} s to decode"
    print(tool, outcomes, f"slowest {slowest:.2f} s")
    assert sum(outcomes.values()) == MUTATIONS_PER_TOOL
    assert outcomes.get("BitstreamError", 0) > 0

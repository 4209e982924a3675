"""Reserved unit types: skipped between the parameter set and the decoded-output hash, refused after the hash
(what docs/bitstream.md says, from the syntax declaration)."""
import pytest

from icm.common.bitstream import Bitstream, new_parameter_set, parse, serialize
from icm.common.errors import BitstreamError
from icm.common.output import DecodedOutput, hash_unit
from icm.common.syntax import structures as S

import numpy as np

RESERVED_UNIT = bytes([0b1101_0010, 0]) + b"xyz"  # unit_type u(4) 13, unit_size ue(v) 3 (00100), alignment


def stream() -> bytes:
    bitstream = Bitstream(new_parameter_set("vvc-image", 4, 2))
    bitstream.add_payload(b"data", 1)
    bitstream.output_hash = hash_unit(DecodedOutput(picture=np.zeros((2, 4, 3), np.uint8)))
    return serialize(bitstream)


def test_the_syntax_text_says_where_reserved_units_may_appear():
    unit_type = next(node for node in S.UNIT.body if getattr(node, "name", "") == "unit_type")
    assert "before the decoded-output hash" in unit_type.doc


def test_reserved_unit_before_the_hash_is_skipped_after_it_refused():
    data = stream()
    hash_size = 2 + 1 + 4  # unit header (aligned), hash and output types, 4 bytes of CRC-32 (the default)
    before = data[:-hash_size] + RESERVED_UNIT + data[-hash_size:]
    assert parse(before).payload(0, 0) == b"data"
    with pytest.raises(BitstreamError, match="after the decoded-output hash"):
        parse(data + RESERVED_UNIT)

"""Shipped conformance bitstreams decode to their recorded outputs (no shared data needed)."""
import re
from pathlib import Path

import pytest

from icm.common.config import DecoderConfig
from icm.decoder.pipeline import decode_bytes

FOLDER = Path(__file__).parent / "data" / "conformance"
TABLE = re.findall(r"^\| `([^`]+\.icm)` \|.*\| `([0-9a-f]{32})` \|$", (FOLDER / "README.md").read_text(), re.M)


def test_table_lists_every_stream():
    assert sorted(name for name, _ in TABLE) == sorted(p.name for p in FOLDER.glob("*.icm"))


@pytest.mark.parametrize("name,md5", TABLE)
def test_conformance_stream(name, md5):
    result = decode_bytes((FOLDER / name).read_bytes(), DecoderConfig())
    assert result.hash_hex == md5

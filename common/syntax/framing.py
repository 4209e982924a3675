"""A bitstream's framing alone: each unit's type and body bytes, bodies not parsed.

The same declaration as ``structures.BITSTREAM`` with every unit read as ``unit_type``, ``unit_size`` and that
many bytes. The parser reads it ahead of the full parse to count the units of each type
(``common/bitstream.py``); the conformance tools read and rewrite streams through it
(``ctc_scripts/conformance/units.py``).
"""
from __future__ import annotations

import dataclasses

from . import structures as S
from .interpreter import read_structure
from .nodes import REST_OF_UNIT, ByteArray, Element, Sized, Struct, WhileMoreData

RAW_UNIT = Struct("raw_unit", "A unit whose body is kept as bytes.", (
    Element("unit_type", "u(4)", "Kind of unit.", bits=4),
    Sized(Element("unit_size", "ue(v)", "Number of bytes of the unit body."), (
        ByteArray("data", REST_OF_UNIT, "The body."),
    )),
))
RAW_BITSTREAM = dataclasses.replace(S.BITSTREAM, body=S.BITSTREAM.body[:-1] + (
    WhileMoreData("units", (RAW_UNIT,), limit="max_units"),))
HEADER_BYTES = 5  # bs_magic and the syntax version


def read_raw(data: bytes) -> tuple[bytes, list[tuple[int, bytes]]]:
    """(the 5 header bytes, [(unit_type, body bytes)]) of a stream whose framing is sound (else
    ``BitstreamError``)."""
    values = read_structure(RAW_BITSTREAM, data)
    return data[:HEADER_BYTES], [(unit["unit_type"], unit["data"]) for unit in values["units"]]

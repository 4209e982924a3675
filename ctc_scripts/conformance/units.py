"""A bitstream as a list of units, read and written through the one syntax declaration.

``common/bitstream.py``'s ``serialize`` writes the units a tool makes, in the order encoders use; the
conformance streams also need what no encoder writes: units of reserved types, extension data, a later minor
version, headers at the level limits, and (for streams a decoder must refuse) values beyond the limits. These
helpers read a real stream into the declaration's values (``read_units``), and write values back with the
same declaration (``write_units``), in which each reserved unit type has a body of
``reserved_unit_data_byte``; ``relaxed`` gives a copy of the declaration without the range and level checks
of some elements, to write a stream that breaks them on purpose.
"""
from __future__ import annotations

import dataclasses

from ...common.syntax import structures as S
from ...common.syntax.framing import HEADER_BYTES, RAW_UNIT, read_raw  # noqa: F401 (read_raw: the tools' import)
from ...common.syntax.interpreter import Tracer, read_structure, write_structure
from ...common.syntax.nodes import (REST_OF_UNIT, ByteAlignment, ByteArray, Element, ForEach, If, Sized, Struct,
                                    Switch, WhileMoreData)

RESERVED_UNIT_TYPES = tuple(t for t in range(16) if t not in S.UNIT_TYPES)  # unit_type is u(4)
RESERVED_BODY = Struct("reserved_unit", "The body of a unit of a reserved type, skipped by decoders.", (
    ByteArray("reserved_unit_data_byte", REST_OF_UNIT, "Reserved bytes."),
))


def map_nodes(node, change):
    """A copy of a declaration tree in which every Element ``e`` is ``change(e)`` and every Switch gets the
    cases of ``change(switch)``; other nodes are rebuilt around their changed children."""
    if isinstance(node, Element):
        return change(node)
    if isinstance(node, Switch):
        node = change(node)
        return dataclasses.replace(node, cases={k: map_nodes(v, change) for k, v in node.cases.items()})
    if isinstance(node, Sized):
        return dataclasses.replace(node, size=map_nodes(node.size, change),
                                   body=tuple(map_nodes(n, change) for n in node.body))
    if isinstance(node, (If, ForEach, WhileMoreData, Struct)):
        return dataclasses.replace(node, body=tuple(map_nodes(n, change) for n in node.body))
    return node


def _with_reserved(node):
    if isinstance(node, Switch):
        return dataclasses.replace(node, cases={**node.cases, **{t: RESERVED_BODY for t in RESERVED_UNIT_TYPES}})
    return node


WRITABLE_BITSTREAM = map_nodes(S.BITSTREAM, _with_reserved)


def relaxed(names: set[str] | frozenset[str]):
    """The writable declaration without the minimum, maximum and level limit of the elements ``names``."""
    def change(node):
        node = _with_reserved(node)
        if isinstance(node, Element) and node.name in names:
            return dataclasses.replace(node, minimum=None, maximum=None, limit=None)
        return node
    return map_nodes(S.BITSTREAM, change)


def read_units(data: bytes, tracer: Tracer | None = None) -> dict:
    """The declaration's values of a stream: ``bs_syntax_version_*`` and ``units``, a list of
    ``{"unit_type", "unit_size", "body"}`` (a reserved unit's body: ``{"reserved_unit_data_byte": bytes}``)."""
    return read_structure(S.BITSTREAM, data, tracer=tracer)


def write_units(values: dict, declaration=WRITABLE_BITSTREAM, tracer: Tracer | None = None) -> bytes:
    """The bytes of ``values`` (as :func:`read_units` gives them); unit sizes are computed."""
    return write_structure(declaration, values, tracer=tracer)


def reserved_unit(unit_type: int, data: bytes) -> dict:
    if unit_type not in RESERVED_UNIT_TYPES:
        raise ValueError(f"unit type {unit_type} is not reserved")
    return {"unit_type": unit_type, "body": {"reserved_unit_data_byte": bytes(data)}}


def units_of(values: dict, unit_type: int) -> list[dict]:
    """The bodies of the units of ``unit_type``, in stream order."""
    return [unit["body"] for unit in values["units"] if unit["unit_type"] == unit_type]


def index_of(values: dict, unit_type: int, nth: int = 0) -> int:
    """Position in ``values["units"]`` of the ``nth`` unit of ``unit_type``."""
    return [i for i, unit in enumerate(values["units"]) if unit["unit_type"] == unit_type][nth]


def parameter_set(values: dict) -> dict:
    return units_of(values, S.UNIT_PARAMETER_SET)[0]


# --- raw units: a type and body bytes, any size (the fuzz tests' structure-aware mutations) -----------------------

LYING_UNIT = Struct("lying_unit", "A unit whose size element says what it is given, whatever the body's length.", (
    Element("unit_type", "u(4)", "Kind of unit.", bits=4),
    Element("unit_size", "ue(v)", "Any number."),
    ByteAlignment(),
    ByteArray("data", REST_OF_UNIT, "The body."),
))
BODIES = {S.UNIT_PARAMETER_SET: S.PARAMETER_SET, S.UNIT_FEATURE_HEADER: S.FEATURE_HEADER,
          S.UNIT_CHANNEL_GROUP_HEADER: S.CHANNEL_GROUP_HEADER, S.UNIT_PAYLOAD: S.PAYLOAD,
          S.UNIT_HASH: S.DECODED_OUTPUT_HASH}


def write_raw(header: bytes, units: list[tuple[int, bytes]], sizes: dict[int, int] | None = None) -> bytes:
    """The stream of ``header`` and ``units``; ``sizes`` gives some units (by index) another ``unit_size``."""
    out = bytearray(header)
    for index, (unit_type, body) in enumerate(units):
        if sizes and index in sizes:
            out += write_structure(LYING_UNIT, {"unit_type": unit_type, "unit_size": sizes[index], "data": body})
        else:
            out += write_structure(RAW_UNIT, {"unit_type": unit_type, "data": body})
    return bytes(out)

"""Which syntax elements and values a stream exercises, and what the declaration has to be covered.

``exercised(data)`` walks a stream with the syntax tracer (the same walk as ``icm-dec --trace``) and gives every
element that occurs with the range of its values: numbers as ``[min, max]``, byte arrays (``b(8)``) as
``[shortest, longest]`` in bytes. A stream that a decoder must refuse is walked up to the element that breaks
the syntax, that element included. ``declared_elements()`` and ``declared_values()`` list what the
declaration (``common/syntax/structures.py``) holds: every element name, and for each enumerated element its
listed values and for each 1-bit flag 0 and 1.
"""
from __future__ import annotations

from ...common.errors import BitstreamError
from ...common.syntax import structures as S
from ...common.syntax.nodes import ByteArray, Element, Switch
from .units import RESERVED_UNIT_TYPES, read_units

RESERVED_DATA = "reserved_unit_data_byte"


def _walk(node, found: list) -> None:
    if isinstance(node, (Element, ByteArray)):
        found.append(node)
    elif isinstance(node, Switch):
        found.append(node)
        for case in node.cases.values():
            _walk(case, found)
    else:
        for child in ([node.size] if hasattr(node, "size") else []) + list(getattr(node, "body", ())):
            _walk(child, found)


def declaration_nodes() -> list:
    found: list = []
    _walk(S.BITSTREAM, found)
    return found


def declared_elements() -> list[str]:
    """Every syntax element of the declaration, in declaration order (the bytes of reserved units too)."""
    names = []
    for node in declaration_nodes():
        name = node.skip_name if isinstance(node, Switch) else node.name
        if name not in names:
            names.append(name)
    return names


def declared_values() -> dict[str, list[int]]:
    """Element -> the values a suite has to show: an enumerated element's listed values, a flag's 0 and 1,
    and for ``unit_type`` also the lowest and the highest reserved type."""
    values: dict[str, list[int]] = {}
    for node in declaration_nodes():
        if isinstance(node, Element) and node.enum is not None:
            values[node.name] = sorted(node.enum)
        elif isinstance(node, Element) and node.descriptor == "u(1)":
            values[node.name] = [0, 1]
    values["unit_type"] = sorted(set(values["unit_type"]) | {RESERVED_UNIT_TYPES[0], RESERVED_UNIT_TYPES[-1]})
    return values


class _Collector:
    def __init__(self):
        self.values: dict[str, set] = {}
        self.lengths: dict[str, set] = {}

    def __call__(self, position: int, name: str, descriptor: str, value) -> None:
        if isinstance(value, (bytes, bytearray)):
            self.lengths.setdefault(name, set()).add(len(value))
        else:
            self.values.setdefault(name, set()).add(value)


def walk(data: bytes) -> _Collector:
    """The values of every element of ``data`` (up to the first syntax error of a broken stream)."""
    collector = _Collector()
    try:
        read_units(data, tracer=collector)
    except BitstreamError:  # a stream that breaks the syntax on purpose: what came before counts
        pass
    return collector


def exercised(data: bytes) -> dict[str, list]:
    """Element -> ``[min, max]`` of its values in ``data`` (byte arrays: of their lengths), in declaration
    order."""
    collector = walk(data)
    ranges = {}
    for name in declared_elements():
        seen = collector.values.get(name) or collector.lengths.get(name)
        if seen:
            ranges[name] = [min(seen), max(seen)]
    return ranges


def values_seen(data: bytes) -> dict[str, set]:
    """Element -> the set of values of the enumerated elements and flags in ``data``."""
    collector = walk(data)
    wanted = declared_values()
    return {name: collector.values.get(name, set()) & set(allowed) for name, allowed in wanted.items()}


def first_streams(streams: list[tuple[str, bytes]]) -> dict[str, dict[int, str | None]]:
    """Element -> value -> the name of the first stream that holds it (None: no stream), for every value of
    :func:`declared_values`."""
    seen = [(name, values_seen(data)) for name, data in streams]
    return {element: {value: next((name for name, found in seen if value in found[element]), None)
                      for value in allowed}
            for element, allowed in declared_values().items()}

"""Walks a syntax declaration to write, parse and trace bitstreams.

``write_structure`` and ``read_structure`` share one walk (``_walk``); they differ only in what
they do at a leaf. Both can trace: every element is reported with its bit position, descriptor
and value, which is what ``icm-dec --trace`` prints.

A ``ForEach`` whose body is a record of plain elements (an array such as a channel order) is read and
written in bulk (``read_run`` / ``write_run``): the same bits, values, checks, errors and trace lines as
element by element, about ten times faster, so that the largest headers the level limits admit parse quickly.
"""
import math
from typing import Callable

from ..errors import BitstreamError, LevelLimitError
from .bitio import BitReader, BitWriter
from .levels import level_limits, DEFAULT_LEVEL_IDC
from .nodes import (REST_OF_UNIT, ByteAlignment, ByteArray, Element, ForEach, If, Sized, Struct, Switch,
                    WhileMoreData)

Tracer = Callable[[int, str, str, object], None]  # (bit position, name, descriptor, value)


class _Scope:
    """Element values visible at a point of the walk: innermost dict first."""

    def __init__(self, frames: list[dict]):
        self.frames = frames

    @property
    def top(self) -> dict:
        return self.frames[0]

    def get(self, name: str):
        for frame in self.frames:
            if name in frame:
                return frame[name]
        raise KeyError(f"syntax element {name} has no value")

    def push(self, frame: dict) -> "_Scope":
        return _Scope([frame] + self.frames)


class _Context:
    """State shared across a whole bitstream: level limits and the tracer."""

    def __init__(self, tracer: Tracer | None, level_idc: int = DEFAULT_LEVEL_IDC):
        self.tracer = tracer
        self.limits = level_limits(level_idc)

    def check(self, element: Element, value, error=LevelLimitError) -> None:
        if element.fixed is not None and value != element.fixed:
            raise BitstreamError(f"{element.name} is 0x{value:X}, expected 0x{element.fixed:X}")
        if element.descriptor == "fl(32)":
            if not math.isfinite(value) or (element.positive and value <= 0):
                raise error(f"{element.name} = {value} is not an allowed value")
            return
        if element.minimum is not None and value < element.minimum:
            raise error(f"{element.name} = {value} is below its minimum {element.minimum}")
        if element.maximum is not None and value > element.maximum:
            raise error(f"{element.name} = {value} is above its maximum {element.maximum}")
        if element.limit is not None and value > self.limits[element.limit]:
            raise error(f"{element.name} = {value} exceeds the level limit "
                        f"{element.limit} = {self.limits[element.limit]}")
        if element.sets_level:
            self.limits = level_limits(value)

    def first_refused(self, elements: tuple, values: list) -> int | None:
        """Index of the first of ``values`` (flat, the elements of a record in turn) that :meth:`check`
        refuses, or None; plain elements only (not fixed, not setting the level)."""
        width = len(elements)
        if all(self._accepts_all(element, values[column::width]) for column, element in enumerate(elements)):
            return None
        return next(index for index, value in enumerate(values) if self._refuses(elements[index % width], value))

    def _accepts_all(self, element: Element, values: list) -> bool:
        if not values:
            return True
        if element.descriptor == "fl(32)":
            return all(map(math.isfinite, values)) and (not element.positive or min(values) > 0)
        low, high = self._bounds(element)
        return (low is None or min(values) >= low) and (high is None or max(values) <= high)

    def _bounds(self, element: Element) -> tuple[int | None, int | None]:
        highs = [element.maximum, self.limits[element.limit] if element.limit is not None else None]
        return element.minimum, min((high for high in highs if high is not None), default=None)

    def _refuses(self, element: Element, value) -> bool:
        if element.descriptor == "fl(32)":
            return not math.isfinite(value) or (element.positive and value <= 0)
        low, high = self._bounds(element)
        return (low is not None and value < low) or (high is not None and value > high)


def write_structure(struct: Struct, values: dict, tracer: Tracer | None = None,
                    level_idc: int = DEFAULT_LEVEL_IDC) -> bytes:
    """Serialise ``values`` following ``struct``; the result is byte-aligned."""
    writer = _Writer(BitWriter(), _Context(tracer, level_idc))
    writer.walk(struct.body, _Scope([values]))
    return writer.bits.getvalue()


def read_structure(struct: Struct, data: bytes, tracer: Tracer | None = None,
                   level_idc: int = DEFAULT_LEVEL_IDC) -> dict:
    """Parse ``data`` following ``struct``; every byte must be consumed."""
    values: dict = {}
    reader = _Reader(BitReader(data), _Context(tracer, level_idc))
    reader.walk(struct.body, _Scope([values]))
    if reader.bits.bits_left:
        raise BitstreamError(f"{reader.bits.bits_left // 8} unexpected bytes after {struct.name}")
    return values


def _count(node: ByteArray, scope: _Scope, bits_left: int | None = None) -> int:
    if node.count == REST_OF_UNIT:
        if bits_left is None:
            raise ValueError(f"{node.name}: the rest of the unit is only known when reading")
        return bits_left // 8
    return node.count if isinstance(node.count, int) else scope.get(node.count)


class _Walker:
    """The walk shared by writer and reader; subclasses implement the leaves."""

    reading = False

    def __init__(self, bits, ctx: _Context, trace_offset: int = 0):
        self.bits = bits
        self.ctx = ctx
        self.trace_offset = trace_offset

    def trace(self, position: int, name: str, descriptor: str, value) -> None:
        if self.ctx.tracer is not None:
            self.ctx.tracer(self.trace_offset + position, name, descriptor, value)

    def walk(self, nodes: tuple, scope: _Scope) -> None:
        for node in nodes:
            if isinstance(node, Element):
                self.element(node, scope)
            elif isinstance(node, ByteArray):
                self.byte_array(node, scope)
            elif isinstance(node, ByteAlignment):
                self.alignment()
            elif isinstance(node, If):
                if node.cond.holds(scope.get(node.cond.field)):
                    self.walk(node.body, scope)
            elif isinstance(node, ForEach):
                self.for_each(node, scope)
            elif isinstance(node, Sized):
                self.sized(node, scope)
            elif isinstance(node, Switch):
                self.switch(node, scope)
            elif isinstance(node, WhileMoreData):
                self.while_more_data(node, scope)
            elif isinstance(node, Struct):
                self.walk(node.body, scope)
            else:
                raise TypeError(f"unknown syntax node {node!r}")

    def for_each(self, node: ForEach, scope: _Scope) -> None:
        if node.run_elements is not None:
            self.run(node, scope)
            return
        for item in self.items(scope, node.list_name, scope.get(node.count)):
            self.walk(node.body, scope.push(item))

    def switch(self, node: Switch, scope: _Scope) -> None:
        case = node.cases.get(scope.get(node.field))
        if case is None:
            self.skip_rest(node, scope)
            return
        frame = self.items(scope, node.into, None)
        self.walk(case.body, scope.push(frame))


class _Writer(_Walker):
    def element(self, el: Element, scope: _Scope) -> None:
        if el.fixed is not None:
            value = el.fixed
        elif el.reserved:
            value = 0
        else:
            value = scope.get(el.name)
        self.ctx.check(el, value, error=ValueError)
        position = self.bits.bit_position
        if el.descriptor == "ue(v)":
            self.bits.write_ue(value)
        elif el.descriptor == "se(v)":
            self.bits.write_se(value)
        elif el.descriptor == "fl(32)":
            self.bits.write_f32(value)
        else:
            self.bits.write_bits(value, el.bits)
        self.trace(position, el.name, el.descriptor, value)

    def run(self, node: ForEach, scope: _Scope) -> None:
        """A ForEach over a record of plain elements, written in bulk."""
        items = self.items(scope, node.list_name, scope.get(node.count))
        elements = node.run_elements
        names = [element.name for element in elements]
        try:
            values = [item[names[0]] for item in items] if len(names) == 1 else \
                [item[name] for item in items for name in names]
        except KeyError:  # a value missing from an item: looked up in the enclosing frames, as elsewhere
            values = [scope.push(item).get(name) for item in items for name in names]
        refused = self.ctx.first_refused(elements, values)
        if refused is not None:
            self.ctx.check(elements[refused % len(elements)], values[refused], error=ValueError)
        positions = [] if self.ctx.tracer is not None else None
        self.bits.write_run(node.run_kinds, values, positions)
        if positions is not None:
            for index, (position, value) in enumerate(zip(positions, values)):
                element = elements[index % len(elements)]
                self.trace(position, element.name, element.descriptor, value)

    def byte_array(self, node: ByteArray, scope: _Scope) -> None:
        data = bytes(scope.get(node.name))
        if node.count != REST_OF_UNIT and len(data) != _count(node, scope):
            raise ValueError(f"{node.name} has {len(data)} bytes, {node.count} says {_count(node, scope)}")
        self.trace(self.bits.bit_position, node.name, f"b(8)[{len(data)}]", data)
        self.bits.write_bytes(data)

    def alignment(self) -> None:
        while not self.bits.byte_aligned:
            self.bits.write_bits(0, 1)

    def items(self, scope: _Scope, name: str, count):
        items = scope.top[name]
        if count is not None and len(items) != count:
            raise ValueError(f"{name} has {len(items)} entries, expected {count}")
        return items

    def sized(self, node: Sized, scope: _Scope) -> None:
        lines = []
        body_ctx = _Context(None if self.ctx.tracer is None else lambda *line: lines.append(line))
        body_ctx.limits = self.ctx.limits
        body = _Writer(BitWriter(), body_ctx)
        body.walk(node.body, scope)
        payload = body.bits.getvalue()
        scope.top[node.size.name] = len(payload)
        self.element(node.size, scope)
        self.alignment()
        self.ctx.limits = body_ctx.limits
        start = self.bits.bit_position
        for position, *rest in lines:
            self.trace(start + position, *rest)
        self.bits.write_bytes(payload)

    def skip_rest(self, node: Switch, scope: _Scope) -> None:
        raise ValueError(f"{node.field} = {scope.get(node.field)} has no syntax structure to write")

    def while_more_data(self, node: WhileMoreData, scope: _Scope) -> None:
        for item in scope.top[node.list_name]:
            self.walk(node.body, scope.push(item))


class _Reader(_Walker):
    reading = True

    def element(self, el: Element, scope: _Scope) -> None:
        position = self.bits.bit_position
        if el.descriptor == "ue(v)":
            value = self.bits.read_ue()
        elif el.descriptor == "se(v)":
            value = self.bits.read_se()
        elif el.descriptor == "fl(32)":
            value = self.bits.read_f32()
        else:
            value = self.bits.read_bits(el.bits)
        self.trace(position, el.name, el.descriptor, value)
        self.ctx.check(el, value)
        scope.top[el.name] = value

    def run(self, node: ForEach, scope: _Scope) -> None:
        """A ForEach over a record of plain elements, read in bulk; values, checks, errors and trace lines as
        element by element."""
        count = scope.get(node.count)  # checked against its level limit
        elements, width = node.run_elements, len(node.run_elements)
        positions = [] if self.ctx.tracer is not None else None
        values = self.bits.read_run(node.run_kinds, count, positions)
        refused = self.ctx.first_refused(elements, values)
        if positions is not None:
            for index in range(len(values) if refused is None else refused + 1):
                element = elements[index % width]
                self.trace(positions[index], element.name, element.descriptor, values[index])
        if refused is not None:
            self.ctx.check(elements[refused % width], values[refused])
        if width == 1:
            items = [{elements[0].name: value} for value in values]
        else:
            names = [element.name for element in elements]
            items = [dict(zip(names, record)) for record in zip(*(values[column::width] for column in range(width)))]
            if len(values) % width:  # a record cut short by a damaged element
                items.append(dict(zip(names, values[len(values) - len(values) % width:])))
        scope.top[node.list_name] = items
        done = len(values)
        for index in range(done, count * width):  # the run stopped at a damaged element: reading it alone raises
            if index % width == 0:
                items.append({})
            self.element(elements[index % width], scope.push(items[-1]))

    def byte_array(self, node: ByteArray, scope: _Scope) -> None:
        position = self.bits.bit_position
        data = self.bits.read_bytes(_count(node, scope, self.bits.bits_left))
        self.trace(position, node.name, f"b(8)[{len(data)}]", data)
        scope.top[node.name] = data

    def alignment(self) -> None:
        while not self.bits.byte_aligned:
            if self.bits.read_bits(1) != 0:
                raise BitstreamError(f"alignment_zero_bit is not zero at bit {self.bits.bit_position - 1}")

    def items(self, scope: _Scope, name: str, count):
        if count is None:
            scope.top[name] = {}
            return scope.top[name]
        scope.top[name] = [{} for _ in range(count)]  # count was checked against its level limit
        return scope.top[name]

    def sized(self, node: Sized, scope: _Scope) -> None:
        self.element(node.size, scope)
        self.alignment()
        body = _Reader(self.bits.sub_reader(scope.top[node.size.name]), self.ctx)
        body.walk(node.body, scope)
        if body.bits.bits_left:
            raise BitstreamError(f"{body.bits.bits_left // 8} unexpected bytes at the end of a structure "
                                 f"of {scope.top[node.size.name]} bytes")

    def skip_rest(self, node: Switch, scope: _Scope) -> None:
        """Values without a structure (reserved for future versions) are skipped whole."""
        position = self.bits.bit_position
        data = self.bits.read_bytes(self.bits.bits_left // 8)
        self.trace(position, node.skip_name, f"b(8)[{len(data)}]", data)
        scope.top[node.into] = {node.skip_name: data}

    def while_more_data(self, node: WhileMoreData, scope: _Scope) -> None:
        items = scope.top[node.list_name] = []
        while self.bits.bits_left:
            if len(items) >= self.ctx.limits[node.limit]:
                raise LevelLimitError(f"more than {self.ctx.limits[node.limit]} repetitions of "
                                      f"{node.list_name} ({node.limit})")
            item: dict = {}
            items.append(item)
            self.walk(node.body, scope.push(item))

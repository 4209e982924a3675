"""The building blocks of syntax declarations.

A syntax structure is declared once, as a tree of these nodes (see ``structures.py``). The same
tree is walked by the writer, the parser, the tracer (``icm-dec --trace``) and the documentation
generator (``docs/bitstream.md``), so the four can never disagree.

Values live in plain dicts keyed by element name; a ``ForEach`` keeps a list of dicts (one per
iteration) under its ``list_name``, a ``Switch`` a dict under its ``into`` key.
"""
from dataclasses import dataclass, field
from functools import cached_property


@dataclass(frozen=True)
class Element:
    """One syntax element: a name, a descriptor and its constraints."""

    name: str
    descriptor: str  # "u(n)", "f(n)", "ue(v)", "se(v)" or "fl(32)"
    doc: str
    bits: int = 0  # for u(n) / f(n)
    fixed: int | None = None  # f(n): the only allowed value
    reserved: bool = False  # written as 0, ignored by decoders of this version
    minimum: int | None = None
    maximum: int | None = None
    limit: str | None = None  # key into the level limits: value <= limits[limit]
    enum: dict | None = None  # value -> meaning, for trace and docs
    sets_level: bool = False  # this element is the level indicator
    finite: bool = False  # fl(32): NaN and infinities are not allowed
    positive: bool = False  # fl(32): value must be > 0


def u(bits: int, name: str, doc: str, **constraints) -> Element:
    return Element(name, f"u({bits})", doc, bits=bits, **constraints)


def fixed(bits: int, name: str, value: int, doc: str) -> Element:
    return Element(name, f"f({bits})", doc, bits=bits, fixed=value)


def reserved(bits: int, name: str, doc: str) -> Element:
    return Element(name, f"u({bits})", doc, bits=bits, reserved=True)


def ue(name: str, doc: str, **constraints) -> Element:
    return Element(name, "ue(v)", doc, **constraints)


def se(name: str, doc: str, **constraints) -> Element:
    return Element(name, "se(v)", doc, **constraints)


def fl32(name: str, doc: str, positive: bool = False) -> Element:
    return Element(name, "fl(32)", doc, finite=True, positive=positive)


REST_OF_UNIT = "rest of the unit"  # ByteArray count: every byte left in the enclosing Sized body


@dataclass(frozen=True)
class ByteArray:
    """``count`` bytes, b(8) each, at a byte-aligned position; ``count`` is a number, names an
    earlier element, or is ``REST_OF_UNIT`` (the bytes up to the end of the enclosing ``Sized`` body)."""

    name: str
    count: str | int
    doc: str


@dataclass(frozen=True)
class ByteAlignment:
    """byte_alignment( ): alignment_zero_bit f(1) until the position is byte-aligned."""


@dataclass(frozen=True)
class Cond:
    """A condition on an earlier element: ``field op value`` with op one of == != > <."""

    field: str
    op: str
    value: int

    def holds(self, actual: int) -> bool:
        return {"==": actual == self.value, "!=": actual != self.value,
                ">": actual > self.value, "<": actual < self.value}[self.op]

    def text(self, names: dict | None = None) -> str:
        value = (names or {}).get(self.value, self.value)
        return f"{self.field} {self.op} {value}"


@dataclass(frozen=True)
class If:
    cond: Cond
    body: tuple


@dataclass(frozen=True)
class ForEach:
    """``for( index = 0; index < count; index++ )``: one dict per iteration under ``list_name``."""

    count: str
    list_name: str
    index: str
    body: tuple

    @cached_property
    def run_elements(self) -> tuple["Element", ...] | None:
        """The elements of a body made only of plain elements (a record: no conditions, alignment, fixed,
        reserved or level-setting elements), which readers and writers code in bulk; None otherwise."""
        if not self.body or not all(isinstance(node, Element) and node.fixed is None and not node.reserved
                                    and not node.sets_level and (node.bits > 0 or node.descriptor in _VARIABLE)
                                    for node in self.body):
            return None
        return self.body

    @cached_property
    def run_kinds(self) -> tuple[tuple[str, int], ...]:
        """``(descriptor, bits)`` of each element of :attr:`run_elements`."""
        return tuple((element.descriptor, 32 if element.descriptor == "fl(32)" else element.bits)
                     for element in self.run_elements)


_VARIABLE = ("ue(v)", "se(v)", "fl(32)")


@dataclass(frozen=True)
class Sized:
    """A byte count ``size`` (an element), byte alignment, then exactly that many bytes holding ``body``."""

    size: Element
    body: tuple


@dataclass(frozen=True)
class Switch:
    """Chooses a structure by the value of an earlier element; unknown values are skipped."""

    field: str
    cases: dict  # value -> Struct
    into: str
    skip_name: str  # name of the skipped bytes for values without a case


@dataclass(frozen=True)
class WhileMoreData:
    """Repeats ``body`` while data remain; one dict per repetition under ``list_name``."""

    list_name: str
    body: tuple
    limit: str  # level-limit key bounding the number of repetitions


@dataclass(frozen=True)
class Struct:
    """A named syntax structure, one table in the specification."""

    name: str
    doc: str
    body: tuple = field(default_factory=tuple)

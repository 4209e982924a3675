"""Seeded random mutation of bitstreams, shared by the fuzz tests: byte-level (``mutate``) and structure-aware
(``mutate_structure``: units duplicated, removed, moved, cut or padded; huge or special values in size, count and
id fields, written in well-framed units; lying unit sizes; payloads holding several VVC access units; reserved
units anywhere)."""
import math
import random
import struct

from icm.common.syntax import structures as S
from icm.common.syntax.bitio import BitReader
from icm.common.syntax.interpreter import read_structure
from icm.ctc_scripts.conformance.units import BODIES, RESERVED_UNIT_TYPES, read_raw, write_raw


def mutate(data: bytes, rng: random.Random, header_bytes: int = 64) -> bytes:
    """One mutation of ``data``: bit flips, byte overwrites, truncation, insertion or deletion.

    Half of the mutations target the first ``header_bytes`` bytes, where the headers live.
    """
    buffer = bytearray(data)
    kind = rng.randrange(6)

    def position() -> int:
        limit = min(len(buffer), header_bytes) if rng.random() < 0.5 else len(buffer)
        return rng.randrange(max(1, limit))

    if kind == 0:  # flip a few bits
        for _ in range(rng.randint(1, 4)):
            buffer[position()] ^= 1 << rng.randrange(8)
    elif kind == 1:  # overwrite bytes with random values
        for _ in range(rng.randint(1, 4)):
            buffer[position()] = rng.randrange(256)
    elif kind == 2:  # truncate
        del buffer[rng.randrange(len(buffer)):]
    elif kind == 3:  # insert random bytes
        at = position()
        buffer[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    elif kind == 4:  # delete a run of bytes
        at = position()
        del buffer[at:at + rng.randint(1, 8)]
    else:  # extreme values in a 32-bit field
        at = position()
        buffer[at:at + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x00"])
    return bytes(buffer)


# --- structure-aware mutations -------------------------------------------------------------------------------------

HUGE = (0, 1, 2, 255, 256, 4097, 65535, 1 << 20, (1 << 31) - 1, (1 << 32) - 2)
SPECIAL_FLOATS = (math.nan, math.inf, -math.inf, 0.0, -0.0, -1.0, 1e-45, 3.4e38, 65536.0, 2.0 ** -17)


def _elements(unit_type: int, body: bytes) -> list[tuple[int, str, str]]:
    """(bit position, name, descriptor) of every element of a unit body (as the parser traces them)."""
    found: list = []
    read_structure(BODIES[unit_type], body, tracer=lambda pos, name, desc, value: found.append((pos, name, desc)))
    return [item for item in found if not item[2].startswith("b(8)")]


def _code(descriptor: str, value) -> str:
    """The bits of ``value`` coded with ``descriptor``, as a string of 0 and 1."""
    if descriptor == "se(v)":
        descriptor, value = "ue(v)", 2 * value - 1 if value > 0 else -2 * value
    if descriptor == "ue(v)":
        code = bin(value + 1)[2:]
        return "0" * (len(code) - 1) + code
    if descriptor == "fl(32)":
        return f"{struct.unpack('>I', struct.pack('>f', value))[0]:032b}"
    return f"{value:0{int(descriptor[2:-1])}b}"


def _length(body: bytes, position: int, descriptor: str) -> int:
    reader = BitReader(body, start_bit=position)
    {"ue(v)": reader.read_ue, "se(v)": reader.read_se, "fl(32)": reader.read_f32}.get(
        descriptor, lambda: reader.read_bits(int(descriptor[2:-1])))()
    return reader.bit_position - position


def _new_value(descriptor: str, rng: random.Random):
    if descriptor == "ue(v)":
        return rng.choice(HUGE)
    if descriptor == "se(v)":
        return rng.choice((-(1 << 30), -65, 64, 1 << 30))
    if descriptor == "fl(32)":
        return rng.choice(SPECIAL_FLOATS)
    bits = int(descriptor[2:-1])
    return rng.choice((0, (1 << bits) - 1, rng.randrange(1 << bits)))


def replace_element(unit_type: int, body: bytes, rng: random.Random, only_variable: bool) -> bytes:
    """``body`` with one element's code replaced by that of another value (huge, special, random), padded
    with zero bits to whole bytes; the rest of the body follows unchanged."""
    elements = [e for e in _elements(unit_type, body) if not only_variable or e[2] == "ue(v)"] or \
        _elements(unit_type, body)
    position, _, descriptor = rng.choice(elements)
    bits = "".join(f"{byte:08b}" for byte in body)
    old = _length(body, position, descriptor)
    bits = bits[:position] + _code(descriptor, _new_value(descriptor, rng)) + bits[position + old:]
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""


def mutate_structure(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """(kind, mutated stream): one structure-aware mutation of a well-framed stream."""
    header, units = read_raw(data)
    units = list(units)
    kind = rng.choice(("duplicate", "remove", "move", "unit_size", "size_field", "any_field", "access_units",
                       "reserved", "cut_body", "pad_body", "swap_payloads", "version"))
    index = rng.randrange(len(units))
    sizes = None
    if kind == "duplicate":
        units.insert(rng.randrange(len(units) + 1), units[index])
    elif kind == "remove":
        del units[index]
    elif kind == "move":
        unit = units.pop(index)
        units.insert(rng.randrange(len(units) + 1), unit)
    elif kind == "unit_size":
        length = len(units[index][1])
        sizes = {index: rng.choice((0, max(0, length - 1), length + 1, length + 1000, (1 << 24) + 1,
                                    (1 << 31) - 1, (1 << 32) - 2))}
    elif kind in ("size_field", "any_field"):
        typed = [i for i, (t, body) in enumerate(units) if t in BODIES and body]
        index = rng.choice(typed)
        unit_type, body = units[index]
        units[index] = (unit_type, replace_element(unit_type, body, rng, only_variable=kind == "size_field"))
    elif kind == "access_units":  # several copies of a payload's data: several VVC access units in one payload
        payloads = [i for i, (t, _) in enumerate(units) if t == S.UNIT_PAYLOAD]
        index = rng.choice(payloads)
        unit_type, body = units[index]
        start = _data_start(body)
        units[index] = (unit_type, body + body[start:] * rng.choice((1, 1, 2, 7)))
    elif kind == "reserved":
        body = bytes(rng.randrange(256) for _ in range(rng.choice((0, 1, 5, 300))))
        units.insert(rng.randrange(len(units) + 1), (rng.choice(RESERVED_UNIT_TYPES), body))
    elif kind == "cut_body":
        unit_type, body = units[index]
        units[index] = (unit_type, body[:rng.randrange(len(body) + 1)] if body else body)
    elif kind == "pad_body":
        unit_type, body = units[index]
        units[index] = (unit_type, body + bytes(rng.randrange(256) for _ in range(rng.randint(1, 4))))
    elif kind == "swap_payloads":  # one payload's data under another's header (tensor and group)
        payloads = [i for i, (t, _) in enumerate(units) if t == S.UNIT_PAYLOAD]
        first, second = rng.choice(payloads), rng.choice(payloads)
        head, data_of_second = units[first][1], units[second][1]
        units[first] = (S.UNIT_PAYLOAD, head[:_data_start(head)] + data_of_second[_data_start(data_of_second):])
    else:
        header = header[:4] + bytes([rng.choice((0x10, 0x20, 0x21, 0x31, 0x3F, 0x40, 0xFF, 2))])
    return kind, write_raw(header, units, sizes)


def _data_start(body: bytes) -> int:
    """Byte offset of ``pl_data`` in a payload body."""
    found: list = []
    read_structure(S.PAYLOAD, body, tracer=lambda pos, name, desc, value: found.append((pos, name)))
    return next(pos for pos, name in found if name == "pl_data") // 8

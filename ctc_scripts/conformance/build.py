"""Makes the suite's streams and manifest entries (``suite.py``), and checks each with this decoder.

A stream made by the encoder is encoded from its picture; a learned one (``Encoded.learned``) is kept from the
folder when it is there, unless ``rewrite_learned``. A written stream is built from its source entry's stream
(as just made or kept), so it follows its source. Every entry is then decoded: a stream decodes to the MD5 its
hash unit holds, a partial or adapted decode gives its MD5, and a must-reject stream is refused with the stated exit
status; anything else stops the generator (a decoder defect, or a wrong entry).
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from ...common.bitstream import parse
from ...common.config import DecoderConfig, EncoderConfig
from ...common.errors import IcmError
from ...common.output import GEOMETRY_ARRAY, hash_unit
from ...common.registry import ToolInstances
from ...common.syntax import structures as S
from . import coverage
from .manifest import DECODE_KEYS
from .rewrites import apply
from .suite import DecodeEntry, Encoded, Written
from .units import WRITABLE_BITSTREAM, read_units, relaxed, write_units

OUTPUT_KINDS = {0: "picture", 1: "features"}


class SuiteError(Exception):
    """An entry that cannot be made as stated (e.g. the decoder does not refuse a must-reject stream)."""


@dataclasses.dataclass
class Made:
    entry: object
    data: bytes | None  # None for a partial or adapted decode (its source's stream)
    record: dict
    kept: bool = False  # a learned stream kept from the folder


def changed_settings(config: EncoderConfig) -> dict:
    """The encoder settings of ``config`` that differ from the defaults, flat (``inner.preset`` ...)."""
    flat, default = _flat(dataclasses.asdict(config)), _flat(dataclasses.asdict(EncoderConfig()))
    return {key: value for key, value in flat.items() if value != default.get(key) or key == "tool"}


def _flat(values: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        elif not isinstance(value, dict):
            out[prefix + key] = value
    return out


def encode(entry: Encoded, tools: ToolInstances) -> bytes:
    from ...encoder.pipeline import encode_picture

    return encode_picture(entry.picture.load(), entry.config, tools=tools).data


def write(entry: Written, source: bytes, tools: ToolInstances) -> bytes:
    """The rewritten stream; a decodable one gets the hash of what this decoder outputs for it."""
    values = apply(entry.rewrite, read_units(source))
    declaration = relaxed(entry.relax) if entry.relax else WRITABLE_BITSTREAM
    if entry.reject is not None:
        return write_units(values, declaration)
    bitstream = parse(write_units(values, declaration))
    output = tools.decode(bitstream, DecoderConfig())
    hash_body = next(unit["body"] for unit in values["units"] if unit["unit_type"] == S.UNIT_HASH)
    hash_body.update(hash_unit(output, hash_body["dh_hash_type"]))
    return write_units(values, declaration)


def decode_check(name: str, data: bytes, decode: dict, reject: int | None,
                 tools: ToolInstances) -> tuple[str | None, str | None, list[str]]:
    """(MD5, output kind, array names) of this decoder's output with the decoder settings ``decode``
    (``max_groups``, ``task_network``); (None, None, []) for a stream it refuses as ``reject`` says. SuiteError
    for anything else. A full decode's output must match the stream's hash; a partial decode's is not checked,
    and an adapted decode's plain picture is checked by the decoder itself."""
    from ...decoder.pipeline import decode_bytes

    try:
        result = decode_bytes(data, DecoderConfig(**decode), tools=tools)
    except IcmError as exc:
        if reject is not None and exc.exit_code == reject:
            return None, None, []
        raise SuiteError(f"{name}: the decoder refuses it with exit status {exc.exit_code} ({exc})"
                         + ("" if reject is None else f", not {reject}")) from None
    if reject is not None:
        raise SuiteError(f"{name}: the decoder decodes it, but it must be refused (exit status {reject})")
    md5 = result.output.md5().hex()
    checked = result.output.digest(result.bitstream.output_hash["dh_hash_type"]).hex()
    if all(value is None for value in decode.values()) and checked != result.hash_hex:
        raise SuiteError(f"{name}: decoded output's hash {checked} differs from the stream's {result.hash_hex}")
    arrays = list(result.output.feature_names) + ([GEOMETRY_ARRAY] if result.output.features else [])
    return md5, OUTPUT_KINDS[result.output.output_type], arrays


def make(entries, folder: Path, rewrite_learned: bool = False, tools: ToolInstances | None = None,
         report=print) -> list[Made]:
    tools = tools if tools is not None else ToolInstances()
    made: dict[str, Made] = {}
    for entry in entries:
        kept = False
        if isinstance(entry, Encoded):
            path = folder / entry.stream
            kept = entry.learned and not rewrite_learned and path.is_file()
            data = path.read_bytes() if kept else encode(entry, tools)
        elif isinstance(entry, Written):
            data = write(entry, made[entry.source].data, tools)
        else:
            data = None
        record = _record(entry, data, made, tools)
        made[entry.name] = Made(entry, data, record, kept)
        report(f"{entry.name}: {_summary(record)}{' (kept)' if kept else ''}")
    return list(made.values())


def _summary(record: dict) -> str:
    expect = record["expect"]
    result = f"MD5 {expect['md5']}" if expect["outcome"] == "decode" else f"refused ({expect['exit_status']})"
    return f"{record['bytes']} bytes, {result}"


def _record(entry, data: bytes | None, made: dict, tools: ToolInstances) -> dict:
    if isinstance(entry, DecodeEntry):
        source = made[entry.source]
        data, stream, decode, reject = source.data, source.record["stream"], entry.decode, None
        origin = dict(made_by=source.record["made_by"], learned=source.record["learned"],
                      source=entry.source, settings={})
    else:
        stream, decode = entry.stream, dict.fromkeys(DECODE_KEYS)
        reject = getattr(entry, "reject", None)
        if isinstance(entry, Encoded):
            origin = dict(made_by="encoder", learned=entry.learned, source=entry.picture.describe(),
                          settings=changed_settings(entry.config))
        else:
            origin = dict(made_by="writer", learned=made[entry.source].record["learned"],
                          source=entry.source, settings={})
    md5, output, arrays = decode_check(entry.name, data, decode, reject, tools)
    if reject is not None:
        output = made[entry.source].record["expect"]["output"]
        expect = {"outcome": "reject", "output": output, "exit_status": reject}
    else:
        expect = {"outcome": "decode", "output": output, "md5": md5}
        if output == "features":
            expect["arrays"] = arrays
    exercises = coverage.exercised(data)
    tool_id = exercises["ps_tool_id"][0]
    return {"name": entry.name, "stream": stream, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "tool": S.TOOLS.get(tool_id, f"tool {tool_id}"), **origin, "description": entry.description,
            "decode": decode, "expect": expect, "exercises": exercises}

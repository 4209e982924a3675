"""The decoder: bitstream bytes -> decoded picture or feature tensors, checked against the stream's hash.

The tool's decoder comes from the registry of coding tools (``icm.common.registry``), by ``ps_tool_id``.
"""
import time
from dataclasses import dataclass
from pathlib import Path

from ..common.bitstream import SIDE_INFORMATION, Bitstream, parse
from ..common.config import DecoderConfig
from ..common.errors import ConfigError, InputError
from ..common.output import DecodedOutput, check_hash
from ..common.registry import ToolInstances
from ..common.syntax.interpreter import Tracer

MAX_BITSTREAM_BYTES = 1 << 30


@dataclass
class DecodeResult:
    bitstream: Bitstream
    output: DecodedOutput
    hash_hex: str | None  # None: not checked (partial decode); an adapted output: its plain picture's
    decode_seconds: float
    tool: str = ""  # the registered name of the stream's tool
    needed_bytes: int = 0  # the stream's bytes less the payloads a partial decode left unread (max_groups)


def read_bitstream_file(path: str) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"bitstream file not found: {path}")
    if path.stat().st_size > MAX_BITSTREAM_BYTES:
        raise InputError(f"bitstream file {path} is larger than {MAX_BITSTREAM_BYTES} bytes")
    return path.read_bytes()


def decode_bytes(data: bytes, config: DecoderConfig, tracer: Tracer | None = None,
                 tools: ToolInstances | None = None) -> DecodeResult:
    """Parse, decode and verify ``data``. ``tools`` keeps the decoders (and their models) for the next
    stream: pass the same one to a loop over streams."""
    tools = tools if tools is not None else ToolInstances()
    start = time.perf_counter()
    bitstream = parse(data, tracer=tracer)
    decoder = tools.decoder(bitstream.parameter_set["ps_tool_id"])
    if config.max_groups is not None and not decoder.entry.groups:
        raise ConfigError(f"max_groups: {decoder.entry.name} streams have no channel groups to leave out")
    output = tools.decode(bitstream, config)
    if output.partial:
        hash_hex = None
    elif output.adapted_for is not None:
        hash_hex = output.plain_hash  # checked by the tool on the plain picture the adapted one is made from
    else:
        hash_hex = check_hash(output, bitstream.output_hash)
    return DecodeResult(bitstream, output, hash_hex, time.perf_counter() - start, decoder.entry.name,
                        len(data) - unread_payload_bytes(bitstream, config.max_groups))


def unread_payload_bytes(bitstream: Bitstream, max_groups: int | None) -> int:
    """The bytes of the channel groups that a decode of the first ``max_groups`` groups of every tensor
    leaves unread (their entropy-coded payloads; side information is always read): what a stream cut down to
    that decode would not carry. 0 for a full decode."""
    if max_groups is None:
        return 0
    return sum(len(unit["pl_data"]) for unit in bitstream.payloads
               if unit["pl_type"] == 0 and unit["pl_group_idx"] != SIDE_INFORMATION
               and unit["pl_group_idx"] >= max_groups)

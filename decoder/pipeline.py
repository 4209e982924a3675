"""The decoder: bitstream bytes -> decoded picture or feature tensors, checked against the stream's hash."""
import time
from dataclasses import dataclass
from pathlib import Path

from ..common.bitstream import Bitstream, parse
from ..common.config import DecoderConfig
from ..common.errors import InputError
from ..common.output import DecodedOutput, check_hash
from ..common.syntax.interpreter import Tracer
from .tools import get_decoder

MAX_BITSTREAM_BYTES = 1 << 30


@dataclass
class DecodeResult:
    bitstream: Bitstream
    output: DecodedOutput
    hash_hex: str | None  # None: not checked (partial decode)
    decode_seconds: float


def read_bitstream_file(path: str) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"bitstream file not found: {path}")
    if path.stat().st_size > MAX_BITSTREAM_BYTES:
        raise InputError(f"bitstream file {path} is larger than {MAX_BITSTREAM_BYTES} bytes")
    return path.read_bytes()


def decode_bytes(data: bytes, config: DecoderConfig, tracer: Tracer | None = None) -> DecodeResult:
    """Parse, decode and verify ``data``."""
    start = time.perf_counter()
    bitstream = parse(data, tracer=tracer)
    output = get_decoder(bitstream.parameter_set["ps_tool_id"]).decode(bitstream, config)
    hash_hex = None if output.partial else check_hash(output, bitstream.output_hash)
    return DecodeResult(bitstream, output, hash_hex, time.perf_counter() - start)

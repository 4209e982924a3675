"""The encoder: picture file -> bitstream file, closing the loop with the tool's decoder for the hash.

The tool's encoder and decoder come from the registry of coding tools (``icm.common.registry``), so the
encoder package never imports the decoder package.
"""
import time
from dataclasses import dataclass, field

import numpy as np

from ..common.bitstream import serialize
from ..common.config import DecoderConfig, EncoderConfig
from ..common.errors import ConfigError
from ..common.fileio import write_bytes_atomically
from ..common.image_io import read_image
from ..common.output import HASH_TYPE_NAMES, DecodedOutput, hash_unit
from ..common.registry import ToolInstances
from ..common.syntax.interpreter import Tracer
from ..common.threads import ENCODER_THREADS, torch_threads


@dataclass
class EncodeResult:
    data: bytes
    width: int
    height: int
    decoded: DecodedOutput
    encode_seconds: float
    info: dict = field(default_factory=dict)  # what the tool reports about the encode (e.g. refinement costs)

    @property
    def bits(self) -> int:
        return 8 * len(self.data)

    @property
    def bpp(self) -> float:
        return self.bits / (self.width * self.height)


def encode_picture(rgb: np.ndarray, config: EncoderConfig, tracer: Tracer | None = None,
                   tools: ToolInstances | None = None) -> EncodeResult:
    """Encode ``rgb`` with ``config.tool``; the stream carries the hash of its own decoded output.

    ``tools`` keeps the encoder and decoder objects (and their loaded models) for the next picture: pass the
    same one to a loop over pictures. The tool's float networks (task network part 1, analysis, refinement)
    run on one CPU thread: a float sum's rounding depends on how it is split across threads, and a rounding
    difference can change a coded symbol, so this keeps the stream independent of the machine's core count
    (decoding is exact anyway).

    ``encode_seconds`` counts from the tool's first work on the picture (its model loading and preparation
    included, on the first picture of a ``tools``) to the finished stream; the import of the tool's modules and
    libraries (torch) before it is the program's start-up, not the encode (docs/usage.md)."""
    tools = tools if tools is not None else ToolInstances()
    encoder = tools.encoder(config.tool)
    start = time.perf_counter()
    encoder.entry.check(config)
    if config.output_hash not in HASH_TYPE_NAMES:
        raise ConfigError(f"unknown output hash '{config.output_hash}' (use {' or '.join(HASH_TYPE_NAMES)})")
    with torch_threads(ENCODER_THREADS):
        encoding = encoder.encode(rgb, config)
    bitstream = encoding.bitstream
    decoded = tools.decode(bitstream, DecoderConfig(device=config.device, inner=config.inner))
    bitstream.output_hash = hash_unit(decoded, HASH_TYPE_NAMES[config.output_hash])
    data = serialize(bitstream, tracer=tracer)
    return EncodeResult(data, rgb.shape[1], rgb.shape[0], decoded, time.perf_counter() - start, encoding.info)


def encode_file(input_path: str, output_path: str, config: EncoderConfig, tracer: Tracer | None = None,
                tools: ToolInstances | None = None) -> EncodeResult:
    result = encode_picture(read_image(input_path), config, tracer=tracer, tools=tools)
    write_bytes_atomically(output_path, result.data)
    return result

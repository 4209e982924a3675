"""The encoder: picture file -> bitstream file, closing the loop with the decoder for the hash."""
import time
from dataclasses import dataclass

import numpy as np

from ..common.bitstream import serialize
from ..common.config import DecoderConfig, EncoderConfig
from ..common.errors import ConfigError
from ..common.fileio import write_bytes_atomically
from ..common.image_io import read_image
from ..common.output import DecodedOutput, hash_unit
from ..common.syntax.interpreter import Tracer
from ..common.threads import ENCODER_THREADS, torch_threads
from ..decoder.tools import get_decoder
from .tools import get_encoder


@dataclass
class EncodeResult:
    data: bytes
    width: int
    height: int
    decoded: DecodedOutput
    encode_seconds: float

    @property
    def bits(self) -> int:
        return 8 * len(self.data)

    @property
    def bpp(self) -> float:
        return self.bits / (self.width * self.height)


def check_qp(qp: int) -> None:
    if not isinstance(qp, int) or not 0 <= qp <= 63:
        raise ConfigError(f"QP {qp} outside 0..63")


def encode_picture(rgb: np.ndarray, config: EncoderConfig, tracer: Tracer | None = None) -> EncodeResult:
    """Encode ``rgb`` with ``config.tool``; the stream carries the hash of its own decoded output.

    The tool's float networks (task network part 1, analysis, refinement) run on one CPU thread: a float
    sum's rounding depends on how it is split across threads, and a rounding difference can change a coded
    symbol, so this keeps the stream independent of the machine's core count (decoding is exact anyway)."""
    check_qp(config.qp)
    start = time.perf_counter()
    with torch_threads(ENCODER_THREADS):
        bitstream = get_encoder(config.tool).encode(rgb, config)
    decoded = get_decoder(bitstream.parameter_set["ps_tool_id"]).decode(
        bitstream, DecoderConfig(device=config.device, inner=config.inner))
    bitstream.output_hash = hash_unit(decoded)
    data = serialize(bitstream, tracer=tracer)
    return EncodeResult(data, rgb.shape[1], rgb.shape[0], decoded, time.perf_counter() - start)


def encode_file(input_path: str, output_path: str, config: EncoderConfig,
                tracer: Tracer | None = None) -> EncodeResult:
    result = encode_picture(read_image(input_path), config, tracer=tracer)
    write_bytes_atomically(output_path, result.data)
    return result

"""The per-image loop of the quick evaluation scripts (``bench_anchors``, ``eval_mfc``): every picture through
the real encoder and decoder pipelines (bitstream bytes in memory), with bits, pixels and times tallied.
bpp = all bits / all original pixels. (The CTC runner has its own loop, with caching and resumption.)
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ...common.config import DecoderConfig, EncoderConfig
from ...common.registry import ToolInstances
from ...decoder.pipeline import decode_bytes
from ...encoder.pipeline import encode_picture


@dataclass
class CodedImage:
    path: Path
    rgb: np.ndarray
    encoded: object  # icm.encoder.pipeline's result: data, bits, encode_seconds, ...
    decoded: object  # icm.decoder.pipeline's result: output, bitstream, hash

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the original picture."""
        return self.rgb.shape[1], self.rgb.shape[0]


@dataclass
class Tally:
    bits: int = 0
    pixels: int = 0
    encode_seconds: list = field(default_factory=list)
    decode_seconds: list = field(default_factory=list)

    @property
    def bpp(self) -> float:
        return self.bits / self.pixels

    @property
    def mean_encode_seconds(self) -> float:
        return float(np.mean(self.encode_seconds))

    @property
    def mean_decode_seconds(self) -> float:
        return float(np.mean(self.decode_seconds))


def code_images(images, encoder: EncoderConfig, decoder: DecoderConfig, tally: Tally,
                tools: ToolInstances | None = None) -> Iterator[CodedImage]:
    """``images``: (path, rgb) pairs. Encodes and decodes each (the decode timed), adds it to ``tally``;
    ``tools`` keeps the encoders, decoders and their models between calls (one is made for this call if None)."""
    tools = tools if tools is not None else ToolInstances()
    for path, rgb in images:
        encoded = encode_picture(rgb, encoder, tools=tools)
        start = time.perf_counter()
        decoded = decode_bytes(encoded.data, decoder, tools=tools)
        tally.decode_seconds.append(time.perf_counter() - start)
        tally.encode_seconds.append(encoded.encode_seconds)
        tally.bits += encoded.bits
        tally.pixels += rgb.shape[0] * rgb.shape[1]
        yield CodedImage(path, rgb, encoded, decoded)


def detections_of(network, output, size):
    """The task network on a decoded output: the whole network on a picture, NN part 2 on feature tensors."""
    with torch.no_grad():
        if output.picture is not None:
            return network.detect(output.picture)
        return network.part2([torch.from_numpy(f)[None] for f in output.features], size)

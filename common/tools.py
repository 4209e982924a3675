"""The contract every coding tool implements: one encoder class and one decoder class.

``encode`` turns a picture into a :class:`Bitstream` without its decoded-output hash (the encoder
pipeline decodes the stream itself and adds the hash); ``decode`` turns a parsed bitstream into a
:class:`DecodedOutput`. Tools register by name (``TOOLS`` in the syntax) in ``icm.encoder.tools``
and ``icm.decoder.tools``.
"""
from abc import ABC, abstractmethod

import numpy as np

from .bitstream import Bitstream
from .config import DecoderConfig, EncoderConfig
from .output import DecodedOutput


class ToolEncoder(ABC):
    name: str

    @abstractmethod
    def encode(self, rgb: np.ndarray, config: EncoderConfig) -> Bitstream:
        """``H x W x 3`` uint8 picture -> bitstream units (no hash yet)."""

    def resource_fingerprint(self, config: EncoderConfig) -> str | None:
        """A digest of the files ``encode`` reads besides the picture (e.g. model weights), or None: what a
        result cache must add to its key so that new files redo the result."""
        return None

    def resolved_settings(self, config: EncoderConfig) -> dict:
        """Settings of ``config`` that the tool fills in when they are unset (None), with the values it uses:
        a result cache keys on them, so a changed default redoes the result."""
        return {}

    def check_resources(self, config: EncoderConfig) -> None:
        """Raise an IcmError (one line) if something ``encode`` needs with ``config`` is missing (e.g. model
        weights); called before long runs start. Nothing to check by default."""


class ToolDecoder(ABC):
    name: str

    @abstractmethod
    def decode(self, bitstream: Bitstream, config: DecoderConfig) -> DecodedOutput:
        """Parsed bitstream -> decoded picture or feature tensors."""

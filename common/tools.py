"""The contract every coding tool implements: one encoder class and one decoder class.

``encode`` turns a picture into a :class:`ToolEncoding`: the :class:`Bitstream` without its decoded-output
hash (the encoder pipeline decodes the stream itself and adds the hash) and what the tool reports about the
encode (e.g. the costs of a search); ``decode`` turns a parsed bitstream into a :class:`DecodedOutput`.
A tool is registered by one entry in ``icm.common.registry`` that names both classes by import path; the
registry makes them with the tool's entry and a :class:`ModelCache` (shared by a tool's encoder and decoder).
See ``docs/adding-a-tool.md``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from .bitstream import Bitstream
from .config import DecoderConfig, EncoderConfig
from .models.zoo import ModelCache
from .output import DecodedOutput
from .registry import ToolEntry, default_registry


@dataclass
class ToolEncoding:
    """A tool encoder's result: the bitstream (no hash yet) and figures about the encode, which come back
    with the encode result (``EncodeResult.info``)."""

    bitstream: Bitstream
    info: dict = field(default_factory=dict)


class _Tool:
    name: str

    def __init__(self, entry: ToolEntry | None = None, models: ModelCache | None = None):
        self.entry = entry if entry is not None else default_registry().get(self.name)
        self.models = models if models is not None else ModelCache()

    @property
    def tool_id(self) -> int:
        return self.entry.tool_id


class ToolEncoder(_Tool, ABC):
    @abstractmethod
    def encode(self, rgb: np.ndarray, config: EncoderConfig) -> ToolEncoding:
        """``H x W x 3`` uint8 picture -> bitstream units (no hash yet) and what the encode reports."""

    def resource_fingerprint(self, config: EncoderConfig) -> str | None:
        """A digest of the files ``encode`` reads besides the picture (e.g. model weights), or None: what a
        result cache must add to its key so that new files redo the result. Learned tools: the weights'."""
        models = self.entry.models
        if models is None:
            return None
        from .errors import IcmError
        from .models.zoo import file_hash

        try:
            return file_hash(models.find_file(*self.entry.model_choice(config))).hex()
        except IcmError:
            return None  # reported by check_resources before any work

    def resolved_settings(self, config: EncoderConfig) -> dict:
        """Settings of ``config`` that the tool fills in when they are unset (None), with the values it uses
        (the defaults of its registry entry): a result cache keys on them, so a changed default redoes the
        result."""
        resolved = self.entry.resolve(config)
        return {k: v for k, v in resolved.items() if v is not None and self.entry.value(config, k) is None}

    def check_resources(self, config: EncoderConfig) -> None:
        """Raise an IcmError (one line) if something ``encode`` needs with ``config`` is missing (e.g. model
        weights); called before long runs start. Learned tools: the weights file is there."""
        models = self.entry.models
        if models is not None:
            models.find_file(*self.entry.model_choice(config))


class ToolDecoder(_Tool, ABC):
    @abstractmethod
    def decode(self, bitstream: Bitstream, config: DecoderConfig) -> DecodedOutput:
        """Parsed bitstream -> decoded picture or feature tensors."""

"""The encoder and decoder objects of the registered tools, held by whoever encodes or decodes pictures."""
from __future__ import annotations

from ..models.zoo import ModelCache
from .registry import ToolRegistry, default_registry


class ToolInstances:
    """Encoders and decoders made on first use and kept, with what they loaded (models, networks), for the
    next picture: hold one for a loop over pictures. A tool's encoder and decoder share one ModelCache, so
    the decoder that checks an encoder's stream does not load the model again."""

    def __init__(self, registry: ToolRegistry | None = None, models: ModelCache | None = None,
                 encoders: dict | None = None):
        """``encoders``: encoder objects to use for their tools instead of default ones (e.g. with other
        search settings), by tool name."""
        self.registry = registry if registry is not None else default_registry()
        self.models = models if models is not None else ModelCache()
        self._encoders: dict = dict(encoders or {})
        self._decoders: dict = {}

    def encoder(self, name: str):
        """The encoder of tool ``name`` (ConfigError for an unknown tool)."""
        entry = self.registry.get(name)
        if name not in self._encoders:
            self._encoders[name] = entry.encoder_class()(entry=entry, models=self.models)
        return self._encoders[name]

    def decoder(self, tool_id: int):
        """The decoder of the tool a stream's ``ps_tool_id`` names (BitstreamError if there is none)."""
        entry = self.registry.for_stream(tool_id)
        if tool_id not in self._decoders:
            self._decoders[tool_id] = entry.decoder_class()(entry=entry, models=self.models)
        return self._decoders[tool_id]

    def decode(self, bitstream, config):
        """The output of a parsed ``bitstream`` (its tool's decoder with the DecoderConfig ``config``, on the
        decoders' thread count, with the stream's geometry): what the decoder outputs, and what the encoder
        hashes into its stream. The hash is not checked here."""
        from ..output import with_geometry
        from ..threads import DECODER_THREADS, torch_threads_if_loaded

        decoder = self.decoder(bitstream.parameter_set["ps_tool_id"])
        with torch_threads_if_loaded(DECODER_THREADS):
            return with_geometry(decoder.decode(bitstream, config), bitstream.parameter_set)

"""Decoder classes of the coding tools, by the tool id a bitstream carries."""
from ..anchors.vvc_feature import VvcFeatureDecoder
from ..anchors.vvc_image import VvcImageDecoder
from ..common.errors import BitstreamError
from ..common.syntax import structures as S
from ..common.tools import ToolDecoder
from .mfc import MfcDecoder

DECODERS: dict[str, type[ToolDecoder]] = {cls.name: cls for cls in (VvcImageDecoder, VvcFeatureDecoder,
                                                                               MfcDecoder)}


def get_decoder(tool_id: int) -> ToolDecoder:
    name = S.TOOLS.get(tool_id)
    if name not in DECODERS:
        raise BitstreamError(f"tool '{name or tool_id}' is not supported by this decoder")
    return DECODERS[name]()

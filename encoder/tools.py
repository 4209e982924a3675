"""Encoder classes of the coding tools, by tool name."""
from ..anchors.vvc_feature import VvcFeatureEncoder
from ..anchors.vvc_image import VvcImageEncoder
from ..common.errors import ConfigError
from .mfc import MfcEncoder
from ..common.tools import ToolEncoder

ENCODERS: dict[str, type[ToolEncoder]] = {cls.name: cls for cls in (VvcImageEncoder, VvcFeatureEncoder,
                                                                               MfcEncoder)}


def get_encoder(name: str) -> ToolEncoder:
    try:
        return ENCODERS[name]()
    except KeyError:
        raise ConfigError(f"unknown tool '{name}' (available: {', '.join(sorted(ENCODERS))})") from None

"""Inner (standard) codecs: one 10-bit picture coded as a single-picture VVC payload.

``get_inner_codec("vvenc")`` (VVenC through ffmpeg, the default) or ``get_inner_codec("vtm")``
(the VTM reference encoder) on the encoder side; ``get_inner_codec_for_id(codec_id)`` on the
decoder side. See ``docs/innercodec.md``.
"""
from .base import CODEC_ID_VVC, InnerCodec, VvcDecoder, YuvPlanes, check_qp, padded_size
from .registry import get_inner_codec, get_inner_codec_for_id, inner_codec_from_settings, make_vvc_decoder
from .vtm import VtmCodec, VtmDecoder
from .vvenc_ffmpeg import PRESETS, FfmpegVvcDecoder, VvencFfmpegCodec

__all__ = [
    "CODEC_ID_VVC", "InnerCodec", "VvcDecoder", "YuvPlanes", "check_qp", "padded_size",
    "get_inner_codec", "get_inner_codec_for_id", "inner_codec_from_settings", "make_vvc_decoder",
    "VtmCodec", "VtmDecoder", "PRESETS", "FfmpegVvcDecoder", "VvencFfmpegCodec",
]

"""The inner (VVC) codec as the anchors use it, built from the encoder/decoder configuration.

Which codecs exist, and which settings each takes, is the business of the inner-codec registry
(``icm.common.innercodec.registry``); this module only maps the configuration's fields onto its keys.
"""
from ..common.config import InnerCodecConfig
from ..common.innercodec.base import CODEC_ID_VVC as VVC_CODEC_ID, InnerCodec, YuvPlanes  # noqa: F401
from ..common.innercodec.registry import get_inner_codec_for_id, inner_codec_from_settings

CHROMA_400, CHROMA_420 = 0, 1  # ps_chroma_format_idc


def _decoder_settings(inner: InnerCodecConfig) -> dict:
    return {"decoder": inner.decoder, "vtm_decoder": inner.vtm_decoder}


def encoder_codec(inner: InnerCodecConfig) -> InnerCodec:
    """The configured encoder (``inner.encoder``: VVenC through ffmpeg, VTM's EncoderApp, ...)."""
    return inner_codec_from_settings(inner.encoder, preset=inner.preset, encoder_app=inner.vtm_encoder,
                                     cfg=inner.vtm_cfg, **_decoder_settings(inner))


def describe_encoder(inner: InnerCodecConfig) -> str:
    """The configured encoder in a few words for summaries: "vvenc preset medium", "vtm (cfg FILE)", ..."""
    return encoder_codec(inner).describe()


def decoder_codec(inner: InnerCodecConfig, codec_id: int = VVC_CODEC_ID) -> InnerCodec:
    """The codec that decodes payloads of ``ps_inner_codec_id`` ``codec_id`` (ffmpeg's VVC decoder, or
    VTM's DecoderApp, as configured)."""
    return get_inner_codec_for_id(codec_id, **_decoder_settings(inner))

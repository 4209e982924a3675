"""The inner (VVC) codec as the anchors use it, built from the encoder/decoder configuration."""
from ..common.config import InnerCodecConfig
from ..common.innercodec.base import CODEC_ID_VVC as VVC_CODEC_ID, InnerCodec, YuvPlanes  # noqa: F401
from ..common.innercodec.registry import get_inner_codec

CHROMA_400, CHROMA_420 = 0, 1  # ps_chroma_format_idc


def _decoder_settings(inner: InnerCodecConfig) -> dict:
    return {"decoder": inner.decoder, "vtm_decoder": inner.vtm_decoder}


def encoder_codec(inner: InnerCodecConfig) -> InnerCodec:
    """The configured VVC encoder (VVenC through ffmpeg, or VTM's EncoderApp)."""
    if inner.encoder == "vtm":
        return get_inner_codec("vtm", encoder_app=inner.vtm_encoder, cfg=inner.vtm_cfg, **_decoder_settings(inner))
    return get_inner_codec(inner.encoder, preset=inner.preset, **_decoder_settings(inner))


def decoder_codec(inner: InnerCodecConfig) -> InnerCodec:
    """A codec object for decoding only (ffmpeg's VVC decoder, or VTM's DecoderApp)."""
    return get_inner_codec("vvenc", **_decoder_settings(inner))

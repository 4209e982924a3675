"""Choosing an inner codec by name (encoder side) or by bitstream id (decoder side).

Both implementations make VVC payloads, so both have codec id :data:`CODEC_ID_VVC` (1) in the
ICM bitstream; the implementation name is only an encoder choice. A VVC payload is decoded
with ffmpeg's VVC decoder unless ``decoder="vtm"`` asks for VTM's DecoderApp.

Configuration keys (``**config``):

* every codec: ``decoder`` ("ffmpeg", default, or "vtm"), ``decode_threads`` (ffmpeg decoder
  threads), ``decode_timeout_s``, ``ffmpeg_exe``, ``vtm_decoder`` (DecoderApp path);
* "vvenc": ``preset``, ``threads``, ``vvenc_params``, ``timeout_s``;
* "vtm": ``encoder_app``, ``cfg``, ``extra_args``, ``timeout_s``.
"""
from __future__ import annotations

from ..errors import BitstreamError, ConfigError
from .base import CODEC_ID_VVC, InnerCodec, VvcDecoder
from .vtm import VtmCodec, VtmDecoder
from .vvenc_ffmpeg import FfmpegVvcDecoder, VvencFfmpegCodec

DEFAULT_INNER_CODEC = "vvenc"
INNER_CODECS = {"vvenc": VvencFfmpegCodec, "vtm": VtmCodec}
DECODERS = ("ffmpeg", "vtm")
_DECODER_KEYS = ("decoder", "decode_threads", "decode_timeout_s", "vtm_decoder")
_ENCODER_KEYS = {
    "vvenc": ("preset", "threads", "vvenc_params", "ffmpeg_exe", "timeout_s"),
    "vtm": ("encoder_app", "cfg", "extra_args", "timeout_s"),
}


def get_inner_codec(name: str = DEFAULT_INNER_CODEC, **config) -> InnerCodec:
    """The inner codec ``name`` ("vvenc" or "vtm") with the given configuration."""
    if name not in INNER_CODECS:
        raise ConfigError(f"unknown inner codec {name!r}; use one of {', '.join(INNER_CODECS)}")
    allowed = set(_ENCODER_KEYS[name]) | set(_DECODER_KEYS) | {"ffmpeg_exe"}
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise ConfigError(f"unknown option(s) for inner codec {name}: {', '.join(unknown)}")
    decoder_config = {key: config[key] for key in _DECODER_KEYS if key in config}
    decoder = make_vvc_decoder(ffmpeg_exe=config.get("ffmpeg_exe"), **decoder_config)
    encoder_config = {key: value for key, value in config.items() if key in _ENCODER_KEYS[name]}
    return INNER_CODECS[name](decoder=decoder, **encoder_config)


def inner_codec_from_settings(name: str = DEFAULT_INNER_CODEC, **settings) -> InnerCodec:
    """:func:`get_inner_codec` for settings that hold every codec's keys (a configuration object's): the
    ones ``name`` does not take, and those that are None, are left out."""
    if name not in INNER_CODECS:
        raise ConfigError(f"unknown inner codec {name!r}; use one of {', '.join(INNER_CODECS)}")
    allowed = set(_ENCODER_KEYS[name]) | set(_DECODER_KEYS) | {"ffmpeg_exe"}
    return get_inner_codec(name, **{key: value for key, value in settings.items()
                                    if key in allowed and value is not None})


def get_inner_codec_for_id(codec_id: int, **config) -> InnerCodec:
    """The codec that decodes payloads with bitstream id ``codec_id`` (decoder side)."""
    if codec_id != CODEC_ID_VVC:
        raise BitstreamError(f"unknown inner codec id {codec_id}")
    return get_inner_codec(DEFAULT_INNER_CODEC, **config)


def make_vvc_decoder(decoder: str = "ffmpeg", decode_threads: int | None = None,
                     decode_timeout_s: float | None = None, vtm_decoder: str | None = None,
                     ffmpeg_exe: str | None = None) -> VvcDecoder:
    """Build the VVC decoder named ``decoder`` ("ffmpeg" or "vtm")."""
    if decoder not in DECODERS:
        raise ConfigError(f"unknown VVC decoder {decoder!r}; use one of {', '.join(DECODERS)}")
    timeout = {} if decode_timeout_s is None else {"timeout_s": decode_timeout_s}
    if decoder == "vtm":
        return VtmDecoder(decoder_app=vtm_decoder, **timeout)
    return FfmpegVvcDecoder(ffmpeg_exe=ffmpeg_exe, threads=decode_threads, **timeout)

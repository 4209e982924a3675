"""Inner-codec interface without running a codec: planes, padding, QP, registry, subprocess helper."""
import sys
import time

import numpy as np
import pytest

from icm.anchors.inner import decoder_codec, describe_encoder, encoder_codec
from icm.common.config import InnerCodecConfig
from icm.common.errors import BitstreamError, ConfigError, InnerCodecError, ResourceError
from icm.common.innercodec import (CODEC_ID_VVC, VtmCodec, VvencFfmpegCodec, YuvPlanes, check_qp,
                                   get_inner_codec, get_inner_codec_for_id, inner_codec_from_settings, padded_size)
from icm.common.innercodec.base import pad_planes
from icm.common.innercodec.process import run_tool, telling_line
from icm.common.innercodec.rawyuv import pack_yuv420p10le, parse_y4m_single_picture, unpack_yuv420p10le


def planes(height, width, monochrome=False):
    y = (np.arange(height * width, dtype=np.uint16).reshape(height, width) * 7) % 1024
    if monochrome:
        return YuvPlanes(y)
    chroma = ((height + 1) // 2, (width + 1) // 2)
    u = (np.arange(chroma[0] * chroma[1], dtype=np.uint16).reshape(chroma) * 3) % 1024
    return YuvPlanes(y, u, (1023 - u).astype(np.uint16))


@pytest.mark.parametrize("size, padded", [((1, 1), (32, 32)), ((37, 23), (40, 32)), ((640, 480), (640, 480)),
                                          ((641, 481), (648, 488)), ((32, 33), (32, 40)), ((8, 100), (32, 104))])
def test_padded_size(size, padded):
    assert padded_size(*size) == padded


def test_pad_planes_replicates_edges():
    picture = planes(23, 37)
    y, u, v = pad_planes(picture)
    assert y.shape == (32, 40) and u.shape == v.shape == (16, 20)
    assert np.array_equal(y[:23, :37], picture.y)
    assert (y[:23, 37:] == picture.y[:, -1:]).all() and (y[23:, :37] == picture.y[-1:, :]).all()
    assert (y[23:, 37:] == picture.y[-1, -1]).all()
    assert np.array_equal(u[:12, :19], picture.u) and (u[12:, :19] == picture.u[-1:, :]).all()
    assert (v[:12, 19:] == picture.v[:, -1:]).all()


def test_pad_planes_monochrome_has_neutral_chroma():
    y, u, v = pad_planes(planes(23, 37, monochrome=True))
    assert u.shape == (16, 20) and (u == 512).all() and (v == 512).all()


def test_yuv_planes_checks():
    good = planes(4, 6)
    assert (good.width, good.height, good.monochrome) == (6, 4, False)
    with pytest.raises(ValueError):
        YuvPlanes(good.y.astype(np.int32))
    with pytest.raises(ValueError):
        YuvPlanes(good.y, good.u, None)
    with pytest.raises(ValueError):
        YuvPlanes(good.y, good.u[:1], good.v)
    with pytest.raises(ValueError, match="10-bit"):
        YuvPlanes(good.y + 1024)


@pytest.mark.parametrize("qp", [-1, 64, 22.0, True, "22", None])
def test_bad_qp(qp):
    with pytest.raises(ConfigError, match="QP"):
        check_qp(qp)
    with pytest.raises(ConfigError, match="QP"):
        VvencFfmpegCodec().encode(planes(8, 8), qp)


def test_good_qp():
    assert check_qp(0) == 0 and check_qp(np.int64(63)) == 63


def test_bad_options():
    with pytest.raises(ConfigError, match="preset"):
        VvencFfmpegCodec(preset="ultrafast")
    with pytest.raises(ConfigError, match="preset"):
        VvencFfmpegCodec().encode(planes(8, 8), 30, preset="veryslow")
    with pytest.raises(ConfigError, match="unknown vvenc option"):
        VvencFfmpegCodec().encode(planes(8, 8), 30, speed=3)
    with pytest.raises(ConfigError, match="threads"):
        VvencFfmpegCodec(threads=-2)
    with pytest.raises(ConfigError, match="vvenc_params"):
        VvencFfmpegCodec(vvenc_params="nokey")
    with pytest.raises(ConfigError):
        VtmCodec(extra_args="--Level=6.2")


def test_registry():
    assert isinstance(get_inner_codec(), VvencFfmpegCodec)
    assert get_inner_codec("vvenc").codec_id == get_inner_codec("vtm").codec_id == CODEC_ID_VVC == 1
    codec = get_inner_codec("vvenc", preset="faster", threads=1, decode_threads=1)
    assert codec.preset == "faster" and codec.threads == 1 and codec.decoder.threads == 1
    assert get_inner_codec("vtm", decoder="vtm").decoder.name == "vtm"
    assert get_inner_codec_for_id(1).decoder.name == "ffmpeg"
    with pytest.raises(ConfigError, match="unknown inner codec"):
        get_inner_codec("x265")
    with pytest.raises(ConfigError, match="unknown option"):
        get_inner_codec("vtm", preset="faster")
    with pytest.raises(ConfigError, match="decoder"):
        get_inner_codec("vvenc", decoder="libde266")
    with pytest.raises(BitstreamError, match="id 2"):
        get_inner_codec_for_id(2)


def test_decode_argument_checks():
    codec = VvencFfmpegCodec()
    with pytest.raises(BitstreamError, match="empty"):
        codec.decode(b"", 16, 16)
    with pytest.raises(BitstreamError, match="width"):
        codec.decode(b"\x00\x00\x01", 0, 16)
    with pytest.raises(BitstreamError, match="height"):
        codec.decode(b"\x00\x00\x01", 16, 20000)


def test_raw_yuv_round_trip():
    picture = planes(5, 7)
    data = pack_yuv420p10le(picture.y, picture.u, picture.v)
    assert len(data) == 2 * (35 + 2 * 12)
    y, u, v = unpack_yuv420p10le(data, 7, 5)
    assert np.array_equal(y, picture.y) and np.array_equal(u, picture.u) and np.array_equal(v, picture.v)


def test_y4m_parser():
    picture = planes(4, 6)
    frame = pack_yuv420p10le(picture.y, picture.u, picture.v)
    header = b"YUV4MPEG2 W6 H4 F1:1 Ip A0:0 C420p10 XYSCSS=420P10\n"
    width, height, (y, u, v) = parse_y4m_single_picture(header + b"FRAME\n" + frame)
    assert (width, height) == (6, 4) and np.array_equal(y, picture.y) and np.array_equal(v, picture.v)
    with pytest.raises(BitstreamError, match="more than one picture"):
        parse_y4m_single_picture(header + (b"FRAME\n" + frame) * 2)
    with pytest.raises(BitstreamError, match="0 pictures"):
        parse_y4m_single_picture(header)
    with pytest.raises(BitstreamError, match="ends inside"):
        parse_y4m_single_picture(header + b"FRAME\n" + frame[:-1])
    with pytest.raises(BitstreamError, match="sample format 420jpeg"):
        parse_y4m_single_picture(b"YUV4MPEG2 W6 H4 F1:1 C420jpeg\nFRAME\n" + bytes(36))
    with pytest.raises(BitstreamError, match="no picture"):
        parse_y4m_single_picture(b"")


def test_run_tool_errors():
    with pytest.raises(ResourceError, match="not found"):
        run_tool(["/nonexistent/ffmpeg"], what="x", timeout_s=5, error_class=InnerCodecError)
    start = time.monotonic()
    with pytest.raises(BitstreamError, match="did not finish within 0.5 s"):
        run_tool([sys.executable, "-c", "import time; time.sleep(30)"], what="sleeping", timeout_s=0.5,
                 error_class=BitstreamError)
    assert time.monotonic() - start < 10
    script = "import sys; print('all fine'); print('[x @ 0x55d] Invalid data found', file=sys.stderr); sys.exit(3)"
    with pytest.raises(InnerCodecError) as info:
        run_tool([sys.executable, "-c", script], what="tool", timeout_s=30, error_class=InnerCodecError)
    assert str(info.value) == "tool failed (exit status 3): [x] Invalid data found"
    completed = run_tool([sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read()[::-1])"],
                         what="echo", timeout_s=30, error_class=InnerCodecError, input_bytes=b"abc")
    assert completed.stdout == b"cba"


def test_telling_line():
    assert telling_line(b"one\n\ntwo  three\n") == "two three"
    assert telling_line(b"frame 1\nError while decoding\nbye\n") == "Error while decoding"
    assert telling_line(b"") == ""


def test_inner_codec_from_settings_keeps_what_each_codec_takes():
    settings = dict(preset="fast", encoder_app=None, cfg="intra.cfg", decoder="ffmpeg", vtm_decoder=None)
    vvenc = inner_codec_from_settings("vvenc", **settings)
    assert isinstance(vvenc, VvencFfmpegCodec) and vvenc.preset == "fast" and vvenc.describe() == "vvenc preset fast"
    vtm = inner_codec_from_settings("vtm", **settings)
    assert vtm.name == "vtm" and vtm.cfg == "intra.cfg" and vtm.describe() == "vtm (cfg intra.cfg)"
    with pytest.raises(ConfigError, match="unknown inner codec"):
        inner_codec_from_settings("x265", **settings)


def test_anchor_codecs_come_from_the_registry():
    assert describe_encoder(InnerCodecConfig()) == "vvenc preset medium"
    assert describe_encoder(InnerCodecConfig(encoder="vtm", vtm_cfg="a.cfg")) == "vtm (cfg a.cfg)"
    assert encoder_codec(InnerCodecConfig(encoder="vtm", decoder="vtm")).decoder.name == "vtm"
    assert decoder_codec(InnerCodecConfig()).codec_id == CODEC_ID_VVC
    assert decoder_codec(InnerCodecConfig(decoder="vtm")).decoder.name == "vtm"
    with pytest.raises(BitstreamError, match="unknown inner codec id 7"):
        decoder_codec(InnerCodecConfig(), codec_id=7)
    with pytest.raises(ConfigError, match="unknown inner codec"):
        encoder_codec(InnerCodecConfig(encoder="x265"))

"""VVenC (ffmpeg libvvenc) + ffmpeg VVC decoder: round trips, sizes, determinism, failures."""
import hashlib
import stat
import sys
import time

import imageio_ffmpeg
import numpy as np
import pytest

from icm.common.colour import rgb_to_yuv420
from icm.common.errors import BitstreamError, InnerCodecError, ResourceError
from icm.common.image_io import read_image
from icm.common.innercodec import FfmpegVvcDecoder, VvencFfmpegCodec, YuvPlanes, get_inner_codec
from icm.common.innercodec.bench import plane_psnr

PEAK = 1023


@pytest.fixture(scope="module")
def photo(shared):
    """A 640x480 COCO photo as RGB."""
    return read_image(shared / "data" / "coco-val-dev" / "images" / "000000001532.jpg")


@pytest.fixture(scope="module")
def crop(photo):
    """A textured 128x96 crop, 4:2:0 10-bit."""
    return YuvPlanes(*rgb_to_yuv420(np.ascontiguousarray(photo[200:296, 260:388])))


@pytest.fixture(scope="module")
def codec():
    return VvencFfmpegCodec(preset="faster")


@pytest.fixture(scope="module")
def payload(codec, crop):
    return codec.encode(crop, 32)


def digest(planes):
    parts = [planes.y] + ([] if planes.monochrome else [planes.u, planes.v])
    return hashlib.sha256(b"".join(p.tobytes() for p in parts)).hexdigest()


def test_420_round_trip_at_several_qps(codec, crop):
    sizes, psnrs = [], []
    for qp in (22, 32, 42):
        data = codec.encode(crop, qp)
        decoded = codec.decode(data, crop.width, crop.height)
        assert decoded.y.shape == crop.y.shape and decoded.u.shape == crop.u.shape
        assert decoded.y.dtype == np.uint16 and decoded.v.dtype == np.uint16
        sizes.append(len(data))
        psnrs.append(plane_psnr(crop.y, decoded.y, PEAK))
        assert plane_psnr(crop.u, decoded.u, PEAK) > 35 and plane_psnr(crop.v, decoded.v, PEAK) > 35
    assert sizes[0] > sizes[1] > sizes[2]
    assert psnrs[0] > 41 and psnrs[1] > 34 and psnrs[2] > 27
    assert psnrs[0] > psnrs[1] > psnrs[2]


def test_400_round_trip(codec, crop):
    mono = YuvPlanes(crop.y)
    sizes = []
    for qp in (22, 37):
        data = codec.encode(mono, qp)
        decoded = codec.decode(data, mono.width, mono.height, monochrome=True)
        assert decoded.monochrome and decoded.u is None and decoded.v is None
        assert decoded.y.shape == mono.y.shape
        assert plane_psnr(mono.y, decoded.y, PEAK) > (41 if qp == 22 else 30)
        sizes.append(len(data))
    assert sizes[0] > sizes[1]
    assert sizes[0] < len(codec.encode(crop, 22))          # no chroma to code
    # a 4:0:0 payload is an ordinary 4:2:0 stream whose chroma decodes to (near) neutral
    full = codec.decode(data, mono.width, mono.height)
    assert np.abs(full.u.astype(int) - 512).max() <= 2


@pytest.mark.parametrize("monochrome", [False, True])
def test_odd_size(photo, codec, monochrome):
    y, u, v = rgb_to_yuv420(np.ascontiguousarray(photo[211:234, 301:338]))   # 37 x 23
    picture = YuvPlanes(y) if monochrome else YuvPlanes(y, u, v)
    decoded = codec.decode(codec.encode(picture, 27), 37, 23, monochrome=monochrome)
    assert decoded.y.shape == (23, 37)
    if not monochrome:
        assert decoded.u.shape == decoded.v.shape == (12, 19)
    assert plane_psnr(y, decoded.y, PEAK) > 38


def test_tiny_picture(codec):
    picture = YuvPlanes(np.full((1, 1), 700, np.uint16), np.full((1, 1), 300, np.uint16),
                        np.full((1, 1), 600, np.uint16))
    decoded = codec.decode(codec.encode(picture, 30), 1, 1)
    assert abs(int(decoded.y[0, 0]) - 700) <= 4 and abs(int(decoded.u[0, 0]) - 300) <= 4


def test_decode_is_deterministic_across_runs_and_threads(payload, crop):
    outputs = set()
    for threads in (None, 1, 2, None):
        decoder = FfmpegVvcDecoder(threads=threads)
        codec = VvencFfmpegCodec(decoder=decoder)
        outputs.add(digest(codec.decode(payload, crop.width, crop.height)))
    assert len(outputs) == 1


def test_registry_codec_round_trip(crop, payload):
    codec = get_inner_codec("vvenc", preset="faster", threads=1, decode_threads=1)
    assert codec.decode(codec.encode(crop, 32), crop.width, crop.height).y.shape == crop.y.shape


def test_garbage_payload_is_a_bitstream_error(codec):
    rng = np.random.default_rng(7)
    for data in (rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(), b"\x00\x00\x01" + bytes(50),
                 b"not a VVC stream at all"):
        start = time.monotonic()
        with pytest.raises(BitstreamError):
            codec.decode(data, 128, 96)
        assert time.monotonic() - start < 15


def test_truncated_payload_is_a_bitstream_error(codec, payload, crop):
    for length in (len(payload) // 4, len(payload) // 2, len(payload) - 20):
        with pytest.raises(BitstreamError):
            codec.decode(payload[:length], crop.width, crop.height)


def test_wrong_size_is_a_bitstream_error(codec, payload):
    with pytest.raises(BitstreamError, match="decoded VVC picture is 128x96, expected 256x96"):
        codec.decode(payload, 256, 96)


def test_two_pictures_are_a_bitstream_error(codec, payload, crop):
    with pytest.raises(BitstreamError, match="more than one picture"):
        codec.decode(payload + payload, crop.width, crop.height)


def test_decoder_timeout(payload, crop):
    codec = VvencFfmpegCodec(decoder=FfmpegVvcDecoder(timeout_s=0.001))
    with pytest.raises(BitstreamError, match="did not finish"):
        codec.decode(payload, crop.width, crop.height)


def test_encoder_timeout(crop):
    with pytest.raises(InnerCodecError, match="did not finish"):
        VvencFfmpegCodec(preset="faster", timeout_s=0.001).encode(crop, 32)


def test_missing_ffmpeg(monkeypatch, crop, payload):
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: "/nonexistent/ffmpeg")
    codec = VvencFfmpegCodec(preset="faster")
    with pytest.raises(ResourceError, match="ffmpeg not found"):
        codec.encode(crop, 32)
    with pytest.raises(ResourceError, match="ffmpeg not found"):
        codec.decode(payload, crop.width, crop.height)

    def no_binary():
        raise RuntimeError("No ffmpeg exe could be found. Install ffmpeg on your system.")
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", no_binary)
    with pytest.raises(ResourceError, match="No ffmpeg exe could be found"):
        codec.encode(crop, 32)


def test_explicit_missing_ffmpeg(tmp_path, crop):
    with pytest.raises(ResourceError, match="ffmpeg not found"):
        get_inner_codec("vvenc", ffmpeg_exe=str(tmp_path / "ffmpeg")).encode(crop, 32)


def test_ffmpeg_without_libvvenc(tmp_path, crop, payload):
    fake = tmp_path / "ffmpeg"
    fake.write_text(f"#!{sys.executable}\nprint(\"Codec 'libvvenc' is not recognized by FFmpeg.\")\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    codec = VvencFfmpegCodec(ffmpeg_exe=fake)
    with pytest.raises(ResourceError, match="no libvvenc encoder"):
        codec.encode(crop, 32)
    with pytest.raises(ResourceError, match="no vvc decoder"):
        codec.decode(payload, crop.width, crop.height)


def test_vvenc_params_are_passed(crop):
    # An unknown VVenC parameter must make the encoder fail, which proves it reached VVenC.
    with pytest.raises(InnerCodecError, match="VVenC encoding"):
        VvencFfmpegCodec(preset="faster", vvenc_params={"NoSuchParameter": 1}).encode(crop, 32)
    data = VvencFfmpegCodec(preset="faster").encode(crop, 32, vvenc_params="IntraPeriod=1")
    assert len(data) > 0


def test_encoder_threads_option(crop):
    one = VvencFfmpegCodec(preset="faster", threads=1).encode(crop, 32)
    two = VvencFfmpegCodec(preset="faster").encode(crop, 32, threads=2)
    decoded = [VvencFfmpegCodec().decode(data, crop.width, crop.height) for data in (one, two)]
    assert all(plane_psnr(crop.y, d.y, PEAK) > 34 for d in decoded)

"""VTM wrapper: missing programs, and the argument plumbing with fake EncoderApp/DecoderApp.

The fake programs are small Python scripts written to the test's tmp folder: the fake
EncoderApp reads the .yuv file it is given and codes it with VVenC (through our ffmpeg path),
the fake DecoderApp decodes with ffmpeg to a raw .yuv file. Both log their arguments.
"""
import json
import stat
import sys
import textwrap

import numpy as np
import pytest

from icm.common.errors import BitstreamError, InnerCodecError, ResourceError
from icm.common.innercodec import VtmCodec, VtmDecoder, YuvPlanes, get_inner_codec
from icm.common.innercodec.vtm import ALL_INTRA_ARGS, ENV_CFG, ENV_DECODER, ENV_ENCODER

FAKE_ENCODER = """
import json, os, sys
from pathlib import Path
from icm.common.innercodec import VvencFfmpegCodec, YuvPlanes
from icm.common.innercodec.rawyuv import unpack_yuv420p10le

argv = sys.argv[1:]
Path(__file__).with_name("encoder_args.json").write_text(json.dumps(argv))
if os.environ.get("FAKE_VTM_MODE") == "fail":
    print("ERROR: In function \\"parseCfg\\": unknown option --Nonsense")
    sys.exit(1)
if "-c" not in argv and "--IntraPeriod=1" not in argv:  # like EncoderApp: no coding structure without one
    print("Error: Invalid GOP structure given")
    sys.exit(1)
value = {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("-") and not argv[i].startswith("--")}
width, height, qp = int(value["-wdt"]), int(value["-hgt"]), int(value["-q"])
y, u, v = unpack_yuv420p10le(Path(value["-i"]).read_bytes(), width, height)
Path(value["-b"]).write_bytes(VvencFfmpegCodec(preset="faster").encode(YuvPlanes(y, u, v), qp))
"""

FAKE_DECODER = """
import json, os, subprocess, sys
from pathlib import Path
import imageio_ffmpeg

argv = sys.argv[1:]
Path(__file__).with_name("decoder_args.json").write_text(json.dumps(argv))
value = {argv[i]: argv[i + 1] for i in range(0, len(argv) - 1, 2)}
mode = os.environ.get("FAKE_VTM_MODE", "")
if mode == "nothing":
    sys.exit(0)
subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "vvc", "-i", value["-b"],
                "-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-y", value["-o"]], check=True)
if mode == "twice":
    out = Path(value["-o"])
    out.write_bytes(out.read_bytes() * 2)
"""


def write_script(path, body):
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def fake_vtm(tmp_path, monkeypatch):
    encoder = write_script(tmp_path / "EncoderApp", FAKE_ENCODER)
    decoder = write_script(tmp_path / "DecoderApp", FAKE_DECODER)
    cfg = tmp_path / "encoder_intra_vtm.cfg"
    cfg.write_text("IntraPeriod : 1\n")
    monkeypatch.setenv(ENV_ENCODER, str(encoder))
    monkeypatch.setenv(ENV_DECODER, str(decoder))
    monkeypatch.setenv(ENV_CFG, str(cfg))
    monkeypatch.delenv("FAKE_VTM_MODE", raising=False)
    return tmp_path


def picture(height=23, width=37):
    i, j = np.mgrid[0:height, 0:width]
    y = (300 + 4 * i + 3 * j).astype(np.uint16)
    chroma = ((height + 1) // 2, (width + 1) // 2)
    return YuvPlanes(y, np.full(chroma, 400, np.uint16), np.full(chroma, 600, np.uint16))


def test_missing_encoder(monkeypatch):
    monkeypatch.delenv(ENV_ENCODER, raising=False)
    with pytest.raises(ResourceError, match=f"VTM EncoderApp not found: set {ENV_ENCODER}"):
        get_inner_codec("vtm").encode(picture(), 32)


def test_encoder_path_that_does_not_exist(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_ENCODER, str(tmp_path / "nope" / "EncoderApp"))
    with pytest.raises(ResourceError, match="VTM EncoderApp not found or not executable"):
        VtmCodec().encode(picture(), 32)


def test_missing_decoder(monkeypatch):
    monkeypatch.delenv(ENV_DECODER, raising=False)
    with pytest.raises(ResourceError, match=f"VTM DecoderApp not found: set {ENV_DECODER}"):
        get_inner_codec("vtm", decoder="vtm").decode(b"\x00\x00\x01\x00", 37, 23)


def test_missing_cfg(fake_vtm, monkeypatch):
    monkeypatch.setenv(ENV_CFG, str(fake_vtm / "missing.cfg"))
    with pytest.raises(ResourceError, match="VTM configuration file not found"):
        VtmCodec().encode(picture(), 32)


def test_fake_vtm_round_trip_and_arguments(fake_vtm):
    source = picture()
    codec = get_inner_codec("vtm", extra_args=["--Level=6.2"])
    data = codec.encode(source, 30)
    args = json.loads((fake_vtm / "encoder_args.json").read_text())
    assert args[:2] == ["-c", str(fake_vtm / "encoder_intra_vtm.cfg")]
    pairs = {args[i]: args[i + 1] for i in range(2, 16, 2)}
    assert pairs["-wdt"] == "40" and pairs["-hgt"] == "32" and pairs["-q"] == "30"
    assert pairs["-fr"] == "1" and pairs["-f"] == "1"
    assert pairs["-i"].endswith("in.yuv") and pairs["-b"].endswith("out.bin")
    assert args[16:] == ["--InputBitDepth=10", "--OutputBitDepth=10", "--InternalBitDepth=10",
                         "--InputChromaFormat=420", "--ChromaFormatIDC=420", "--Level=6.2"]

    with_ffmpeg = codec.decode(data, 37, 23)                 # default: ffmpeg's decoder
    with_vtm = get_inner_codec("vtm", decoder="vtm").decode(data, 37, 23)
    dec_args = json.loads((fake_vtm / "decoder_args.json").read_text())
    assert dec_args[0] == "-b" and dec_args[2] == "-o" and dec_args[4:] == ["-d", "10"]
    assert with_vtm.y.shape == (23, 37) and with_vtm.u.shape == (12, 19)
    for a, b in ((with_ffmpeg.y, with_vtm.y), (with_ffmpeg.u, with_vtm.u), (with_ffmpeg.v, with_vtm.v)):
        assert np.array_equal(a, b)
    assert np.abs(with_vtm.y.astype(int) - source.y).mean() < 4


def test_extra_args_per_call_and_no_cfg(fake_vtm, monkeypatch):
    monkeypatch.delenv(ENV_CFG)
    codec = VtmCodec()
    assert codec.describe() == "vtm (built-in all-intra settings, no cfg)"
    source = picture()
    decoded = codec.decode(codec.encode(source, 30, extra_args=["--SEIDecodedPictureHash=1"]), 37, 23)
    args = json.loads((fake_vtm / "encoder_args.json").read_text())
    # no configuration file: the all-intra structure of encoder_intra_vtm.cfg on the command line
    assert tuple(args[:3]) == ALL_INTRA_ARGS == ("--IntraPeriod=1", "--GOPSize=1", "--DecodingRefreshType=1")
    assert args[3] == "-i" and args[-1] == "--SEIDecodedPictureHash=1" and "-c" not in args
    assert np.abs(decoded.y.astype(int) - source.y).mean() < 4


def test_without_all_intra_arguments_the_fake_fails_like_encoder_app(fake_vtm, monkeypatch):
    monkeypatch.delenv(ENV_CFG)
    monkeypatch.setattr("icm.common.innercodec.vtm.ALL_INTRA_ARGS", ())
    with pytest.raises(InnerCodecError, match="Invalid GOP structure given"):
        VtmCodec().encode(picture(), 30)


def test_describe_names_the_configuration(fake_vtm):
    assert VtmCodec().describe() == f"vtm (cfg {fake_vtm / 'encoder_intra_vtm.cfg'})"
    assert VtmCodec(cfg="my.cfg").describe() == "vtm (cfg my.cfg)"
    assert get_inner_codec("vvenc", preset="slow").describe() == "vvenc preset slow"


def test_encoder_failure(fake_vtm, monkeypatch):
    monkeypatch.setenv("FAKE_VTM_MODE", "fail")
    with pytest.raises(InnerCodecError, match="VTM encoding .*exit status 1.*unknown option --Nonsense"):
        VtmCodec().encode(picture(), 32)


@pytest.mark.parametrize("mode, message", [("nothing", "no decodable picture"), ("twice", "more than one picture")])
def test_decoder_output_checks(fake_vtm, monkeypatch, mode, message):
    data = VtmCodec().encode(picture(), 32)
    monkeypatch.setenv("FAKE_VTM_MODE", mode)
    with pytest.raises(BitstreamError, match=message):
        VtmCodec(decoder=VtmDecoder()).decode(data, 37, 23)


def test_decoder_wrong_size(fake_vtm):
    data = VtmCodec().encode(picture(), 32)
    with pytest.raises(BitstreamError, match="not one 64x32 picture"):
        VtmCodec(decoder=VtmDecoder()).decode(data, 64, 32)

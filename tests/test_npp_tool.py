"""The npp-vvc tool end to end with a tiny NPP exported here (random output layer, so it changes the picture):
round trip with the hash, decoding without the weights, the bare VVC stream (--annexb) decoded by ffmpeg's
native VVC decoder and by VTM's DecoderApp (fake programs, or the real one where configured), --resample task,
--inner-codec vtm, missing weights, 1 vs 2 threads, mutated streams."""
import random
import subprocess

import imageio_ffmpeg
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from icm.common.bitstream import parse
from icm.common.colour import yuv420_to_rgb
from icm.common.config import DecoderConfig, EncoderConfig, InnerCodecConfig
from icm.common.errors import IcmError
from icm.common.image_io import read_image, write_png
from icm.common.innercodec.base import padded_size
from icm.common.innercodec.rawyuv import unpack_yuv420p10le
from icm.common.innercodec.vtm import ENV_CFG, ENV_DECODER, ENV_ENCODER, VtmDecoder
from icm.common.models.npp import NppConfig, NppModel, save_npz
from icm.common.models.zoo import file_hash
from icm.common.registry import ToolInstances, default_registry
from icm.common.resample import resize_rgb
from icm.decoder.app import main as dec_main
from icm.decoder.pipeline import decode_bytes
from icm.encoder.app import main as enc_main
from icm.encoder.pipeline import encode_picture
from icm.common.output import HASH_CRC32

from fuzzing import mutate
from test_innercodec_vtm import FAKE_DECODER, FAKE_ENCODER, write_script

ENTRY = default_registry().get("npp-vvc")
WEIGHTS_ENV = ENTRY.models.env
INNER = InnerCodecConfig(preset="faster")


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("npp_weights")
    torch.manual_seed(3)
    model = NppModel(NppConfig(widths=[4, 8], qp_hidden=4))
    torch.nn.init.normal_(model.qp_mlp.out.weight, std=1.0)
    torch.nn.init.normal_(model.head_out.weight, std=0.2)
    save_npz(model, folder / "npp.npz", extra={"test": True})
    return folder


@pytest.fixture
def weights(weights_dir, monkeypatch):
    monkeypatch.setenv(WEIGHTS_ENV, str(weights_dir))
    return weights_dir / "npp.npz"


@pytest.fixture(scope="module")
def picture():
    rng = np.random.default_rng(0)
    i, j = np.mgrid[0:44, 0:60]
    base = np.stack([(3 * i + 2 * j) % 256, (5 * j) % 256, 128 + 60 * np.sin(i / 5.0)], axis=-1)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def config(**values) -> EncoderConfig:
    return EncoderConfig(tool="npp-vvc", qp=values.pop("qp", 32), inner=values.pop("inner", INNER), **values)


def test_entry_and_summary():
    assert ENTRY.tool_id == 4 and ENTRY.rate.name == "qp"
    assert ENTRY.models.family_names() == ["npp", "noproxy", "fixed", "notask"]
    assert ENTRY.models.file_name("npp", 1) == "npp.npz" and ENTRY.models.file_name("fixed", 1) == "npp-fixed.npz"
    assert [ENTRY.models.model_id(family, 1) for family in ENTRY.models.family_names()] == [1, 11, 21, 31]
    assert ENTRY.decoder == default_registry().get("vvc-image").decoder  # exactly vvc-image's decoding
    assert "preprocessor npp" in ENTRY.summary_line(config())


def test_round_trip_hash_and_decoding_without_weights(weights, picture, monkeypatch):
    result = encode_picture(picture, config(), tools=ToolInstances())
    ps = parse(result.data).parameter_set
    assert ps["ps_tool_id"] == 4 and ps["ps_model_id"] == 1 and ps["ps_model_hash"] == int.from_bytes(file_hash(weights)[:4], "big")
    # the NPP changed the picture: not the vvc-image stream of the same picture
    anchor = encode_picture(picture, EncoderConfig(tool="vvc-image", qp=32, inner=INNER))
    assert parse(anchor.data).payloads[0]["pl_data"] != parse(result.data).payloads[0]["pl_data"]
    monkeypatch.setenv(WEIGHTS_ENV, str(weights.parent / "nowhere"))
    monkeypatch.setattr("icm.common.models.zoo.WEIGHTS_DIR", weights.parent / "nowhere")
    decoded = decode_bytes(result.data, DecoderConfig(), tools=ToolInstances())
    assert decoded.hash_hex == result.decoded.digest(HASH_CRC32).hex()
    assert np.array_equal(decoded.output.picture, result.decoded.picture)
    assert decoded.output.picture.shape == picture.shape


def _ffmpeg_decode(path, width, height):
    """ffmpeg's native VVC decoder on a bare .266 file: the planes of the coded (padded) picture."""
    out = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "vvc", "-i", str(path),
                          "-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-"], check=True, capture_output=True).stdout
    return unpack_yuv420p10le(out, width, height)


def _to_rgb(planes, width, height, ps):
    y, u, v = planes
    y, u, v = y[:height, :width], u[:(height + 1) // 2, :(width + 1) // 2], v[:(height + 1) // 2, :(width + 1) // 2]
    matrix = {1: "bt601", 2: "bt709"}[ps["ps_colour_matrix_idc"]]
    return yuv420_to_rgb(y, u, v, bit_depth=10, matrix=matrix, full_range=bool(ps["ps_full_range_flag"]))


@pytest.mark.parametrize("resample", [None, "task"])
def test_annexb_decodes_with_stock_decoders(weights, picture, tmp_path, monkeypatch, resample):
    """icm-enc --annexb: the bare VVC stream; ffmpeg's VVC decoder (and VTM's DecoderApp) give icm-dec's
    picture (before the resampling back, which the ICM stream signals)."""
    image, stream, annexb, png = (tmp_path / n for n in ("in.png", "s.icm", "s.266", "out.png"))
    write_png(image, picture)
    extra = ["--resample", "task", "--task-input-size", "32"] if resample else []
    runner = CliRunner()
    result = runner.invoke(enc_main, ["-i", str(image), "-o", str(stream), "--tool", "npp-vvc", "--qp", "30",
                                      "--preset", "faster", "--annexb", str(annexb), *extra])
    assert result.exit_code == 0, result.output
    assert "preprocessor npp" in result.output
    result = runner.invoke(dec_main, ["-i", str(stream), "-o", str(png)])
    assert result.exit_code == 0, result.output
    ps = parse(stream.read_bytes()).parameter_set
    assert annexb.read_bytes() == parse(stream.read_bytes()).payloads[0]["pl_data"]
    width, height = (ps["ps_coded_width"], ps["ps_coded_height"]) if resample else (60, 44)
    assert (width, height) == ((32, 32) if resample else (60, 44))
    pw, ph = padded_size(width, height)
    decoded = read_image(png)
    decoders = [lambda: _ffmpeg_decode(annexb, pw, ph)]
    if resample is None:  # DecoderApp: the fake program (ffmpeg underneath) unless a real one is configured
        import os
        if not os.environ.get(ENV_DECODER):
            monkeypatch.setenv(ENV_DECODER, str(write_script(tmp_path / "DecoderApp", FAKE_DECODER)))
        decoders.append(lambda: VtmDecoder().decode_picture(annexb.read_bytes(), pw, ph))
    for decode in decoders:
        rgb = _to_rgb(decode(), width, height, ps)
        if resample:
            rgb = resize_rgb(rgb, 60, 44, filter="bicubic")
        assert np.array_equal(rgb, decoded)


def test_resample_task_runs_npp_at_the_coded_size(weights, picture):
    seen = []
    tools = ToolInstances()
    encoder = tools.encoder("npp-vvc")
    original = encoder.transform

    def spy(pic, cfg):
        seen.append(pic.shape)
        return original(pic, cfg)

    encoder.transform = spy
    result = encode_picture(picture, config(resample="task", task_input_size=32), tools=tools)
    assert seen == [(32, 32, 3)]
    ps = parse(result.data).parameter_set
    assert ps["ps_resampling_flag"] == 1 and (ps["ps_coded_width"], ps["ps_coded_height"]) == (32, 32)
    assert ps["ps_task_network_id"] != 0 and result.decoded.picture.shape == picture.shape


def test_inner_codec_vtm_with_fake_programs(weights, picture, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_ENCODER, str(write_script(tmp_path / "EncoderApp", FAKE_ENCODER)))
    monkeypatch.setenv(ENV_DECODER, str(write_script(tmp_path / "DecoderApp", FAKE_DECODER)))
    cfg = tmp_path / "encoder_intra_vtm.cfg"
    cfg.write_text("IntraPeriod : 1\n")
    monkeypatch.setenv(ENV_CFG, str(cfg))
    inner = InnerCodecConfig(encoder="vtm", decoder="vtm")
    result = encode_picture(picture, config(inner=inner, qp=35), tools=ToolInstances())
    assert (tmp_path / "encoder_args.json").exists() and (tmp_path / "decoder_args.json").exists()
    decoded = decode_bytes(result.data, DecoderConfig(inner=InnerCodecConfig(decoder="vtm")), tools=ToolInstances())
    assert decoded.hash_hex == result.decoded.digest(HASH_CRC32).hex()
    ffmpeg = decode_bytes(result.data, DecoderConfig(), tools=ToolInstances())
    assert np.array_equal(ffmpeg.output.picture, decoded.output.picture)


def test_missing_weights_is_a_clean_error(picture, tmp_path, monkeypatch):
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "empty"))
    monkeypatch.setattr("icm.common.models.zoo.WEIGHTS_DIR", tmp_path / "empty")
    image = tmp_path / "in.png"
    write_png(image, picture)
    result = CliRunner().invoke(enc_main, ["-i", str(image), "-o", str(tmp_path / "s.icm"), "--tool", "npp-vvc"])
    assert result.exit_code == 7, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "npp.npz not found" in lines[0] and not (tmp_path / "s.icm").exists()
    with pytest.raises(IcmError) as error:
        ToolInstances().encoder("npp-vvc").check_resources(config())
    assert error.value.exit_code == 7


def test_encoder_reproducible_on_1_and_2_threads(weights, picture):
    streams = []
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            streams.append(encode_picture(picture, config(), tools=ToolInstances()).data)
    finally:
        torch.set_num_threads(before)
    assert streams[0] == streams[1]


def test_mutated_streams_rejected_or_hash_checked(weights, picture):
    data = encode_picture(picture, config(qp=40), tools=ToolInstances()).data
    rng = random.Random(12)
    tools = ToolInstances()
    outcomes = {"rejected": 0, "decoded": 0}
    for _ in range(200):
        mutated = mutate(data, rng)
        try:
            result = decode_bytes(mutated, DecoderConfig(), tools=tools)
        except IcmError as exc:
            assert str(exc) and "\n" not in str(exc)
            outcomes["rejected"] += 1
            continue
        # decoded only with a matching hash
        assert result.hash_hex == result.output.digest(result.bitstream.output_hash["dh_hash_type"]).hex()
        outcomes["decoded"] += 1
    assert outcomes["rejected"] > 100


def test_decoding_an_npp_vvc_stream_imports_neither_torch_nor_the_npp(weights, picture, tmp_path):
    from test_startup import probe

    stream = tmp_path / "s.icm"
    stream.write_bytes(encode_picture(picture, config(), tools=ToolInstances()).data)
    found = probe("icm.decoder.app", "-i", str(stream), "-o", str(tmp_path / "out.png"))
    assert found == {"status": 0, "torch": False, "tools": ["icm.anchors.vvc_image"]}


def test_annexb_of_vvc_image_and_refused_for_feature_streams(shared, picture, tmp_path):
    image = tmp_path / "in.png"
    write_png(image, picture)
    runner = CliRunner()
    result = runner.invoke(enc_main, ["-i", str(image), "-o", str(tmp_path / "v.icm"), "--tool", "vvc-image",
                                      "--preset", "faster", "--annexb", str(tmp_path / "v.266")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "v.266").read_bytes() == parse((tmp_path / "v.icm").read_bytes()).payloads[0]["pl_data"]
    result = runner.invoke(enc_main, ["-i", str(image), "-o", str(tmp_path / "f.icm"), "--tool", "vvc-feature",
                                      "--preset", "faster", "--annexb", str(tmp_path / "f.266")])
    assert result.exit_code == 2 and "--annexb" in result.output and not (tmp_path / "f.266").exists()

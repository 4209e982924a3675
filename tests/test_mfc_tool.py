"""The mfc tool end to end with a tiny model trained here for a few steps.

Trains (feature bank of two pictures, 3 steps), exports the exact runtime weights, then encodes and decodes
real pictures through icm-enc / icm-dec's pipelines: decoded-output hash, 1 vs 2 threads, partial decoding
(--max-groups), a stream whose model hash differs, corrupt payloads, the command lines.
"""
import dataclasses
import hashlib

import pytest
import torch
from click.testing import CliRunner

from icm.common.bitstream import SIDE_INFORMATION, parse, serialize
from icm.common.config import DecoderConfig, EncoderConfig
from icm.common.errors import BitstreamError, ConfigError, ResourceError
from icm.common.image_io import read_image
from icm.common.models import zoo
from icm.common.models.mfc import load_runtime, model_layout
from icm.common.output import HASH_CRC32
from icm.common.registry import ToolInstances, default_registry
from icm.common.threads import ENCODER_THREADS, torch_threads
from icm.decoder.pipeline import decode_bytes
from icm.encoder import mfc as mfc_encoder
from icm.encoder.pipeline import encode_picture
from tiny_mfc import GROUPS, train_tiny

WEIGHTS_ENV = default_registry().get("mfc").models.env

RES_GROUPS = (2, 4)


@pytest.fixture(scope="module")
def tiny_weights(shared, tmp_path_factory):
    from icm.ctc_scripts.training.mfc_bank import build_bank

    root = tmp_path_factory.mktemp("mfc")
    pictures = sorted((shared / "data" / "kodak").glob("*.png"))[:2]
    build_bank(root / "bank.pt", per_image=1, seed=0, pictures=pictures)
    torch.manual_seed(0)
    weights_dir = root / "weights"
    train_tiny(root / "run", root / "bank.pt", 3, "--lmbda", "0.1", weights=weights_dir / "mfc_q1.pt")
    # the same plus a coded residual of s16 (fh_coding_mode 2), started from the first model
    train_tiny(root / "res", root / "bank.pt", 2, "--variant", "mfcr", "--lmbda", "0.1", "--res-latent", "6",
               "--res-groups", *map(str, RES_GROUPS), "--init", str(root / "run"), weights=weights_dir / "mfc_q2.pt")
    return weights_dir


@pytest.fixture
def tiny(tiny_weights, monkeypatch):
    monkeypatch.setenv(WEIGHTS_ENV, str(tiny_weights))
    return tiny_weights


@pytest.fixture(scope="module")
def photo(shared):
    return read_image(sorted((shared / "data" / "coco-val-dev" / "images").glob("*.jpg"))[0])


def encode(rgb, **options):
    return encode_picture(rgb, EncoderConfig(tool="mfc", quality=1, **options))


def decode_with_threads(data, threads, **options):
    with torch_threads(threads):
        return decode_bytes(data, DecoderConfig(**options))


def explicit(bitstream, tiny, quality: int):
    """``bitstream`` with the headers its model implies written out (``ps_model_layout_flag`` 0)."""
    fh, cgs = model_layout(load_runtime(tiny / f"mfc_q{quality}.pt"))
    bitstream.parameter_set["ps_model_layout_flag"] = 0
    bitstream.feature_header, bitstream.channel_group_headers = fh, cgs
    return bitstream


def test_round_trip_hash_and_threads(tiny, photo):
    encoded = encode(photo)
    bitstream = parse(encoded.data)
    ps = bitstream.parameter_set
    assert bitstream.tool == "mfc" and ps["ps_model_id"] == 1
    sha = hashlib.sha256((tiny / "mfc_q1.pt").read_bytes()).digest()
    assert ps["ps_model_hash"] == int.from_bytes(sha[:4], "big")
    assert ps["ps_model_layout_flag"] == 1 and bitstream.feature_header is None
    assert not bitstream.channel_group_headers
    fh, (cg,) = model_layout(load_runtime(tiny / "mfc_q1.pt"))
    assert [t["fh_coding_mode"] for t in fh["tensors"]] == [1, 0] and fh["tensors"][0]["fh_reference_id"] == 1
    assert [g["cg_group_size"] for g in cg["groups"]] == list(GROUPS) and cg["cg_channel_order_flag"] == 0
    assert sorted(u["pl_group_idx"] for u in bitstream.payloads) == [SIDE_INFORMATION, 0, 1]
    one = decode_with_threads(encoded.data, 1)
    two = decode_with_threads(encoded.data, 2)
    assert one.hash_hex == two.hash_hex == encoded.decoded.digest(HASH_CRC32).hex() == \
        bitstream.output_hash["dh_hash"].hex()
    assert one.output.md5() == encoded.decoded.md5()
    explicit_stream = serialize(explicit(bitstream, tiny, 1))
    assert len(explicit_stream) > len(encoded.data)
    assert decode_bytes(explicit_stream, DecoderConfig()).hash_hex == one.hash_hex
    shapes = [f.shape for f in one.output.features]
    assert shapes == [(48, 20, 20), (96, 10, 10)]
    assert all(f.dtype.name == "float32" for f in one.output.features)


def test_residual_mode(tiny, photo):
    encoded = encode_picture(photo, EncoderConfig(tool="mfc", quality=2))
    bitstream = explicit(parse(encoded.data), tiny, 2)
    fh = bitstream.feature_header
    assert [t["fh_coding_mode"] for t in fh["tensors"]] == [2, 0] and fh["tensors"][0]["fh_reference_id"] == 1
    assert [cg["cg_tensor_id"] for cg in bitstream.channel_group_headers] == [1, 0]
    assert [g["cg_group_size"] for g in bitstream.channel_group_headers[1]["groups"]] == list(RES_GROUPS)
    assert sorted((u["pl_tensor_id"], u["pl_group_idx"]) for u in bitstream.payloads) == [
        (0, SIDE_INFORMATION), (0, 0), (0, 1), (1, SIDE_INFORMATION), (1, 0), (1, 1)]
    one = decode_with_threads(encoded.data, 1)
    two = decode_with_threads(encoded.data, 2)
    assert one.hash_hex == two.hash_hex == encoded.decoded.digest(HASH_CRC32).hex()
    # without its residual, tensor 0 is the prediction alone: decoding the residual changes it
    part = decode_bytes(encoded.data, DecoderConfig(max_groups=0))
    assert part.output.partial and (part.output.features[0] != one.output.features[0]).any()
    fh["tensors"][0]["fh_coding_mode"] = 1
    with pytest.raises(BitstreamError, match="fh_coding_mode 2"):
        decode_bytes(serialize(bitstream), DecoderConfig())


def test_partial_decoding(tiny, photo):
    encoded = encode(photo)
    full = decode_bytes(encoded.data, DecoderConfig())
    assert full.needed_bytes == len(encoded.data)
    payloads = parse(encoded.data).payloads
    needed = []
    for k in range(len(GROUPS)):
        part = decode_bytes(encoded.data, DecoderConfig(max_groups=k))
        assert part.output.partial and part.hash_hex is None
        assert part.output.md5() != full.output.md5()
        # charged the stream less the payloads of the groups it left unread (not the hyper latents)
        unread = sum(len(u["pl_data"]) for u in payloads if u["pl_group_idx"] >= k)
        assert part.needed_bytes == len(encoded.data) - unread
        needed.append(part.needed_bytes)
    assert needed == sorted(needed) and len(set(needed)) == len(needed)
    same = decode_bytes(encoded.data, DecoderConfig(max_groups=len(GROUPS) + 3))
    assert not same.output.partial and same.hash_hex == full.hash_hex
    assert same.needed_bytes == len(encoded.data)


def test_wrong_model_hash_and_corrupt_payload_refused(tiny, photo):
    encoded = encode(photo)
    bitstream = parse(encoded.data)
    bitstream.parameter_set["ps_model_hash"] ^= 1
    with pytest.raises(ResourceError, match="hash"):
        decode_bytes(serialize(bitstream), DecoderConfig())
    bitstream = parse(encoded.data)
    unit = next(u for u in bitstream.payloads if u["pl_group_idx"] == 1)
    unit["pl_data"] = bytes(b ^ 0x5A for b in unit["pl_data"]) + b"\x00"
    with pytest.raises((BitstreamError, Exception)) as error:
        decode_bytes(serialize(bitstream), DecoderConfig())
    assert isinstance(error.value, (BitstreamError, ResourceError)) or "hash" in str(error.value)
    bitstream = explicit(parse(encoded.data), tiny, 1)
    bitstream.channel_group_headers[0]["groups"][0]["cg_group_size"] += 1
    bitstream.channel_group_headers[0]["cg_num_channels"] += 1
    with pytest.raises(BitstreamError, match="groups"):
        decode_bytes(serialize(bitstream), DecoderConfig())
    bitstream = parse(encoded.data)
    bitstream.payloads = [u for u in bitstream.payloads if u["pl_group_idx"] != len(GROUPS) - 1]  # cut short
    with pytest.raises(BitstreamError, match="missing payload"):
        decode_bytes(serialize(dataclasses.replace(bitstream)), DecoderConfig())


@pytest.mark.parametrize("quality", [1, 2])
def test_latent_refinement(tiny, photo, quality):
    """The refined latent lowers the model's objective for the picture, the stream differs from the
    unrefined one and decodes exactly (a decoder does not know whether the encoder refined)."""

    plain = encode_picture(photo, EncoderConfig(tool="mfc", quality=quality, refine_steps=0))
    assert plain.info == {}
    refined = encode_picture(photo, EncoderConfig(tool="mfc", quality=quality, refine_steps=8))
    costs = refined.info["refine_costs"]  # the refinement's costs come back with the encode result
    assert [c.tensor_id for c in costs] == ([1] if quality == 1 else [1, 0])
    assert costs[-1].kept < costs[-1].start and all(c.kept <= c.start for c in costs)
    assert refined.data != plain.data
    assert parse(refined.data).parameter_set == parse(plain.data).parameter_set
    one = decode_with_threads(refined.data, 1)
    two = decode_with_threads(refined.data, 2)
    assert one.hash_hex == two.hash_hex == refined.decoded.digest(HASH_CRC32).hex()


def test_encoder_output_does_not_depend_on_the_thread_count(tiny, photo, monkeypatch):
    """The encoder runs its float networks on one thread, whatever the caller set: same bytes on 1 and 2."""
    streams = []
    for threads in (1, 2):
        with torch_threads(threads):
            streams.append(encode_picture(photo, EncoderConfig(tool="mfc", quality=2, refine_steps=6)).data)
            assert torch.get_num_threads() == threads  # the caller's setting is restored
    assert streams[0] == streams[1]
    seen = []
    original = mfc_encoder.MfcEncoder.encode
    monkeypatch.setattr(mfc_encoder.MfcEncoder, "encode",
                        lambda self, rgb, config: seen.append(torch.get_num_threads()) or original(self, rgb, config))
    with torch_threads(2):
        encode(photo, refine_steps=0)
    assert seen == [ENCODER_THREADS] == [1]


def test_refinement_study_script(tiny, capsys):
    """mfc_refine_study: the kept latent's J never exceeds the analysis output's; the study makes encoders with
    its settings and changes no module's state."""
    from icm.ctc_scripts.studies import mfc_refine_study
    from icm.encoder import mfc_refine

    before = {name: value for name, value in vars(mfc_refine).items() if name.isupper()}
    assert mfc_refine_study.main(["--qualities", "1", "--optimiser", "adam", "--learning-rates", "0.01", "0.002",
                                  "--steps", "3", "--every", "12"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("quality 1 steps 3")]
    assert len(lines) == 2 and "adam learning rate 0.01:" in lines[0] and "adam learning rate 0.002:" in lines[1]
    for line in lines:
        start, kept = (float(v) for v in line.split("J ")[1].split(" (")[0].split(" -> "))
        assert 0 < kept <= start
    assert {name: value for name, value in vars(mfc_refine).items() if name.isupper()} == before


def test_refinement_needs_the_models_lambda(tiny, photo, tmp_path, monkeypatch):
    weights = torch.load(tiny / "mfc_q1.pt", weights_only=True)
    del weights["info"]["lambda"]
    torch.save(weights, tmp_path / "mfc_q1.pt")
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    with pytest.raises(ResourceError, match="lambda"):
        encode(photo, refine_steps=4)
    assert parse(encode(photo, refine_steps=0).data).tool == "mfc"


def test_encoder_options_checked(tiny, photo, tmp_path, monkeypatch):
    for steps in (-1, 1001, 2.5, True):
        with pytest.raises(ConfigError, match="refine_steps"):
            encode(photo, refine_steps=steps)
    with pytest.raises(ConfigError):
        encode(photo, model="unknown")
    with pytest.raises(ConfigError):
        encode_picture(photo, EncoderConfig(tool="mfc", quality=0))
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", tmp_path)  # no shipped weights: only the tiny models (q1, q2)
    with pytest.raises(ConfigError, match="has no quality 3 \\(qualities with weights: 1..2\\)"):
        encode_picture(photo, EncoderConfig(tool="mfc", quality=3))
    with pytest.raises(ConfigError, match="has no quality 9"):
        encode_picture(photo, EncoderConfig(tool="mfc", quality=9))


def test_encoder_state_belongs_to_objects(tiny, photo):
    """The encoder keeps its networks and refiner on itself (no module caches); a ToolInstances shares one
    ModelCache between the encoder and the decoder that checks its stream."""
    assert not [name for name in vars(mfc_encoder) if name.startswith("_") and name.isupper()]
    tools = ToolInstances()
    first = encode_picture(photo, EncoderConfig(tool="mfc", quality=1, refine_steps=2), tools=tools)
    encoder = tools.encoder("mfc")
    refiner = encoder.refiner  # the method; the object it keeps is reused for the next picture
    second = encode_picture(photo, EncoderConfig(tool="mfc", quality=1, refine_steps=2), tools=tools)
    assert first.data == second.data and tools.encoder("mfc") is encoder and callable(refiner)
    assert tools.decoder(2).models is encoder.models
    assert len(encoder.models) == 1  # one model, loaded once for the encoder and the decoder


def test_command_lines(tiny, shared, tmp_path):
    from icm.decoder.app import main as dec_main
    from icm.encoder.app import main as enc_main

    image = sorted((shared / "data" / "coco-val-dev" / "images").glob("*.jpg"))[1]
    stream = tmp_path / "a.icm"
    runner = CliRunner()
    result = runner.invoke(enc_main, ["-i", str(image), "-o", str(stream), "--tool", "mfc", "--quality", "1"])
    assert result.exit_code == 0, result.output
    assert "mfc model mfc quality 1" in result.output
    result = runner.invoke(dec_main, ["-i", str(stream), "-o", str(tmp_path / "f.npz"),
                                      "--detections", str(tmp_path / "d.json")])
    assert result.exit_code == 0 and "matches the stream" in result.output, result.output
    result = runner.invoke(dec_main, ["-i", str(stream), "--max-groups", "1"])
    assert result.exit_code == 0 and "hash not checked (partial decode)" in result.output, result.output
    result = runner.invoke(dec_main, ["-i", str(stream), "--max-groups", "-1"])
    assert result.exit_code == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here: CPU against CUDA not checked")
@pytest.mark.parametrize("quality", [1, 2])
def test_cuda_decode_is_bit_identical_to_cpu(tiny, photo, quality):
    encoded = encode_picture(photo, EncoderConfig(tool="mfc", quality=quality))
    cpu = decode_bytes(encoded.data, DecoderConfig(device="cpu"))
    cuda = decode_bytes(encoded.data, DecoderConfig(device="cuda"))
    assert cpu.hash_hex == cuda.hash_hex == encoded.decoded.digest(HASH_CRC32).hex()
    on_cuda = encode_picture(photo, EncoderConfig(tool="mfc", quality=quality, device="cuda"))
    on_cpu = decode_bytes(on_cuda.data, DecoderConfig(device="cpu"))
    assert on_cpu.hash_hex == on_cuda.decoded.digest(HASH_CRC32).hex()


def test_hyper_features_equal_the_coded_hyper_latents(tiny, photo):
    """RuntimeCodec.hyper_features (no coding, any batch) gives what code_hyper's decode gives."""
    runtime = load_runtime(tiny / "mfc_q1.pt")
    codec = runtime.codecs[1]
    y = torch.randn(2, codec.config.latent_channels, 10, 10) * 3
    _, hyper = codec.code_hyper(y[1:])
    assert torch.equal(codec.hyper_features(y)[1:], hyper)


def test_encoder_tuning_changes_only_the_analysis(tiny, tmp_path, capsys, monkeypatch):
    """train_mfc_encoder (an amortisation study, docs/results.md): J and regression runs on the bank, the
    targets and study commands; the exported file differs from its source in the analysis transforms alone."""
    from icm.ctc_scripts.training import train_mfc_encoder as T
    from icm.ctc_scripts.training.skeleton import main

    class TwoPictureBank(T.Bank):  # the tiny bank's two pictures hold no held-out one (index 9 modulo 10)
        def __init__(self, *args):
            super().__init__(*args)
            self.val = self.train[-1:]

    monkeypatch.setattr(T, "Bank", TwoPictureBank)

    bank = str(tiny.parent / "bank.pt")
    source = str(tiny / "mfc_q2.pt")  # two codecs: s32, then the residual of s16
    assert T.command(["targets", "--weights", source, "--bank", bank, "--count", "2", "--steps", "2",
                      "-o", str(tmp_path / "targets.pt")]) == 0
    for name, extra in (("j", []), ("regression", ["--targets", str(tmp_path / "targets.pt")])):
        run = tmp_path / name
        assert main(T.MfcEncoderRun, ["train", "--run", str(run), "--weights", source, "--bank", bank, "--steps", "2",
                                      "--batch", "2", "--lr", "1e-2", "--log-every", "1", "--val-every", "2",
                                      *extra]) == 0
        assert main(T.MfcEncoderRun, ["export", "--run", str(run), "-o", str(tmp_path / f"{name}.pt")]) == 0
        before = torch.load(source, weights_only=True)
        after = torch.load(tmp_path / f"{name}.pt", weights_only=True)
        for old, new in zip(before["codecs"], after["codecs"]):
            assert any(not torch.equal(old["g_a"][k], new["g_a"][k]) for k in old["g_a"])
            for key in ("h_a", "h_s", "g_s", "prior", "gains_q16"):
                assert torch.equal(old[key], new[key]) if torch.is_tensor(old[key]) else \
                    all(torch.equal(old[key][k], new[key][k]) for k in old[key])
            assert all(torch.equal(a[k], b[k]) for a, b in zip(old["e"], new["e"]) for k in a)
        assert all(torch.equal(before["predictor"]["exact"][k], after["predictor"]["exact"][k])
                   for k in before["predictor"]["exact"])
        assert after["info"]["encoder_tuning"]["loss"] == ("regression" if extra else "J")
    assert T.command(["study", "--weights", source, str(tmp_path / "j.pt"), "--bank", bank, "--steps", "0", "2",
                      "--count", "2"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "J@0=" in line]
    assert len(rows) == 2
    for row in rows:
        j0, j2 = (float(part.split("=")[1]) for part in row.split()[1:])
        assert 0 < j2 <= j0

"""The ci-icm tool end to end with a tiny model exported from a few training steps into a temporary weights
folder (``ICM_CI_ICM_WEIGHTS``): round trip with the decoded-output hash, 1 vs 2 threads, partial decoding
(--max-groups), the task networks' adapters, missing weights, the command lines and mutated streams."""
from __future__ import annotations

import hashlib
import json
import random
import time

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from fuzzing import mutate
from icm.common.bitstream import SIDE_INFORMATION, parse, serialize
from icm.common.config import DecoderConfig, EncoderConfig
from icm.common.errors import BitstreamError, ConfigError, IcmError, ResourceError
from icm.common.image_io import read_image
from icm.common.models import zoo
from icm.common.models.ci_icm import CiIcmModel, export_runtime
from icm.common.registry import ToolInstances, default_registry
from icm.common.threads import torch_threads
from icm.decoder.pipeline import decode_bytes
from icm.encoder.pipeline import encode_picture
from icm.common.models.ci_icm import load_runtime, model_layout
from icm.common.output import HASH_CRC32
from test_ci_icm_model import TINY_INFO, tiny_config, train_a_little

ENTRY = default_registry().get("ci-icm")
WEIGHTS_ENV = ENTRY.models.env
GROUPS = (2, 2, 4, 8)
FUZZ_MUTATIONS = 1000


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread (two threads on a busy machine are ten times slower)."""
    with torch_threads(1):
        yield


def tool_config():
    """Smaller than the model tests' tiny configuration: the exact decode of 320 x 320 stays ~0.1 s."""
    return tiny_config(synthesis_widths=(8, 8, 4, 4), analysis_widths=(4, 8, 8), hyper_width=8, param_width=4,
                       adapter_width=4)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    with torch_threads(1):
        torch.manual_seed(11)
        model = CiIcmModel(tool_config())
        train_a_little(model, 3, seed=12)
        with torch.no_grad():  # give the adapters a correction (an untrained adapter is the identity)
            for adapter in model.adapters.values():
                adapter.convs[-1].weight.normal_(0, 0.05)
        folder = tmp_path_factory.mktemp("ci-icm") / "weights"
        folder.mkdir()
        np.savez(folder / "ci-icm.npz", **export_runtime(model, extra=TINY_INFO))
    return folder


@pytest.fixture
def tiny(tiny_weights, monkeypatch):
    monkeypatch.setenv(WEIGHTS_ENV, str(tiny_weights))
    return tiny_weights


@pytest.fixture(scope="module")
def photo(shared):
    return read_image(sorted((shared / "data" / "coco-val-dev" / "images").glob("*.jpg"))[0])


@pytest.fixture(scope="module")
def encoded_q2(tiny_weights, photo):
    mp = pytest.MonkeyPatch()
    mp.setenv(WEIGHTS_ENV, str(tiny_weights))
    try:
        with torch_threads(1):
            return encode_picture(photo, EncoderConfig(tool="ci-icm", quality=2))
    finally:
        mp.undo()


def decode_with_threads(data, threads, **options):
    with torch_threads(threads):
        return decode_bytes(data, DecoderConfig(**options))


def layout(tiny, quality: int) -> list[dict]:
    return model_layout(load_runtime(tiny / "ci-icm.npz"), quality)


def explicit(bitstream, tiny, quality: int):
    """``bitstream`` with the channel-group header its model implies written out (``ps_model_layout_flag`` 0)."""
    bitstream.parameter_set["ps_model_layout_flag"] = 0
    bitstream.channel_group_headers = layout(tiny, quality)
    return bitstream


def test_round_trip_hash_and_threads(tiny, photo, encoded_q2):
    bitstream = parse(encoded_q2.data)
    ps = bitstream.parameter_set
    assert bitstream.tool == "ci-icm" and ps["ps_tool_id"] == ENTRY.tool_id and ps["ps_model_id"] == 2
    sha = hashlib.sha256((tiny / "ci-icm.npz").read_bytes()).digest()
    assert ps["ps_model_hash"] == int.from_bytes(sha[:4], "big")
    height, width = photo.shape[:2]
    assert (ps["ps_picture_width"], ps["ps_picture_height"]) == (width, height)
    assert ps["ps_resampling_flag"] == 1 and (ps["ps_coded_width"], ps["ps_coded_height"]) == (320, 320)
    assert (ps["ps_task_input_width"], ps["ps_task_input_height"]) == (320, 320)
    assert bitstream.feature_header is None and not bitstream.channel_group_headers
    assert ps["ps_model_layout_flag"] == 1
    (cg,) = layout(tiny, 2)
    assert [g["cg_group_size"] for g in cg["groups"]] == list(GROUPS)
    gains = [g["cg_scale"] for g in cg["groups"]]
    assert cg["cg_channel_order_flag"] == 0 and cg["cg_offset_flag"] == 0 and min(gains) > 0
    assert [u["pl_group_idx"] for u in bitstream.payloads] == list(range(SIDE_INFORMATION, len(GROUPS)))
    one = decode_with_threads(encoded_q2.data, 1)
    two = decode_with_threads(encoded_q2.data, 2)
    assert one.hash_hex == two.hash_hex == encoded_q2.decoded.digest(HASH_CRC32).hex() == \
        bitstream.output_hash["dh_hash"].hex()
    explicit_stream = serialize(explicit(bitstream, tiny, 2))
    assert decode_bytes(explicit_stream, DecoderConfig()).hash_hex == one.hash_hex
    assert one.output.picture.shape == photo.shape and one.output.picture.dtype == np.uint8
    # another quality: other gains in the header, another stream
    other = encode_picture(photo, EncoderConfig(tool="ci-icm", quality=3))
    assert [g["cg_scale"] for g in layout(tiny, 3)[0]["groups"]] != gains
    assert decode_bytes(other.data, DecoderConfig()).hash_hex == other.decoded.digest(HASH_CRC32).hex()


def test_partial_decoding(tiny, encoded_q2):
    full = decode_bytes(encoded_q2.data, DecoderConfig())
    for k in range(len(GROUPS)):
        part = decode_bytes(encoded_q2.data, DecoderConfig(max_groups=k))
        assert part.output.partial and part.hash_hex is None
        assert part.output.md5() != full.output.md5()
    same = decode_bytes(encoded_q2.data, DecoderConfig(max_groups=len(GROUPS) + 2))
    assert not same.output.partial and same.hash_hex == full.hash_hex
    # a partial decode reads only the first groups: the later payloads may be missing
    bitstream = parse(encoded_q2.data)
    bitstream.payloads = [u for u in bitstream.payloads if u["pl_group_idx"] in (SIDE_INFORMATION, 0)]
    part = decode_bytes(serialize(bitstream), DecoderConfig(max_groups=1))
    assert part.output.md5() == decode_bytes(encoded_q2.data, DecoderConfig(max_groups=1)).output.md5()


def test_adapters(tiny, encoded_q2):
    plain = decode_bytes(encoded_q2.data, DecoderConfig())
    adapted = decode_bytes(encoded_q2.data, DecoderConfig(task_network="yolo-fastest-1.1"))
    xl = decode_bytes(encoded_q2.data, DecoderConfig(task_network="yolo-fastest-1.1-xl"))
    assert plain.hash_hex is not None and not plain.output.partial
    assert adapted.output.picture.shape == plain.output.picture.shape
    assert (adapted.output.picture != plain.output.picture).any()
    assert adapted.output.adapted_for == "yolo-fastest-1.1" and not adapted.output.partial
    assert adapted.hash_hex == plain.hash_hex  # the plain picture's hash, checked
    assert adapted.output.md5() != xl.output.md5()
    with pytest.raises(ConfigError, match="no adapter"):
        decode_bytes(encoded_q2.data, DecoderConfig(task_network="unknown-net"))
    # the plain picture's hash is still checked when an adapter is applied
    bitstream = parse(encoded_q2.data)
    bitstream.output_hash["dh_hash"] = bytes(4)
    with pytest.raises(IcmError, match="hash"):
        decode_bytes(serialize(bitstream), DecoderConfig(task_network="yolo-fastest-1.1"))


def test_missing_weights(photo, encoded_q2, tmp_path, monkeypatch):
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", tmp_path)
    assert ENTRY.rate_values() == []
    with pytest.raises(ResourceError, match="ci-icm model weights ci-icm.npz not found"):
        encode_picture(photo, EncoderConfig(tool="ci-icm", quality=2))
    with pytest.raises(ResourceError, match="ci-icm.npz not found"):
        decode_bytes(encoded_q2.data, DecoderConfig())


def test_stream_checks(tiny, photo, encoded_q2):
    bitstream = parse(encoded_q2.data)
    bitstream.parameter_set["ps_model_hash"] ^= 1
    with pytest.raises(ResourceError, match="hash"):
        decode_bytes(serialize(bitstream), DecoderConfig())
    bitstream = explicit(parse(encoded_q2.data), tiny, 2)
    bitstream.channel_group_headers[0]["groups"][1]["cg_scale"] *= 2
    with pytest.raises(BitstreamError, match="gains"):
        decode_bytes(serialize(bitstream), DecoderConfig())
    bitstream = parse(encoded_q2.data)
    bitstream.parameter_set["ps_coded_width"] = 256
    with pytest.raises(BitstreamError, match="320x320"):
        decode_bytes(serialize(bitstream), DecoderConfig())
    bitstream = parse(encoded_q2.data)
    bitstream.payloads = [u for u in bitstream.payloads if u["pl_group_idx"] != len(GROUPS) - 1]
    with pytest.raises(BitstreamError, match="missing payload"):
        decode_bytes(serialize(bitstream), DecoderConfig())
    bitstream = parse(encoded_q2.data)
    bitstream.parameter_set["ps_model_id"] = 5  # the main model's quality 5: the tiny file has qualities 1..3
    with pytest.raises(ResourceError, match="has no quality 5"):
        decode_bytes(serialize(bitstream), DecoderConfig())
    # the ablations' reference at quality 2: another file, absent beside the tiny one (then found where the
    # shipped weights are, whose hash differs from the tiny stream's); refused either way, naming that file
    bitstream.parameter_set["ps_model_id"] = 12
    with pytest.raises(ResourceError, match="ci-icm-short.npz"):
        decode_bytes(serialize(bitstream), DecoderConfig())
    with pytest.raises(ConfigError, match="qualities 1..3"):
        encode_picture(photo, EncoderConfig(tool="ci-icm", quality=5))
    with pytest.raises(ConfigError):
        encode_picture(photo, EncoderConfig(tool="ci-icm", quality=7))


def test_latent_refinement(tiny, photo, tmp_path, monkeypatch):
    """refine_steps: the search keeps a latent whose objective is no higher than the analysis output's, and
    the stream decodes (hash checked) like any other; it needs the training lambdas in the weights file."""
    plain = encode_picture(photo, EncoderConfig(tool="ci-icm", quality=2, refine_steps=0))
    refined = encode_picture(photo, EncoderConfig(tool="ci-icm", quality=2, refine_steps=3))
    (cost,) = refined.info["refine_costs"]
    assert cost.kept <= cost.start and "refine_costs" not in plain.info
    decoded = decode_bytes(refined.data, DecoderConfig())
    assert decoded.hash_hex == refined.decoded.digest(HASH_CRC32).hex()
    assert refined.data != plain.data
    assert encode_picture(photo, EncoderConfig(tool="ci-icm", quality=2, refine_steps=3)).data == refined.data
    arrays = dict(np.load(tiny / "ci-icm.npz", allow_pickle=False))
    arrays["info"] = np.array(json.dumps({"steps": 3}))
    np.savez(tmp_path / "ci-icm.npz", **arrays)
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    with pytest.raises(ResourceError, match="training lambdas"):
        encode_picture(photo, EncoderConfig(tool="ci-icm", quality=2, refine_steps=3))
    assert encode_picture(photo, EncoderConfig(tool="ci-icm", quality=2, refine_steps=0)).data != plain.data


def test_model_families():
    assert ENTRY.models.family_names() == ["ci-icm", "short", "baseline", "noorder", "nogain", "noctx"]
    assert [ENTRY.models.model_id(f, 2) for f in ENTRY.models.family_names()] == [2, 12, 22, 32, 42, 52]
    assert ENTRY.models.resolve_id(56) == ("noctx", 6)
    assert ENTRY.adapters and ENTRY.groups


def test_ctc_codecs_with_decode_settings(tiny, shared, tmp_path):
    """The CTC runs ci-icm with a decoder setting per codec: a partial decode is charged only the bytes it
    reads (and has no MD5), an adapted decode is the adapter's picture (its record holds the plain picture's
    checked hash, as icm-dec reports it); icm-ctc retask decodes the adapted codec through the new network's
    adapter and leaves the plain one plain."""
    from icm.ctc_scripts.ctc.config import load_ctc_config
    from icm.ctc_scripts.ctc.retask import run_retask
    from icm.ctc_scripts.ctc.runner import run_ctc

    values = {"name": "ci-icm-decode", "dataset": {"name": "coco-val-dev", "limit": 2},
              "statistics": {"bootstrap": 0},
              "codecs": [{"tool": "uncompressed"},
                         {"name": "plain", "tool": "ci-icm", "qualities": [2]},
                         {"name": "k1", "tool": "ci-icm", "qualities": [2], "decode": {"max_groups": 1}},
                         {"name": "xl", "tool": "ci-icm", "qualities": [2],
                          "decode": {"task_network": "yolo-fastest-1.1-xl"}}]}
    run_ctc(load_ctc_config(values=values, output=str(tmp_path / "a")), progress=False)

    def records(run: str, name: str) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted((tmp_path / run / "points" / name).rglob("*.json"))
                if p.name != "complexity.json"]

    for plain, part, adapted in zip(records("a", "plain"), records("a", "k1"), records("a", "xl"), strict=True):
        stream = (tmp_path / "a" / "points" / "plain" / "q2" / plain["bitstream"]).read_bytes()
        unread = sum(len(u["pl_data"]) for u in parse(stream).payloads if u["pl_group_idx"] >= 1)
        assert plain["bits"] == adapted["bits"] == 8 * len(stream) and part["bits"] == plain["bits"] - 8 * unread
        assert part["md5"] is None and adapted["md5"] == plain["md5"] is not None
        assert plain["detections"] != adapted["detections"]
        # the decode-only codecs decode plain's streams (copied, with plain's encode times), not streams of their own
        assert part["encode_s"] == adapted["encode_s"] == plain["encode_s"]
        for name in ("k1", "xl"):
            assert (tmp_path / "a" / "points" / name / "q2" / plain["bitstream"]).read_bytes() == stream
    # without the codec whose streams it decodes, a decode-only codec encodes them itself (the same streams)
    alone = {**values, "codecs": values["codecs"][2:3]}
    run_ctc(load_ctc_config(values=alone, output=str(tmp_path / "c")), progress=False)
    for plain, part in zip(records("a", "plain"), records("c", "k1"), strict=True):
        assert part["bits"] == next(r for r in records("a", "k1") if r["image"] == part["image"])["bits"]
        assert part["encode_s"] != plain["encode_s"]
    run_retask(tmp_path / "a", "yolo-fastest-1.1", tmp_path / "b", codecs=["uncompressed", "plain", "xl"],
               progress=False)
    decode = {c["name"]: c["decode"] for c in json.loads((tmp_path / "b" / "run.json").read_text())["config"]["codecs"]}
    assert decode == {"uncompressed": {}, "plain": {}, "xl": {"task_network": "yolo-fastest-1.1"}}
    for plain, adapted in zip(records("b", "plain"), records("b", "xl"), strict=True):
        assert adapted["md5"] == plain["md5"]  # (the tiny model's pictures give yolo-fastest-1.1 nothing to detect)


def test_conformance_suite_with_adapted_and_partial_decodes(tiny, shared, tmp_path):
    """The conformance generator makes a ci-icm stream's entries (full, partial and adapted decodes) and
    icm-conform passes them: with its own decoder, and with icm-dec as a command decoder, which skips the adapted
    entry without an --adapted-decoder command and passes it with one."""
    import subprocess
    import sys
    from pathlib import Path

    from icm.ctc_scripts.conformance.build import make
    from icm.ctc_scripts.conformance.make_conformance import files_of
    from icm.ctc_scripts.conformance.pictures import KODIM23, Picture
    from icm.ctc_scripts.conformance.suite import Adapted, Encoded, Partial

    suite = [Encoded("ci_icm_q2", Picture(KODIM23, (96, 72)),
                     EncoderConfig(tool="ci-icm", quality=2, refine_steps=0, output_hash="md5"), "tiny", learned=True),
             Partial("ci_icm_q2_groups1", "ci_icm_q2", 1, "first group"),
             Adapted("ci_icm_q2_yf11", "ci_icm_q2", "yolo-fastest-1.1", "adapted for yolo-fastest-1.1")]
    made = make(suite, tmp_path, report=lambda *_: None)
    for name, data in files_of(made).items():
        (tmp_path / name).write_bytes(data)
    records = {m.record["name"]: m.record for m in made}
    assert records["ci_icm_q2_yf11"]["decode"] == {"max_groups": None, "task_network": "yolo-fastest-1.1"}
    md5s = {name: record["expect"]["md5"] for name, record in records.items()}
    assert len(set(md5s.values())) == 3
    plain = decode_bytes(made[0].data, DecoderConfig(task_network="yolo-fastest-1.1"))
    assert plain.output.md5().hex() == md5s["ci_icm_q2_yf11"]
    assert "`ci_icm_q2.icm` with `--task-network yolo-fastest-1.1`" in (tmp_path / "README.md").read_text()

    conform = str(Path(sys.executable).parent / "icm-conform")
    dec = f"{Path(sys.executable).parent / 'icm-dec'} -i {{bitstream}} -o {{output}}"
    runs = {"built-in": [], "no adapted command": ["--decoder", dec, "--partial-decoder", dec + " --max-groups {max_groups}"]}
    runs["adapted command"] = runs["no adapted command"] + ["--adapted-decoder", dec + " --task-network {task_network}"]
    for label, options in runs.items():
        result = subprocess.run([conform, str(tmp_path), *options], capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, (label, result.stdout + result.stderr)
        skipped = 1 if label == "no adapted command" else 0
        assert f"{3 - skipped} passed, 0 failed, {skipped} skipped of 3: CONFORMS" in result.stdout, label
        assert "ci_icm_q2_yf11 (--task-network yolo-fastest-1.1)" in result.stdout
    wrong = subprocess.run([conform, str(tmp_path), "--decoder", dec, "--adapted-decoder", dec],
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "--adapted-decoder: the command needs {task_network}" in wrong.stderr


def test_tool_instances_share_the_model(tiny, photo):
    tools = ToolInstances()
    encode_picture(photo, EncoderConfig(tool="ci-icm", quality=1), tools=tools)
    assert tools.decoder(ENTRY.tool_id).models is tools.encoder("ci-icm").models
    assert len(tools.encoder("ci-icm").models) == 1


def test_command_lines(tiny, shared, tmp_path, monkeypatch):
    from icm.decoder import app as dec_app
    from icm.encoder.app import main as enc_main

    image = sorted((shared / "data" / "coco-val-dev" / "images").glob("*.jpg"))[1]
    stream = tmp_path / "a.icm"
    runner = CliRunner()
    result = runner.invoke(enc_main, ["-i", str(image), "-o", str(stream), "--tool", "ci-icm", "--quality", "1"])
    assert result.exit_code == 0, result.output
    assert "ci-icm model ci-icm quality 1" in result.output
    result = runner.invoke(dec_app.main, ["-i", str(stream), "-o", str(tmp_path / "p.png")])
    assert result.exit_code == 0 and "matches the stream" in result.output, result.output
    result = runner.invoke(dec_app.main, ["-i", str(stream), "--max-groups", "1"])
    assert result.exit_code == 0 and "hash not checked (partial decode)" in result.output, result.output
    seen = []  # the detector named by --task-network runs on the adapted picture (no real detector here)

    class Detections(list):
        def to_coco_results(self, image_id):
            return []

    monkeypatch.setattr(dec_app, "detect_on_picture", lambda picture, config: seen.append(
        (picture.shape, config.task_network)) or Detections())
    result = runner.invoke(dec_app.main, ["-i", str(stream), "--task-network", "yolo-fastest-1.1",
                                          "--detections", str(tmp_path / "d.json")])
    assert result.exit_code == 0, result.output
    assert seen == [(read_image(image).shape, "yolo-fastest-1.1")]
    assert "plain picture's CRC-32" in result.output and "adapted for yolo-fastest-1.1" in result.output
    assert "partial" not in result.output
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", tmp_path)
    result = runner.invoke(enc_main, ["-i", str(image), "-o", str(tmp_path / "b.icm"), "--tool", "ci-icm"])
    assert result.exit_code == 7 and "ci-icm.npz not found" in result.output, result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
    result = runner.invoke(dec_app.main, ["-i", str(stream)])
    assert result.exit_code == 7 and "ci-icm.npz not found" in result.output, result.output


def test_mutated_streams_decode_or_fail_cleanly(tiny, encoded_q2):
    tools = ToolInstances()
    rng = random.Random("fuzz-ci-icm")
    outcomes = {"decoded": 0}
    start = time.perf_counter()
    for _ in range(FUZZ_MUTATIONS):
        mutated = mutate(encoded_q2.data, rng)
        try:
            result = decode_bytes(mutated, DecoderConfig(), tools=tools)
        except IcmError as exc:
            outcomes[type(exc).__name__] = outcomes.get(type(exc).__name__, 0) + 1
        else:
            assert result.hash_hex is not None  # a decode that did not fail matched the stream's hash
            outcomes["decoded"] += 1
    assert sum(outcomes.values()) == FUZZ_MUTATIONS
    assert outcomes.get("BitstreamError", 0) + outcomes.get("LevelLimitError", 0) > 0
    assert time.perf_counter() - start < 60, outcomes
    print(f"{FUZZ_MUTATIONS} mutated ci-icm streams in {time.perf_counter() - start:.1f} s: {outcomes}")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here: CPU against CUDA not checked")
def test_cuda_decode_is_bit_identical_to_cpu(tiny, photo, encoded_q2):
    cpu = decode_bytes(encoded_q2.data, DecoderConfig(device="cpu"))
    cuda = decode_bytes(encoded_q2.data, DecoderConfig(device="cuda"))
    assert cpu.hash_hex == cuda.hash_hex == encoded_q2.decoded.digest(HASH_CRC32).hex()
    adapted = [decode_bytes(encoded_q2.data, DecoderConfig(device=d, task_network="yolo-fastest-1.1")).output.md5()
               for d in ("cpu", "cuda")]
    assert adapted[0] == adapted[1]
    on_cuda = encode_picture(photo, EncoderConfig(tool="ci-icm", quality=2, device="cuda"))
    on_cpu = decode_bytes(on_cuda.data, DecoderConfig(device="cpu"))
    assert on_cpu.hash_hex == on_cuda.decoded.digest(HASH_CRC32).hex()

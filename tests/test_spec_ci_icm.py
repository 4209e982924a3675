"""The decoder written from the specification (ctc_scripts/conformance/spec_decoder.py, docs/decoding.md D.11 and
D.12) decodes ci-icm streams byte for byte as icm does: a tiny model exported into a temporary weights folder
(``ICM_CI_ICM_WEIGHTS``), streams of the real encoder at several qualities and sizes (resampled to the output size
both ways, and not at all), every partial decode, each task adapter, the channel-group header sent instead of
implied, the bilinear filter, a model without the channel context (the ``noctx`` family); and it refuses what
D.11.1 refuses, with the status icm-dec gives (4, or 7 for a model it does not have or that is not valid)."""
from __future__ import annotations

import ast
import copy
import hashlib

import numpy as np
import pytest
import torch

from icm.common.bitstream import SIDE_INFORMATION, parse, serialize
from icm.common.config import DecoderConfig, EncoderConfig
from icm.common.errors import IcmError
from icm.common.models.ci_icm import CiIcmModel, export_runtime, load_runtime, model_layout
from icm.common.registry import ToolInstances, default_registry
from icm.common.threads import torch_threads
from icm.ctc_scripts.conformance import spec_cross_check, spec_decoder as sd
from icm.ctc_scripts.conformance.spec_cross_check import spec_status
from icm.decoder.pipeline import decode_bytes
from icm.encoder.pipeline import encode_picture
from test_ci_icm_model import TINY_INFO, tiny_config, train_a_little

WEIGHTS_ENV = default_registry().get("ci-icm").models.env
SIZE = 128  # the model's input size S: small, so that both decoders take well under a second a stream
GROUPS = (2, 2, 4, 8)


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield


def config(**overrides):
    return tiny_config(synthesis_widths=(8, 8, 4, 4), analysis_widths=(4, 8, 8), hyper_width=8, param_width=4,
                       adapter_width=4, input_size=SIZE, **overrides)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """``ci-icm.npz`` (3 qualities, 4 groups, context, two adapters) and ``ci-icm-noctx.npz`` (no context)."""
    folder = tmp_path_factory.mktemp("spec-ci-icm")
    with torch_threads(1):
        torch.manual_seed(11)
        model = CiIcmModel(config())
        train_a_little(model, 2, seed=12, size=SIZE)
        with torch.no_grad():  # an untrained adapter is the identity: give it a correction
            for adapter in model.adapters.values():
                adapter.convs[-1].weight.normal_(0, 0.05)
        arrays = export_runtime(model, extra=TINY_INFO)
        # every group and quality its own gain, and hyper gains other than 1 (still a valid file, D.12)
        gains = arrays["gains_q16"]
        arrays["gains_q16"] = gains + 7919 * np.arange(gains.size, dtype=np.int64).reshape(gains.shape)
        arrays["hyper_gains_q16"] = np.array([65536, 98304, 40001], np.int64)
        np.savez(folder / "ci-icm.npz", **arrays)
        torch.manual_seed(5)
        np.savez(folder / "ci-icm-noctx.npz", **export_runtime(CiIcmModel(config(context=False)), extra=TINY_INFO))
    return folder


def picture(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    blocks = np.kron(rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3)), np.ones((8, 8, 1)))
    return np.clip(blocks[:height, :width] + rng.integers(-24, 25, (height, width, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def streams(weights):
    """name -> stream: 200 x 120 (wider and lower than S) at qualities 1 and 3, S x S at quality 2, 72 x 96 with
    the noctx model at quality 2."""
    mp = pytest.MonkeyPatch()
    mp.setenv(WEIGHTS_ENV, str(weights))
    wide, square, small = picture(120, 200, 1), picture(SIZE, SIZE, 2), picture(96, 72, 3)
    try:
        with torch_threads(1):
            def encode(rgb, quality, **options):
                return encode_picture(rgb, EncoderConfig(tool="ci-icm", quality=quality, output_hash="md5",
                                                         task_input_size=SIZE, **options)).data
            return {"wide_q1": encode(wide, 1), "wide_q3": encode(wide, 3), "square_q2": encode(square, 2),
                    "noctx_q2": encode(small, 2, model="noctx")}
    finally:
        mp.undo()


@pytest.fixture
def tiny(weights, monkeypatch):
    monkeypatch.setenv(WEIGHTS_ENV, str(weights))
    return weights


def icm_md5(data: bytes, **options) -> str:
    return decode_bytes(data, DecoderConfig(**options), tools=ToolInstances()).output.md5().hex()


def spec_md5(data: bytes, folder, **options) -> str:
    stream = sd.parse(data)
    return sd.output_md5(sd.decode(stream, ci_icm_weights=folder, **options), stream)


def edited(data: bytes, change, folder=None, quality: int = 0) -> bytes:
    """``data`` re-serialized after ``change(bitstream)``; with ``folder``, the channel-group header that the model
    implies at ``quality`` is sent (``ps_model_layout_flag`` 0) first."""
    bitstream = parse(data)
    if folder is not None:
        bitstream.parameter_set["ps_model_layout_flag"] = 0
        bitstream.channel_group_headers = model_layout(load_runtime(folder / "ci-icm.npz"), quality)
    change(bitstream)
    return serialize(bitstream)


def refusal(data: bytes, folder, **options) -> sd.SpecError:
    with pytest.raises(sd.SpecError) as refused:
        sd.decode(sd.parse(data), ci_icm_weights=folder, **options)
    return refused.value


def icm_exit(data: bytes, **options) -> int:
    with pytest.raises(IcmError) as refused:
        decode_bytes(data, DecoderConfig(**options), tools=ToolInstances())
    return refused.value.exit_code


def test_the_spec_decoder_imports_neither_icm_nor_torch():
    tree = ast.parse(open(sd.__file__).read())
    names = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    names |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and
              node.module}
    assert names <= {"__future__", "hashlib", "json", "math", "os", "struct", "subprocess", "tempfile", "functools",
                     "pathlib", "numpy"}, names


def test_model_ids_follow_d111():
    assert sd.ci_icm_model_name(1) == ("ci-icm.npz", 1) and sd.ci_icm_model_name(6) == ("ci-icm.npz", 6)
    assert sd.ci_icm_model_name(14) == ("ci-icm-short.npz", 4)
    assert sd.ci_icm_model_name(21) == ("ci-icm-baseline.npz", 1)
    assert sd.ci_icm_model_name(35) == ("ci-icm-noorder.npz", 5)
    assert sd.ci_icm_model_name(42) == ("ci-icm-nogain.npz", 2)
    assert sd.ci_icm_model_name(56) == ("ci-icm-noctx.npz", 6)
    for none in (0, 7, 9, 10, 17, 20, 57, 60, 61, 255):
        with pytest.raises(sd.ModelError):
            sd.ci_icm_model_name(none)
    assert sd.adapter_key("yolo-fastest-1.1-xl") == "adapter.yolo_fastest_1_1_xl"


def test_the_model_file(weights):
    model = sd.CiIcmModel(weights / "ci-icm.npz")
    sha = hashlib.sha256((weights / "ci-icm.npz").read_bytes()).digest()
    assert model.model_hash == int.from_bytes(sha[:4], "big")
    assert (model.input_size, model.groups, model.qualities, model.context) == (SIZE, list(GROUPS), 3, True)
    assert model.f_shape[1:] == (SIZE // 2, SIZE // 2) and len(model.task_networks) == 2
    assert not sd.CiIcmModel(weights / "ci-icm-noctx.npz").context


def test_full_decodes_match_icm_and_the_streams_hash(tiny, streams):
    seen = set()
    for name, data in streams.items():
        stream = sd.parse(data)
        ps = stream["ps"]
        assert ps["ps_tool_id"] == 3 and ps["ps_model_layout_flag"] == 1 and not stream["cg"]
        assert ps["ps_resampling_flag"] == 1 and (ps["ps_coded_width"], ps["ps_coded_height"]) == (SIZE, SIZE)
        md5 = spec_md5(data, tiny)  # hash-checked
        assert md5 == icm_md5(data) == stream["dh"]["dh_hash"].hex(), name
        seen.add(md5)
    assert len(seen) == len(streams)
    stream = sd.parse(streams["wide_q1"])
    assert (stream["ps"]["ps_picture_width"], stream["ps"]["ps_picture_height"]) == (200, 120)
    assert sd.parse(streams["noctx_q2"])["ps"]["ps_model_id"] == 52
    # the model given directly, instead of the folder
    model = sd.CiIcmModel(tiny / "ci-icm.npz")
    picture = sd.decode(stream, model=model)
    assert picture.shape == (120, 200, 3) and picture.dtype == np.uint8
    assert sd.output_md5(picture, stream) == icm_md5(streams["wide_q1"])
    # the conformance cross-check finds the file where icm-dec does (ICM_CI_ICM_WEIGHTS)
    models = {}
    assert spec_cross_check.spec_md5(streams["wide_q3"], 1, models, tiny, None) == icm_md5(streams["wide_q3"],
                                                                                            max_groups=1)
    assert list(models) == ["ci-icm.npz"]


def test_every_partial_decode_matches_icm(tiny, streams):
    for name in ("wide_q3", "noctx_q2"):
        data = streams[name]
        full = spec_md5(data, tiny)
        parts = [spec_md5(data, tiny, max_groups=k) for k in range(len(GROUPS) + 2)]
        assert parts == [icm_md5(data, max_groups=k) for k in range(len(GROUPS) + 2)], name
        assert full not in parts[:len(GROUPS)] and parts[len(GROUPS):] == [full, full]
        assert len(set(parts[:len(GROUPS)])) == len(GROUPS)
    # a partial decode of K groups needs substreams 0 .. K only
    data = streams["wide_q3"]
    cut = edited(data, lambda b: setattr(b, "payloads", [u for u in b.payloads
                                                          if u["pl_group_idx"] in (SIDE_INFORMATION, 0)]))
    assert spec_md5(cut, tiny, max_groups=1) == icm_md5(data, max_groups=1)
    assert spec_status(refusal(cut, tiny, max_groups=2)) == 4 == icm_exit(cut, max_groups=2)


def test_adapters_match_icm(tiny, streams):
    model = sd.CiIcmModel(tiny / "ci-icm.npz")
    for name in ("wide_q1", "square_q2"):
        data = streams[name]
        plain = spec_md5(data, tiny)
        adapted = []
        for network in model.task_networks:
            md5 = spec_md5(data, tiny, task_network=network)
            assert md5 == icm_md5(data, task_network=network) != plain, (name, network)
            adapted.append(md5)
        assert len(set(adapted)) == len(adapted)
    data = streams["wide_q1"]  # adapted partial decodes
    network = model.task_networks[0]
    assert spec_md5(data, tiny, max_groups=1, task_network=network) == icm_md5(data, max_groups=1,
                                                                               task_network=network)
    with pytest.raises(ValueError):
        spec_md5(data, tiny, task_network="unknown-net")
    # the hash is checked on the plain picture
    broken = edited(data, lambda b: b.output_hash.update(dh_hash=bytes(16)))
    assert spec_status(refusal(broken, tiny, task_network=network)) == 6


def test_a_sent_channel_group_header_decodes_as_the_implied_one(tiny, streams):
    for name, quality in (("wide_q3", 3), ("square_q2", 2)):
        data = edited(streams[name], lambda b: None, tiny, quality)
        stream = sd.parse(data)
        assert stream["ps"]["ps_model_layout_flag"] == 0 and len(stream["cg"]) == 1
        assert spec_md5(data, tiny) == icm_md5(data) == spec_md5(streams[name], tiny)
        assert spec_md5(data, tiny, max_groups=2) == icm_md5(streams[name], max_groups=2)


def test_the_bilinear_filter(tiny, streams):
    data = streams["wide_q1"]
    bilinear = edited(data, lambda b: b.parameter_set.update(ps_resampling_filter_idc=1))
    assert spec_md5(bilinear, tiny, max_groups=2) == icm_md5(bilinear, max_groups=2)
    stream = sd.parse(bilinear)
    picture, _ = sd.decode_ci_icm(stream, sd.CiIcmModel(tiny / "ci-icm.npz"))
    md5 = hashlib.md5(sd.canonical_bytes(picture, stream)).digest()
    assert md5.hex() != spec_md5(data, tiny)
    rehashed = edited(bilinear, lambda b: b.output_hash.update(dh_hash=md5, dh_hash_type=0))
    assert icm_md5(rehashed) == md5.hex() == spec_md5(rehashed, tiny)  # icm checks the spec decoder's hash


def double_a_gain(bitstream) -> None:
    group = bitstream.channel_group_headers[0]["groups"][1]
    group["cg_scale"] *= 2


def test_refusals(tiny, streams):
    data = streams["wide_q1"]
    cases = {
        "model hash": (edited(data, lambda b: b.parameter_set.update(ps_model_hash=b.parameter_set[
            "ps_model_hash"] ^ 1)), sd.ModelError, 7),
        "gains": (edited(data, double_a_gain, tiny, 1), sd.SpecError, 4),
        "model id without a file (ci-icm-short.npz)": (edited(data, lambda b: b.parameter_set.update(
            ps_model_id=11)), sd.ModelError, 7),
        "model id naming no model": (edited(data, lambda b: b.parameter_set.update(ps_model_id=7)),
                                     sd.ModelError, 7),
        "quality above the file's": (edited(data, lambda b: b.parameter_set.update(ps_model_id=5)),
                                     sd.ModelError, 7),
        "model id 0": (edited(data, lambda b: b.parameter_set.update(ps_model_id=0)), sd.SpecError, 4),
        "coded size": (edited(data, lambda b: b.parameter_set.update(ps_coded_width=64)), sd.SpecError, 4),
        "two channel-group headers": (edited(data, lambda b: b.channel_group_headers.append(
            dict(copy.deepcopy(b.channel_group_headers[0]), cg_tensor_id=1)), tiny, 1), sd.SpecError, 4),
        "missing group": (edited(data, lambda b: setattr(b, "payloads", b.payloads[:-1])), sd.SpecError, 4),
    }
    for name, (stream, kind, status) in cases.items():
        refused = refusal(stream, tiny)
        assert type(refused) is kind and spec_status(refused) == status == icm_exit(stream), (name, refused)


def invalid_files(arrays: dict) -> dict:
    """name -> the arrays of ``arrays`` with one rule of D.12 broken."""
    import json

    def config(**change):
        return {"config": np.array(json.dumps(dict(json.loads(str(arrays["config"])), **change)))}

    def specs(name, **change):
        values = json.loads(str(arrays["specs"]))
        values[name] = dict(values[name], **change)
        return {"specs": np.array(json.dumps(values))}

    table = arrays["gaussian.scale_table_q16"].copy()
    table[5] += 1
    cdf = arrays["prior0.quantized_cdf"].copy()
    cdf[0, 2] = cdf[0, 1]
    medians = arrays["prior1.medians"].copy()
    medians[3] = np.nan
    g_s = json.loads(str(arrays["specs"]))["g_s"]
    return {
        "scale table": {"gaussian.scale_table_q16": table},
        "format": {"format": np.array("icm-ci-icm-0")},
        "a hyper gain of 0": {"hyper_gains_q16": np.array([0, 98304, 40001], np.int64)},
        "int32 gains": {"gains_q16": arrays["gains_q16"].astype(np.int32)},
        "a CDF that is not increasing": {"prior0.quantized_cdf": cdf},
        "a table longer than its row": {"prior0.cdf_length": arrays["prior0.cdf_length"] + cdf.shape[1]},
        "a NaN median": {"prior1.medians": medians},
        "context 1": config(context=1),
        "input size 128.0": config(input_size=128.0),
        "g_s outputs swapped": specs("g_s", outputs=g_s["outputs"][::-1]),
        "h_s with two outputs": specs("h_s", outputs=[0, 1]),
        "a source after its node": specs("h_s", nodes=[[op, [9] if i == 1 else srcs, arg, act] for i, (
            op, srcs, arg, act) in enumerate(json.loads(str(arrays["specs"]))["h_s"]["nodes"])]),
        "float32 encoder weights": {"g_a.w0": arrays["g_a.w0"].astype(np.float32)},
    }


def test_a_model_file_that_is_not_valid_is_a_model_the_decoder_does_not_have(tiny, streams, tmp_path, monkeypatch):
    """Both decoders refuse every broken file with status 7 (icm-dec: one line, no traceback)."""
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    arrays = dict(np.load(tiny / "ci-icm.npz", allow_pickle=False))
    for name, change in invalid_files(arrays).items():
        np.savez(tmp_path / "ci-icm.npz", **dict(arrays, **change))
        digest = hashlib.sha256((tmp_path / "ci-icm.npz").read_bytes()).digest()
        data = edited(streams["wide_q1"], lambda b: b.parameter_set.update(ps_model_hash=int.from_bytes(
            digest[:4], "big")))
        refused = refusal(data, tmp_path)
        assert type(refused) is sd.ModelError and spec_status(refused) == 7, name
        assert icm_exit(data) == 7, name

"""The rate points above quality 5 (issue 15; docs/mfc.md "Higher rate points"): the ``s16hi`` structure (s16 coded
at its full resolution, ``fh_coding_mode`` 0; s32 predicted from the decoded s16 by the task network's layers
81..108, ``fh_coding_mode`` 1 with ``fh_reference_id`` 0) with a tiny model trained here for two steps and served
as quality 6; and qualities without a weights file refused in one line."""
import re

import pytest
import torch
from click.testing import CliRunner

from icm.common.bitstream import SIDE_INFORMATION, parse
from icm.common.config import DecoderConfig, EncoderConfig
from icm.common.errors import ConfigError
from icm.common.image_io import read_image
from icm.common.models.mfc import load_runtime, load_weights_file, model_layout
from icm.common.output import HASH_CRC32, HASH_MD5
from icm.common.registry import default_registry
from icm.decoder.pipeline import decode_bytes
from icm.encoder.pipeline import encode_picture
from tiny_mfc import GROUPS, train_tiny

MODELS = default_registry().get("mfc").models


@pytest.fixture(scope="module")
def high_weights(shared, tmp_path_factory):
    from icm.ctc_scripts.training.mfc_bank import build_bank
    from icm.ctc_scripts.training.train_mfc import heldout_pictures

    root = tmp_path_factory.mktemp("mfc-high")
    pictures = sorted((shared / "data" / "kodak").glob("*.png"))[:10]
    build_bank(root / "bank.pt", per_image=0, seed=0, pictures=pictures)
    assert [p.name for p in heldout_pictures(root / "bank.pt")] == [pictures[9].name]
    torch.manual_seed(0)
    train_tiny(root / "run", root / "bank.pt", 2, "--variant", "s16hi", "--lmbda", "0.3", "--linear-skip",
               weights=root / "weights" / "mfc_q6.pt")
    return root / "weights"


@pytest.fixture
def high(high_weights, monkeypatch):
    monkeypatch.setenv(MODELS.env, str(high_weights))
    return high_weights


def test_missing_quality_is_a_one_line_error(tmp_path, monkeypatch, shared):
    monkeypatch.setenv(MODELS.env, str(tmp_path))  # an empty folder: only the shipped weights
    shipped = MODELS.available("mfc")
    missing = max(shipped) + 1
    assert shipped == list(range(1, missing)) and missing <= 9
    span = f"1..{missing - 1}"
    with pytest.raises(ConfigError, match=rf"^mfc model mfc has no quality {missing} \(qualities with weights: "
                                          rf"{re.escape(span)}\)$"):
        MODELS.check_quality("mfc", missing)
    from icm.encoder.app import main as enc_main

    photo = sorted((shared / "data" / "kodak").glob("*.png"))[0]
    result = CliRunner().invoke(enc_main, ["-i", str(photo), "-o", str(tmp_path / "x.icm"), "--tool", "mfc",
                                           "--quality", str(missing)])
    # the option's range (when the CLI was built with these weights) or the model set's check: one line, exit 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert (f"{missing} is not in the range 1<=x<={missing - 1}" in lines[0]
            or f"has no quality {missing} (qualities with weights: {span})" in lines[0])


def test_shipped_high_qualities_decode_alike_on_one_and_two_threads():
    """The shipped quality 6 (s16hi) conformance stream: the same output on 1 and 2 threads, equal to its MD5."""
    from icm.common.threads import torch_threads
    from icm.ctc_scripts.conformance import manifest as M

    record = next(r for r in M.load(M.FOLDER)["entries"] if r["name"] == "mfc_q6")
    data = (M.FOLDER / record["stream"]).read_bytes()
    digests = set()
    for threads in (1, 2):
        with torch_threads(threads):
            digests.add(decode_bytes(data, DecoderConfig()).output.digest(HASH_MD5).hex())
    assert digests == {record["expect"]["md5"]}


def test_s16hi_layout_and_weights(high):
    weights = load_weights_file(high / "mfc_q6.pt")
    assert set(weights["predictor"]) == {"spec", "exact"}  # the task network's layers, stored as any predictor
    runtime = load_runtime(high / "mfc_q6.pt")
    assert runtime.order == [0] and runtime.codecs[0].config.down == 1 and runtime.codecs[0].config.linear_skip
    assert runtime.codecs[0].g_s.spec.convs[-1].kernel == 1  # the linear path, appended last (decoding.md D.6.5)
    assert runtime.codecs[0].latent_shape(20, 20) == (20, 20)
    fh, (cg,) = model_layout(runtime)
    assert [t["fh_coding_mode"] for t in fh["tensors"]] == [0, 1] and fh["tensors"][1]["fh_reference_id"] == 0
    assert cg["cg_tensor_id"] == 0 and [g["cg_group_size"] for g in cg["groups"]] == list(GROUPS)
    assert 6 in MODELS.available("mfc")


@pytest.mark.parametrize("refine_steps", [0, 2])
def test_s16hi_round_trip(high, shared, refine_steps):
    photo = read_image(sorted((shared / "data" / "coco-val-dev" / "images").glob("*.jpg"))[0])
    encoded = encode_picture(photo, EncoderConfig(tool="mfc", quality=6, refine_steps=refine_steps))
    bitstream = parse(encoded.data)
    assert bitstream.parameter_set["ps_model_id"] == 6
    assert sorted((u["pl_tensor_id"], u["pl_group_idx"]) for u in bitstream.payloads) == [
        (0, SIDE_INFORMATION), (0, 0), (0, 1)]
    full = decode_bytes(encoded.data, DecoderConfig())
    assert full.hash_hex == encoded.decoded.digest(HASH_CRC32).hex() == bitstream.output_hash["dh_hash"].hex()
    assert [f.shape for f in full.output.features] == [(48, 20, 20), (96, 10, 10)]
    part = decode_bytes(encoded.data, DecoderConfig(max_groups=1))
    assert part.output.partial and [f.shape for f in part.output.features] == [(48, 20, 20), (96, 10, 10)]


def test_heldout_measure(high):
    """The label-free measure train_mfc_high.sh chooses by: bpp and fidelity on the bank's held-out pictures."""
    from icm.ctc_scripts.training.train_mfc import heldout

    (row,) = heldout([6], high.parent / "bank.pt", refine_steps=0, limit=1)
    assert row["quality"] == 6 and row["pictures"] == 1 and row["bpp"] > 0 and 0 <= row["fidelity"] <= 100


def test_s16hi_models_refine_with_their_own_step_size():
    """The shipped qualities 6 and 7 (s16hi) search with step size 50, the others with 10; only their CTC keys
    carry the step size."""
    from icm.encoder.mfc import MfcEncoder, model_variant
    from icm.encoder.mfc_refine import MFC_REFINEMENT, refinement_for

    entry = default_registry().get("mfc")
    encoder = MfcEncoder(entry=entry)
    assert refinement_for("s16hi").learning_rate == 50.0 and refinement_for("mfc") == MFC_REFINEMENT
    for quality in (3, 6, 7):
        config = EncoderConfig(tool="mfc", quality=quality)
        variant = model_variant(entry.models.find_file("mfc", quality))
        assert (variant == "s16hi") == (quality >= 6)
        step = encoder.search_settings(config).learning_rate
        assert step == (50.0 if quality >= 6 else 10.0)
        assert encoder.resolved_settings(config).get("refine_step_size") == (50.0 if quality >= 6 else None)
    assert MfcEncoder(entry=entry, refinement=MFC_REFINEMENT).search_settings(
        EncoderConfig(tool="mfc", quality=6)).learning_rate == 10.0

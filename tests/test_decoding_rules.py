"""Rules of docs/decoding.md that the conformance suite cannot show with a stream of its own: the output type
checked in a partial decode too (D.2.6), the limits in force after a second parameter set (D.2.1), and model
files that are not valid (D.9: exit status 7), in ``icm-dec`` and in the spec decoder."""
import types

import pytest

from icm.common.bitstream import parse
from icm.common.config import DecoderConfig
from icm.common.errors import BitstreamError, LevelLimitError, ResourceError
from icm.common.registry import ToolInstances
from icm.common.syntax import structures as S
from icm.ctc_scripts.conformance import manifest as M, spec_decoder as sd
from icm.ctc_scripts.conformance.rewrites import apply, set_hash
from icm.ctc_scripts.conformance.units import read_raw, read_units, write_raw, write_units
from icm.decoder.pipeline import decode_bytes


def stream(name: str) -> bytes:
    return (M.FOLDER / f"{name}.icm").read_bytes()


@pytest.fixture(scope="module")
def tools():
    return ToolInstances()


def test_output_type_is_checked_in_a_partial_decode_too(tools):
    data = write_units(apply(set_hash(dh_output_type=0), read_units(stream("mfc_q3"))))
    with pytest.raises(BitstreamError) as refusal:
        decode_bytes(data, DecoderConfig(max_groups=2), tools=tools)
    assert refusal.value.exit_code == 4 and "dh_output_type" in str(refusal.value)
    with pytest.raises(sd.SpecError, match="dh_output_type"):
        sd.parse(data)


def test_the_last_level_idc_read_is_in_force():
    """mfc_q3_groups256_level20 decodes at level 2.0; a second parameter set of level 1.0 after the first puts its
    channel-group header for tensor 16 beyond level 1.0's max_tensors (exit 5), where with a second parameter set
    of level 2.0 the only error is the second parameter set (exit 4)."""
    def with_second(level: int) -> bytes:
        header, units = read_raw(stream("mfc_q3_groups256_level20"))
        assert units[0][0] == S.UNIT_PARAMETER_SET and units[0][1][0] == 20  # ps_level_idc, the body's first byte
        return write_raw(header, [units[0], (S.UNIT_PARAMETER_SET, bytes([level]) + units[0][1][1:]), *units[1:]])

    with pytest.raises(LevelLimitError, match="cg_tensor_id"):
        parse(with_second(10))
    with pytest.raises(BitstreamError, match="more than one parameter set") as refusal:
        parse(with_second(20))
    assert refusal.value.exit_code == 4


@pytest.mark.parametrize("input_size, shapes, words", [
    (320, ((48, 20, 20), (96, 10, 20)), "power-of-two stride"),  # a non-square tensor: strides 32 and 16
    (288, ((48, 18, 18), (96, 9, 9)), "odd size"),  # the coded tensor's latent is 9 x 9
])
def test_an_mfc_model_whose_tensors_break_d9_is_refused_with_status_7(tools, monkeypatch, input_size, shapes, words):
    data = stream("mfc_q3")
    decoder = tools.decoder(2)
    model = decoder.models.load_for_decoder(decoder.entry.models, 3, parse(data).parameter_set["ps_model_hash"])
    monkeypatch.setattr(model.runtime.config, "input_size", input_size)
    monkeypatch.setattr(model.runtime.config, "tensor_shapes", shapes)
    with pytest.raises(ResourceError, match=words) as refusal:
        decode_bytes(data, DecoderConfig(), tools=tools)
    assert refusal.value.exit_code == 7


def test_the_spec_decoder_refuses_a_model_with_a_non_square_tensor_as_a_model_error():
    model = sd.MfcModel.__new__(sd.MfcModel)
    model.input_size, model.tensor_shapes, model.codecs, model.prediction = 320, [(96, 10, 20)], [], {"source": 1}
    with pytest.raises(sd.ModelError):
        model.layout()
    model.tensor_shapes = [(96, 10, 10)]
    assert model.layout()[0]["tensors"][0]["fh_stride_log2"] == 5


def test_spec_decoder_model_ids_follow_d51():
    assert sd.mfc_model_name(3) == "mfc_q3" and sd.mfc_model_name(24) == "mfc-nogroup_q4"
    assert sd.mfc_model_name(7) == "mfc_q7"
    for reserved in (0, 8, 9, 11, 16, 40, 255):
        with pytest.raises(sd.ModelError):
            sd.mfc_model_name(reserved)

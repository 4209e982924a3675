"""The syntax declaration drives writer, parser, tracer and docs; these tests hold them together."""
import pytest

from icm.common.bitstream import SIDE_INFORMATION, Bitstream, new_parameter_set, parse, serialize
from icm.common.errors import BitstreamError, LevelLimitError
from icm.common.syntax import docgen
from icm.common.syntax.bitio import BitReader, BitWriter
from icm.common.syntax.levels import LEVELS


def feature_bitstream() -> Bitstream:
    ps = new_parameter_set("vvc-feature", 640, 480, ps_task_network_id=1, ps_task_input_width=320,
                           ps_task_input_height=320, ps_inner_codec_id=1, ps_coded_bit_depth_minus8=2,
                           ps_chroma_format_idc=0, ps_colour_matrix_idc=0, ps_full_range_flag=1, ps_qp=32,
                           ps_model_id=3, ps_model_hash=0x01020304)
    tensors = [dict(fh_tensor_id=i, fh_channels=96, fh_height=20, fh_width=20, fh_stride_log2=4,
                    fh_coding_mode=i, fh_range_flag=1, fh_quant_bit_depth_minus1=9,
                    fh_min_value=-1.5, fh_max_value=7.25, fh_packing_idc=1, fh_tile_columns=12) for i in range(2)]
    cg = {"cg_tensor_id": 0, "cg_num_channels": 4, "cg_num_groups": 2,
          "groups": [dict(cg_group_size=1, cg_scale=2.0), dict(cg_group_size=3, cg_scale=0.5)],
          "cg_offset_flag": 1, "offsets": [dict(cg_offset=0.0), dict(cg_offset=0.125)],
          "cg_channel_order_flag": 1, "order": [dict(cg_channel_index=c) for c in (3, 1, 0, 2)]}
    tensors[1]["fh_reference_id"] = 0  # tensor 1 is predicted from tensor 0
    bitstream = Bitstream(ps, {"fh_num_tensors": 2, "tensors": tensors}, [cg])
    bitstream.add_payload(b"hello", 1, 0)
    bitstream.add_payload(b"a", 0, 1, 0)
    bitstream.add_payload(b"", 0, 1, 1)
    bitstream.add_payload(b"world!", 0, 1, SIDE_INFORMATION)
    bitstream.output_hash = dict(dh_hash_type=0, dh_output_type=1, dh_hash=bytes(range(16)))
    return bitstream


def test_exp_golomb_and_float_round_trip():
    writer = BitWriter()
    values = [0, 1, 2, 3, 7, 8, 255, 65535, 2**31]
    for v in values:
        writer.write_ue(v)
    for v in (-5, 0, 5, -(2**20)):
        writer.write_se(v)
    writer.write_f32(-1.25)
    while not writer.byte_aligned:
        writer.write_bits(0, 1)
    reader = BitReader(writer.getvalue())
    assert [reader.read_ue() for _ in values] == values
    assert [reader.read_se() for _ in range(4)] == [-5, 0, 5, -(2**20)]
    assert reader.read_f32() == -1.25


def test_ue_prefix_too_long_is_corrupt():
    with pytest.raises(BitstreamError):
        BitReader(bytes(8)).read_ue()


def test_round_trip_all_units():
    bitstream = feature_bitstream()
    data = serialize(bitstream)
    again = parse(data)
    assert again.feature_header == bitstream.feature_header
    assert again.channel_group_headers == bitstream.channel_group_headers
    assert [again.payload(1, g) for g in (0, 1, SIDE_INFORMATION)] == [b"a", b"", b"world!"]
    assert serialize(again) == data


def test_substreams_share_one_payload_unit_side_information_first():
    read = []
    parse(serialize(feature_bitstream()), tracer=lambda *line: read.append(line))
    sizes = [value for _, name, _, value in read if name == "pl_substream_size"]
    assert sizes == [6, 1]  # the side information (written first), group 0; group 1 takes the rest
    assert [value for _, name, _, value in read if name == "pl_num_substreams_minus1"] == [2]


def test_a_stream_cut_to_its_first_groups_keeps_its_side_information():
    bitstream = feature_bitstream()
    bitstream.payloads = [p for p in bitstream.payloads if p["pl_group_idx"] != 1]
    again = parse(serialize(bitstream))
    assert again.payload(1, SIDE_INFORMATION) == b"world!" and again.payload(1, 0) == b"a"
    with pytest.raises(BitstreamError, match="missing payload"):
        again.payload(1, 1)


def test_compact_parameter_set_fields():
    bitstream = feature_bitstream()
    read = []
    parse(serialize(bitstream), tracer=lambda *line: read.append(line))
    values = {name: value for _, name, _, value in read}
    assert values["ps_task_input_size_flag"] == 0 and "ps_task_input_width" not in values  # the default 320
    assert parse(serialize(bitstream)).parameter_set["ps_task_input_width"] == 320
    bitstream.parameter_set.update(ps_task_input_width=160, ps_task_input_height=160)
    for tensor in bitstream.feature_header["tensors"]:
        tensor.update(fh_height=10, fh_width=10)
    again = parse(serialize(bitstream)).parameter_set
    assert (again["ps_task_input_size_flag"], again["ps_task_input_width"]) == (1, 160)


def test_tensor_geometry_must_fit_the_task_input():
    bitstream = feature_bitstream()
    bitstream.parameter_set.update(ps_task_input_width=319)
    with pytest.raises(BitstreamError, match="does not fit the task input"):
        parse(serialize(bitstream))


def test_model_layout_flag_excludes_headers():
    bitstream = feature_bitstream()
    bitstream.parameter_set["ps_model_layout_flag"] = 1
    with pytest.raises(ValueError, match="ps_model_layout_flag"):
        serialize(bitstream)


def test_hash_length_follows_the_hash_type():
    bitstream = feature_bitstream()
    bitstream.output_hash = dict(dh_hash_type=1, dh_output_type=1, dh_hash=bytes(4))
    assert parse(serialize(bitstream)).output_hash["dh_hash"] == bytes(4)
    bitstream.output_hash = dict(dh_hash_type=1, dh_output_type=1, dh_hash=bytes(16))
    with pytest.raises(BitstreamError, match="CRC-32"):
        parse(serialize(bitstream))


def test_trace_reports_every_element_with_bit_positions():
    written, read = [], []
    data = serialize(feature_bitstream(), tracer=lambda *line: written.append(line))
    parse(data, tracer=lambda *line: read.append(line))
    assert written == read
    names = [line[1] for line in read]
    for name in ("bs_magic", "ps_level_idc", "fh_tile_columns", "cg_channel_index", "pl_data", "dh_hash"):
        assert name in names
    positions = [line[0] for line in read]
    assert positions == sorted(positions)


def test_docs_agree_with_declaration():
    document = docgen.DOC_PATH.read_text()
    assert docgen.splice(document) == document, "run: python -m icm.common.syntax.docgen"


def test_every_traced_element_is_documented():
    document = docgen.DOC_PATH.read_text()
    read = []
    parse(serialize(feature_bitstream()), tracer=lambda *line: read.append(line))
    for _, name, _, _ in read:
        assert f"**{name}**" in document


def test_wrong_magic():
    data = bytearray(serialize(feature_bitstream()))
    data[0] ^= 0xFF
    with pytest.raises(BitstreamError, match="magic"):
        parse(bytes(data))


def test_truncation_is_detected_at_every_length():
    data = serialize(feature_bitstream())
    for n in range(len(data)):
        with pytest.raises(BitstreamError):
            parse(data[:n])


def test_level_limits_are_enforced_before_allocation():
    bitstream = feature_bitstream()
    bitstream.parameter_set["ps_level_idc"] = 20
    bitstream.feature_header["tensors"][0]["fh_channels"] = LEVELS[20]["max_channels"] + 1
    with pytest.raises(ValueError):  # the writer refuses to write a non-conforming stream
        serialize(bitstream)
    # forge the value into the bytes: the channels field sits right after fh_tensor_id of tensor 0
    good = serialize(feature_bitstream())
    bitstream.feature_header["tensors"][0]["fh_channels"] = LEVELS[20]["max_channels"]
    big = serialize(bitstream)
    assert parse(big).feature_header["tensors"][0]["fh_channels"] == LEVELS[20]["max_channels"]
    bitstream.parameter_set["ps_level_idc"] = 10
    with pytest.raises(ValueError):
        serialize(bitstream)
    assert parse(good)


def test_unknown_level_and_tool_are_rejected():
    bitstream = feature_bitstream()
    bitstream.parameter_set["ps_level_idc"] = 99
    with pytest.raises(LevelLimitError):
        serialize(bitstream)


def test_reserved_unit_types_are_skipped():
    data = serialize(feature_bitstream())
    # insert a unit of reserved type 13 with 3 bytes right after the bitstream header + parameter set
    reader = BitReader(data)
    reader.read_bits(40 + 4)  # magic, version, unit_type
    ps_size = reader.read_ue()
    cut = (reader.bit_position + 7) // 8 + ps_size
    extra = bytes([0b1101_0010, 0]) + b"xyz"  # unit_type u(4) 13, unit_size ue(v) 3 (00100), alignment
    again = parse(data[:cut] + extra + data[cut:])
    assert again.payload(0, 0) == b"hello"


def test_missing_hash_unit_is_an_error():
    bitstream = feature_bitstream()
    data = serialize(bitstream)
    hash_unit_size = 2 + 1 + 16  # unit_type u(4) + unit_size ue(v) 17 (9 bits), aligned; then the body
    with pytest.raises(BitstreamError, match="hash"):
        parse(data[:-hash_unit_size])


def test_other_syntax_versions_are_refused_clearly():
    data = serialize(feature_bitstream())
    assert data[4] == 0x30
    version1 = b"ICMB" + bytes([0]) + (33).to_bytes(4, "big") + bytes([1, 0, 10]) + bytes(30)
    with pytest.raises(BitstreamError, match="version 1 bitstream"):
        parse(version1)
    with pytest.raises(BitstreamError, match="version 2.0 bitstream"):
        parse(data[:4] + bytes([2, 0]) + data[5:])
    with pytest.raises(BitstreamError, match="version 4.0"):
        parse(data[:4] + bytes([0x40]) + data[5:])
    assert parse(data[:4] + bytes([0x3F]) + data[5:])  # a later minor version: what it adds is skipped
    with pytest.raises(BitstreamError, match="no syntax version"):
        parse(data[:4])

"""The ICM bitstream syntax, version 3: every syntax structure, declared once.

Version 2 (2026-11-22) made the framing smaller: the version moved from the parameter set to the bitstream
header, unit types are 4 bits and unit sizes ue(v), payload units lost their byte count (the data run to the
end of the unit), and channel-group offsets are sent only when a flag says so. Version 1 streams are refused
with a message that says so.

Version 3 (2026-12-01) makes the headers of the learned tools compact and puts every header value that changes
the output under the decoded-output hash:
* the version is one byte (4 + 4 bits); the model hash is 32 bits (the model id names the model; the output
  hash is the final check); small enumerations and counts are ue(v);
* ``ps_model_layout_flag``: the feature header and the channel-group headers that the model implies are not
  sent (a learned tool's model fixes its tensors, groups and gains); they are sent only when they differ;
* ``ps_task_input_size_flag``: the task network's default input size is not sent;
* one payload unit per tensor carries all its entropy-coded substreams (the side information first, then the
  channel groups in coding order) with their sizes, instead of one unit each;
* the decoded-output hash is MD5 (16 bytes, conformance streams) or CRC-32 (4 bytes, the encoder's default);
  for feature outputs it also covers the picture and task-input sizes (the detections' geometry).

``docs/bitstream.md`` is generated from these declarations (``python -m icm.common.syntax.docgen``)
and a test checks that the two agree.
"""
from .nodes import (REST_OF_UNIT, ByteAlignment, ByteArray, Cond, ForEach, If, Sized, Struct, Switch,
                    WhileMoreData, fixed, fl32, reserved, u, ue, se)

MAGIC = 0x49434D42  # "ICMB"
SYNTAX_VERSION_MAJOR = 3
SYNTAX_VERSION_MINOR = 0
MODEL_HASH_BITS = 32

# --- value tables (enums) ---------------------------------------------------------------
UNIT_TYPES = {0: "PARAMETER_SET", 1: "FEATURE_HEADER", 2: "CHANNEL_GROUP_HEADER", 3: "PAYLOAD",
              4: "DECODED_OUTPUT_HASH"}
UNIT_PARAMETER_SET, UNIT_FEATURE_HEADER, UNIT_CHANNEL_GROUP_HEADER, UNIT_PAYLOAD, UNIT_HASH = range(5)

TOOLS = {0: "vvc-image", 1: "vvc-feature", 2: "mfc", 3: "ci-icm", 4: "npp-vvc"}
TASK_NETWORKS = {0: "none", 1: "yolo-fastest-1.1-xl", 2: "yolo-fastest-1.1"}
# the input size a task network's entry implies when ps_task_input_size_flag is 0 (width, height), and the
# stride its input size must be a multiple of (the largest stride of its outputs)
TASK_NETWORK_DEFAULT_INPUT = {1: (320, 320), 2: (320, 320)}
TASK_NETWORK_INPUT_MULTIPLE = {1: 32, 2: 32}
INNER_CODECS = {0: "none", 1: "VVC"}
COLOUR_MATRICES = {0: "identity (RGB)", 1: "BT.601", 2: "BT.709"}
CHROMA_FORMATS = {0: "4:0:0", 1: "4:2:0", 2: "4:2:2", 3: "4:4:4"}
RESAMPLING_FILTERS = {0: "bicubic", 1: "bilinear"}
CODING_MODES = {0: "coded", 1: "predicted", 2: "predicted + residual"}
PACKING_MODES = {0: "none", 1: "raster-tiled 4:0:0 picture"}
PAYLOAD_TYPES = {0: "entropy-coded substream", 1: "inner-codec bitstream"}
HASH_NAMES = {0: "MD5", 1: "CRC-32"}
HASH_BYTES = {0: 16, 1: 4}
HASH_TYPES = {k: f"{name} ({HASH_BYTES[k]} bytes)" for k, name in HASH_NAMES.items()}
OUTPUT_TYPES = {0: "picture (RGB, 8 bit, row-major, interleaved)",
                1: "feature tensors (float32 little-endian, in fh order), then the geometry record"}

# --- structures -------------------------------------------------------------------------
PARAMETER_SET = Struct("parameter_set", "Everything that holds for the whole bitstream.", (
    u(8, "ps_level_idc", "Level (10 x level number); selects the level limits, see Levels.", sets_level=True),
    ue("ps_tool_id", "Coding tool that made the bitstream; values 5..255 are left to experimental tools "
                     "(a decoder refuses a tool it does not have, decoding.md D.2.5).", enum=TOOLS, maximum=255),
    ue("ps_model_id", "Learned model used by the tool; 0 = none (anchors).", maximum=255),
    If(Cond("ps_model_id", "!=", 0), (
        u(MODEL_HASH_BITS, "ps_model_hash",
          "First 4 bytes of the SHA-256 of the model's weights file, big-endian; a decoder refuses a model "
          "whose hash differs."),
        u(1, "ps_model_layout_flag",
          "1: the feature header and the channel-group headers are the ones the model implies (see the tool's "
          "decoding process), and the bitstream carries neither; 0: they are sent as needed."),
    )),
    ue("ps_picture_width", "Width of the original picture in luma samples.", minimum=1,
       limit="max_picture_width"),
    ue("ps_picture_height", "Height of the original picture in luma samples.", minimum=1,
       limit="max_picture_height"),
    ue("ps_bit_depth_minus8", "Bit depth of the original picture minus 8.", maximum=8),
    ue("ps_task_network_id", "Task network whose features are coded (split inference) or whose input "
                             "size the picture was resampled to; 0 = none.", enum=TASK_NETWORKS, maximum=2),
    If(Cond("ps_task_network_id", "!=", 0), (
        u(1, "ps_task_input_size_flag", "1: the task network's input size follows; 0: it is the network's "
                                        "default input size (TASK_NETWORK_DEFAULT_INPUT)."),
        If(Cond("ps_task_input_size_flag", "==", 1), (
            ue("ps_task_input_width", "Width of the task network's input.", minimum=1,
               limit="max_picture_width"),
            ue("ps_task_input_height", "Height of the task network's input.", minimum=1,
               limit="max_picture_height"),
        )),
    )),
    ue("ps_inner_codec_id", "Standard codec carried in inner-codec payloads; 0 = none.", enum=INNER_CODECS,
       maximum=1),
    If(Cond("ps_inner_codec_id", "!=", 0), (
        ue("ps_coded_bit_depth_minus8", "Bit depth of the pictures given to the inner codec minus 8.",
           maximum=8),
        u(2, "ps_chroma_format_idc", "Chroma format of the pictures given to the inner codec.",
          enum=CHROMA_FORMATS),
        u(4, "ps_colour_matrix_idc", "RGB to YCbCr matrix.", enum=COLOUR_MATRICES, maximum=2),
        u(1, "ps_full_range_flag", "1: full-range samples; 0: limited (video) range."),
        se("ps_qp", "Quantisation parameter given to the inner codec (informative).", minimum=-64, maximum=63),
    )),
    u(1, "ps_resampling_flag", "1: the picture was coded at another size and is resampled back."),
    If(Cond("ps_resampling_flag", "==", 1), (
        ue("ps_coded_width", "Width of the coded picture.", minimum=1, limit="max_picture_width"),
        ue("ps_coded_height", "Height of the coded picture.", minimum=1, limit="max_picture_height"),
        ue("ps_resampling_filter_idc", "Filter that restores the original size.", enum=RESAMPLING_FILTERS,
           maximum=1),
    )),
    u(1, "ps_extension_flag", "1: extension data follow."),
    If(Cond("ps_extension_flag", "==", 1), (
        ue("ps_extension_length", "Number of extension bytes.", limit="max_extension_bytes"),
        ByteAlignment(),
        ByteArray("ps_extension_data", "ps_extension_length",
                  "Extension bytes; version-3.0 decoders ignore them."),
    )),
    ByteAlignment(),
))

FEATURE_HEADER = Struct("feature_header", "The multi-scale feature tensors (split inference).", (
    ue("fh_num_tensors", "Number of feature tensors.", minimum=1, limit="max_tensors"),
    ForEach("fh_num_tensors", "tensors", "i", (
        ue("fh_tensor_id", "Identifier of tensor i (its index in the task network's split outputs).",
           limit="max_tensors"),
        ue("fh_channels", "Channels C of tensor i.", minimum=1, limit="max_channels"),
        ue("fh_height", "Height H of tensor i.", minimum=1, limit="max_feature_dim"),
        ue("fh_width", "Width W of tensor i.", minimum=1, limit="max_feature_dim"),
        u(4, "fh_stride_log2", "log2 of the stride of tensor i relative to the task network's input."),
        u(2, "fh_coding_mode", "How tensor i is reconstructed.", enum=CODING_MODES, maximum=2),
        If(Cond("fh_coding_mode", "!=", 0), (
            ue("fh_reference_id", "fh_tensor_id of the tensor that tensor i is predicted from.",
               limit="max_tensors"),
        )),
        u(1, "fh_range_flag", "1: tensor i was normalised to [0, 2^bitdepth - 1] with a signalled range."),
        If(Cond("fh_range_flag", "==", 1), (
            u(4, "fh_quant_bit_depth_minus1", "Sample bit depth of the normalised tensor minus 1.",
              maximum=15),
            fl32("fh_min_value", "Value that sample 0 stands for."),
            fl32("fh_max_value", "Value that the largest sample stands for."),
        )),
        u(4, "fh_packing_idc", "How tensor i is arranged for an inner codec.", enum=PACKING_MODES, maximum=1),
        If(Cond("fh_packing_idc", "==", 1), (
            ue("fh_tile_columns", "Channels per row of the tiled picture (raster order).", minimum=1,
               limit="max_channels"),
        )),
    )),
    ByteAlignment(),
))

CHANNEL_GROUP_HEADER = Struct("channel_group_header", "Channel groups of one tensor or latent.", (
    ue("cg_tensor_id", "Tensor (fh_tensor_id) or latent the groups belong to.", limit="max_tensors"),
    ue("cg_num_channels", "Number of channels.", minimum=1, limit="max_channels"),
    ue("cg_num_groups", "Number of channel groups, coded in this order.", minimum=1, limit="max_groups"),
    ForEach("cg_num_groups", "groups", "g", (
        ue("cg_group_size", "Channels in group g; the sizes add up to cg_num_channels.", minimum=1,
           limit="max_channels"),
        fl32("cg_scale", "Gain of group g before rounding (its inverse after).", positive=True),
    )),
    u(1, "cg_offset_flag", "1: an offset per group follows; 0: every group's offset is 0."),
    If(Cond("cg_offset_flag", "==", 1), (
        ForEach("cg_num_groups", "offsets", "g", (
            fl32("cg_offset", "Offset of group g subtracted before scaling."),
        )),
    )),
    u(1, "cg_channel_order_flag", "1: an explicit channel order follows; 0: channels in index order."),
    If(Cond("cg_channel_order_flag", "==", 1), (
        ForEach("cg_num_channels", "order", "c", (
            ue("cg_channel_index", "Channel coded at position c (a permutation of 0..cg_num_channels-1).",
               limit="max_channels"),
        )),
    )),
    ByteAlignment(),
))

PAYLOAD = Struct("payload", "Coded data of one tensor: its entropy-coded substreams, or one inner-codec "
                             "bitstream.", (
    u(2, "pl_type", "Kind of payload.", enum=PAYLOAD_TYPES, maximum=1),
    ue("pl_tensor_id", "Tensor (or picture, 0) the payload belongs to.", limit="max_tensors"),
    If(Cond("pl_type", "==", 0), (
        ue("pl_num_substreams_minus1", "Number of substreams minus 1: substream 0 is the side information "
                                       "(the hyper latent; empty for a tool without), substream 1 + g is "
                                       "channel group g.",
           limit="max_groups"),
        ForEach("pl_num_substreams_minus1", "substreams", "i", (
            ue("pl_substream_size", "Bytes of substream i; the last substream takes the bytes that remain.",
               limit="max_payload_bytes"),
        )),
    )),
    ByteAlignment(),
    ByteArray("pl_data", REST_OF_UNIT, "Payload data: every byte up to the end of the unit (the substreams "
                                       "one after another)."),
))

DECODED_OUTPUT_HASH = Struct("decoded_output_hash", "Hash of the decoded output, checked by decoders.", (
    u(4, "dh_hash_type", "Hash function; it sets the hash length (HASH_BYTES).", enum=HASH_TYPES, maximum=1),
    u(4, "dh_output_type", "What was hashed.", enum=OUTPUT_TYPES, maximum=1),
    ByteArray("dh_hash", REST_OF_UNIT, "The hash of the decoded output: 16 bytes (MD5) or 4 bytes (CRC-32, "
                                       "big-endian)."),
))

UNIT = Struct("unit", "A unit: a type, a length and a byte-aligned body of exactly that length.", (
    u(4, "unit_type", "Kind of unit; values without a structure are reserved: a unit of a reserved type may "
                      "appear anywhere after the parameter set and before the decoded-output hash (nothing follows "
                      "the hash), and decoders skip it.",
      enum=UNIT_TYPES),
    Sized(ue("unit_size", "Number of bytes of the unit body.", limit="max_payload_bytes"), (
        Switch("unit_type", {UNIT_PARAMETER_SET: PARAMETER_SET, UNIT_FEATURE_HEADER: FEATURE_HEADER,
                             UNIT_CHANNEL_GROUP_HEADER: CHANNEL_GROUP_HEADER, UNIT_PAYLOAD: PAYLOAD,
                             UNIT_HASH: DECODED_OUTPUT_HASH},
               into="body", skip_name="reserved_unit_data_byte"),
    )),
))

BITSTREAM = Struct("bitstream", "An ICM bitstream: a magic number, the syntax version, then units up to the end "
                                "of the file.", (
    fixed(32, "bs_magic", MAGIC, "0x49434D42 (\"ICMB\")."),
    u(4, "bs_syntax_version_major", "Major syntax version; this specification is 3. Decoders reject other values.",
      minimum=SYNTAX_VERSION_MAJOR, maximum=SYNTAX_VERSION_MAJOR),
    u(4, "bs_syntax_version_minor", "Minor syntax version; 0 here. Later minor versions only add what "
                                    "version-3.0 decoders may skip."),
    WhileMoreData("units", (UNIT,), limit="max_units"),
))

ALL_STRUCTURES = (BITSTREAM, UNIT, PARAMETER_SET, FEATURE_HEADER, CHANNEL_GROUP_HEADER, PAYLOAD,
                  DECODED_OUTPUT_HASH)
ENUMS = {"unit_type": UNIT_TYPES, "ps_tool_id": TOOLS, "ps_task_network_id": TASK_NETWORKS,
         "ps_inner_codec_id": INNER_CODECS, "ps_chroma_format_idc": CHROMA_FORMATS,
         "ps_colour_matrix_idc": COLOUR_MATRICES, "ps_resampling_filter_idc": RESAMPLING_FILTERS,
         "fh_coding_mode": CODING_MODES, "fh_packing_idc": PACKING_MODES, "pl_type": PAYLOAD_TYPES,
         "dh_hash_type": HASH_TYPES, "dh_output_type": OUTPUT_TYPES}

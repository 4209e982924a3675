"""The content of the conformance suite: one entry per test case, in the order they are made.

* :class:`Encoded`: a stream made by the encoder (``icm-enc``'s pipeline) from a picture with given settings.
  ``learned``: the encoder runs a float network (task network part 1, a learned analysis), so another CPU may
  not re-encode it byte for byte; the generator keeps such a stream as it is unless asked to rewrite it.
* :class:`Written`: a stream built from another entry's units through the syntax declaration's writer
  (``rewrites.py``): content no encoder writes. ``reject``: the exit status with which ``icm-dec`` refuses it
  (a stream that every decoder must refuse); otherwise it decodes, and its hash unit holds its output's MD5.
* :class:`Partial`: another entry's stream decoded with ``--max-groups K``, with the MD5 of that output.
* :class:`Adapted`: another entry's stream decoded with ``--task-network NAME``: the picture of that task
  network's decoder-side adapter (a tool with adapters), with the MD5 of that output.

Adding a tool's streams is one entry each, e.g. for a learned image codec::

    Encoded("ci_icm_q3", Picture(KODIM23, (128, 96)), EncoderConfig(tool="ci-icm", quality=3), learned=True,
            description="..."),
    Partial("ci_icm_q3_groups2", "ci_icm_q3", 2, "..."),
    Adapted("ci_icm_q3_yolo_fastest_1_1", "ci_icm_q3", "yolo-fastest-1.1", "..."),

and removing the tool from :data:`PENDING_TOOLS`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ...common.config import EncoderConfig, InnerCodecConfig
from ...common.syntax import structures as S
from . import rewrites as R
from .manifest import DECODE_KEYS
from .pictures import COCO_139, KODIM23, Picture

# Tools of the syntax's TOOLS table that have no stream yet (being built): their ps_tool_id values are the only
# values the coverage test lets the suite miss. Remove a tool when its first stream is added.
PENDING_TOOLS = ()

FASTER = InnerCodecConfig(preset="faster")


@dataclass(frozen=True)
class _StreamEntry:
    """An entry that has a stream file of its own, ``<name>.icm``."""

    name: str

    @property
    def stream(self) -> str:
        return self.name + ".icm"


@dataclass(frozen=True)
class Encoded(_StreamEntry):
    picture: Picture
    config: EncoderConfig
    description: str
    learned: bool = False


@dataclass(frozen=True)
class Written(_StreamEntry):
    source: str  # the entry whose stream's units are rewritten
    rewrite: R.Rewrite
    description: str
    reject: int | None = None  # icm-dec's exit status for a stream that decoders must refuse
    relax: frozenset = field(default_factory=frozenset)  # elements written beyond their ranges (reject streams)


@dataclass(frozen=True)
class DecodeEntry:
    """Another entry's stream decoded with decoder settings (no stream file of its own)."""

    name: str
    source: str  # the entry whose stream is decoded

    @property
    def decode(self) -> dict:
        """The decoder settings, as the manifest's ``decode`` records them."""
        return {key: getattr(self, key, None) for key in DECODE_KEYS}


@dataclass(frozen=True)
class Partial(DecodeEntry):
    max_groups: int
    description: str


@dataclass(frozen=True)
class Adapted(DecodeEntry):
    task_network: str
    description: str


def _vvc(qp: int, **settings) -> EncoderConfig:
    return EncoderConfig(tool="vvc-image", qp=qp, inner=FASTER, output_hash="md5", **settings)


def _feature(qp: int, **settings) -> EncoderConfig:
    return EncoderConfig(tool="vvc-feature", qp=qp, output_hash="md5", **settings)


def _npp(qp: int, **settings) -> EncoderConfig:
    return EncoderConfig(tool="npp-vvc", qp=qp, inner=FASTER, output_hash="md5", **settings)


def _mfc(quality: int, model: str | None = None, output_hash: str = "md5") -> EncoderConfig:
    return EncoderConfig(tool="mfc", quality=quality, model=model, output_hash=output_hash)


def _stream_model(tool: str, parameter_set: dict):
    """The model a stream of ``tool`` names (its id and hash), loaded as a decoder loads it."""
    from ...common.models.zoo import ModelCache
    from ...common.registry import default_registry

    models = default_registry().get(tool).models
    return ModelCache().load_for_decoder(models, parameter_set["ps_model_id"], parameter_set["ps_model_hash"])


def _mfc_layout(parameter_set: dict) -> tuple[dict, list[dict]]:
    """The feature and channel-group headers that the stream's mfc model implies (to write them out)."""
    from ...common.models.mfc import model_layout

    return model_layout(_stream_model("mfc", parameter_set).runtime)


def _ci_icm(quality: int, model: str | None = None) -> EncoderConfig:
    return EncoderConfig(tool="ci-icm", quality=quality, model=model, output_hash="md5")


def _ci_icm_layout(parameter_set: dict) -> tuple[None, list[dict]]:
    """The channel-group header that the stream's ci-icm model and quality imply (to write it out)."""
    from ...common.models.ci_icm import model_layout

    model = _stream_model("ci-icm", parameter_set)
    return None, model_layout(model.runtime, model.quality)


EXPLICIT = R.explicit_layout(_mfc_layout)
EXPLICIT_CI_ICM = R.explicit_layout(_ci_icm_layout)


ENTRIES = (
    # --- vvc-image: the picture, colour matrices and ranges, sizes, resampling -----------------------------------
    Encoded("vvc_image_qp32_128x96", Picture(KODIM23, (128, 96)), _vvc(32),
            "QP 32, BT.601 limited range (the encoder's defaults)"),
    Encoded("vvc_image_resampled_0.5_qp27", Picture(KODIM23, (128, 96)), _vvc(27, resample="0.5"),
            "coded at 64x48 (scale 0.5), QP 27, restored to 128x96 by the bicubic filter"),
    Encoded("vvc_image_1x1", Picture(KODIM23, (1, 1)), _vvc(37),
            "the smallest picture, 1x1 (a 32x32 VVC picture, chroma of 1x1)"),
    Encoded("vvc_image_33x17_bt601_full", Picture(KODIM23, (33, 17)), _vvc(30, full_range=True),
            "odd width and height (chroma 17x9), BT.601 full range"),
    Encoded("vvc_image_64x48_bt709_full", Picture(KODIM23, (64, 48)), _vvc(30, colour_matrix="bt709", full_range=True),
            "BT.709 full range"),
    Encoded("vvc_image_2000x8_bt709", Picture(size=(2000, 8), seed=8), _vvc(37, colour_matrix="bt709"),
            "an extreme aspect ratio, 2000x8 (a 2000x32 VVC picture), BT.709 limited range"),
    Encoded("vvc_image_task_resampled_96x72", Picture(KODIM23, (96, 72)),
            _vvc(32, resample="task", task_network="yolo-fastest-1.1", task_input_size=64),
            "resampled to the input size of the task network yolo-fastest-1.1 (ps_task_network_id 2), 64x64, "
            "restored to 96x72 (two different upscaling ratios)"),
    Encoded("vvc_image_resampled_down_30x20", Picture(KODIM23, (30, 20)), _vvc(32, resample="45x31"),
            "coded larger than the picture, at 45x31, restored to 30x20 (the decoder downscales: a widened kernel)"),
    # --- npp-vvc: the preprocessed picture coded as vvc-image, decoded as vvc-image (D.3.7) -----------------------
    Encoded("npp_vvc_qp37_128x96", Picture(KODIM23, (128, 96)), _npp(37),
            "npp-vvc (ps_tool_id 4) at QP 37: the shipped preprocessor's picture coded by VVC; ps_model_id 1 and "
            "the preprocessor's hash are informative, the decoding is vvc-image's", learned=True),
    Encoded("npp_vvc_task_qp32_96x72", Picture(KODIM23, (96, 72)),
            _npp(32, resample="task", task_network="yolo-fastest-1.1", task_input_size=64),
            "npp-vvc at QP 32, resampled to the task network's 64x64 input before the preprocessor, restored to "
            "96x72", learned=True),
    # --- vvc-feature ----------------------------------------------------------------------------------------------
    Encoded("vvc_feature_qp37", Picture(COCO_139), _feature(37),
            "split features of yolo-fastest-1.1-xl at 320x320 (48x20x20 and 96x10x10), QP 37", learned=True),
    Encoded("vvc_feature_yf11_160_qp42", Picture(COCO_139),
            _feature(42, task_network="yolo-fastest-1.1", task_input_size=160),
            "split features of yolo-fastest-1.1 (ps_task_network_id 2) at 160x160 (an explicit task input size, "
            "ps_task_input_size_flag 1), QP 42", learned=True),
    # --- mfc: the three coding modes, the model families, channel groups ---------------------------------------
    Encoded("mfc_q3", Picture(COCO_139), _mfc(3),
            "model mfc quality 3 (ps_model_id 3): s32 coded in 4 groups (fh_coding_mode 0), s16 predicted "
            "(fh_coding_mode 1); the model's layout (ps_model_layout_flag 1: no feature or channel-group header)",
            learned=True),
    Encoded("mfc_q1_crc32", Picture(COCO_139), _mfc(1, output_hash="crc32"),
            "quality 1 as the encoder writes it by default: the model's layout and a CRC-32 decoded-output hash "
            "(dh_hash_type 1)", learned=True),
    Encoded("mfc_q5", Picture(COCO_139), _mfc(5),
            "quality 5: s16 predicted plus a coded residual (fh_coding_mode 2) in 3 groups of its own",
            learned=True),
    Encoded("mfc_q6", Picture(COCO_139), _mfc(6),
            "quality 6 (structure s16hi): s16 coded at its full 20x20 resolution with the linear path (fh_coding_mode "
            "0, 4 groups), s32 predicted from the decoded s16 by the task network's own layers 81..108, stored in "
            "the model (fh_coding_mode 1, fh_reference_id 0)", learned=True),
    Encoded("mfc_noxs_q2", Picture(COCO_139), _mfc(2, "noxs"),
            "model noxs quality 2 (ps_model_id 12): both tensors coded (s16 at half resolution), no prediction",
            learned=True),
    Encoded("mfc_nogroup_q4", Picture(COCO_139), _mfc(4, "nogroup"),
            "model nogroup quality 4 (ps_model_id 24): one channel group of 64 (cg_num_groups 1)", learned=True),
    Partial("mfc_q3_groups0", "mfc_q3", 0, "partial decode of no group: every group takes its predicted mean"),
    Partial("mfc_q3_groups2", "mfc_q3", 2, "partial decode of the first 2 of 4 groups"),
    Partial("mfc_q5_groups1", "mfc_q5", 1, "partial decode of the first group of each coded latent (the "
                                           "residual's too)"),
    Partial("mfc_q6_groups2", "mfc_q6", 2, "partial decode of the first 2 of s16's 4 groups; s32 predicted from "
                                           "the partial s16"),
    Partial("mfc_noxs_q2_groups1", "mfc_noxs_q2", 1, "partial decode of the first group of both coded tensors"),
    # --- ci-icm: the picture at the model's 320x320, channel groups, the adapters (TSCA) ------------------------
    Encoded("ci_icm_q3", Picture(KODIM23, (128, 96)), _ci_icm(3),
            "model ci-icm quality 3 (ps_model_id 3): the 128x96 picture coded at 320x320 (ps_resampling_flag 1), "
            "the latent in 5 importance-ordered groups (8, 8, 16, 32, 64 channels) with the quality's gains, the "
            "model's layout (ps_model_layout_flag 1)", learned=True),
    Encoded("ci_icm_q6_640x480", Picture(COCO_139), _ci_icm(6),
            "the highest quality (ps_model_id 6) of a 640x480 photo: coded at 320x320, restored by upscaling "
            "with two ratios", learned=True),
    Encoded("ci_icm_short_q1", Picture(KODIM23, (96, 72)), _ci_icm(1, "short"),
            "model short quality 1 (ps_model_id 11): another model of the same structure", learned=True),
    Partial("ci_icm_q3_groups0", "ci_icm_q3", 0, "partial decode of no group: the latent is the hyperprior's "
                                                   "predicted means"),
    Partial("ci_icm_q3_groups2", "ci_icm_q3", 2, "partial decode of the first 2 of 5 groups (16 channels), the "
                                                   "others predicted from them"),
    Adapted("ci_icm_q3_yolo_fastest_1_1_xl", "ci_icm_q3", "yolo-fastest-1.1-xl",
            "the picture of yolo-fastest-1.1-xl's decoder-side adapter (TSCA), after the plain picture's hash check"),
    Adapted("ci_icm_q6_yolo_fastest_1_1", "ci_icm_q6_640x480", "yolo-fastest-1.1",
            "the picture of yolo-fastest-1.1's adapter, restored to 640x480"),
    Written("ci_icm_q3_explicit", "ci_icm_q3", EXPLICIT_CI_ICM,
            "the channel-group header of ci_icm_q3's model and quality written out (ps_model_layout_flag 0); same "
            "output"),
    # --- written through the declaration: what decoders skip, extremes, other filters ---------------------------
    Written("vvc_image_reserved_units", "vvc_image_qp32_128x96",
            R.insert_reserved(("after_ps", 5, 3), ("before_payloads", 15, 0), ("before_hash", 9, 100)),
            "with reserved units (types 5, 15 and 9, of 3, 0 and 100 bytes) after the "
            "parameter set, before the payload and before the hash: skipped, same output"),
    Written("mfc_q3_explicit", "mfc_q3", EXPLICIT,
            "the headers of mfc_q3's model written out (ps_model_layout_flag 0: a feature header and a "
            "channel-group header); same output"),
    Written("mfc_q5_explicit", "mfc_q5", EXPLICIT,
            "the headers of mfc_q5's model written out: s16 predicted plus a coded residual (fh_coding_mode 2), "
            "a channel-group header per coded latent; same output"),
    Written("mfc_q3_reserved_units", "mfc_q3", R.chain(EXPLICIT,
            R.insert_reserved(*[(where, t, 2 * t) for where, t in zip(
                ["after_ps", "before_cg", "before_payloads", "between_payloads", "between_payloads",
                 "between_payloads", "before_hash", "before_hash", "after_ps", "before_cg", "before_hash"],
                range(5, 16))])),
            "with the model's headers written out and one unit of each reserved type 5..15 (10 to 30 bytes) between its units: skipped, "
            "same output"),
    Written("vvc_image_extension_1024", "vvc_image_qp32_128x96",
            R.chain(R.add_extension("max"), R.set_version_minor(1)),
            "with 1024 bytes of parameter-set extension data (the level-1.0 maximum) and "
            "syntax version 3.1: ignored, same output"),
    Written("mfc_q3_extension_4096_level20", "mfc_q3",
            R.chain(R.set_parameters(ps_level_idc=20), R.add_extension("max"), R.set_version_minor(15)),
            "at level 2.0 with 4096 bytes of extension data (the level-2.0 maximum) and syntax version "
            "3.15: ignored, same output"),
    Written("vvc_image_informative_extremes", "vvc_image_1x1",
            R.set_parameters(ps_level_idc=20, ps_bit_depth_minus8=8, ps_qp=-64),
            "with a 16-bit original (ps_bit_depth_minus8 8), ps_qp -64 and level 2.0: values a "
            "decoder does not use (D.3.6), same output"),
    Written("npp_vvc_unknown_model", "npp_vvc_qp37_128x96",
            R.chain(R.flip_model_hash(), R.set_parameters(ps_model_id=200)),
            "npp_vvc_qp37_128x96 naming a preprocessor no decoder has (ps_model_id 200, another hash): the "
            "model is informative (D.3.7), same output"),
    Written("vvc_image_bilinear_up", "vvc_image_resampled_0.5_qp27", R.set_parameters(ps_resampling_filter_idc=1),
            "restored by the bilinear filter (ps_resampling_filter_idc 1)"),
    Written("vvc_image_bilinear_down", "vvc_image_resampled_down_30x20",
            R.set_parameters(ps_resampling_filter_idc=1),
            "restored by the bilinear filter (downscaling)"),
    Written("mfc_q3_offsets", "mfc_q3", R.chain(EXPLICIT, R.set_offsets(1, [0.5, -0.25, 0.125, -1.0])),
            "with the model's headers written out and an offset per channel group of s32 (cg_offset_flag 1: 0.5, -0.25, 0.125, -1.0): "
            "another output (D.5.5)"),
    Written("mfc_q3_groups64_level10", "mfc_q3", R.chain(EXPLICIT, R.add_group_header(8, "max", 16)),
            "(level 1.0) with a channel-group header for tensor 8 (the largest tensor id) that no "
            "decoding reads: the level's largest group count, 64 groups of 16 channels (1024, the largest "
            "channel count), offsets, an explicit channel order; same output"),
    Written("mfc_q3_groups256_level20", "mfc_q3",
            R.chain(EXPLICIT, R.set_parameters(ps_level_idc=20), R.add_group_header(16, "max", 16)),
            "at level 2.0 with an unread channel-group header for tensor 16: 256 groups of 16 channels "
            "(4096), offsets, an explicit channel order; same output"),
    # --- streams that every decoder must refuse ----------------------------------------------------------------
    Written("reject_vvc_image_chroma_422", "vvc_image_1x1", R.set_parameters(ps_chroma_format_idc=2),
            "claiming 4:2:2 chroma: vvc-image needs 4:2:0 (D.3.1)", reject=4),
    Written("reject_vvc_image_chroma_444", "vvc_image_1x1", R.set_parameters(ps_chroma_format_idc=3),
            "claiming 4:4:4 chroma (D.3.1)", reject=4),
    Written("reject_mfc_channel_order", "mfc_q3", R.chain(EXPLICIT, R.set_channel_order(1, list(range(64)))),
            "with an explicit channel order in the header of its coded tensor: mfc needs "
            "cg_channel_order_flag 0 (D.5.1)", reject=4),
    Written("reject_groups65_level10", "mfc_q3", R.chain(EXPLICIT, R.add_group_header(8, "max", 1, extra_groups=1)),
            "(level 1.0) with a channel-group header of 65 groups: one beyond the level's max_groups",
            reject=5, relax=frozenset({"cg_num_groups"})),
    Written("reject_layout_flag_with_header", "mfc_q3_explicit", R.set_parameters(ps_model_layout_flag=1),
            "the model's layout signalled (ps_model_layout_flag 1) while its headers are sent too (D.2.3)",
            reject=4),
    Written("reject_vvc_feature_task_input_319", "vvc_feature_qp37",
            R.set_parameters(ps_task_input_size_flag=1, ps_task_input_width=319, ps_task_input_height=320),
            "a task input width (319) that the tensors' widths times their strides (320) contradict: the "
            "detections' geometry would be wrong (D.2.6)", reject=4),
    Written("reject_vvc_feature_8bit", "vvc_feature_qp37",
            R.chain(R.set_parameters(ps_coded_bit_depth_minus8=0), R.set_tensors(fh_quant_bit_depth_minus1=7)),
            "8-bit feature samples: this version defines 10-bit only (D.4.1)", reject=4),
    Written("reject_unit_after_hash", "vvc_image_1x1", R.insert_reserved(("after_hash", 5, 4)),
            "with a reserved unit after the decoded-output hash (D.2.3)", reject=4),
    # reserved values of enumerated elements (D.2.5): beyond the element's range (5); a tool id a decoder lacks (4)
    Written("reject_tool_id_5", "vvc_image_1x1", R.set_parameters(ps_tool_id=5),
            "ps_tool_id 5, a reserved value (no tool of this version): refused as a tool the decoder does not "
            "have (D.2.5)", reject=4),
    Written("reject_task_network_3", "vvc_image_task_resampled_96x72", R.set_parameters(ps_task_network_id=3),
            "ps_task_network_id 3 (reserved) with its input size sent: beyond the element's range (D.2.5)",
            reject=5, relax=frozenset({"ps_task_network_id"})),
    Written("reject_inner_codec_2", "vvc_image_1x1", R.set_parameters(ps_inner_codec_id=2),
            "ps_inner_codec_id 2 (reserved): beyond the element's range (D.2.5)",
            reject=5, relax=frozenset({"ps_inner_codec_id"})),
    Written("reject_colour_matrix_3", "vvc_image_1x1", R.set_parameters(ps_colour_matrix_idc=3),
            "ps_colour_matrix_idc 3 (reserved): beyond the element's range (D.2.5)",
            reject=5, relax=frozenset({"ps_colour_matrix_idc"})),
    Written("reject_resampling_filter_2", "vvc_image_resampled_0.5_qp27", R.set_parameters(ps_resampling_filter_idc=2),
            "ps_resampling_filter_idc 2 (reserved): beyond the element's range (D.2.5)",
            reject=5, relax=frozenset({"ps_resampling_filter_idc"})),
    # what each tool requires of the parameter set and the units (D.2.7), the output type (D.2.6), the model
    Written("reject_vvc_image_output_type_1", "vvc_image_1x1", R.set_hash(dh_output_type=1),
            "a vvc-image stream whose hash unit says feature tensors (dh_output_type 1): not the tool's output "
            "type (D.2.6)", reject=4),
    Written("reject_vvc_image_pl_type0", "vvc_image_1x1", R.payload_as_substreams(0),
            "the VVC picture sent as substream 1 of an entropy-coded payload (pl_type 0): vvc-image reads an "
            "inner-codec payload, pl_type 1 (D.3.1)", reject=4),
    Written("reject_vvc_image_two_pictures", "vvc_image_1x1", R.repeat_payload(0),
            "a VVC payload of two pictures (the VVC bitstream twice): the VVC decoding must give exactly one "
            "picture (D.3.2)", reject=4),
    Written("reject_vvc_image_model_id", "vvc_image_1x1",
            R.set_parameters(ps_model_id=3, ps_model_hash=0x12345678, ps_model_layout_flag=1),
            "a vvc-image stream that names a model (ps_model_id 3, ps_model_layout_flag 1): the VVC tools have "
            "none (D.2.7)", reject=4),
    Written("reject_vvc_image_channel_group_header", "vvc_image_1x1", R.add_group_header(0, 1, 4),
            "a vvc-image stream with a channel-group header (tensor 0, one group of 4 channels): the VVC tools "
            "have none (D.2.7)", reject=4),
    Written("reject_vvc_image_feature_header", "vvc_image_task_resampled_96x72",
            R.add_feature_header([dict(fh_tensor_id=0, fh_channels=1, fh_height=4, fh_width=4, fh_stride_log2=4)]),
            "a vvc-image stream with a feature header whose tensor fits the task input size (4x4 at stride 16 = "
            "64x64, D.2.6): vvc-image has none (D.2.7)", reject=4),
    Written("reject_npp_vvc_channel_group_header", "npp_vvc_qp37_128x96", R.add_group_header(0, 1, 4),
            "an npp-vvc stream with a channel-group header: npp-vvc has none, as vvc-image (D.2.7, D.3.7)",
            reject=4),
    Written("reject_vvc_feature_resampling", "vvc_feature_qp37",
            R.set_parameters(ps_resampling_flag=1, ps_coded_width=320, ps_coded_height=320,
                             ps_resampling_filter_idc=0),
            "a vvc-feature stream with ps_resampling_flag 1: a feature tool resamples nothing (D.2.7)", reject=4),
    Written("reject_mfc_inner_codec", "mfc_q3",
            R.set_parameters(ps_inner_codec_id=1, ps_coded_bit_depth_minus8=2, ps_chroma_format_idc=1,
                             ps_colour_matrix_idc=1, ps_full_range_flag=0, ps_qp=32),
            "an mfc stream that names an inner codec (ps_inner_codec_id 1): mfc has none (D.2.7)", reject=4),
    Written("reject_mfc_resampling", "mfc_q3",
            R.set_parameters(ps_resampling_flag=1, ps_coded_width=320, ps_coded_height=320,
                             ps_resampling_filter_idc=0),
            "an mfc stream with ps_resampling_flag 1 (D.2.7)", reject=4),
    Written("reject_mfc_model_hash", "mfc_q3", R.flip_model_hash(),
            "mfc_q3 with one bit of ps_model_hash inverted: a model the decoder does not have (D.2.5, exit "
            "status 7)", reject=7),
    Written("reject_ci_icm_model_hash", "ci_icm_q3", R.flip_model_hash(),
            "ci_icm_q3 with one bit of ps_model_hash inverted: a model the decoder does not have (exit status 7)",
            reject=7),
    Written("reject_ci_icm_gains", "ci_icm_q3_explicit", R.set_parameters(ps_model_id=4),
            "ci_icm_q3_explicit naming quality 4 (ps_model_id 4) with quality 3's group gains: the channel-group "
            "header contradicts the model (D.11.1)", reject=4),
    Written("reject_mfc_model_id_9", "mfc_q3", R.set_parameters(ps_model_id=9),
            "ps_model_id 9, which names no mfc model (D.5.1): a model the decoder does not have (exit status 7)",
            reject=7),
)


def entries() -> tuple:
    return ENTRIES


def by_name() -> dict:
    return {entry.name: entry for entry in ENTRIES}


def tool_ids_pending() -> set[int]:
    ids = {name: idx for idx, name in S.TOOLS.items()}
    return {ids[name] for name in PENDING_TOOLS}

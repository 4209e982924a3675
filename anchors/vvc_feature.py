"""The VVC feature anchor: the task network's split tensors coded as monochrome VVC pictures.

NN part 1 -> each tensor min/max-normalised to 10 bit (min/max signalled as float32) -> channels
tiled in raster order into a 4:0:0 picture (the Y plane of a 4:2:0 picture with neutral chroma)
-> VVC intra at a QP, one picture (one inner-codec payload) per tensor. The decoder gives back the
feature tensors; NN part 2 turns them into detections.
"""
import numpy as np
import torch

from ..common.bitstream import Bitstream, new_parameter_set
from ..common.config import DecoderConfig, EncoderConfig
from ..common.errors import BitstreamError
from ..common.output import DecodedOutput
from ..common.syntax import structures as S
from ..common.tasknet.registry import load_task_network
from ..common.tools import ToolDecoder, ToolEncoder, ToolEncoding
from . import feature_packing as packing
from .vvc_image import check_vvc_stream, inner_codec_payload
from .inner import CHROMA_400, VVC_CODEC_ID, YuvPlanes, decoder_codec, encoder_codec

TASK_NETWORK_IDS = {name: idx for idx, name in S.TASK_NETWORKS.items()}
DEFINED_BIT_DEPTH = 10  # D.4.1: the only feature sample bit depth of this syntax version


def split_features(rgb: np.ndarray, config: EncoderConfig) -> tuple[list[np.ndarray], list]:
    """NN part 1 on ``rgb``: the split tensors (``C x H x W`` float32) and their specs."""
    network = load_task_network(config.task_network, input_size=config.task_input_size, device=config.device)
    with torch.no_grad():
        tensors = network.part1(network.preprocess(rgb))
    return [t[0].float().cpu().numpy() for t in tensors], network.feature_specs()


class VvcFeatureEncoder(ToolEncoder):
    name = "vvc-feature"

    def encode(self, rgb: np.ndarray, config: EncoderConfig) -> ToolEncoding:
        height, width = rgb.shape[:2]
        tensors, specs = split_features(rgb, config)
        bit_depth = config.feature_bit_depth
        ps = new_parameter_set(self.tool_id, width, height, ps_task_network_id=TASK_NETWORK_IDS[config.task_network],
                               ps_task_input_width=config.task_input_size,
                               ps_task_input_height=config.task_input_size, ps_inner_codec_id=VVC_CODEC_ID,
                               ps_coded_bit_depth_minus8=bit_depth - 8, ps_chroma_format_idc=CHROMA_400,
                               ps_colour_matrix_idc=0, ps_full_range_flag=1, ps_qp=config.qp)
        bitstream = Bitstream(ps, {"fh_num_tensors": len(tensors), "tensors": []})
        codec = encoder_codec(config.inner)
        for tensor_id, (tensor, spec) in enumerate(zip(tensors, specs)):
            channels, h, w = tensor.shape
            columns = packing.choose_tile_columns(channels, h, w)
            samples, low, high = packing.normalise(tensor, bit_depth)
            picture = packing.tile(samples, columns, fill=1 << (bit_depth - 1))
            bitstream.feature_header["tensors"].append(dict(
                fh_tensor_id=tensor_id, fh_channels=channels, fh_height=h, fh_width=w,
                fh_stride_log2=int(spec.stride).bit_length() - 1, fh_coding_mode=0, fh_range_flag=1,
                fh_quant_bit_depth_minus1=bit_depth - 1, fh_min_value=low, fh_max_value=high, fh_packing_idc=1,
                fh_tile_columns=columns))
            bitstream.add_payload(codec.encode(YuvPlanes(picture), config.qp), payload_type=1,
                                  tensor_id=tensor_id)
        return ToolEncoding(bitstream)


class VvcFeatureDecoder(ToolDecoder):
    name = "vvc-feature"

    def decode(self, bitstream: Bitstream, config: DecoderConfig) -> DecodedOutput:
        ps, fh = bitstream.parameter_set, bitstream.feature_header
        check_vvc_stream(bitstream, "vvc-feature")
        if fh is None or ps["ps_inner_codec_id"] != VVC_CODEC_ID:
            raise BitstreamError("vvc-feature streams need a feature header and VVC payloads")
        if ps["ps_resampling_flag"]:
            raise BitstreamError("vvc-feature streams have no resampling (ps_resampling_flag 0, D.2.7)")
        codec = decoder_codec(config.inner)
        output = DecodedOutput()
        for tensor in fh["tensors"]:
            if tensor["fh_coding_mode"] != 0 or not tensor["fh_range_flag"] or tensor["fh_packing_idc"] != 1:
                raise BitstreamError("vvc-feature tensors are coded, range-normalised and tiled")
            channels, h, w = tensor["fh_channels"], tensor["fh_height"], tensor["fh_width"]
            columns = tensor["fh_tile_columns"]
            if columns > channels:
                raise BitstreamError(f"fh_tile_columns {columns} exceeds the channels {channels}")
            pic_h, pic_w = packing.tiled_size(channels, h, w, columns)
            picture = codec.decode(inner_codec_payload(bitstream, tensor["fh_tensor_id"]), pic_w, pic_h,
                                   monochrome=True).y
            samples = packing.untile(picture, channels, h, w, columns)
            bit_depth = tensor["fh_quant_bit_depth_minus1"] + 1
            if bit_depth != ps["ps_coded_bit_depth_minus8"] + 8:
                raise BitstreamError("feature sample bit depth differs from the coded picture bit depth")
            if bit_depth != DEFINED_BIT_DEPTH:
                raise BitstreamError(f"vvc-feature: {bit_depth}-bit samples; this syntax version defines "
                                     f"{DEFINED_BIT_DEPTH}-bit only (D.4.1)")
            output.features.append(packing.denormalise(samples, tensor["fh_min_value"], tensor["fh_max_value"],
                                                       bit_depth))
            output.feature_names.append(f"tensor{tensor['fh_tensor_id']}")
        return output

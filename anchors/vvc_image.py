"""The VVC image anchor: the picture coded by a standard VVC encoder inside an ICM bitstream.

RGB -> YCbCr 4:2:0, 10 bit (BT.601 limited range by default) -> VVC intra at a QP. Optional
spatial resampling (as VCM-RS): the picture is coded at another size (the task network's input
size, a given WxH or a scale), the original size is signalled and restored at the decoder.
"""
import numpy as np

from ..common.bitstream import Bitstream, new_parameter_set
from ..common.colour import rgb_to_yuv420, yuv420_to_rgb
from ..common.config import DecoderConfig, EncoderConfig
from ..common.errors import BitstreamError, ConfigError
from ..common.output import DecodedOutput
from ..common.resample import resize_rgb
from ..common.syntax import structures as S
from ..common.tools import ToolDecoder, ToolEncoder, ToolEncoding
from .inner import CHROMA_420, VVC_CODEC_ID, YuvPlanes, decoder_codec, encoder_codec

MATRIX_IDS = {"bt601": 1, "bt709": 2}
TASK_NETWORK_IDS = {name: idx for idx, name in S.TASK_NETWORKS.items()}


def coded_size(width: int, height: int, config: EncoderConfig) -> tuple[int, int] | None:
    """The size the picture is coded at, or None when it is coded at its own size."""
    resample = config.resample
    if resample in (None, "", "none"):
        return None
    if resample == "task":
        return config.task_input_size, config.task_input_size
    if "x" in str(resample):
        try:
            w, h = (int(v) for v in str(resample).lower().split("x"))
        except ValueError:
            raise ConfigError(f"bad resampling size '{resample}' (use WxH, a scale or 'task')") from None
    else:
        try:
            scale = float(resample)
        except ValueError:
            raise ConfigError(f"bad resampling option '{resample}' (use WxH, a scale or 'task')") from None
        if not 0.01 <= scale <= 4:
            raise ConfigError(f"resampling scale {scale} outside 0.01..4")
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
    if not (1 <= w <= 8192 and 1 <= h <= 8192):
        raise ConfigError(f"resampling size {w}x{h} outside 1..8192")
    return w, h


def coded_picture(rgb: np.ndarray, config: EncoderConfig) -> tuple[np.ndarray, tuple[int, int] | None]:
    """The picture at the coded size (bicubic resampling when ``config.resample`` asks for another size) and that
    size, or ``rgb`` itself and None."""
    size = coded_size(rgb.shape[1], rgb.shape[0], config)
    return (rgb, None) if size is None else (resize_rgb(rgb, size[0], size[1], filter="bicubic"), size)


class VvcImageEncoder(ToolEncoder):
    name = "vvc-image"

    def check_resources(self, config: EncoderConfig) -> None:
        """The resampling option is valid (checked on a 640x480 picture; the inner codec is checked apart)."""
        coded_size(640, 480, config)

    def encode(self, rgb: np.ndarray, config: EncoderConfig) -> ToolEncoding:
        height, width = rgb.shape[:2]
        if config.colour_matrix not in MATRIX_IDS:
            raise ConfigError(f"unknown colour matrix '{config.colour_matrix}' (use bt601 or bt709)")
        values = dict(ps_inner_codec_id=VVC_CODEC_ID, ps_coded_bit_depth_minus8=2, ps_chroma_format_idc=CHROMA_420,
                      ps_colour_matrix_idc=MATRIX_IDS[config.colour_matrix],
                      ps_full_range_flag=int(config.full_range), ps_qp=config.qp)
        picture, size = coded_picture(rgb, config)
        if size is not None:
            values.update(ps_resampling_flag=1, ps_coded_width=size[0], ps_coded_height=size[1],
                          ps_resampling_filter_idc=0)
            if config.resample == "task":
                values.update(ps_task_network_id=TASK_NETWORK_IDS[config.task_network],
                              ps_task_input_width=size[0], ps_task_input_height=size[1])
        picture, extra = self.transform(picture, config)
        values.update(extra)
        planes = rgb_to_yuv420(picture, bit_depth=10, matrix=config.colour_matrix, full_range=config.full_range)
        payload = encoder_codec(config.inner).encode(YuvPlanes(*planes), config.qp)
        bitstream = Bitstream(new_parameter_set(self.tool_id, width, height, **values))
        bitstream.add_payload(payload, payload_type=1)
        return ToolEncoding(bitstream)

    def transform(self, picture: np.ndarray, config: EncoderConfig) -> tuple[np.ndarray, dict]:
        """The picture to code (at the coded size, after any resampling) and parameter-set values to add:
        the identity here; a tool that preprocesses the picture before VVC (``npp-vvc``) overrides it."""
        return picture, {}


def check_vvc_stream(bitstream: Bitstream, tool: str) -> None:
    """The checks that the VVC tools share (decoding.md D.2.7): no model (``ps_model_id`` 0; ``npp-vvc``, which
    decodes as ``vvc-image``, names its preprocessor there for information), no channel-group header."""
    if bitstream.parameter_set["ps_tool_id"] in (0, 1) and bitstream.parameter_set["ps_model_id"] != 0:
        raise BitstreamError(f"{tool} streams name no model (ps_model_id 0, D.2.7)")
    if bitstream.channel_group_headers:
        raise BitstreamError(f"{tool} streams have no channel-group header (D.2.7)")


def inner_codec_payload(bitstream: Bitstream, tensor_id: int) -> bytes:
    """The VVC bitstream of a picture or tensor: the payload unit with ``pl_tensor_id`` = ``tensor_id``, which
    must have ``pl_type`` 1 (D.3.1, D.4.1)."""
    units = [unit for unit in bitstream.payloads if unit["pl_tensor_id"] == tensor_id]
    if not units:
        raise BitstreamError(f"no payload unit for tensor {tensor_id}")
    if units[0]["pl_type"] != 1:
        raise BitstreamError(f"the payload unit of tensor {tensor_id} has pl_type {units[0]['pl_type']}; the VVC "
                             "tools read an inner-codec bitstream (pl_type 1)")
    return units[0]["pl_data"]


class VvcImageDecoder(ToolDecoder):
    name = "vvc-image"

    def decode(self, bitstream: Bitstream, config: DecoderConfig) -> DecodedOutput:
        ps = bitstream.parameter_set
        check_vvc_stream(bitstream, "vvc-image")
        if bitstream.feature_header is not None:
            raise BitstreamError("vvc-image streams have no feature header (D.3.1)")
        if ps["ps_inner_codec_id"] != VVC_CODEC_ID or ps["ps_chroma_format_idc"] != CHROMA_420:
            raise BitstreamError("vvc-image streams carry 4:2:0 VVC pictures")
        matrix = {v: k for k, v in MATRIX_IDS.items()}.get(ps["ps_colour_matrix_idc"])
        if matrix is None or ps["ps_coded_bit_depth_minus8"] != 2:
            raise BitstreamError("unsupported colour matrix or coded bit depth for vvc-image")
        width, height = ps["ps_picture_width"], ps["ps_picture_height"]
        coded_w, coded_h = (ps["ps_coded_width"], ps["ps_coded_height"]) if ps["ps_resampling_flag"] else (width, height)
        planes = decoder_codec(config.inner).decode(inner_codec_payload(bitstream, 0), coded_w, coded_h)
        picture = yuv420_to_rgb(planes.y, planes.u, planes.v, bit_depth=10, matrix=matrix, full_range=bool(ps["ps_full_range_flag"]))
        if ps["ps_resampling_flag"]:
            filter_name = S.RESAMPLING_FILTERS.get(ps["ps_resampling_filter_idc"])
            if filter_name is None:
                raise BitstreamError(f"unknown resampling filter {ps['ps_resampling_filter_idc']}")
            picture = resize_rgb(picture, width, height, filter=filter_name)
        return DecodedOutput(picture=picture)

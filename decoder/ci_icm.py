"""Decoder of ``ci-icm``: the channel-importance learned image codec (see ``encoder/ci_icm.py`` and
``docs/ci-icm.md``).

The stream names its model (``ps_model_id`` = quality) and the hash of the weights file; the decoder refuses a
stream whose hash differs from its own file's, and one whose channel-group header does not give the model's
group sizes and the quality's gains. Everything computed from the stream runs in the model's exact integer
layers (hyper synthesis, entropy parameters, synthesis, adapters: ``CiIcmRuntime``); the decoded picture at the
coded size is restored to the original size with the suite's normative resampler (``ps_resampling_filter_idc``).

``max_groups = k``: only the first k groups are read, the others take their predicted means (a partial decode,
not hash-checked). ``task_network = NAME``: the picture of that task network's adapter (TSCA) instead of the
plain picture; the stream's hash covers the plain picture, which the decoder then checks itself (a full decode)
before handing out the adapted one (marked not hash-checked).
"""
from __future__ import annotations

import numpy as np

from ..common.bitstream import SIDE_INFORMATION, Bitstream
from ..common.config import DecoderConfig
from ..common.errors import BitstreamError, ConfigError, ResourceError
from ..common.layers.exact import ACT_FRAC_BITS
from ..common.models.channel_groups import GAIN_SCALE
from ..common.output import DecodedOutput, check_hash
from ..common.resample import resize_rgb
from ..common.syntax import structures as S
from ..common.tools import ToolDecoder

LATENT_TENSOR_ID = 0


def _picture(fixed) -> np.ndarray:
    """Fixed-point 1 x 3 x H x W -> H x W x 3 uint8: round(a * 255 / 2**10), in integers."""
    a = fixed[0].cpu().numpy().astype(np.int64)  # units of 2**-10
    rgb = np.clip((a * 255 + (1 << (ACT_FRAC_BITS - 1))) >> ACT_FRAC_BITS, 0, 255)
    return rgb.astype(np.uint8).transpose(1, 2, 0).copy()


class CiIcmDecoder(ToolDecoder):
    name = "ci-icm"

    def decode(self, bitstream: Bitstream, config: DecoderConfig) -> DecodedOutput:
        ps = bitstream.parameter_set
        if bitstream.feature_header is not None:
            raise BitstreamError("ci-icm streams have no feature header")
        if ps["ps_model_id"] == 0:
            raise BitstreamError("ci-icm stream without a model id")
        if ps["ps_inner_codec_id"] != 0:
            raise BitstreamError("ci-icm streams carry no inner codec")
        max_groups = config.max_groups
        if max_groups is not None and (isinstance(max_groups, bool) or not isinstance(max_groups, int)
                                       or max_groups < 0):
            raise ConfigError(f"--max-groups must be a non-negative integer, not {max_groups!r}")
        model = self.models.load_for_decoder(self.entry.models, ps["ps_model_id"], ps.get("ps_model_hash"),
                                             config.device)
        runtime = model.runtime
        mconfig = runtime.config
        task_network = getattr(config, "task_network", None)
        if task_network is not None and task_network not in mconfig.task_networks:
            raise ConfigError(f"ci-icm model {model.path.name} has no adapter for task network '{task_network}' "
                              f"(it has: {', '.join(mconfig.task_networks)})")
        quality = model.quality
        if quality > mconfig.qualities:  # a model id that names no model of the file: a model it does not have
            raise ResourceError(f"ci-icm model {model.path.name} has no quality {quality}")
        size = mconfig.input_size
        if not ps["ps_resampling_flag"] or (ps["ps_coded_width"], ps["ps_coded_height"]) != (size, size):
            raise BitstreamError(f"ci-icm model {ps['ps_model_id']} codes pictures at {size}x{size}; "
                                 "the stream says otherwise")
        filter_name = S.RESAMPLING_FILTERS.get(ps["ps_resampling_filter_idc"])
        if filter_name is None:
            raise BitstreamError(f"unknown resampling filter {ps['ps_resampling_filter_idc']}")
        if any(unit["pl_type"] != 0 for unit in bitstream.payloads):
            raise BitstreamError("ci-icm payloads are entropy-coded substreams (pl_type 0)")
        headers = model_layout(runtime, quality) if ps["ps_model_layout_flag"] else bitstream.channel_group_headers
        if len(headers) != 1:
            raise BitstreamError("ci-icm streams have one channel-group header (the latent)")
        cg = headers[0]
        if cg["cg_tensor_id"] != LATENT_TENSOR_ID:
            raise BitstreamError(f"ci-icm: the latent's channel groups have cg_tensor_id {LATENT_TENSOR_ID}")
        sizes = tuple(g["cg_group_size"] for g in cg["groups"])
        if sizes != mconfig.groups or cg["cg_channel_order_flag"] or cg["cg_offset_flag"]:
            raise BitstreamError(f"ci-icm model {ps['ps_model_id']} needs groups {mconfig.groups} in model order, "
                                 "without offsets")
        gains = runtime.gains_q16[quality - 1]
        if [g["cg_scale"] * GAIN_SCALE for g in cg["groups"]] != [float(v) for v in gains]:
            raise BitstreamError(f"ci-icm: the group gains differ from model {ps['ps_model_id']}'s")
        groups = len(sizes)
        count = groups if max_groups is None else min(max_groups, groups)
        partial = count < groups
        streams = [bitstream.payload(LATENT_TENSOR_ID, g) if g < count else None for g in range(groups)]
        z_bytes = bitstream.payload(LATENT_TENSOR_ID, SIDE_INFORMATION)
        y_unit = runtime.decode_latent(z_bytes, streams, quality - 1, size, size)
        width, height = ps["ps_picture_width"], ps["ps_picture_height"]
        f, rgb = runtime.graphs["g_s"](y_unit)
        plain = DecodedOutput(picture=resize_rgb(_picture(rgb), width, height, filter=filter_name), partial=partial)
        if task_network is None:
            return plain
        plain_hash = None
        if not partial and bitstream.output_hash is not None:
            plain_hash = check_hash(plain, bitstream.output_hash)  # the stream's hash covers the plain picture
        adapted = runtime.graphs[f"adapter.{_key(task_network)}"](f, rgb)
        return DecodedOutput(picture=resize_rgb(_picture(adapted), width, height, filter=filter_name),
                             partial=partial, adapted_for=task_network, plain_hash=plain_hash)


def _key(task_network: str) -> str:
    from ..common.models.ci_icm import adapter_key

    return adapter_key(task_network)


def model_layout(runtime, quality: int) -> list[dict]:
    from ..common.models.ci_icm import model_layout as layout

    return layout(runtime, quality)

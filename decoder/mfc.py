"""Decoder of ``mfc``: the learned multi-scale feature codec (see ``encoder/mfc.py`` and ``docs/mfc.md``).

The stream names its model (``ps_model_id``) and the hash of its weights file (``ps_model_hash``); the
decoder refuses a stream whose hash differs from its own file's. With ``ps_model_layout_flag`` 1 the feature
and channel-group headers are the model's (:func:`~icm.common.models.mfc.model_layout`); sent ones are checked
against the model all the same. Coded tensors are decoded group by
group, each group's entropy parameters computed from the hyper latent and the groups before it, all in
exact integer arithmetic; predicted tensors (``fh_coding_mode`` 1) come from the decoded reference
tensor through the model's prediction network, and ``fh_coding_mode`` 2 adds a decoded residual to that
prediction. With ``max_groups = k`` only the first k groups of each
coded tensor are read; the others take their predicted means (a partial decode, not hash-checked).
"""
from __future__ import annotations

import torch

from ..common.bitstream import SIDE_INFORMATION, Bitstream
from ..common.config import DecoderConfig
from ..common.errors import BitstreamError, ConfigError, ResourceError
from ..common.layers.exact import ACT_LIMIT, ACT_SCALE, from_fixed
from ..common.models.mfc import GAIN_SCALE, model_layout
from ..common.output import DecodedOutput
from ..common.syntax import structures as S
from ..common.tools import ToolDecoder


def _gain(value: float) -> int:
    gain = value * GAIN_SCALE
    if not (gain == int(gain) and 1 <= gain < (1 << 24)):
        raise BitstreamError(f"mfc: cg_scale {value!r} is not a multiple of 2^-16 in [2^-16, 256)")
    return int(gain)


def _offset(value: float) -> int:
    offset = value * ACT_SCALE
    if not (offset == int(offset) and abs(offset) <= ACT_LIMIT):
        raise BitstreamError(f"mfc: cg_offset {value!r} is not a multiple of 2^-10 within +-2048")
    return int(offset)


class MfcDecoder(ToolDecoder):
    name = "mfc"

    def decode(self, bitstream: Bitstream, config: DecoderConfig) -> DecodedOutput:
        ps = bitstream.parameter_set
        if ps["ps_model_id"] == 0:
            raise BitstreamError("mfc stream without a model id")
        if ps["ps_inner_codec_id"] != 0 or ps["ps_resampling_flag"]:
            raise BitstreamError("mfc streams carry no inner codec and no resampling (ps_inner_codec_id 0, "
                                 "ps_resampling_flag 0: D.2.7)")
        max_groups = config.max_groups
        if max_groups is not None and (not isinstance(max_groups, int) or max_groups < 0):
            raise ConfigError(f"--max-groups must be a non-negative integer, not {max_groups!r}")
        model = self.models.load_for_decoder(self.entry.models, ps["ps_model_id"], ps.get("ps_model_hash"),
                                             config.device)
        runtime = model.runtime
        mconfig = runtime.config
        for channels, height, width in mconfig.tensor_shapes:
            stride = mconfig.input_size // height
            if stride & (stride - 1) or (height * stride, width * stride) != (mconfig.input_size,) * 2:
                raise ResourceError(f"mfc model {ps['ps_model_id']}: a {channels}x{height}x{width} tensor is not "
                                    f"the input size {mconfig.input_size} over a power-of-two stride in both "
                                    "directions: not a valid model file (D.9)")
        for tensor_id in runtime.order:
            latent = runtime.codecs[tensor_id].latent_shape(*mconfig.tensor_shapes[tensor_id][1:])
            if latent[0] % 2 or latent[1] % 2:
                raise ResourceError(f"mfc model {ps['ps_model_id']}: the latent of tensor {tensor_id} is "
                                    f"{latent[0]}x{latent[1]}, an odd size: not a valid model file (D.5.3)")
        if ps["ps_model_layout_flag"]:
            fh, channel_group_headers = model_layout(runtime)
        else:
            fh, channel_group_headers = bitstream.feature_header, bitstream.channel_group_headers
        if fh is None:
            raise BitstreamError("mfc streams need a feature header (or ps_model_layout_flag 1)")
        network = S.TASK_NETWORKS.get(ps["ps_task_network_id"])
        if network != mconfig.task_network or (ps["ps_task_input_width"], ps["ps_task_input_height"]) != (
                mconfig.input_size, mconfig.input_size):
            raise BitstreamError(f"mfc model {ps['ps_model_id']} codes {mconfig.task_network} features at "
                                 f"{mconfig.input_size}x{mconfig.input_size}; the stream says otherwise")
        tensors = fh["tensors"]
        if [t["fh_tensor_id"] for t in tensors] != list(range(len(mconfig.tensor_shapes))):
            raise BitstreamError("mfc: the feature header must list tensors 0..N-1 of the model in order")
        for tensor, shape in zip(tensors, mconfig.tensor_shapes):
            if (tensor["fh_channels"], tensor["fh_height"], tensor["fh_width"]) != tuple(shape):
                raise BitstreamError(f"mfc: tensor {tensor['fh_tensor_id']} is not {'x'.join(map(str, shape))}")
            if tensor["fh_range_flag"] or tensor["fh_packing_idc"]:
                raise BitstreamError("mfc tensors are neither range-normalised nor packed")
            expected = mconfig.coding_mode(tensor["fh_tensor_id"])
            if tensor["fh_coding_mode"] != expected:
                raise BitstreamError(f"mfc model {ps['ps_model_id']} needs fh_coding_mode {expected} for tensor "
                                     f"{tensor['fh_tensor_id']}, the stream has {tensor['fh_coding_mode']}")
            if expected and tensor["fh_reference_id"] != runtime.prediction.source:
                raise BitstreamError(f"mfc model {ps['ps_model_id']} predicts tensor {tensor['fh_tensor_id']} "
                                     f"from tensor {runtime.prediction.source}")
        if any(unit["pl_type"] != 0 for unit in bitstream.payloads):
            raise BitstreamError("mfc payloads are entropy-coded substreams (pl_type 0)")
        headers = {cg["cg_tensor_id"]: cg for cg in channel_group_headers}
        if len(headers) != len(channel_group_headers):
            raise BitstreamError("mfc: two channel-group headers for one tensor")

        decoded: dict[int, torch.Tensor] = {}
        partial = False
        for tensor_id in runtime.order:  # residual codecs after the tensor they are predicted from
            codec = runtime.codecs[tensor_id]
            cg = headers.get(tensor_id)
            if cg is None:
                raise BitstreamError(f"mfc: no channel-group header for tensor {tensor_id}")
            sizes = tuple(g["cg_group_size"] for g in cg["groups"])
            if sizes != codec.config.groups or cg["cg_channel_order_flag"]:
                raise BitstreamError(f"mfc model {ps['ps_model_id']}: tensor {tensor_id} needs groups "
                                     f"{codec.config.groups} in model order")
            gains = [_gain(g["cg_scale"]) for g in cg["groups"]]
            offsets = ([_offset(o["cg_offset"]) for o in cg["offsets"]] if cg["cg_offset_flag"]
                       else [0] * len(cg["groups"]))
            count = len(sizes) if max_groups is None else min(max_groups, len(sizes))
            partial = partial or count < len(sizes)
            streams = [bitstream.payload(tensor_id, g) if g < count else None for g in range(len(sizes))]
            z_bytes = bitstream.payload(tensor_id, SIDE_INFORMATION)
            height, width = mconfig.tensor_shapes[tensor_id][1:]
            decoded[tensor_id] = codec.decode(z_bytes, streams, height, width, gains, offsets)
            if codec.config.residual:
                prediction = runtime.predict(decoded[runtime.prediction.source])
                decoded[tensor_id] = runtime.add_residual(prediction, decoded[tensor_id])
        for tensor in tensors:
            if tensor["fh_coding_mode"] == 1:
                decoded[tensor["fh_tensor_id"]] = runtime.predict(decoded[tensor["fh_reference_id"]])
        output = DecodedOutput(partial=partial)
        for tensor in tensors:
            output.features.append(from_fixed(decoded[tensor["fh_tensor_id"]])[0].cpu().numpy())
            output.feature_names.append(f"tensor{tensor['fh_tensor_id']}")
        return output

"""NN part 2 at the decoder: decoded feature tensors -> detections."""
import numpy as np

from ..common.config import DecoderConfig
from ..common.errors import BitstreamError, ConfigError
from ..common.syntax import structures as S
from .pipeline import DecodeResult


def detect_from_features(result: DecodeResult, config: DecoderConfig):
    """Run the stream's task network (part 2) on the decoded tensors, boxes in original-picture pixels
    (a ``Detections``; torch and the task network are imported here, not with this module)."""
    import torch

    from ..common.tasknet.registry import load_task_network

    ps = result.bitstream.parameter_set
    if not result.output.features:
        raise ConfigError("--detections needs a split-inference bitstream (decoded feature tensors)")
    name = S.TASK_NETWORKS.get(ps["ps_task_network_id"])
    if name in (None, "none"):
        raise BitstreamError(f"unknown task network id {ps['ps_task_network_id']}")
    size = (ps["ps_task_input_width"], ps["ps_task_input_height"])
    network = load_task_network(name, input_size=size, device=config.device)
    tensors = [torch.from_numpy(np.ascontiguousarray(t))[None].to(network.device) for t in result.output.features]
    try:
        network.check_features(tensors)
    except ValueError as exc:
        raise BitstreamError(f"decoded tensors do not fit {name}: {exc}") from None
    with torch.no_grad():
        return network.part2(tensors, (ps["ps_picture_width"], ps["ps_picture_height"]))

"""Encoder of ``raw-rgb``: the samples in one payload, after a byte naming their order."""
import numpy as np

from icm.common.bitstream import Bitstream, new_parameter_set
from icm.common.tools import ToolEncoder, ToolEncoding

from . import ORDERS


class RawRgbEncoder(ToolEncoder):
    name = "raw-rgb"

    def encode(self, rgb: np.ndarray, config) -> ToolEncoding:
        order = self.entry.resolve(config)["channel_order"]
        samples = rgb if order == "rgb" else rgb[:, :, ::-1]
        bitstream = Bitstream(new_parameter_set(self.tool_id, rgb.shape[1], rgb.shape[0]))
        bitstream.add_payload(bytes([ORDERS.index(order)]) + np.ascontiguousarray(samples).tobytes(), payload_type=0)
        return ToolEncoding(bitstream, {"order": order})

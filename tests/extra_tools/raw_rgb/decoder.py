"""Decoder of ``raw-rgb``."""
import numpy as np

from icm.common.bitstream import Bitstream
from icm.common.errors import BitstreamError
from icm.common.output import DecodedOutput
from icm.common.tools import ToolDecoder

from . import ORDERS


class RawRgbDecoder(ToolDecoder):
    name = "raw-rgb"

    def decode(self, bitstream: Bitstream, config) -> DecodedOutput:
        ps = bitstream.parameter_set
        width, height = ps["ps_picture_width"], ps["ps_picture_height"]
        data = bitstream.payload(0, 0)
        if len(data) != 1 + 3 * width * height or data[0] >= len(ORDERS):
            raise BitstreamError("raw-rgb: the payload is not one order byte and the picture's samples")
        samples = np.frombuffer(data, np.uint8, offset=1).reshape(height, width, 3)
        return DecodedOutput(picture=np.ascontiguousarray(samples if data[0] == 0 else samples[:, :, ::-1]))

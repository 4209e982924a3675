"""What a decoder gives back, and the decoded-output hash that proves it decoded exactly.

The hash is MD5 (as VVC's decoded picture hash SEI) over a canonical byte string:
  output type 0, picture: the RGB samples, 8 bit, row-major, interleaved R, G, B;
  output type 1, feature tensors: each tensor's float32 samples, little-endian, C-order,
                 tensors in feature-header order.
"""
import hashlib
from dataclasses import dataclass, field

import numpy as np

from .errors import HashMismatchError

OUTPUT_PICTURE = 0
OUTPUT_FEATURES = 1
HASH_MD5 = 0


@dataclass
class DecodedOutput:
    """A decoded picture (``H x W x 3`` uint8) or decoded feature tensors (float32, ``C x H x W``)."""

    picture: np.ndarray | None = None
    features: list[np.ndarray] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    partial: bool = False  # decoded from part of the stream (e.g. icm-dec --max-groups): no hash check

    @property
    def output_type(self) -> int:
        return OUTPUT_PICTURE if self.picture is not None else OUTPUT_FEATURES

    def canonical_bytes(self):
        if self.picture is not None:
            yield np.ascontiguousarray(self.picture, dtype=np.uint8).tobytes()
        else:
            for tensor in self.features:
                yield np.ascontiguousarray(tensor, dtype="<f4").tobytes()

    def md5(self) -> bytes:
        digest = hashlib.md5()
        for chunk in self.canonical_bytes():
            digest.update(chunk)
        return digest.digest()


def hash_unit(output: DecodedOutput) -> dict:
    """The decoded_output_hash() unit for ``output``."""
    digest = output.md5()
    return {"dh_hash_type": HASH_MD5, "dh_output_type": output.output_type, "dh_hash_length": len(digest),
            "dh_hash": digest}


def check_hash(output: DecodedOutput, unit: dict) -> str:
    """Raise HashMismatchError unless ``output`` matches the hash unit; return the hash as hex."""
    if unit["dh_output_type"] != output.output_type:
        raise HashMismatchError("decoded-output hash is for another kind of output")
    digest = output.md5()
    if digest != unit["dh_hash"]:
        raise HashMismatchError(f"decoded-output hash mismatch: stream says {unit['dh_hash'].hex()}, "
                                f"decoded {digest.hex()}")
    return digest.hex()

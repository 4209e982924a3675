"""What a decoder gives back, and the decoded-output hash that proves it decoded exactly.

The hash is MD5 (as VVC's decoded picture hash SEI; conformance streams) or CRC-32 (ISO-HDLC, as zlib's; the
encoder's default, 4 bytes instead of 16) over a canonical byte string:
  output type 0, picture: the RGB samples, 8 bit, row-major, interleaved R, G, B;
  output type 1, feature tensors: each tensor's float32 samples, little-endian, C-order, tensors in
                 feature-header order, then the geometry record: picture width, picture height, task input
                 width, task input height, each a 32-bit little-endian unsigned integer (the values that turn
                 the tensors' detections into picture coordinates).
"""
import hashlib
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from .errors import HashMismatchError

OUTPUT_PICTURE = 0
OUTPUT_FEATURES = 1
HASH_MD5 = 0
HASH_CRC32 = 1
HASH_TYPE_NAMES = {"md5": HASH_MD5, "crc32": HASH_CRC32}
GEOMETRY_ARRAY = "geometry"  # the geometry record's name where feature outputs are files (.npz), after the tensors


@dataclass
class DecodedOutput:
    """A decoded picture (``H x W x 3`` uint8) or decoded feature tensors (float32, ``C x H x W``)."""

    picture: np.ndarray | None = None
    features: list[np.ndarray] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    partial: bool = False  # decoded from part of the stream (e.g. icm-dec --max-groups): no hash check
    # a picture made for one task network from the full decode (ci-icm's TSCA adapters): the stream's hash covers
    # the plain picture, which the tool checked (its hash as hex here); the adapted picture is not covered
    adapted_for: str | None = None
    plain_hash: str | None = None
    geometry: tuple[int, int, int, int] | None = None  # features: picture width, height, task input width, height

    @property
    def output_type(self) -> int:
        return OUTPUT_PICTURE if self.picture is not None else OUTPUT_FEATURES

    def canonical_bytes(self):
        if self.picture is not None:
            yield np.ascontiguousarray(self.picture, dtype=np.uint8).tobytes()
        else:
            for tensor in self.features:
                yield np.ascontiguousarray(tensor, dtype="<f4").tobytes()
            if self.geometry is None:
                raise ValueError("decoded feature tensors need their geometry record before they are hashed")
            yield struct.pack("<4I", *self.geometry)

    def md5(self) -> bytes:
        return self.digest(HASH_MD5)

    def digest(self, hash_type: int) -> bytes:
        """The hash of :meth:`canonical_bytes`: MD5 (16 bytes) or CRC-32 (4 bytes, big-endian)."""
        if hash_type == HASH_CRC32:
            crc = 0
            for chunk in self.canonical_bytes():
                crc = zlib.crc32(chunk, crc)
            return crc.to_bytes(4, "big")
        digest = hashlib.md5()
        for chunk in self.canonical_bytes():
            digest.update(chunk)
        return digest.digest()


def with_geometry(output: DecodedOutput, parameter_set: dict) -> DecodedOutput:
    """``output`` with its geometry record (feature outputs): the picture and task input sizes of the stream."""
    if output.picture is not None:
        return output
    ps = parameter_set
    output.geometry = (ps["ps_picture_width"], ps["ps_picture_height"], ps["ps_task_input_width"],
                       ps["ps_task_input_height"])
    return output


def hash_unit(output: DecodedOutput, hash_type: int = HASH_CRC32) -> dict:
    """The decoded_output_hash() unit for ``output``."""
    return {"dh_hash_type": hash_type, "dh_output_type": output.output_type, "dh_hash": output.digest(hash_type)}


def check_hash(output: DecodedOutput, unit: dict) -> str:
    """Raise HashMismatchError unless ``output`` matches the hash unit; return the hash as hex."""
    if unit["dh_output_type"] != output.output_type:
        raise HashMismatchError("decoded-output hash is for another kind of output")
    digest = output.digest(unit["dh_hash_type"])
    if digest != unit["dh_hash"]:
        raise HashMismatchError(f"decoded-output hash mismatch: stream says {unit['dh_hash'].hex()}, "
                                f"decoded {digest.hex()}")
    return digest.hex()

"""The decoded-output MD5 (docs/decoding.md D.7) of a decoder's output file, for ``icm-conform``.

* A picture is a PNG file, 8-bit RGB (IHDR bit depth 8, colour type 2; no alpha, no palette, no 16-bit): the
  MD5 of its samples row by row, R, G, B interleaved, which is D.7's byte string.
* Feature tensors are an ``.npz`` file (numpy's zip of ``.npy`` arrays, no pickled objects) with one array per
  tensor, named ``tensor<fh_tensor_id>`` (the manifest lists the names, ``expect.arrays``, in feature-header
  order), each float32 ``C x H x W`` in either byte order, and the geometry record ``geometry`` (4 unsigned
  integers: picture width, height, task input width, height): the MD5 of the arrays' values as float32
  little-endian in C order, concatenated in that order, then the geometry as 32-bit little-endian unsigned
  integers (D.7). Other arrays of the file are ignored.
* A decoder that writes no file may print the MD5: the last 32-hex-digit word of its standard output.

Anything else is an :class:`UnreadableOutput` (the entry fails with its message).
"""
from __future__ import annotations

import hashlib
import re
import struct
import zipfile
import zlib
from pathlib import Path

from ...common.output import GEOMETRY_ARRAY

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MD5_WORD = re.compile(r"\b[0-9a-fA-F]{32}\b")


class UnreadableOutput(Exception):
    """The decoder's output is missing or not in the documented format."""


def check_png_chunks(data: bytes, name: str) -> None:
    """Every chunk whole and with its CRC, IHDR first and IEND last (what a lenient reader may overlook)."""
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise UnreadableOutput(f"{name} is not a PNG file")
    at, kind = 8, b""
    while at < len(data) and kind != b"IEND":
        if at + 12 > len(data):
            raise UnreadableOutput(f"{name}: PNG chunk header cut short at byte {at}")
        length, kind = struct.unpack(">I", data[at:at + 4])[0], data[at + 4:at + 8]
        end = at + 12 + length
        if end > len(data):
            raise UnreadableOutput(f"{name}: PNG chunk {kind!r} at byte {at} runs past the end of the file")
        if zlib.crc32(data[at + 4:end - 4]) != struct.unpack(">I", data[end - 4:end])[0]:
            raise UnreadableOutput(f"{name}: CRC error in PNG chunk {kind!r} at byte {at}")
        at = end
    if kind != b"IEND" or at != len(data):
        raise UnreadableOutput(f"{name}: the PNG file does not end with its IEND chunk")


def picture_md5(path: str | Path) -> str:
    path = Path(path)
    data = _read(path)
    check_png_chunks(data, path.name)
    depth, colour = data[24], data[25]
    if (depth, colour) != (8, 2):
        raise UnreadableOutput(f"{path.name} is a PNG of bit depth {depth}, colour type {colour}: "
                               f"8-bit RGB (8, 2) is needed")
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            if image.mode != "RGB":
                raise UnreadableOutput(f"{path.name} reads as {image.mode}, not RGB")
            return hashlib.md5(image.tobytes()).hexdigest()
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnreadableOutput(f"{path.name}: unreadable PNG ({' '.join(str(exc).split())})") from None


def features_md5(path: str | Path, arrays: list[str]) -> str:
    import numpy as np

    path = Path(path)
    _read(path)
    digest = hashlib.md5()
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise UnreadableOutput(f"{path.name} is a single .npy array, not an .npz archive")
            for name in arrays:
                if name not in archive.files:
                    raise UnreadableOutput(f"{path.name} has no array {name} (it has {', '.join(archive.files)})")
                array = archive[name]
                if name == GEOMETRY_ARRAY:
                    if array.dtype.kind not in "iu" or array.shape != (4,) or array.min() < 0 or array.max() >> 32:
                        raise UnreadableOutput(f"{path.name}: {name} is {array.dtype} of shape {array.shape}, not "
                                               f"4 unsigned 32-bit integers")
                    digest.update(np.asarray(array, dtype="<u4").tobytes())
                    continue
                if array.dtype.kind != "f" or array.dtype.itemsize != 4 or array.ndim != 3:
                    raise UnreadableOutput(f"{path.name}: {name} is {array.dtype} of shape {array.shape}, "
                                           f"not float32 C x H x W")
                digest.update(np.ascontiguousarray(array, dtype="<f4").tobytes())
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise UnreadableOutput(f"{path.name}: unreadable .npz ({' '.join(str(exc).split())[:160]})") from None
    return digest.hexdigest()


def printed_md5(stdout: str) -> str:
    words = MD5_WORD.findall(stdout)
    if not words:
        raise UnreadableOutput("the decoder printed no MD5 (32 hex digits) on its standard output")
    return words[-1].lower()


def output_md5(path: str | Path, kind: str, arrays: list[str]) -> str:
    """The MD5 of an output file of ``kind`` ``picture`` (PNG) or ``features`` (.npz with ``arrays``)."""
    return picture_md5(path) if kind == "picture" else features_md5(path, arrays)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UnreadableOutput(f"the decoder wrote no output file {path.name}") from None
    except OSError as exc:
        raise UnreadableOutput(f"cannot read the output {path.name}: {exc.strerror}") from None

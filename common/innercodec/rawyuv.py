"""Raw picture formats exchanged with the external programs.

* ``yuv420p10le``: the planes Y, U, V one after another, each sample a little-endian uint16
  (the ``.yuv`` file layout of ffmpeg's ``rawvideo`` and of VTM with 10-bit files).
* YUV4MPEG2 (``.y4m``) as written by ffmpeg's ``yuv4mpegpipe`` muxer: it carries the decoded
  picture size and sample format, so the decoder output can be checked rather than assumed.
"""
from __future__ import annotations

import io
from typing import BinaryIO

import numpy as np

from ..errors import BitstreamError

Y4M_SIGNATURE = b"YUV4MPEG2 "
Y4M_FRAME = b"FRAME"
Y4M_420P10 = "420p10"
Y4M_HEADER_MAX = 1024  # the longest stream or frame header line accepted


def pack_yuv420p10le(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> bytes:
    """Planar Y, U, V as little-endian 16-bit samples."""
    return b"".join(np.ascontiguousarray(plane, dtype="<u2").tobytes() for plane in (y, u, v))


def yuv420_frame_bytes(width: int, height: int) -> int:
    """Size in bytes of one yuv420p10le picture (chroma planes ceil(W/2) x ceil(H/2))."""
    chroma = ((width + 1) // 2) * ((height + 1) // 2)
    return 2 * (width * height + 2 * chroma)


def unpack_yuv420p10le(data: bytes | memoryview, width: int, height: int):
    """Split one yuv420p10le picture into uint16 planes ``(y, u, v)``."""
    if len(data) != yuv420_frame_bytes(width, height):
        raise ValueError(f"{len(data)} bytes is not one {width}x{height} yuv420p10le picture")
    chroma_shape = ((height + 1) // 2, (width + 1) // 2)
    samples = np.frombuffer(data, dtype="<u2").astype(np.uint16)
    luma_count = width * height
    chroma_count = chroma_shape[0] * chroma_shape[1]
    y = samples[:luma_count].reshape(height, width)
    u = samples[luma_count:luma_count + chroma_count].reshape(chroma_shape)
    v = samples[luma_count + chroma_count:].reshape(chroma_shape)
    return y, u, v


def parse_y4m_single_picture(data: bytes):
    """:func:`read_y4m_single_picture` on bytes in memory."""
    return read_y4m_single_picture(io.BytesIO(data), len(data))


def read_y4m_single_picture(stream: BinaryIO, size: int, width: int | None = None, height: int | None = None):
    """Read ffmpeg's y4m output holding exactly one 4:2:0 10-bit picture from ``stream`` (``size`` bytes).

    Returns ``(width, height, (y, u, v))``. Nothing but the headers is read before the picture size, the
    sample format (and ``width x height``, if given) are checked and ``size`` is found to hold exactly one
    picture, so a decoder output of many pictures, or of a larger picture, is refused unread. Anything else
    than one picture (none, several, another format, a damaged file) is a :class:`BitstreamError`, since the
    y4m data come from decoding an inner-codec payload.
    """
    head = stream.read(Y4M_HEADER_MAX)
    header_end = head.find(b"\n")
    if not head.startswith(Y4M_SIGNATURE) or header_end < 0:
        raise BitstreamError("VVC decoder produced no picture")
    params = {token[:1]: token[1:] for token in head[len(Y4M_SIGNATURE):header_end].decode("ascii", "replace").split()}
    try:
        decoded_width, decoded_height = int(params["W"]), int(params["H"])
    except (KeyError, ValueError):
        raise BitstreamError("VVC decoder output has no valid picture size") from None
    colour = params.get("C", "420jpeg")
    if colour != Y4M_420P10:
        raise BitstreamError(f"decoded VVC picture has sample format {colour}, expected 4:2:0 10-bit")
    if width is not None and (decoded_width, decoded_height) != (width, height):
        raise BitstreamError(f"decoded VVC picture is {decoded_width}x{decoded_height}, expected {width}x{height}")
    if header_end + 1 >= size:
        raise BitstreamError("VVC payload decodes to 0 pictures, expected 1")
    stream.seek(header_end + 1)
    frame_line = stream.readline(Y4M_HEADER_MAX)
    if not frame_line.startswith(Y4M_FRAME) or not frame_line.endswith(b"\n"):
        raise BitstreamError("VVC decoder output is damaged")
    frame_bytes = yuv420_frame_bytes(decoded_width, decoded_height)
    one_picture = header_end + 1 + len(frame_line) + frame_bytes
    if size > one_picture:
        raise BitstreamError("VVC payload decodes to more than one picture, expected 1")
    if size < one_picture:
        raise BitstreamError("VVC decoder output ends inside a picture")
    picture = stream.read(frame_bytes)
    return decoded_width, decoded_height, unpack_yuv420p10le(picture, decoded_width, decoded_height)

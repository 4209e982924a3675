"""Raw picture formats exchanged with the external programs.

* ``yuv420p10le``: the planes Y, U, V one after another, each sample a little-endian uint16
  (the ``.yuv`` file layout of ffmpeg's ``rawvideo`` and of VTM with 10-bit files).
* YUV4MPEG2 (``.y4m``) as written by ffmpeg's ``yuv4mpegpipe`` muxer: it carries the decoded
  picture size and sample format, so the decoder output can be checked rather than assumed.
"""
from __future__ import annotations

import numpy as np

from ..errors import BitstreamError

Y4M_SIGNATURE = b"YUV4MPEG2 "
Y4M_FRAME = b"FRAME"
Y4M_420P10 = "420p10"


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
    """Parse ffmpeg's y4m output holding exactly one 4:2:0 10-bit picture.

    Returns ``(width, height, (y, u, v))``. Anything else (no picture, several pictures, another
    sample format, a damaged file) is a :class:`BitstreamError`, since the y4m data come from
    decoding an inner-codec payload.
    """
    header_end = data.find(b"\n")
    if not data.startswith(Y4M_SIGNATURE) or header_end < 0:
        raise BitstreamError("VVC decoder produced no picture")
    params = {token[:1]: token[1:] for token in data[len(Y4M_SIGNATURE):header_end].decode("ascii", "replace").split()}
    try:
        width, height = int(params["W"]), int(params["H"])
    except (KeyError, ValueError):
        raise BitstreamError("VVC decoder output has no valid picture size") from None
    colour = params.get("C", "420jpeg")
    if colour != Y4M_420P10:
        raise BitstreamError(f"decoded VVC picture has sample format {colour}, expected 4:2:0 10-bit")

    frame_bytes = yuv420_frame_bytes(width, height)
    pictures = []
    position = header_end + 1
    while position < len(data):
        line_end = data.find(b"\n", position)
        if not data.startswith(Y4M_FRAME, position) or line_end < 0:
            raise BitstreamError("VVC decoder output is damaged")
        start = line_end + 1
        if start + frame_bytes > len(data):
            raise BitstreamError("VVC decoder output ends inside a picture")
        pictures.append(memoryview(data)[start:start + frame_bytes])
        position = start + frame_bytes
    if len(pictures) != 1:
        raise BitstreamError(f"VVC payload decodes to {len(pictures)} pictures, expected 1")
    return width, height, unpack_yuv420p10le(pictures[0], width, height)

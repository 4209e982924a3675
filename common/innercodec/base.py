"""The inner (standard) codec interface: one 10-bit picture in, a VVC payload out, and back.

Pictures are :class:`YuvPlanes`: 10-bit samples in ``uint16`` arrays, either 4:2:0 (``y`` is
``HxW``, ``u`` and ``v`` are ``ceil(H/2) x ceil(W/2)``) or 4:0:0 (``u = v = None``).

Padding rule (what the payload actually holds)
    The coded picture is ``PW x PH`` with ``PW = max(32, 8*ceil(W/8))`` and
    ``PH = max(32, 8*ceil(H/8))`` (:func:`padded_size`). Luma is extended to the right by
    repeating its last column and downwards by repeating its last row; the chroma planes are
    extended the same way to ``PH/2 x PW/2``. A 4:0:0 picture is coded as a 4:2:0 picture
    whose chroma planes are all 512 (neutral); nothing in the VVC payload says it is 4:0:0, so
    the caller passes ``monochrome=True`` to :meth:`InnerCodec.decode`.
    The decoder requires the decoded picture to be exactly ``PW x PH`` (else BitstreamError)
    and crops the top-left ``W x H`` (chroma ``ceil(H/2) x ceil(W/2)``).

    Why: VVC needs picture sizes that are multiples of 8 (``Max(8, MinCbSizeY)``), and ffmpeg's
    libvvenc wrapper gives VVenC an output buffer of only ``width*height`` bytes per access
    unit, which the parameter sets alone nearly fill for very small pictures; 32x32 leaves room.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import BitstreamError, ConfigError, InnerCodecError

CODEC_ID_VVC = 1
BIT_DEPTH = 10
NEUTRAL_CHROMA = 1 << (BIT_DEPTH - 1)
PAD_MULTIPLE = 8
MIN_PADDED_SIDE = 32
MAX_SIDE = 16384
QP_MIN, QP_MAX = 0, 63


@dataclass(frozen=True)
class YuvPlanes:
    """A 10-bit picture: 4:2:0 (``u``, ``v`` given) or 4:0:0 (``u = v = None``).

    Construction checks shapes, dtype (``uint16``) and the sample range ``0..1023`` and raises
    ``ValueError`` on a mistake (a programming error, not a user error).
    """

    y: np.ndarray
    u: np.ndarray | None = None
    v: np.ndarray | None = None

    def __post_init__(self):
        _check_plane("y", self.y)
        height, width = self.y.shape
        if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
            raise ValueError(f"picture size {width}x{height} outside 1..{MAX_SIDE}")
        if (self.u is None) != (self.v is None):
            raise ValueError("u and v must both be planes (4:2:0) or both be None (4:0:0)")
        if self.u is not None:
            chroma_shape = ((height + 1) // 2, (width + 1) // 2)
            for name, plane in (("u", self.u), ("v", self.v)):
                _check_plane(name, plane)
                if plane.shape != chroma_shape:
                    raise ValueError(f"plane {name} is {plane.shape}, expected {chroma_shape} "
                                     f"for a {width}x{height} picture")

    @property
    def width(self) -> int:
        return self.y.shape[1]

    @property
    def height(self) -> int:
        return self.y.shape[0]

    @property
    def monochrome(self) -> bool:
        return self.u is None


class VvcDecoder:
    """Decodes a single-picture VVC payload to 4:2:0 10-bit planes of a known size."""

    name = "abstract"

    def decode_picture(self, data: bytes, width: int, height: int):
        """Return ``(y, u, v)`` uint16 planes; the decoded size must be ``width x height``.

        Any failure of the payload (not VVC, damaged, other size or format, several pictures,
        decoder timeout) raises BitstreamError; a missing decoder raises ResourceError.
        """
        raise NotImplementedError


class InnerCodec:
    """A standard codec used inside the ICM bitstream; see the module doc for padding.

    Subclasses implement :meth:`_encode_padded` (and list their per-call options in
    ``encode_options``); decoding is delegated to a :class:`VvcDecoder`.
    """

    name = "abstract"
    codec_id = CODEC_ID_VVC
    encode_options: tuple[str, ...] = ()

    def __init__(self, decoder: VvcDecoder):
        self.decoder = decoder

    def describe(self) -> str:
        """The encoder and its main setting in a few words, for summaries (e.g. "vvenc preset medium",
        "vtm (cfg encoder_intra_vtm.cfg)")."""
        return self.name

    def encode(self, planes: YuvPlanes, qp: int, **options) -> bytes:
        """Code one picture at quantisation parameter ``qp`` (0..63) and return the payload."""
        check_qp(qp)
        unknown = sorted(set(options) - set(self.encode_options))
        if unknown:
            raise ConfigError(f"unknown {self.name} option(s): {', '.join(unknown)}; "
                              f"known: {', '.join(self.encode_options) or 'none'}")
        if not isinstance(planes, YuvPlanes):
            raise TypeError("encode expects a YuvPlanes picture")
        y, u, v = pad_planes(planes)
        payload = self._encode_padded(y, u, v, qp, **options)
        if not payload:
            raise InnerCodecError(f"{self.name} produced an empty payload")
        return payload

    def decode(self, data: bytes, width: int, height: int, monochrome: bool = False) -> YuvPlanes:
        """Decode a payload made by :meth:`encode` for a ``width x height`` picture.

        ``monochrome=True`` returns ``u = v = None`` (the chroma of the 4:0:0 coding is dropped).
        """
        if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
            raise BitstreamError("empty inner-codec (VVC) payload")
        for name, value in (("width", width), ("height", height)):
            if not isinstance(value, (int, np.integer)) or not 1 <= value <= MAX_SIDE:
                raise BitstreamError(f"picture {name} {value!r} outside 1..{MAX_SIDE}")
        padded_width, padded_height = padded_size(width, height)
        y, u, v = self.decoder.decode_picture(bytes(data), padded_width, padded_height)
        if y.shape != (padded_height, padded_width):
            raise BitstreamError(f"decoded VVC picture is {y.shape[1]}x{y.shape[0]}, "
                                 f"expected {padded_width}x{padded_height}")
        chroma_height, chroma_width = (height + 1) // 2, (width + 1) // 2
        y = np.ascontiguousarray(y[:height, :width])
        if monochrome:
            return YuvPlanes(y)
        return YuvPlanes(y, np.ascontiguousarray(u[:chroma_height, :chroma_width]),
                         np.ascontiguousarray(v[:chroma_height, :chroma_width]))

    def _encode_padded(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, qp: int, **options) -> bytes:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} decoder={self.decoder.name}>"


def check_qp(qp) -> int:
    """QP must be an integer in 0..63, else ConfigError."""
    if isinstance(qp, bool) or not isinstance(qp, (int, np.integer)) or not QP_MIN <= qp <= QP_MAX:
        raise ConfigError(f"QP must be an integer in {QP_MIN}..{QP_MAX}, got {qp!r}")
    return int(qp)


def padded_size(width: int, height: int) -> tuple[int, int]:
    """Size of the coded picture for a ``width x height`` picture (module doc)."""
    def pad(side: int) -> int:
        return max(MIN_PADDED_SIDE, -(-side // PAD_MULTIPLE) * PAD_MULTIPLE)
    return pad(width), pad(height)


def pad_planes(planes: YuvPlanes):
    """Edge-replicate the planes to the padded size; 4:0:0 gets neutral chroma (512)."""
    padded_width, padded_height = padded_size(planes.width, planes.height)
    y = _pad_edge(planes.y, padded_height, padded_width)
    chroma_shape = (padded_height // 2, padded_width // 2)
    if planes.monochrome:
        u = np.full(chroma_shape, NEUTRAL_CHROMA, dtype=np.uint16)
        return y, u, u.copy()
    return y, _pad_edge(planes.u, *chroma_shape), _pad_edge(planes.v, *chroma_shape)


def _pad_edge(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    extra_rows, extra_cols = height - plane.shape[0], width - plane.shape[1]
    return np.pad(plane, ((0, extra_rows), (0, extra_cols)), mode="edge").astype(np.uint16)


def _check_plane(name: str, plane) -> None:
    if not isinstance(plane, np.ndarray) or plane.ndim != 2 or plane.dtype != np.uint16 or plane.size == 0:
        raise ValueError(f"plane {name} must be a non-empty 2-D uint16 array")
    if int(plane.max()) > (1 << BIT_DEPTH) - 1:
        raise ValueError(f"plane {name} has samples above {(1 << BIT_DEPTH) - 1} (10-bit)")

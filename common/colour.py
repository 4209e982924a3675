"""RGB (8-bit) <-> Y'CbCr 4:2:0 (N-bit) colour conversion in exact integer arithmetic.

The decoder side (:func:`yuv420_to_rgb`) must give the same RGB bytes on every machine, so both
directions use only integer operations on ``int64`` numpy arrays. The rules, exactly:

Coefficients
    ``Kr, Kb`` are the decimal constants of the matrix (BT.601: 0.299, 0.114; BT.709: 0.2126,
    0.0722), ``Kg = 1 - Kr - Kb``. For bit depth ``N`` the range constants are

    * limited ("video") range: ``y_off = 16*2^(N-8)``, ``y_scale = 219*2^(N-8)/255``,
      ``c_off = 128*2^(N-8)``, ``c_scale = 224*2^(N-8)/255``;
    * full range: ``y_off = 0``, ``y_scale = c_scale = (2^N - 1)/255``, ``c_off = 2^(N-1)``.

    Every real coefficient is computed with exact rational arithmetic (``fractions.Fraction``)
    and rounded to an integer at scale ``2^16`` (:data:`COEF_BITS`), rounding halves away from
    zero. No floating point is involved anywhere, so the tables are identical on every machine
    (:func:`coefficient_tables` returns them; ``docs/innercodec.md`` lists the 10-bit ones).

    Forward rows: luma ``y_scale*(Kr, Kg, Kb)``; Cb ``c_scale*(-Kr, -Kg, 1-Kb)/(2(1-Kb))``;
    Cr ``c_scale*(1-Kr, -Kg, -Kb)/(2(1-Kr))``. After rounding, one entry of each row is replaced
    so that the luma row sums to ``round(y_scale*2^16)`` and each chroma row sums to exactly 0:
    the green luma entry and the blue Cb / red Cr entries are derived from the other two.
    Hence any grey pixel gets exactly neutral chroma ``c_off``.

    Inverse: ``R = Y' + 2(1-Kr)Pr``, ``G = Y' - 2Kb(1-Kb)/Kg Pb - 2Kr(1-Kr)/Kg Pr``,
    ``B = Y' + 2(1-Kb)Pb`` with ``Y' = (Y-y_off)/y_scale``, ``Pb = (Cb-c_off)/c_scale``,
    ``Pr = (Cr-c_off)/c_scale``; the five factors ``1/y_scale``, ``2(1-Kr)/c_scale``, ... are
    rounded at scale ``2^16`` the same way.

Forward conversion (encoder)
    ``Y = clip((cY . (R,G,B) + y_off*2^16 + 2^15) >> 16)``.
    Chroma is computed directly at half resolution from 2x2 *sums* of R, G and B (a 2x2 box
    filter, chroma sited at the centre of each 2x2 luma block, i.e. chroma location type 1):
    ``C = clip((cC . (sum R, sum G, sum B) + c_off*2^18 + 2^17) >> 18)``. For an odd width or
    height the last column/row is replicated before summing, so chroma planes are
    ``ceil(H/2) x ceil(W/2)``. ``>>`` is an arithmetic (floor) shift; ``clip`` is to
    ``[0, 2^N - 1]``.

Inverse conversion (decoder)
    Chroma is first upsampled to luma resolution at scale 16 (no rounding):

    * ``"bilinear"`` (default), matching the centred siting: every luma sample takes
      ``9/16, 3/16, 3/16, 1/16`` of its nearest, horizontally/vertically adjacent and diagonal
      chroma samples (edges replicated), i.e. the separable 2x kernel ``[1 3 3 1]/4`` per axis;
    * ``"nearest"``: each chroma sample is repeated over its 2x2 luma block (times 16).

    Then ``R = clip((cRY*(Y-y_off)*16 + cRCr*(Cr16 - 16*c_off) + 2^19) >> 20)`` and likewise for
    G (both chroma terms) and B, clipped to ``[0, 255]``.

``u`` / ``v`` equal to ``None`` in :func:`yuv420_to_rgb` mean neutral chroma (a 4:0:0 picture),
which gives a grey RGB image.
"""
from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np

COEF_BITS = 16
MATRICES = {
    "bt601": (Fraction("0.299"), Fraction("0.114")),
    "bt709": (Fraction("0.2126"), Fraction("0.0722")),
}
UPSAMPLING_FILTERS = ("bilinear", "nearest")
MIN_BIT_DEPTH, MAX_BIT_DEPTH = 8, 16


def _round_half_away(value: Fraction) -> int:
    """Round an exact rational to the nearest integer, halves away from zero."""
    if value >= 0:
        return math.floor(value + Fraction(1, 2))
    return -math.floor(-value + Fraction(1, 2))


def range_constants(bit_depth: int, full_range: bool) -> tuple[int, Fraction, int, Fraction]:
    """``(y_off, y_scale, c_off, c_scale)`` of the given range at ``bit_depth`` bits."""
    _check_bit_depth(bit_depth)
    if full_range:
        scale = Fraction(2 ** bit_depth - 1, 255)
        return 0, scale, 1 << (bit_depth - 1), scale
    shift = bit_depth - 8
    return 16 << shift, Fraction(219 << shift, 255), 128 << shift, Fraction(224 << shift, 255)


@lru_cache(maxsize=None)
def coefficient_tables(bit_depth: int = 10, matrix: str = "bt601", full_range: bool = False) -> dict:
    """Integer conversion tables (scale ``2^COEF_BITS``) and offsets; see the module docstring.

    Returns a dict with ``forward`` (3x3 rows Y, Cb, Cr over R, G, B), ``inverse`` (rows R, G, B
    over Y, Cb, Cr), ``y_off``, ``c_off`` and ``max_value``.
    """
    kr, kb = _matrix_constants(matrix)
    kg = 1 - kr - kb
    y_off, y_scale, c_off, c_scale = range_constants(bit_depth, full_range)
    one = 1 << COEF_BITS

    def q(value: Fraction) -> int:
        return _round_half_away(value * one)

    y_r, y_b = q(y_scale * kr), q(y_scale * kb)
    y_g = q(y_scale) - y_r - y_b
    cb_den, cr_den = 2 * (1 - kb), 2 * (1 - kr)
    cb_r, cb_g = q(-c_scale * kr / cb_den), q(-c_scale * kg / cb_den)
    cb_b = -cb_r - cb_g
    cr_g, cr_b = q(-c_scale * kg / cr_den), q(-c_scale * kb / cr_den)
    cr_r = -cr_g - cr_b
    forward = ((y_r, y_g, y_b), (cb_r, cb_g, cb_b), (cr_r, cr_g, cr_b))

    inv_y = q(1 / y_scale)
    inverse = (
        (inv_y, 0, q(cr_den / c_scale)),
        (inv_y, q(-kb * cb_den / (kg * c_scale)), q(-kr * cr_den / (kg * c_scale))),
        (inv_y, q(cb_den / c_scale), 0),
    )
    return {"forward": forward, "inverse": inverse, "y_off": y_off, "c_off": c_off,
            "max_value": (1 << bit_depth) - 1}


def rgb_to_yuv420(rgb: np.ndarray, bit_depth: int = 10, matrix: str = "bt601",
                  full_range: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convert an ``HxWx3`` uint8 RGB image to ``(y, u, v)`` uint16 planes, 4:2:0.

    ``y`` is ``HxW``; ``u`` (Cb) and ``v`` (Cr) are ``ceil(H/2) x ceil(W/2)`` (2x2 box filter,
    edges replicated). Exact integer arithmetic; see the module docstring.
    """
    rgb = _check_rgb(rgb)
    tables = coefficient_tables(bit_depth, matrix, full_range)
    fwd = np.array(tables["forward"], dtype=np.int64)
    max_value = tables["max_value"]
    pixels = rgb.astype(np.int64)

    luma = pixels @ fwd[0] + (tables["y_off"] << COEF_BITS) + (1 << (COEF_BITS - 1))
    y = np.clip(luma >> COEF_BITS, 0, max_value).astype(np.uint16)

    sums = _sum_2x2(pixels)                 # ceil(H/2) x ceil(W/2) x 3, each a sum of 4 samples
    shift = COEF_BITS + 2
    offset = (tables["c_off"] << shift) + (1 << (shift - 1))
    u = np.clip((sums @ fwd[1] + offset) >> shift, 0, max_value).astype(np.uint16)
    v = np.clip((sums @ fwd[2] + offset) >> shift, 0, max_value).astype(np.uint16)
    return y, u, v


def yuv420_to_rgb(y: np.ndarray, u: np.ndarray | None, v: np.ndarray | None, bit_depth: int = 10,
                  matrix: str = "bt601", full_range: bool = False,
                  upsampling: str = "bilinear") -> np.ndarray:
    """Convert 4:2:0 planes back to an ``HxWx3`` uint8 RGB image (bit-exact integer arithmetic).

    ``u = v = None`` means neutral chroma (4:0:0): the result is grey. ``upsampling`` is
    ``"bilinear"`` (centred ``[1 3 3 1]/4`` kernel) or ``"nearest"``.
    """
    if upsampling not in UPSAMPLING_FILTERS:
        raise ValueError(f"unknown chroma upsampling {upsampling!r}; use one of {UPSAMPLING_FILTERS}")
    tables = coefficient_tables(bit_depth, matrix, full_range)
    y = _check_plane(y, "y", tables["max_value"])
    height, width = y.shape
    inv = np.array(tables["inverse"], dtype=np.int64)
    shift = COEF_BITS + 4                   # chroma is upsampled at scale 16
    luma_term = (y.astype(np.int64) - tables["y_off"]) * (inv[0, 0] << 4) + (1 << (shift - 1))

    if (u is None) != (v is None):
        raise ValueError("u and v must both be planes or both be None")
    if u is None:
        grey = np.clip(luma_term >> shift, 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)

    chroma_shape = ((height + 1) // 2, (width + 1) // 2)
    u = _check_plane(u, "u", tables["max_value"], chroma_shape)
    v = _check_plane(v, "v", tables["max_value"], chroma_shape)
    upsample = _upsample_bilinear16 if upsampling == "bilinear" else _upsample_nearest16
    c_off16 = tables["c_off"] << 4
    cb = upsample(u.astype(np.int64), height, width) - c_off16
    cr = upsample(v.astype(np.int64), height, width) - c_off16

    rgb = np.empty((height, width, 3), dtype=np.uint8)
    for channel in range(3):
        value = luma_term + inv[channel, 1] * cb + inv[channel, 2] * cr
        rgb[:, :, channel] = np.clip(value >> shift, 0, 255)
    return rgb


# --- helpers -------------------------------------------------------------------------------

def _matrix_constants(matrix: str) -> tuple[Fraction, Fraction]:
    try:
        return MATRICES[matrix]
    except KeyError:
        raise ValueError(f"unknown colour matrix {matrix!r}; use one of {sorted(MATRICES)}") from None


def _check_bit_depth(bit_depth: int) -> None:
    if not isinstance(bit_depth, int) or not MIN_BIT_DEPTH <= bit_depth <= MAX_BIT_DEPTH:
        raise ValueError(f"bit depth must be an integer in {MIN_BIT_DEPTH}..{MAX_BIT_DEPTH}, got {bit_depth!r}")


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"expected an HxWx3 uint8 RGB array, got {rgb.dtype} {rgb.shape}")
    return rgb


def _check_plane(plane: np.ndarray, name: str, max_value: int,
                 shape: tuple[int, int] | None = None) -> np.ndarray:
    plane = np.asarray(plane)
    if plane.ndim != 2 or plane.dtype.kind not in "ui" or plane.size == 0:
        raise ValueError(f"plane {name} must be a non-empty 2-D integer array, got {plane.dtype} {plane.shape}")
    if shape is not None and plane.shape != shape:
        raise ValueError(f"plane {name} has shape {plane.shape}, expected {shape}")
    if plane.min() < 0 or plane.max() > max_value:
        raise ValueError(f"plane {name} has samples outside 0..{max_value}")
    return plane


def _sum_2x2(pixels: np.ndarray) -> np.ndarray:
    """Sums over 2x2 blocks, replicating the last row/column when the size is odd."""
    height, width = pixels.shape[:2]
    if height % 2:
        pixels = np.concatenate([pixels, pixels[-1:]], axis=0)
    if width % 2:
        pixels = np.concatenate([pixels, pixels[:, -1:]], axis=1)
    return pixels[0::2, 0::2] + pixels[1::2, 0::2] + pixels[0::2, 1::2] + pixels[1::2, 1::2]


def _upsample_axis_1331(plane: np.ndarray, axis: int) -> np.ndarray:
    """Double ``plane`` along ``axis`` with weights (1, 3)/(3, 1), result at scale 4 (exact)."""
    previous = np.concatenate([np.take(plane, [0], axis=axis), plane], axis=axis)
    following = np.concatenate([plane, np.take(plane, [-1], axis=axis)], axis=axis)
    n = plane.shape[axis]
    before = 3 * plane + np.take(previous, range(n), axis=axis)       # output sample 2k
    after = 3 * plane + np.take(following, range(1, n + 1), axis=axis)  # output sample 2k + 1
    stacked = np.stack([before, after], axis=axis + 1)
    new_shape = list(plane.shape)
    new_shape[axis] = 2 * n
    return stacked.reshape(new_shape)


def _upsample_bilinear16(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    doubled = _upsample_axis_1331(_upsample_axis_1331(plane, 0), 1)
    return doubled[:height, :width]


def _upsample_nearest16(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    doubled = np.repeat(np.repeat(plane, 2, axis=0), 2, axis=1) * 16
    return doubled[:height, :width]

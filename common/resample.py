"""Deterministic resizing of uint8 RGB images with Pillow.

Why Pillow's 8-bit resize is machine-independent (read from Pillow's
``src/libImaging/Resample.c``; :func:`resize_rgb_reference` restates it in NumPy and the tests
compare it bit for bit with the installed Pillow, 13.0.0 when this was written):

* For the convolution filters ("box", "bilinear", "bicubic") Pillow computes, per output
  position, the filter taps in IEEE double precision using only ``+ - * /`` (the bicubic kernel
  is the Keys cubic with ``a = -0.5``, a polynomial; no ``sin``/``cos``), normalises them by their
  sum and rounds them to integers at scale ``2^22`` (halves away from zero). Each such double
  operation is correctly rounded, so the integer taps are the same on every IEEE-754 machine
  (one caveat: a compiler that fuses multiply-adds, e.g. GCC's default on AArch64, could move a
  tap by one unit in rare ties; the golden-value test would catch it).
* The filtering itself is integer: ``out = clip((2^21 + sum(pixel * tap)) >> 22, 0, 255)``,
  horizontally first into an 8-bit intermediate image, then vertically.
* "nearest" is done here, not by Pillow: it copies the pixel at source index
  ``floor((x + 0.5) * in_size / out_size)``, computed in exact integers.
* A 2-D resize is done as two explicit one-axis Pillow resizes, horizontal first (with an
  8-bit intermediate image). Pillow 13's own 2-D resize does not always run the horizontal pass
  first (observed: e.g. width x height 23x48 -> 24x32 runs vertically first), older sources always
  did, and the order changes the result; fixing it here keeps the output independent of that.

"lanczos" and "hamming" are *not* offered: their taps use ``sin``/``cos`` from the C library,
whose last-bit accuracy differs between platforms.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from .errors import ConfigError

FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}
MAX_OUTPUT_SIDE = 16384
PRECISION_BITS = 22     # Pillow's fixed-point precision for 8-bit images (32 - 8 - 2)


def resize_rgb(rgb: np.ndarray, width: int, height: int, filter: str = "bicubic") -> np.ndarray:
    """Resize an ``HxWx3`` uint8 RGB image to ``height x width`` (bit-exact, see module doc).

    ``filter`` is one of "nearest", "box", "bilinear", "bicubic" (Pillow's filters; when
    shrinking, the kernel is widened by the scale factor, i.e. antialiased). A same-size
    request returns a copy. An unknown filter or a size outside ``1..16384`` is a ConfigError.
    """
    rgb = _check_rgb(rgb)
    resample = _check_request(width, height, filter)
    if rgb.shape[:2] == (height, width):
        return rgb.copy()
    if resample == Image.Resampling.NEAREST:
        return _resize_nearest(rgb, width, height)
    image = Image.fromarray(np.ascontiguousarray(rgb))
    # Two explicit one-axis passes, horizontal first: Pillow picks the pass order of a 2-D
    # resize by an internal heuristic that differs between versions (and changes the result).
    if image.width != width:
        image = image.resize((width, image.height), resample=resample)
    if image.height != height:
        image = image.resize((width, height), resample=resample)
    return np.asarray(image, dtype=np.uint8).copy()


# --- NumPy re-statement of Pillow's algorithm (specification and test oracle) ---------------

def _box(x: float) -> float:
    return 1.0 if -0.5 < x <= 0.5 else 0.0


def _bilinear(x: float) -> float:
    x = -x if x < 0.0 else x
    return 1.0 - x if x < 1.0 else 0.0


def _bicubic(x: float) -> float:
    a = -0.5
    x = -x if x < 0.0 else x
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    if x < 2.0:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


_KERNELS = {"box": (_box, 0.5), "bilinear": (_bilinear, 1.0), "bicubic": (_bicubic, 2.0)}


def filter_taps(in_size: int, out_size: int, filter: str) -> np.ndarray:
    """Integer taps (scale ``2^22``) as a dense ``in_size x out_size`` int64 matrix.

    Follows Pillow's ``precompute_coeffs`` and ``normalize_coeffs_8bpc`` operation by operation
    (Python floats are IEEE doubles, evaluated in the same order as the C code).
    """
    kernel, kernel_support = _KERNELS[filter]
    scale = float(in_size) / out_size
    filterscale = max(scale, 1.0)
    support = kernel_support * filterscale
    inv_filterscale = 1.0 / filterscale
    taps = np.zeros((in_size, out_size), dtype=np.int64)
    for xx in range(out_size):
        center = 0.0 + (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        weights = [kernel((x + xmin - center + 0.5) * inv_filterscale) for x in range(xmax)]
        total = 0.0
        for weight in weights:
            total += weight
        for x, weight in enumerate(weights):
            if total != 0.0:
                weight /= total
            scaled = weight * (1 << PRECISION_BITS)
            taps[xmin + x, xx] = int(-0.5 + scaled) if weight < 0 else int(0.5 + scaled)
    return taps


def resize_rgb_reference(rgb: np.ndarray, width: int, height: int, filter: str = "bicubic") -> np.ndarray:
    """Slow NumPy restatement of :func:`resize_rgb`; must agree bit for bit (used by tests)."""
    rgb = _check_rgb(rgb)
    _check_request(width, height, filter)
    in_height, in_width = rgb.shape[:2]
    if (in_height, in_width) == (height, width):
        return rgb.copy()
    if filter == "nearest":
        return _resize_nearest(rgb, width, height)
    image = rgb.astype(np.int64)
    if width != in_width:
        image = _apply_taps(image, filter_taps(in_width, width, filter), axis=1)
    if height != in_height:
        image = _apply_taps(image, filter_taps(in_height, height, filter), axis=0)
    return image.astype(np.uint8)


def _resize_nearest(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixel copy from source index ``floor((x + 0.5) * in_size / out_size)`` (exact integers)."""
    in_height, in_width = rgb.shape[:2]
    rows = ((2 * np.arange(height, dtype=np.int64) + 1) * in_height) // (2 * height)
    cols = ((2 * np.arange(width, dtype=np.int64) + 1) * in_width) // (2 * width)
    return rgb[np.ix_(rows, cols)].copy()


def _apply_taps(image: np.ndarray, taps: np.ndarray, axis: int) -> np.ndarray:
    moved = np.moveaxis(image, axis, -1)                       # ... x in_size
    acc = moved @ taps + (1 << (PRECISION_BITS - 1))           # ... x out_size, exact int64
    out = np.clip(acc >> PRECISION_BITS, 0, 255)
    return np.moveaxis(out, -1, axis)


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or 0 in rgb.shape:
        raise ValueError(f"expected an HxWx3 uint8 RGB array, got {rgb.dtype} {rgb.shape}")
    return rgb


def _check_request(width: int, height: int, filter: str):
    if filter not in FILTERS:
        raise ConfigError(f"unknown resize filter {filter!r}; use one of {', '.join(FILTERS)}")
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, (int, np.integer)) or not 1 <= value <= MAX_OUTPUT_SIDE:
            raise ConfigError(f"resize {name} must be an integer in 1..{MAX_OUTPUT_SIDE}, got {value!r}")
    return FILTERS[filter]

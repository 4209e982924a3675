"""Reading input images and writing decoded images.

``read_image`` returns the pixels *as stored* in the file, as an ``HxWx3`` uint8 RGB array:

* any format Pillow reads (PNG, JPEG, BMP, TIFF, WebP, ...); for multi-frame files the first
  frame;
* EXIF orientation is **not** applied (a rotated-by-tag JPEG is returned unrotated), so the
  array matches the stored raster that annotations such as COCO boxes refer to;
* grey ("L", "1"), palette ("P") and CMYK images are converted to RGB by Pillow's
  ``convert("RGB")``; an alpha channel is dropped (not composited); 16-bit grey ("I;16", "I")
  is reduced to 8 bits with ``(v + 128) >> 8`` (clipped to 255);
* the size is checked from the header *before* the pixel data are decoded: each side at most
  :data:`MAX_SIDE` and at most :data:`MAX_PIXELS` pixels in all.

Every failure (missing file, a folder, not an image, truncated or corrupt data, too large) is an
:class:`~icm.common.errors.InputError` with a one-line message.

``write_png`` writes atomically: a temporary file in the destination folder, then
``os.replace``, so a reader never sees a half-written PNG.
"""
from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import InputError

MAX_SIDE = 16384
MAX_PIXELS = 1 << 27          # 134 Mpixel, e.g. 16384 x 8192


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as an ``HxWx3`` uint8 RGB array (pixels as stored; see module doc)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"input image not found: {path}")
    if not path.is_file():
        raise InputError(f"input image is not a regular file: {path}")
    try:
        with warnings.catch_warnings():
            # Our own limits below replace Pillow's decompression-bomb warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                _check_size(path, *image.size)
                image.load()
                return _to_rgb_array(image)
    except InputError:
        raise
    except Image.DecompressionBombError as exc:
        raise InputError(f"input image too large ({_one_line(exc).split(',')[0]}): {path}") from None
    except UnidentifiedImageError:
        raise InputError(f"not an image file (or a format Pillow cannot read): {path}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        # Pillow reports truncated/corrupt data as OSError, SyntaxError, ValueError or EOFError.
        raise InputError(f"cannot decode image {path}: {_one_line(exc)}") from None


def write_png(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write an ``HxWx3`` uint8 RGB array as a PNG file, atomically (temp file + ``os.replace``).

    A programming error (wrong array type or shape) raises ``ValueError``; a destination that
    cannot be written raises :class:`InputError`.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or 0 in rgb.shape:
        raise ValueError(f"write_png expects an HxWx3 uint8 array, got {rgb.dtype} {rgb.shape}")
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"cannot write {path}: folder {folder} does not exist")
    temp_name = None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix="." + path.name + ".", suffix=".tmp",
                                         delete=False) as handle:
            temp_name = handle.name
            Image.fromarray(np.ascontiguousarray(rgb)).save(handle, format="PNG")
        os.replace(temp_name, path)
        temp_name = None
    except OSError as exc:
        raise InputError(f"cannot write {path}: {_one_line(exc)}") from None
    finally:
        if temp_name is not None:
            try:
                os.unlink(temp_name)
            except OSError:
                pass


def _check_size(path: Path, width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise InputError(f"input image has no pixels ({width}x{height}): {path}")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise InputError(f"input image too large ({width}x{height}; limits {MAX_SIDE} per side, "
                         f"{MAX_PIXELS} pixels): {path}")


def _to_rgb_array(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode == "RGB":
        return np.asarray(image, dtype=np.uint8).copy()
    if mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):
        wide = np.asarray(image).astype(np.int64)
        grey = np.clip((wide + 128) >> 8, 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode in ("RGBA", "RGBX", "RGBa"):
        return np.asarray(image, dtype=np.uint8)[:, :, :3].copy()
    if mode in ("LA", "La", "PA"):
        image = image.convert("RGBA") if mode == "PA" else image.convert("L")
        return _to_rgb_array(image)
    if mode == "P":
        image = image.convert("RGBA") if "transparency" in image.info else image.convert("RGB")
        return _to_rgb_array(image)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]

"""Feature tensors <-> monochrome pictures, as the MPEG VVC feature anchor does.

Each tensor (C x H x W, float32) is min/max-normalised to ``bit_depth`` bits (the min and max
are signalled as IEEE float32) and its channels are tiled in raster order into one 4:0:0
picture of ``columns`` tiles per row (tiles beyond C are filled with the mid-grey value).
"""
import math

import numpy as np


def choose_tile_columns(channels: int, height: int, width: int) -> int:
    """Columns that make the tiled picture as square as possible."""
    return max(1, min(channels, round(math.sqrt(channels * height / width))))


def normalise(tensor: np.ndarray, bit_depth: int) -> tuple[np.ndarray, float, float]:
    """``tensor`` -> (integer samples, min, max); min and max as float32 values."""
    low = np.float32(tensor.min())
    high = np.float32(tensor.max())
    peak = (1 << bit_depth) - 1
    span = np.float32(high - low) if high > low else np.float32(1)
    samples = np.rint((tensor.astype(np.float32) - low) / span * np.float32(peak))
    return np.clip(samples, 0, peak).astype(np.uint16), float(low), float(high)


def denormalise(samples: np.ndarray, low: float, high: float, bit_depth: int) -> np.ndarray:
    """Integer samples -> float32 tensor; float32 arithmetic only (bit-exact everywhere)."""
    low32, high32 = np.float32(low), np.float32(high)
    span = np.float32(high32 - low32) if high32 > low32 else np.float32(0)
    step = span / np.float32((1 << bit_depth) - 1)
    return (samples.astype(np.float32) * step + low32).astype(np.float32)


def tiled_size(channels: int, height: int, width: int, columns: int) -> tuple[int, int]:
    """(picture height, picture width) of the tiling."""
    rows = -(-channels // columns)
    return rows * height, columns * width


def tile(samples: np.ndarray, columns: int, fill: int) -> np.ndarray:
    """``C x H x W`` samples -> one picture, channels in raster order."""
    channels, height, width = samples.shape
    rows = -(-channels // columns)
    padded = np.full((rows * columns, height, width), fill, dtype=samples.dtype)
    padded[:channels] = samples
    return padded.reshape(rows, columns, height, width).transpose(0, 2, 1, 3).reshape(rows * height,
                                                                                       columns * width)


def untile(picture: np.ndarray, channels: int, height: int, width: int, columns: int) -> np.ndarray:
    """The inverse of :func:`tile`."""
    rows = -(-channels // columns)
    if picture.shape != (rows * height, columns * width):
        raise ValueError(f"tiled picture is {picture.shape}, expected {(rows * height, columns * width)}")
    grid = picture.reshape(rows, height, columns, width).transpose(0, 2, 1, 3).reshape(rows * columns, height,
                                                                                         width)
    return np.ascontiguousarray(grid[:channels])

"""The pictures the conformance streams are encoded from: crops of shared photos, or synthetic pictures.

A synthetic picture depends only on its size and seed (numpy's PCG64 generator, whose stream numpy keeps
stable), so it needs no data and is the same on every machine.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KODIM23 = ("data", "kodak", "kodim23.png")
COCO_139 = ("data", "coco-val-dev", "images", "000000000139.jpg")


@dataclass(frozen=True)
class Picture:
    """A photo under the shared folder (``path``), centre-cropped to ``size`` when given; or, without a path,
    a synthetic picture of ``size`` made from ``seed``."""

    path: tuple[str, ...] | None = None
    size: tuple[int, int] | None = None  # width, height
    seed: int = 0

    def load(self) -> np.ndarray:
        if self.path is None:
            return synthetic(*self.size, seed=self.seed)
        from ...common.image_io import read_image
        from ...common.paths import shared_path

        rgb = read_image(shared_path(*self.path))
        return rgb if self.size is None else centre_crop(rgb, *self.size)

    def describe(self) -> str:
        if self.path is None:
            return f"synthetic {self.size[0]}x{self.size[1]} picture (seed {self.seed})"
        name = "/".join(self.path[1:] if self.path[0] == "data" else self.path)
        if self.size is None:
            return name
        return f"centre {self.size[0]}x{self.size[1]} crop of {name}"


def centre_crop(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    top, left = (rgb.shape[0] - height) // 2, (rgb.shape[1] - width) // 2
    return np.ascontiguousarray(rgb[top:top + height, left:left + width])


def synthetic(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Colour ramps across the picture, dark bars every 80 columns and mild noise: ``height x width x 3``
    uint8, in integer arithmetic only (the same bytes on every machine)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.int64)
    u = x * 255 // max(width - 1, 1)
    v = y * 255 // max(height - 1, 1)
    rgb = np.stack([u, (255 - u) * (128 + v // 2) // 255, (u + 2 * v) % 256], axis=-1)
    rgb = np.where(((x // 16) % 5 == 0)[..., None], rgb * 3 // 8, rgb)
    noise = np.random.default_rng(seed).integers(-8, 9, size=rgb.shape)
    return np.clip(rgb + noise, 0, 255).astype(np.uint8)

"""The training pictures of the learned tools, with augmentation, and their held-out split.

Training uses ``coco-train128``, ``photos`` and ``kodak`` from the shared folder, never ``coco-val-dev``
(the evaluation set). One picture in ten (by sorted order within the whole list, index % 10 == 9) is held
out: models, step sizes and settings are chosen on those, with a label-free measure.

    pictures = PictureSet(training_picture_files(), split="train")
    batch = pictures.random_views(rng, 8, (320, 320))          # N x 3 x 320 x 320 float in [0, 1]
    patches = random_patches(batch, rng, 192)                   # N x 3 x 192 x 192
    heldout = PictureSet(training_picture_files(), split="heldout").whole_views((320, 320))

A view is a random crop (area ``min_area``..100 %, aspect jitter 3/4..4/3), mirrored with probability 1/2,
resized to the requested size with antialiased bicubic interpolation: the same kind of picture a tool sees
when it codes at the task network's input size (a plain resize, as the detectors' own preprocessing).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...common.image_io import read_image
from ...common.paths import shared_path

SOURCES = (("coco-train128", "images"), ("photos",), ("kodak",))
EXTENSIONS = {".jpg", ".jpeg", ".png"}
HELDOUT_EVERY = 10
SPLITS = ("train", "heldout", "all")


def training_picture_files() -> list[Path]:
    """Every training picture, in a fixed order (sources in ``SOURCES`` order, sorted names within each)."""
    files = []
    for parts in SOURCES:
        folder = shared_path("data", *parts)
        files += sorted(p for p in folder.iterdir() if p.suffix.lower() in EXTENSIONS)
    return files


def is_heldout(index: int) -> bool:
    return index % HELDOUT_EVERY == HELDOUT_EVERY - 1


def select_split(files: list[Path], split: str) -> list[Path]:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split} (use one of {', '.join(SPLITS)})")
    if split == "all":
        return list(files)
    return [f for i, f in enumerate(files) if is_heldout(i) == (split == "heldout")]


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """``H x W x 3`` uint8 -> ``1 x 3 x H x W`` float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].to(torch.float32) / 255.0


def resize_tensor(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``N x 3 x H x W`` -> ``N x 3 x h x w`` for ``size`` = (w, h), antialiased bicubic, clamped to [0, 1]."""
    width, height = size
    if x.shape[-2:] == (height, width):
        return x
    return F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False,
                         antialias=True).clamp_(0.0, 1.0)


def random_crop_box(height: int, width: int, rng: np.random.Generator, min_area: float) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a random crop: area ``min_area``..1 of the picture, aspect jitter 3/4..4/3."""
    area = rng.uniform(min_area, 1.0) * height * width
    aspect = (width / height) * np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
    w = int(round(min(width, max(16, np.sqrt(area * aspect)))))
    h = int(round(min(height, max(16, np.sqrt(area / aspect)))))
    return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w


class PictureSet:
    """The pictures of one split, decoded once and kept in memory (uint8)."""

    def __init__(self, files: list[Path], split: str = "train"):
        self.files = select_split(list(files), split)
        if not self.files:
            raise ValueError(f"no pictures in split '{split}'")
        self.pictures = [read_image(f) for f in self.files]

    def __len__(self) -> int:
        return len(self.pictures)

    def random_view(self, rng: np.random.Generator, size: tuple[int, int], min_area: float = 0.3,
                    flip: bool = True) -> torch.Tensor:
        """One augmented view ``1 x 3 x h x w`` of a random picture."""
        rgb = self.pictures[int(rng.integers(len(self.pictures)))]
        top, left, h, w = random_crop_box(rgb.shape[0], rgb.shape[1], rng, min_area)
        crop = rgb[top:top + h, left:left + w]
        if flip and rng.random() < 0.5:
            crop = crop[:, ::-1]
        return resize_tensor(to_tensor(crop), size)

    def random_views(self, rng: np.random.Generator, count: int, size: tuple[int, int], min_area: float = 0.3,
                     flip: bool = True) -> torch.Tensor:
        """``count`` augmented views, ``count x 3 x h x w`` float32 in [0, 1]."""
        return torch.cat([self.random_view(rng, size, min_area, flip) for _ in range(count)])

    def whole_views(self, size: tuple[int, int]) -> torch.Tensor:
        """Every picture whole, resized to ``size`` (no augmentation): the held-out measure's input."""
        return torch.cat([resize_tensor(to_tensor(rgb), size) for rgb in self.pictures])


def random_patches(x: torch.Tensor, rng: np.random.Generator, patch: int) -> torch.Tensor:
    """A random ``patch x patch`` window of each picture of ``x`` (``N x C x H x W``)."""
    height, width = x.shape[-2:]
    if patch > min(height, width):
        raise ValueError(f"patch {patch} larger than the pictures ({width}x{height})")
    out = []
    for picture in x:
        top = int(rng.integers(0, height - patch + 1))
        left = int(rng.integers(0, width - patch + 1))
        out.append(picture[:, top:top + patch, left:left + patch])
    return torch.stack(out)

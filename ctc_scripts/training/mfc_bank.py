"""Feature bank for training the ``mfc`` codec: NN part 1 on augmented training pictures, once, cached.

    python -m icm.ctc_scripts.training.mfc_bank -o out/mfc/bank.pt [--per-image 20] [--seed 0]

The training pictures are ``coco-train128``, ``photos`` and ``kodak`` (no labels are used). Each picture
gives ``--per-image`` random crops (area 30..100 %, aspect jitter 3/4..4/3, random horizontal flip) plus
the whole picture and its mirror; each is resized to the task network's input (the network's own
preprocessing) and run through NN part 1. Only the stride-16 tensor ``s16`` is stored (float16): ``s32``
is a deterministic function of it (darknet layers 81..108) and is recomputed in training. Pictures
whose name ends in 0 (by sorted order, one in ten) form the validation split.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from ...common.image_io import read_image
from ...common.paths import shared_path
from ...common.tasknet.registry import load_task_network

SOURCES = (("coco-train128", "images"), ("photos",), ("kodak",))
EXTENSIONS = {".jpg", ".jpeg", ".png"}


def training_pictures() -> list[Path]:
    files = []
    for parts in SOURCES:
        folder = shared_path("data", *parts)
        files += sorted(p for p in folder.iterdir() if p.suffix.lower() in EXTENSIONS)
    return files


def random_crop(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    height, width = rgb.shape[:2]
    area = rng.uniform(0.3, 1.0) * height * width
    aspect = (width / height) * np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
    w = int(round(min(width, max(16, np.sqrt(area * aspect)))))
    h = int(round(min(height, max(16, np.sqrt(area / aspect)))))
    top = int(rng.integers(0, height - h + 1))
    left = int(rng.integers(0, width - w + 1))
    crop = rgb[top:top + h, left:left + w]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop)


def build_bank(output: Path, per_image: int, seed: int, network_name: str = "yolo-fastest-1.1-xl",
               pictures: list[Path] | None = None) -> dict:
    network = load_task_network(network_name, input_size=320)
    rng = np.random.default_rng(seed)
    pictures = training_pictures() if pictures is None else list(pictures)
    features, picture_index = [], []
    start = time.perf_counter()
    for index, path in enumerate(pictures):
        rgb = read_image(path)
        views = [rgb, np.ascontiguousarray(rgb[:, ::-1])] + [random_crop(rgb, rng) for _ in range(per_image)]
        with torch.no_grad():
            for view in views:
                s16 = network.part1(network.preprocess(view))[0]
                features.append(s16[0].to(torch.float16))
                picture_index.append(index)
        if index % 20 == 0:
            print(f"{index + 1}/{len(pictures)} pictures, {len(features)} samples, "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
    bank = {"s16": torch.stack(features), "picture": torch.tensor(picture_index),
            "files": [p.name for p in pictures],
            "network": network_name, "per_image": per_image, "seed": seed}
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.save(bank, output)
    print(f"wrote {output}: {tuple(bank['s16'].shape)} from {len(pictures)} pictures "
          f"in {time.perf_counter() - start:.0f} s")
    return bank


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", default="out/mfc/bank.pt")
    parser.add_argument("--per-image", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    build_bank(Path(args.output), args.per_image, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Uncompressed task-network baseline: detection mAP on coco-val-dev without any codec.

    .venv/bin/python -m icm.ctc_scripts.studies.eval_uncompressed --sizes 320 416 512 --model yolo-fastest-1.1-xl

Runs part 1 and part 2 of the task network on each image (the split tensors are passed on
unchanged) and prints mAP@[.5:.95], mAP@0.5 and the time per image (mean and median of
preprocess + part 1 + part 2 + post-processing, image reading excluded) for each input size.
Evaluation is on coco-val-dev only (the detector was trained on COCO train2017).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from icm.common import paths
from icm.common.errors import IcmError, InputError
from icm.common.tasknet import load_task_network
from icm.common.tasknet.coco_eval import evaluate_detections, image_ids_by_file_name

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def read_rgb(path: Path) -> np.ndarray:
    """An image file as ``H x W x 3`` uint8 RGB."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read image {path}: {exc}") from None


def evaluate_size(model: str, size: int, images: list[Path], ids_by_name: dict[str, int], annotations: Path,
                  device: str, options: dict) -> dict:
    """Run the network at ``size`` x ``size`` on ``images``; return mAP figures and timing."""
    network = load_task_network(model, input_size=size, device=device, **options)
    results, image_ids, seconds = [], [], []
    with torch.no_grad():
        network.detect(read_rgb(images[0]))  # warm-up (first-call allocations), not timed
        for path in images:
            rgb = read_rgb(path)
            start = time.perf_counter()
            features = network.part1(network.preprocess(rgb))
            detections = network.part2(features, (rgb.shape[1], rgb.shape[0]))
            seconds.append(time.perf_counter() - start)
            image_id = ids_by_name[path.name]
            image_ids.append(image_id)
            results.extend(detections.to_coco_results(image_id))
    scores = evaluate_detections(results, annotations, image_ids)
    return {"model": model, "size": size, "images": len(images), "detections": len(results),
            "mAP": scores["mAP"], "mAP50": scores["mAP50"], "ms_per_image": 1000.0 * float(np.mean(seconds)),
            "ms_median": 1000.0 * float(np.median(seconds)),
            "features": [spec.__dict__ for spec in network.feature_specs()]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="yolo-fastest-1.1-xl", help="task network name or id")
    parser.add_argument("--sizes", type=int, nargs="+", default=[320], help="square input sizes")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--limit", type=int, default=0, help="only the first N images (0 = all)")
    parser.add_argument("--conf-threshold", type=float, default=None)
    parser.add_argument("--nms-iou", type=float, default=None)
    parser.add_argument("--max-detections", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    try:
        image_dir, annotations = paths.coco_val_dev()
        ids_by_name = image_ids_by_file_name(annotations)
        images = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.name in ids_by_name)
        if args.limit:
            images = images[:args.limit]
        if not images:
            raise InputError(f"no annotated images in {image_dir}")
        options = {"conf_threshold": args.conf_threshold, "nms_iou": args.nms_iou,
                   "max_detections": args.max_detections}
        print(f"coco-val-dev: {len(images)} images, model {args.model}, torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads")
        print(f"{'size':>9}  {'mAP@[.5:.95]':>12}  {'mAP@0.5':>8}  {'ms/image':>8}  {'median':>6}  split tensors")
        rows = []
        for size in args.sizes:
            row = evaluate_size(args.model, size, images, ids_by_name, annotations, args.device, options)
            rows.append(row)
            features = ", ".join(f"{f['name']} {f['channels']}x{f['height']}x{f['width']}" for f in row["features"])
            print(f"{size:>4}x{size:<4}  {100 * row['mAP']:>12.1f}  {100 * row['mAP50']:>8.1f}  "
                  f"{row['ms_per_image']:>8.1f}  {row['ms_median']:>6.1f}  {features}", flush=True)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
    except IcmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())

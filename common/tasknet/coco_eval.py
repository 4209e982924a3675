"""COCO detection evaluation with pycocotools (stdout silenced).

``evaluate_detections`` returns fractions in [0, 1]: ``mAP`` = AP@[.5:.95], ``mAP50`` = AP@0.5,
plus pycocotools' twelve ``stats``. An empty result list scores 0 instead of crashing.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Iterable

from ..errors import InputError, ResourceError

STAT_NAMES = ("mAP", "mAP50", "mAP75", "mAP_small", "mAP_medium", "mAP_large",
              "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large")


def image_ids_by_file_name(annotation_file: str | Path) -> dict[str, int]:
    """Map image file name (``000000000139.jpg``) -> COCO image id, from an annotation file; ResourceError
    when the file cannot be read or its image list is malformed."""
    content = _load_json(annotation_file)
    images = content.get("images") if isinstance(content, dict) else None
    if not isinstance(images, list):
        raise ResourceError(f"{annotation_file}: no 'images' list")
    try:
        return {str(entry["file_name"]): int(entry["id"]) for entry in images}
    except (KeyError, TypeError, ValueError) as exc:
        raise ResourceError(f"{annotation_file}: an image entry without a file_name and an integer id "
                            f"({type(exc).__name__}: {exc})") from None


def image_id_for(path: str | Path, ids_by_name: dict[str, int]) -> int:
    """The COCO image id of an image file (by its base name); InputError if it is not annotated."""
    name = Path(path).name
    if name not in ids_by_name:
        raise InputError(f"image {name} is not in the annotation file")
    return ids_by_name[name]


def _load_json(path: str | Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ResourceError(f"cannot read COCO annotations {path}: {exc}") from None


def _load_coco(annotation_file: str | Path):
    from pycocotools.coco import COCO

    dataset = _load_json(annotation_file)
    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def evaluate_detections(results: list[dict], annotation_file: str | Path,
                        image_ids: Iterable[int] | None = None) -> dict:
    """COCO bbox evaluation of ``results`` (COCO results format) on ``image_ids`` (default: all
    images of the annotation file). Returns ``{"mAP", "mAP50", ..., "stats"}`` as fractions."""
    from pycocotools.cocoeval import COCOeval

    coco_gt = _load_coco(annotation_file)
    image_ids = sorted(coco_gt.getImgIds() if image_ids is None else {int(i) for i in image_ids})
    unknown = set(image_ids) - set(coco_gt.getImgIds())
    if unknown:
        raise InputError(f"image ids not in {Path(annotation_file).name}: {sorted(unknown)[:5]}")
    results = [entry for entry in results if int(entry["image_id"]) in set(image_ids)]
    if not results or not image_ids:
        stats = [0.0] * len(STAT_NAMES)
    else:
        with contextlib.redirect_stdout(io.StringIO()):
            coco_dt = coco_gt.loadRes(results)
            evaluator = COCOeval(coco_gt, coco_dt, iouType="bbox")
            evaluator.params.imgIds = image_ids
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        # pycocotools reports -1 where a metric has no ground truth (e.g. no small objects).
        stats = [max(float(value), 0.0) for value in evaluator.stats]
    summary = dict(zip(STAT_NAMES, stats))
    summary["stats"] = stats
    return summary

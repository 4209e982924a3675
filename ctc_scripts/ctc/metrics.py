"""COCO mAP that can be recomputed for any multiset of images (for the bootstrap).

``pycocotools``' ``COCOeval.evaluate()`` matches detections to ground truth image by image; only
``accumulate()`` mixes images. :class:`CocoScores` runs ``evaluate()`` once and re-implements
``accumulate()`` for area "all" and 100 detections per image with an integer *weight* per image (how
many times the image is drawn). Weight 1 for every image gives exactly pycocotools' AP@[.5:.95] and
AP@0.5 (tested); weights ``w`` give the AP of the data set in which image ``i`` appears ``w[i]`` times
(up to the order of detections with equal scores from different images), without re-running the matching.

Scores are fractions in [0, 1]; categories without ground truth in the (resampled) set are left out, as
pycocotools does.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import numpy as np

from ...common.errors import InputError

MAX_DETECTIONS = 100
_CHUNK_ELEMENTS = 4_000_000  # replicates x thresholds x detections per vectorised block


def load_ground_truth(annotation_file: str | Path | dict):
    """A pycocotools COCO object from a file or a COCO-format mapping (silently)."""
    from pycocotools.coco import COCO

    if isinstance(annotation_file, dict):
        dataset = annotation_file
    else:
        try:
            dataset = json.loads(Path(annotation_file).read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read COCO annotations {annotation_file}: {exc}") from None
    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


class _Category:
    """One category's detections over all images, in pycocotools' ranking order."""

    __slots__ = ("image_index", "tps", "fps", "positives")

    def __init__(self, image_index, tps, fps, positives):
        self.image_index = image_index  # (D,) image of each ranked detection
        self.tps = tps  # (T, D) bool: true positive at each IoU threshold
        self.fps = fps  # (T, D) bool: false positive
        self.positives = positives  # (I,) non-ignored ground-truth objects per image


class CocoScores:
    """``evaluate()`` once; :meth:`scores` / :meth:`bootstrap` accumulate with image weights.

    ``results``: COCO results-format dicts (``bbox`` for ``iou_type="bbox"``, ``segmentation`` RLE for
    ``"segm"``); ``image_ids``: the evaluated images, in the order weights refer to.
    """

    def __init__(self, ground_truth, results: list[dict], image_ids: list[int], iou_type: str = "bbox"):
        from pycocotools.cocoeval import COCOeval

        coco_gt = ground_truth if hasattr(ground_truth, "getImgIds") else load_ground_truth(ground_truth)
        self.image_ids = [int(i) for i in image_ids]
        if len(set(self.image_ids)) != len(self.image_ids):
            raise ValueError("image ids must be distinct")
        unknown = set(self.image_ids) - set(coco_gt.getImgIds())
        if unknown:
            raise InputError(f"image ids not in the annotations: {sorted(unknown)[:5]}")
        keep = set(self.image_ids)
        results = [_strip(r, iou_type) for r in results if int(r["image_id"]) in keep]
        self.num_images = len(self.image_ids)
        self.iou_thresholds = np.linspace(0.5, 0.95, 10)
        self.recall_thresholds = np.linspace(0.0, 1.0, 101)
        with contextlib.redirect_stdout(io.StringIO()):
            coco_dt = coco_gt.loadRes(results) if results else _empty_results(coco_gt)
            evaluator = COCOeval(coco_gt, coco_dt, iouType=iou_type)
            evaluator.params.imgIds = sorted(self.image_ids)
            evaluator.evaluate()
        params = evaluator.params
        self.iou_thresholds = np.asarray(params.iouThrs)
        self.recall_thresholds = np.asarray(params.recThrs)
        position = {image_id: index for index, image_id in enumerate(self.image_ids)}
        order = [position[i] for i in params.imgIds]  # evalImgs order -> our order
        n_area, n_images = len(params.areaRng), len(params.imgIds)
        self.categories: list[_Category] = []
        for k in range(len(params.catIds)):
            scores, matches, ignores, images = [], [], [], []
            positives = np.zeros(self.num_images)
            for i in range(n_images):
                entry = evaluator.evalImgs[k * n_area * n_images + i]  # area index 0 = "all"
                if entry is None:
                    continue
                scores.append(np.asarray(entry["dtScores"][:MAX_DETECTIONS], dtype=float))
                matches.append(np.asarray(entry["dtMatches"])[:, :MAX_DETECTIONS])
                ignores.append(np.asarray(entry["dtIgnore"])[:, :MAX_DETECTIONS])
                images.append(np.full(len(scores[-1]), order[i]))
                positives[order[i]] = np.count_nonzero(np.asarray(entry["gtIgnore"]) == 0)
            if not scores or positives.sum() == 0:
                # No ground truth anywhere: pycocotools leaves the category out (for any resampling too).
                continue
            score = np.concatenate(scores)
            ranked = np.argsort(-score, kind="mergesort")
            match = np.concatenate(matches, axis=1)[:, ranked] != 0 if len(score) else np.zeros((10, 0), bool)
            ignore = np.concatenate(ignores, axis=1)[:, ranked].astype(bool) if len(score) else match
            self.categories.append(_Category(np.concatenate(images)[ranked].astype(int),
                                             match & ~ignore, ~match & ~ignore, positives))

    # -- accumulation --------------------------------------------------------------------------------

    def scores(self, weights=None) -> dict:
        """``{"mAP", "mAP50"}`` (fractions) for image weights (default: each image once)."""
        w = np.ones((1, self.num_images)) if weights is None else np.asarray(weights, float)[None, :]
        result = self.bootstrap(w)
        return {"mAP": float(result["mAP"][0]), "mAP50": float(result["mAP50"][0])}

    def bootstrap(self, weights) -> dict:
        """mAP and mAP50 (arrays of length B) for each row of ``weights`` (B x images, integer counts).
        A replicate in which no category has ground truth gets NaN."""
        weights = np.asarray(weights, dtype=float)
        if weights.ndim != 2 or weights.shape[1] != self.num_images:
            raise ValueError(f"weights must be B x {self.num_images}")
        n_rep, n_thr = weights.shape[0], len(self.iou_thresholds)
        total = np.zeros((n_rep, n_thr))  # sum over categories of mean precision over recall thresholds
        count = np.zeros(n_rep)  # categories with ground truth in each replicate
        for category in self.categories:
            positives = weights @ category.positives  # (B,)
            valid = positives > 0
            count += valid
            n_det = len(category.image_index)
            if n_det == 0:
                continue  # precision 0 at every recall threshold
            step = max(1, _CHUNK_ELEMENTS // (n_thr * n_det))
            for start in range(0, n_rep, step):
                rows = slice(start, min(n_rep, start + step))
                total[rows] += _mean_precision(category, weights[rows], positives[rows], self.recall_thresholds)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_threshold = total / count[:, None]
        return {"mAP": per_threshold.mean(axis=1), "mAP50": per_threshold[:, 0]}


def _mean_precision(category: _Category, weights, positives, recall_thresholds):
    """(B, T): mean interpolated precision over the recall thresholds, as pycocotools' accumulate()."""
    w = weights[:, category.image_index]  # (B, D) weight of each ranked detection
    tp = np.cumsum(w[:, None, :] * category.tps[None], axis=2)  # (B, T, D), integer-valued
    fp = np.cumsum(w[:, None, :] * category.fps[None], axis=2)
    precision = tp / (fp + tp + np.spacing(1))
    precision = np.maximum.accumulate(precision[:, :, ::-1], axis=2)[:, :, ::-1]
    n_rep, n_thr, n_det = tp.shape
    # pycocotools: index = searchsorted(tp / npig, recall threshold, "left"). tp / npig is monotonic in the
    # integer tp, so the float test "tp / npig >= r" holds exactly for tp >= cutoff[r], the smallest integer
    # that passes it: searching the integer tp for the cutoff gives the same index with no rounding trouble.
    cutoffs = np.zeros((n_rep, len(recall_thresholds)))
    for value in np.unique(positives):
        if value > 0:
            fractions = np.arange(int(value) + 1) / value  # the exact floats pycocotools computes
            cutoffs[positives == value] = np.searchsorted(fractions, recall_thresholds, side="left")
    big = float(positives.max()) + 2  # rows offset by more than any tp (all integers: exact in float64)
    row = np.arange(n_rep * n_thr, dtype=float).reshape(n_rep, n_thr)
    keys = (tp + row[:, :, None] * big).ravel()
    n_values = int(big)  # tp takes at most this many values: search each once when that is fewer than R
    if n_values < len(recall_thresholds):
        queries = np.arange(n_values, dtype=float)[None, None, :] + row[:, :, None] * big
        table = np.searchsorted(keys, queries.ravel(), side="left").reshape(queries.shape)
        index = np.take_along_axis(table, np.broadcast_to(cutoffs.astype(int)[:, None, :],
                                                          (n_rep, n_thr, len(recall_thresholds))), axis=2)
    else:
        queries = cutoffs[:, None, :] + row[:, :, None] * big  # (B, T, R)
        index = np.searchsorted(keys, queries.ravel(), side="left").reshape(queries.shape)
    index = index - (np.arange(n_rep * n_thr) * n_det).reshape(n_rep, n_thr, 1)
    found = index < n_det
    flat = precision.reshape(n_rep * n_thr, n_det)
    picked = np.where(found, np.take_along_axis(flat, np.minimum(index, n_det - 1).reshape(n_rep * n_thr, -1),
                                                axis=1).reshape(index.shape), 0.0)
    result = picked.mean(axis=2)
    result[positives == 0] = 0.0  # category absent from this replicate: counted out by the caller
    return result


def _strip(result: dict, iou_type: str) -> dict:
    entry = {"image_id": int(result["image_id"]), "category_id": int(result["category_id"]),
             "score": float(result["score"])}
    if iou_type == "segm":
        entry["segmentation"] = result["segmentation"]
    else:
        entry["bbox"] = list(result["bbox"])
    return entry


def _empty_results(coco_gt):
    from pycocotools.coco import COCO

    empty = COCO()
    empty.dataset = {"images": copy.deepcopy(coco_gt.dataset["images"]),
                     "categories": copy.deepcopy(coco_gt.dataset.get("categories", [])), "annotations": []}
    empty.createIndex()
    return empty


def has_segmentation(annotation: str | Path | dict | None) -> bool:
    """Whether the ground truth has instance masks (polygons or RLE) to evaluate segmentation against."""
    if annotation is None:
        return False
    coco = annotation if isinstance(annotation, dict) else json.loads(Path(annotation).read_text())
    return any("segmentation" in a and a["segmentation"] for a in coco.get("annotations", []))

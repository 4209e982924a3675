"""Weighted COCO accumulation (bootstrap), statistics helpers, task fidelity and MAC counting."""
import contextlib
import io

import numpy as np
import pytest
import torch

from icm.ctc_scripts.ctc.complexity import count_macs, kmac_per_pixel
from icm.ctc_scripts.ctc.fidelity import reference_ground_truth
from icm.ctc_scripts.ctc.metrics import CocoScores, load_ground_truth
from icm.ctc_scripts.ctc.stats import bootstrap_weights, isotonic_fit, pareto_mask, percentile_interval


def synthetic(num_images=12, seed=0, masks=False):
    """A ground truth of random boxes (3 categories, some crowd) and noisy detections with distinct scores."""
    rng = np.random.default_rng(seed)
    images, annotations, results = [], [], []
    size = 64
    for image_id in range(1, num_images + 1):
        images.append({"id": image_id, "width": size, "height": size})
        for _ in range(rng.integers(0, 5)):
            x, y = rng.uniform(0, 40, 2)
            w, h = rng.uniform(6, 24, 2)
            category = int(rng.integers(1, 4))
            entry = {"id": len(annotations) + 1, "image_id": image_id, "category_id": category,
                     "bbox": [x, y, w, h], "area": w * h, "iscrowd": int(rng.random() < 0.1)}
            if masks:
                entry["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
            annotations.append(entry)
            if rng.random() < 0.8:
                jitter = rng.normal(0, 2.0, 4)
                box = [x + jitter[0], y + jitter[1], max(1.0, w + jitter[2]), max(1.0, h + jitter[3])]
                results.append({"image_id": image_id, "category_id": category, "bbox": box,
                                "score": float(rng.uniform(0.05, 1.0))})
        for _ in range(rng.integers(0, 4)):  # false positives
            box = [float(v) for v in rng.uniform(0, 40, 2)] + [float(v) for v in rng.uniform(5, 20, 2)]
            results.append({"image_id": image_id, "category_id": int(rng.integers(1, 4)), "bbox": box,
                            "score": float(rng.uniform(0.0, 0.6))})
    gt = {"images": images, "annotations": annotations,
          "categories": [{"id": c, "name": str(c)} for c in (1, 2, 3)]}
    return gt, results


def pycocotools_stats(gt: dict, results: list, iou_type="bbox"):
    from pycocotools.cocoeval import COCOeval

    coco = load_ground_truth(gt)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(coco, coco.loadRes(results), iouType=iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats[0], evaluator.stats[1]


def duplicated(gt: dict, results: list, weights):
    """The data set in which image i appears weights[i] times (new ids)."""
    images, annotations, out = [], [], []
    next_image = 1
    for index, image in enumerate(gt["images"]):
        for _ in range(int(weights[index])):
            images.append(dict(image, id=next_image))
            for a in gt["annotations"]:
                if a["image_id"] == image["id"]:
                    annotations.append(dict(a, image_id=next_image, id=len(annotations) + 1))
            out += [dict(r, image_id=next_image) for r in results if r["image_id"] == image["id"]]
            next_image += 1
    return {"images": images, "annotations": annotations, "categories": gt["categories"]}, out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weight_one_equals_pycocotools(seed):
    gt, results = synthetic(seed=seed)
    scores = CocoScores(gt, results, [im["id"] for im in gt["images"]]).scores()
    expected = pycocotools_stats(gt, results)
    assert scores["mAP"] == pytest.approx(expected[0], abs=1e-12)
    assert scores["mAP50"] == pytest.approx(expected[1], abs=1e-12)


@pytest.mark.parametrize("seed", [0, 3])
def test_weights_equal_a_duplicated_data_set(seed):
    gt, results = synthetic(seed=seed)
    ids = [im["id"] for im in gt["images"]]
    scores = CocoScores(gt, results, ids)
    weights = bootstrap_weights(len(ids), 5, seed=seed)
    boot = scores.bootstrap(weights)
    for row, weight in enumerate(weights):
        expected = pycocotools_stats(*duplicated(gt, results, weight))
        assert boot["mAP"][row] == pytest.approx(expected[0], abs=1e-12)
        assert boot["mAP50"][row] == pytest.approx(expected[1], abs=1e-12)


def test_image_order_and_subset():
    gt, results = synthetic(seed=4)
    ids = [im["id"] for im in gt["images"]]
    reversed_ids = list(reversed(ids))
    assert CocoScores(gt, results, reversed_ids).scores() == pytest.approx(CocoScores(gt, results, ids).scores())
    subset = CocoScores(gt, results, ids[:6]).scores()
    weights = np.array([1] * 6 + [0] * (len(ids) - 6))
    assert CocoScores(gt, results, ids).scores(weights) == pytest.approx(subset, abs=1e-12)


def test_no_detections_scores_zero():
    gt, _ = synthetic(seed=5)
    assert CocoScores(gt, [], [im["id"] for im in gt["images"]]).scores() == {"mAP": 0.0, "mAP50": 0.0}


def test_segmentation_masks():
    """Instance-segmentation mAP on masks given as RLE: perfect masks score 1, and the weighted evaluation
    matches pycocotools' segm evaluation."""
    from pycocotools import mask as mask_utils

    gt, _ = synthetic(seed=6, masks=True)
    ids = [im["id"] for im in gt["images"]]
    rng = np.random.default_rng(0)
    perfect, shifted = [], []
    for a in gt["annotations"]:
        if a["iscrowd"]:
            continue
        rle = mask_utils.frPyObjects(a["segmentation"], 64, 64)[0]
        rle["counts"] = rle["counts"].decode("ascii")
        perfect.append({"image_id": a["image_id"], "category_id": a["category_id"], "segmentation": rle,
                        "score": float(rng.uniform(0.5, 1))})
        mask = mask_utils.decode(mask_utils.frPyObjects(a["segmentation"], 64, 64))[:, :, 0]
        moved = np.roll(mask, 3, axis=1)
        encoded = mask_utils.encode(np.asfortranarray(moved))
        encoded["counts"] = encoded["counts"].decode("ascii")
        shifted.append({"image_id": a["image_id"], "category_id": a["category_id"], "segmentation": encoded,
                        "score": float(rng.uniform(0.1, 1))})
    assert CocoScores(gt, perfect, ids, iou_type="segm").scores()["mAP"] == pytest.approx(1.0)
    value = CocoScores(gt, shifted, ids, iou_type="segm").scores()
    expected = pycocotools_stats(gt, shifted, iou_type="segm")
    assert value["mAP"] == pytest.approx(expected[0], abs=1e-12) and value["mAP"] < 0.9


def test_fidelity_of_the_reference_is_one():
    gt, results = synthetic(seed=7)
    records = {im["id"]: {"width": 64, "height": 64, "detections": [r for r in results if r["image_id"] == im["id"]]}
               for im in gt["images"]}
    truth = reference_ground_truth(records, threshold=0.3)
    assert all(a["iscrowd"] == 0 for a in truth["annotations"])
    assert len(truth["annotations"]) == sum(r["score"] >= 0.3 for r in results)
    ids = [im["id"] for im in gt["images"]]
    assert CocoScores(truth, results, ids).scores()["mAP"] == pytest.approx(1.0)
    worse = [dict(r, bbox=[r["bbox"][0] + 4, *r["bbox"][1:]]) for r in results]
    assert CocoScores(truth, worse, ids).scores()["mAP"] < 0.9


def test_bootstrap_weights_and_intervals():
    weights = bootstrap_weights(64, 200, seed=3)
    assert weights.shape == (200, 64) and (weights.sum(axis=1) == 64).all()
    assert (weights == bootstrap_weights(64, 200, seed=3)).all()
    assert not (weights == bootstrap_weights(64, 200, seed=4)).all()
    assert percentile_interval(np.arange(101), 0.9) == pytest.approx((5.0, 95.0))
    assert percentile_interval([np.nan, 1.0, 1.0]) == (1.0, 1.0)
    low, high = percentile_interval([np.nan])
    assert np.isnan(low) and np.isnan(high)


def test_bias_corrected_interval():
    samples = np.random.default_rng(0).normal(10.0, 1.0, 20000)
    # Replicates centred on the estimate: the BC interval is the percentile interval.
    assert percentile_interval(samples, 0.95, 10.0) == pytest.approx(percentile_interval(samples, 0.95), abs=0.02)
    assert percentile_interval(samples, 0.95, 10.0) == pytest.approx((10 - 1.96, 10 + 1.96), abs=0.05)
    # Replicates one unit above the estimate say the estimate is one unit too high: the BC interval is
    # centred on estimate - bias (the plain percentile interval would be centred on estimate + bias).
    low, high = percentile_interval(samples + 1.0, 0.95, 10.0)
    assert low == pytest.approx(9 - 1.96, abs=0.1) and high == pytest.approx(9 + 1.96, abs=0.1)
    assert percentile_interval([5.0] * 10, 0.95, 5.0) == (5.0, 5.0)


def test_pareto_and_isotonic():
    rates = [0.1, 0.2, 0.4, 0.8, 0.3]
    accuracy = [10.0, 14.0, 13.0, 16.0, 14.0]
    assert pareto_mask(rates, accuracy).tolist() == [True, True, False, True, False]
    fit = isotonic_fit(rates, accuracy)
    assert fit.tolist() == pytest.approx([10.0, 41 / 3, 41 / 3, 16.0, 41 / 3])
    assert isotonic_fit([1, 2, 3], [3.0, 2.0, 1.0]).tolist() == pytest.approx([2.0, 2.0, 2.0])


def test_count_macs_of_convolution_and_linear():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    _, macs = count_macs(conv, torch.zeros(1, 3, 10, 10))
    assert macs == 8 * 10 * 10 * 3 * 9
    depthwise = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
    _, macs = count_macs(depthwise, torch.zeros(1, 8, 10, 10))
    assert macs == 8 * 10 * 10 * 9
    linear = torch.nn.Linear(16, 4)
    _, macs = count_macs(linear, torch.zeros(5, 16))
    assert macs == 5 * 16 * 4
    with torch.no_grad():
        _, macs = count_macs(lambda x: torch.nn.functional.conv2d(x, torch.zeros(2, 1, 1, 1)), torch.zeros(1, 1, 4, 4))
    assert macs == 2 * 16
    assert kmac_per_pixel(2000, 10, 20) == pytest.approx(0.01)

"""Task fidelity: how well the detections on decoded data reproduce the detections on the original.

The reference detections (the task network on the uncompressed images) with a score of at least
``threshold`` become the "ground truth" of a COCO data set built in memory; the detections on decoded data
are scored against it with the same COCO mAP@[.5:.95]. No labels are needed, so it works on any photo
folder, and it is far less noisy than mAP on 64 labelled images: the network's own mistakes on the original
(which are the same for every codec) no longer count, only what the codec changed. The uncompressed
point scores 100 % by construction.
"""
from __future__ import annotations


def reference_ground_truth(reference: dict[int, dict], threshold: float) -> dict:
    """A COCO-format mapping from reference records ``{image_id: {"width", "height", "detections"}}``."""
    images, annotations, categories = [], [], set()
    next_id = 1
    for image_id in sorted(reference):
        record = reference[image_id]
        images.append({"id": int(image_id), "width": int(record["width"]), "height": int(record["height"])})
        for detection in record["detections"]:
            if detection["score"] < threshold:
                continue
            x, y, w, h = (float(v) for v in detection["bbox"])
            entry = {"id": next_id, "image_id": int(image_id), "category_id": int(detection["category_id"]),
                     "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0}
            if "segmentation" in detection:
                entry["segmentation"] = detection["segmentation"]
            annotations.append(entry)
            categories.add(int(detection["category_id"]))
            next_id += 1
    return {"images": images, "annotations": annotations,
            "categories": [{"id": c, "name": str(c)} for c in sorted(categories)]}

"""The CTC with a task network that returns instance masks: segmentation mAP (synthetic, no shared data)."""
import json

import numpy as np
import pytest
from PIL import Image

from icm.common.tasknet.base import Detections
from icm.common.tasknet.registry import TaskNetworkEntry, register_task_network
from icm.ctc_scripts.ctc.config import load_ctc_config
from icm.ctc_scripts.ctc.runner import run_ctc

SIZE = 64
OBJECTS = {  # image id -> [(category, x, y, w, h)]
    1: [(1, 5, 6, 20, 12), (3, 30, 30, 25, 20)],
    2: [(1, 10, 10, 30, 30)],
    3: [(2, 2, 40, 16, 16), (2, 40, 2, 12, 30), (1, 20, 20, 8, 8)],
}


class MaskNetwork:
    """Stands in for an instance-segmentation network: it 'recognises' each synthetic image by its
    background level and returns its objects' boxes and masks exactly (the second mask one pixel off)."""

    name, network_id = "test-masks", 250

    def __init__(self, input_size, device, **options):
        self.input_size, self.device = input_size, device

    def detect(self, rgb):
        objects = OBJECTS.get(int(rgb[0, 0, 0]) // 40, [])
        masks = np.zeros((len(objects), rgb.shape[0], rgb.shape[1]), bool)
        for index, (_, x, y, w, h) in enumerate(objects):
            masks[index, y:y + h, x:x + w] = True
        return_value = Detections(
            boxes=np.array([[x, y, w, h] for _, x, y, w, h in objects], np.float32).reshape(-1, 4),
            scores=np.linspace(0.9, 0.5, len(objects)).astype(np.float32),
            category_ids=np.array([c for c, *_ in objects], np.int64), labels=np.zeros(len(objects), np.int64))
        return_value.masks = masks
        return return_value


@pytest.fixture()
def mask_dataset(tmp_path):
    register_task_network(TaskNetworkEntry(250, "test-masks", (SIZE, SIZE), MaskNetwork))
    folder = tmp_path / "images"
    folder.mkdir()
    images, annotations = [], []
    for image_id, objects in OBJECTS.items():
        name = f"img{image_id}.png"
        Image.fromarray(np.full((SIZE, SIZE, 3), 40 * image_id, np.uint8)).save(folder / name)
        images.append({"id": image_id, "file_name": name, "width": SIZE, "height": SIZE})
        for category, x, y, w, h in objects:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": category,
                                "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0,
                                "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]})
    ground_truth = tmp_path / "instances.json"
    ground_truth.write_text(json.dumps({"images": images, "annotations": annotations,
                                        "categories": [{"id": c, "name": str(c)} for c in (1, 2, 3)]}))
    return folder, ground_truth


def test_segmentation_map_from_masks(mask_dataset, tmp_path):
    folder, ground_truth = mask_dataset
    values = {"name": "masks", "dataset": {"name": "synthetic", "images": str(folder), "annotations": str(ground_truth)},
              "task_network": "test-masks", "task_input_size": SIZE,
              "codecs": [{"name": "uncompressed", "tool": "uncompressed"}], "statistics": {"bootstrap": 20}}
    config = load_ctc_config(values=values, output=str(tmp_path / "out"))
    summary = run_ctc(config, progress=False)
    assert summary.computed == 3 + 1
    record = json.loads((tmp_path / "out" / "points" / "uncompressed" / "original" / "img1.json").read_text())
    assert all("segmentation" in d and d["segmentation"]["size"] == [SIZE, SIZE] for d in record["detections"])
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    point = report["points"][0]
    assert point["mAP"] == pytest.approx(100.0)
    assert point["segm_mAP"] == pytest.approx(100.0, abs=1e-6)
    assert point["segm_mAP50"] == pytest.approx(100.0, abs=1e-6)
    assert "segm_mAP" in (tmp_path / "out" / "points.csv").read_text().splitlines()[0]
    assert "(segm 100.0)" in (tmp_path / "out" / "report.md").read_text()

"""COCO evaluation helpers: empty results, perfect results, file-name -> id mapping."""
import json

import pytest

from icm.common.errors import InputError
from icm.common.tasknet.coco_eval import evaluate_detections, image_id_for, image_ids_by_file_name


@pytest.fixture()
def annotations(tmp_path):
    data = {
        "images": [{"id": 7, "file_name": "a.jpg", "width": 100, "height": 80},
                   {"id": 9, "file_name": "b.jpg", "width": 100, "height": 80}],
        "categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "bbox": [10, 10, 30, 40], "area": 1200, "iscrowd": 0},
            {"id": 2, "image_id": 9, "category_id": 3, "bbox": [50, 20, 40, 30], "area": 1200, "iscrowd": 0},
        ],
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    return path


def test_empty_results_score_zero(annotations, capsys):
    scores = evaluate_detections([], annotations, [7, 9])
    assert scores["mAP"] == 0.0 and scores["mAP50"] == 0.0
    assert capsys.readouterr().out == ""


def test_perfect_results_score_one_and_are_silent(annotations, capsys):
    results = [{"image_id": 7, "category_id": 1, "bbox": [10, 10, 30, 40], "score": 0.9},
               {"image_id": 9, "category_id": 3, "bbox": [50, 20, 40, 30], "score": 0.8}]
    scores = evaluate_detections(results, annotations)
    assert scores["mAP"] == pytest.approx(1.0) and scores["mAP50"] == pytest.approx(1.0)
    # Only image 7 evaluated: the detection on image 9 is ignored.
    assert evaluate_detections(results[:1] + results[1:], annotations, [7])["mAP"] == pytest.approx(1.0)
    assert capsys.readouterr().out == ""


def test_file_name_mapping(annotations):
    ids = image_ids_by_file_name(annotations)
    assert ids == {"a.jpg": 7, "b.jpg": 9}
    assert image_id_for("/some/folder/b.jpg", ids) == 9
    with pytest.raises(InputError):
        image_id_for("c.jpg", ids)
    with pytest.raises(InputError):
        evaluate_detections([], annotations, [123])

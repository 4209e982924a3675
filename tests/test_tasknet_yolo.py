"""Yolo-Fastest split task network on real coco-val-dev images (skipped without shared/)."""
import numpy as np
import pytest
import torch
from PIL import Image

from icm.common.errors import ConfigError, InputError
from icm.common.paths import coco_val_dev
from icm.common.tasknet import FeatureSpec, TaskNetwork, load_task_network, resolve_task_network
from icm.common.tasknet.coco_eval import evaluate_detections, image_ids_by_file_name

# Measured on the first 8 coco-val-dev images at 320x320 (conf 0.005, NMS IoU 0.5):
# XL mAP@[.5:.95] 25.1, mAP@0.5 47.5. The thresholds leave a wide margin yet catch broken decoding.
MIN_MAP, MIN_MAP50 = 0.15, 0.35


def _read(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@pytest.fixture(scope="module")
def xl(shared) -> TaskNetwork:
    return load_task_network("yolo-fastest-1.1-xl")


@pytest.fixture(scope="module")
def val_images(shared):
    image_dir, annotations = coco_val_dev()
    return sorted(image_dir.glob("*.jpg")), annotations


def test_split_equals_unsplit_forward(xl, val_images):
    rgb = _read(val_images[0][0])
    x = xl.preprocess(rgb)
    with torch.no_grad():
        features = xl.part1(x)
        split = xl.part2_raw(features)
        full = xl.forward_unsplit(x)
    assert len(split) == len(full) == 2
    for a, b in zip(split, full):
        assert torch.equal(a, b)
    detections = xl.part2(features, (rgb.shape[1], rgb.shape[0]))
    direct = xl.detect(rgb)
    assert np.array_equal(detections.boxes, direct.boxes) and np.array_equal(detections.scores, direct.scores)


@pytest.mark.parametrize("size", [(320, 320), (416, 256)])
def test_feature_specs_match_part1_shapes(shared, size):
    net = load_task_network(1, input_size=size)
    specs = net.feature_specs()
    with torch.no_grad():
        features = net.part1(torch.rand(1, 3, size[1], size[0]))
    assert [tuple(f.shape) for f in features] == [spec.shape for spec in specs]
    assert [spec.stride for spec in specs] == [16, 32]
    assert [(spec.height, spec.width) for spec in specs] == [(size[1] // 16, size[0] // 16),
                                                            (size[1] // 32, size[0] // 32)]


def test_xl_split_tensors_at_320(xl):
    assert xl.input_size == (320, 320)
    assert xl.feature_specs() == [FeatureSpec("s16", 48, 20, 20, 16), FeatureSpec("s32", 96, 10, 10, 32)]
    assert xl.split_layers == [80, 108]


def test_detections_are_sane(xl, val_images):
    paths, annotations = val_images
    ids = image_ids_by_file_name(annotations)
    results = []
    for path in paths[:8]:
        rgb = _read(path)
        detections = xl.detect(rgb)
        assert 0 < len(detections) <= 100
        assert np.all(detections.scores[:-1] >= detections.scores[1:])
        boxes = detections.boxes
        assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2:] >= 0)
        assert np.all(boxes[:, 0] + boxes[:, 2] <= rgb.shape[1] + 1e-3)
        assert np.all(boxes[:, 1] + boxes[:, 3] <= rgb.shape[0] + 1e-3)
        results.extend(detections.to_coco_results(ids[path.name]))
    scores = evaluate_detections(results, annotations, [ids[p.name] for p in paths[:8]])
    assert scores["mAP"] > MIN_MAP and scores["mAP50"] > MIN_MAP50


def test_registry_and_input_checks(xl):
    assert resolve_task_network(1).name == "yolo-fastest-1.1-xl"
    assert resolve_task_network("2").name == "yolo-fastest-1.1"
    assert resolve_task_network("yolo-fastest-1.1").network_id == 2
    assert xl.network_id == 1
    with pytest.raises(ConfigError):
        resolve_task_network("faster-rcnn-x101")
    with pytest.raises(ConfigError):
        load_task_network(1, input_size=(330, 320))
    with pytest.raises(InputError):
        xl.preprocess(np.zeros((10, 10), dtype=np.uint8))
    with pytest.raises(InputError):
        xl.preprocess(np.zeros((10, 10, 3), dtype=np.float32))
    with pytest.raises(ValueError):
        xl.part2_raw([torch.zeros(1, 48, 20, 20)])


def test_small_model_loads_and_splits(shared):
    net = load_task_network("yolo-fastest-1.1")
    specs = net.feature_specs()
    with torch.no_grad():
        x = torch.rand(1, 3, 320, 320)
        features = net.part1(x)
        assert [tuple(f.shape) for f in features] == [s.shape for s in specs]
        for a, b in zip(net.part2_raw(features), net.forward_unsplit(x)):
            assert torch.equal(a, b)

"""Per-class NMS against a brute-force reference, and YOLO decoding against darknet's formulas."""
import math

import pytest
import torch

from icm.common.tasknet.nms import batched_nms, box_iou, nms
from icm.common.tasknet.yolo_decode import PostprocessConfig, YoloHead, decode_yolo_head, postprocess_yolo


def _iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _brute_force_nms(boxes, scores, classes, threshold):
    """Textbook greedy per-class NMS in pure Python."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    kept = []
    for i in order:
        if all(classes[k] != classes[i] or _iou(boxes[k], boxes[i]) <= threshold for k in kept):
            kept.append(i)
    return kept


def _random_boxes(generator, count, extent=100.0):
    xy = torch.rand(count, 2, generator=generator) * extent
    wh = torch.rand(count, 2, generator=generator) * extent / 3 + 1
    return torch.cat([xy, xy + wh], dim=1)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_batched_nms_matches_brute_force(seed, threshold):
    generator = torch.Generator().manual_seed(seed)
    count = 300
    boxes = _random_boxes(generator, count)
    scores = torch.rand(count, generator=generator)
    scores[::7] = scores[3]  # ties: resolved by index
    classes = torch.randint(0, 4, (count,), generator=generator)
    kept = batched_nms(boxes, scores, classes, threshold).tolist()
    assert kept == _brute_force_nms(boxes.tolist(), scores.tolist(), classes.tolist(), threshold)


def test_nms_single_class_and_empty():
    generator = torch.Generator().manual_seed(9)
    boxes = _random_boxes(generator, 120)
    scores = torch.rand(120, generator=generator)
    assert nms(boxes, scores, 0.5).tolist() == _brute_force_nms(boxes.tolist(), scores.tolist(), [0] * 120, 0.5)
    empty = torch.zeros(0, 4)
    assert batched_nms(empty, torch.zeros(0), torch.zeros(0, dtype=torch.long), 0.5).numel() == 0


def test_box_iou_matches_brute_force():
    generator = torch.Generator().manual_seed(3)
    a, b = _random_boxes(generator, 20), _random_boxes(generator, 30)
    a[0] = torch.tensor([5.0, 5.0, 5.0, 9.0])  # zero area
    expected = torch.tensor([[_iou(x, y) for y in b.tolist()] for x in a.tolist()])
    assert torch.allclose(box_iou(a, b), expected, atol=1e-6)


def test_decode_matches_darknet_formulas():
    head = YoloHead(anchors=((10.0, 20.0), (30.0, 40.0)), classes=3, scale_x_y=1.1)
    raw = torch.randn(1, 2 * 8, 4, 5)
    boxes, scores = decode_yolo_head(raw, head, net_size=(160, 128))
    assert boxes.shape == (2 * 4 * 5, 4) and scores.shape == (40, 3)
    anchor, row, col = 1, 2, 3
    t = raw[0, anchor * 8:(anchor + 1) * 8, row, col]
    sig = torch.sigmoid
    index = (anchor * 4 + row) * 5 + col
    expected = [(col + sig(t[0]).item() * 1.1 - 0.05) / 5, (row + sig(t[1]).item() * 1.1 - 0.05) / 4,
                math.exp(t[2].item()) * 30 / 160, math.exp(t[3].item()) * 40 / 128]
    assert torch.allclose(boxes[index], torch.tensor(expected), atol=1e-6)
    assert torch.allclose(scores[index], sig(t[4]) * sig(t[5:]), atol=1e-7)


def test_postprocess_threshold_topk_and_image_coords():
    head = YoloHead(anchors=((16.0, 16.0),), classes=2)
    raw = torch.full((1, 7, 2, 2), -20.0)
    raw[0, 0:2] = 0.0  # box centres at the middle of each cell
    raw[0, 2:4] = 0.0  # exp(0) * 16 / 32 = half the input
    raw[0, 4, 0, 0] = 20.0  # a confident object in cell (0, 0) ...
    raw[0, 5, 0, 0] = 20.0  # ... of class 0
    boxes, scores, labels = postprocess_yolo([raw], [head], (32, 32), (200, 100), PostprocessConfig(0.5, 0.5, 10))
    assert labels.tolist() == [0] and scores.tolist() == pytest.approx([1.0])
    # centre (0.25, 0.25), size 0.5 x 0.5 of a 200 x 100 image -> clipped at the top-left corner
    assert boxes.tolist() == [pytest.approx([0.0, 0.0, 100.0, 50.0])]
    _, scores, _ = postprocess_yolo([torch.zeros(1, 7, 2, 2)], [head], (32, 32), (200, 100),
                                    PostprocessConfig(0.1, 0.5, 3))
    assert len(scores) == 3  # 8 disjoint candidates (4 cells x 2 classes) of score 0.25; the top 3 kept

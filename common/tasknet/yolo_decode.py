"""Darknet YOLO head decoding and detection post-processing (threshold, per-class NMS, top-k).

Decoding follows darknet's ``[yolo]`` layer (``get_yolo_detections`` without letterbox):

- centre ``x = (i + sigmoid(tx) * s - (s - 1) / 2) / grid_w`` (``s`` = ``scale_x_y``), same for y;
- size ``w = exp(tw) * anchor_w / net_w``, ``h = exp(th) * anchor_h / net_h``
  (``new_coords=1`` heads: ``x = (i + tx * s - (s - 1) / 2) / grid_w``, ``w = (2 tw)^2 anchor_w / net_w``);
- score of class ``k`` = ``sigmoid(obj) * sigmoid(cls_k)``; every (box, class) pair above the
  confidence threshold is a candidate (multi-label, as darknet's COCO output).

Boxes are relative to the network input, which is a plain (non-letterboxed) resize of the
image, so multiplying by the original width/height maps them back to image pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .nms import batched_nms


@dataclass(frozen=True)
class YoloHead:
    """Decoding parameters of one ``[yolo]`` output."""

    anchors: tuple[tuple[float, float], ...]  # (w, h) in network-input pixels, for this head's mask
    classes: int
    scale_x_y: float = 1.0
    new_coords: bool = False


@dataclass(frozen=True)
class PostprocessConfig:
    """Detection post-processing settings (see docs/tasknet.md for the choice)."""

    conf_threshold: float = 0.005   # darknet's threshold for mAP; keeps the low-score tail for AP
    nms_iou: float = 0.5            # darknet uses 0.45; 0.5 scored higher on coco-val-dev (docs)
    max_detections: int = 100       # COCO evaluates at most 100 detections per image


def decode_yolo_head(raw: torch.Tensor, head: YoloHead, net_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode one raw head output ``1 x A*(5+C) x H x W``.

    Returns ``(boxes, class_scores)``: ``boxes`` ``N x 4`` as relative ``(cx, cy, w, h)`` and
    ``class_scores`` ``N x C`` = objectness * class probability, with ``N = A * H * W``.
    """
    if raw.dim() != 4 or raw.shape[0] != 1:
        raise ValueError(f"expected a 1 x C x H x W head output, got {tuple(raw.shape)}")
    num_anchors = len(head.anchors)
    _, channels, grid_h, grid_w = raw.shape
    if channels != num_anchors * (head.classes + 5):
        raise ValueError(f"head output has {channels} channels, expected {num_anchors} x ({head.classes} + 5)")
    net_w, net_h = net_size
    pred = raw.float().view(num_anchors, head.classes + 5, grid_h, grid_w)
    grid_y, grid_x = torch.meshgrid(torch.arange(grid_h, device=raw.device, dtype=pred.dtype),
                                    torch.arange(grid_w, device=raw.device, dtype=pred.dtype), indexing="ij")
    anchors = torch.tensor(head.anchors, device=raw.device, dtype=pred.dtype)
    anchor_w = anchors[:, 0].view(-1, 1, 1)
    anchor_h = anchors[:, 1].view(-1, 1, 1)
    scale, shift = head.scale_x_y, (head.scale_x_y - 1.0) / 2.0
    if head.new_coords:  # the conv before the head already applied the logistic activation
        cx = (pred[:, 0] * scale - shift + grid_x) / grid_w
        cy = (pred[:, 1] * scale - shift + grid_y) / grid_h
        w = (2.0 * pred[:, 2]) ** 2 * anchor_w / net_w
        h = (2.0 * pred[:, 3]) ** 2 * anchor_h / net_h
        objectness, class_prob = pred[:, 4], pred[:, 5:]
    else:
        cx = (torch.sigmoid(pred[:, 0]) * scale - shift + grid_x) / grid_w
        cy = (torch.sigmoid(pred[:, 1]) * scale - shift + grid_y) / grid_h
        w = torch.exp(pred[:, 2]) * anchor_w / net_w
        h = torch.exp(pred[:, 3]) * anchor_h / net_h
        objectness, class_prob = torch.sigmoid(pred[:, 4]), torch.sigmoid(pred[:, 5:])
    boxes = torch.stack([cx, cy, w, h], dim=-1).reshape(-1, 4)             # (A*H*W, 4)
    scores = (objectness[:, None] * class_prob).permute(0, 2, 3, 1).reshape(-1, head.classes)
    return boxes, scores


def postprocess_yolo(raw_outputs: list[torch.Tensor], heads: list[YoloHead], net_size: tuple[int, int],
                     image_size: tuple[int, int], config: PostprocessConfig):
    """Decode all heads and keep the best detections.

    Returns ``(boxes_xywh, scores, class_indices)`` on the CPU: boxes are ``x, y, w, h`` (top-left
    corner) in pixels of the original ``image_size = (width, height)``, clipped to the image.
    """
    decoded = [decode_yolo_head(raw, head, net_size) for raw, head in zip(raw_outputs, heads, strict=True)]
    rel_boxes = torch.cat([boxes for boxes, _ in decoded]).cpu()
    class_scores = torch.cat([scores for _, scores in decoded]).cpu()
    box_index, class_index = torch.nonzero(class_scores > config.conf_threshold, as_tuple=True)
    scores = class_scores[box_index, class_index]

    image_w, image_h = image_size
    cx, cy, w, h = rel_boxes[box_index].unbind(dim=1)
    xyxy = torch.stack([(cx - w / 2) * image_w, (cy - h / 2) * image_h,
                        (cx + w / 2) * image_w, (cy + h / 2) * image_h], dim=1)
    # As darknet: NMS on the unclipped boxes, clipping to the image only for the output.
    keep = batched_nms(xyxy, scores, class_index, config.nms_iou)[:config.max_detections]
    xyxy, scores, class_index = xyxy[keep], scores[keep], class_index[keep]
    limits = torch.tensor([image_w, image_h, image_w, image_h], dtype=xyxy.dtype)
    xyxy = torch.minimum(xyxy.clamp(min=0), limits)
    xywh = torch.cat([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], dim=1)
    return xywh, scores, class_index

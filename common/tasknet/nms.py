"""Greedy non-maximum suppression in plain PyTorch (no torchvision).

Boxes are ``(x1, y1, x2, y2)``. Suppression is darknet's / torchvision's: boxes are visited in
decreasing score (ties: lower index first) and a box is dropped when its IoU with an already kept
box of the same class is strictly greater than ``iou_threshold``.
"""
from __future__ import annotations

import numpy as np
import torch


def box_iou(boxes_a: torch.Tensor, boxes_b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU (``len(a)`` x ``len(b)``) of two sets of xyxy boxes; empty boxes give IoU 0."""
    area_a = (boxes_a[:, 2] - boxes_a[:, 0]).clamp(min=0) * (boxes_a[:, 3] - boxes_a[:, 1]).clamp(min=0)
    area_b = (boxes_b[:, 2] - boxes_b[:, 0]).clamp(min=0) * (boxes_b[:, 3] - boxes_b[:, 1]).clamp(min=0)
    top_left = torch.maximum(boxes_a[:, None, :2], boxes_b[None, :, :2])
    bottom_right = torch.minimum(boxes_a[:, None, 2:], boxes_b[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=torch.finfo(union.dtype).tiny),
                       torch.zeros_like(inter))


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices of the boxes kept by greedy NMS, in decreasing score order."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    sorted_boxes = boxes[order]
    overlaps = (box_iou(sorted_boxes, sorted_boxes) > iou_threshold).cpu().numpy()
    suppressed = np.zeros(len(order), dtype=bool)
    kept = []
    for rank in range(len(order)):
        if suppressed[rank]:
            continue
        kept.append(rank)
        suppressed |= overlaps[rank]  # only later ranks matter: earlier ones are decided
    return order[torch.as_tensor(kept, dtype=torch.long, device=order.device)]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor,
                iou_threshold: float) -> torch.Tensor:
    """Per-class NMS: boxes of different classes never suppress each other.

    Returns the kept indices sorted by decreasing score (ties: lower index first).
    """
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    kept = [members[nms(boxes[members], scores[members], iou_threshold)]
            for members in (torch.nonzero(classes == value).flatten() for value in torch.unique(classes))]
    kept = torch.cat(kept)
    # Sort the union by score, breaking ties by index, so the result does not depend on class order.
    kept = kept[torch.sort(kept).indices]
    return kept[torch.sort(scores[kept], descending=True, stable=True).indices]

"""The task-aware distortion of ``mfc``: how far the detector's raw outputs on decoded features are from its
outputs on the original ones. Used by training (``ctc_scripts/training/train_mfc.py``) and by the encoder's latent
refinement (``encoder/mfc_refine.py``), so both optimise the same thing."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _bernoulli_kl(logit_hat: torch.Tensor, logit_ref: torch.Tensor) -> torch.Tensor:
    """KL(Bernoulli(sigmoid(ref)) || Bernoulli(sigmoid(hat))), from logits, elementwise."""
    p = torch.sigmoid(logit_ref)
    return p * (F.softplus(-logit_hat) - F.softplus(-logit_ref)) + (1 - p) * (F.softplus(logit_hat) -
                                                                            F.softplus(logit_ref))


def task_distortion(raw_hat: list[torch.Tensor], raw_ref: list[torch.Tensor], anchors: int = 3,
                    per_picture: bool = False) -> torch.Tensor:
    """Distillation distance between the detector's raw head outputs on decoded and on original features,
    summed over the cells of a picture and averaged over the batch (``per_picture``: one value per picture).

    Objectness: Bernoulli KL from the original's probability to the decoded one's; classes: the same per
    class, weighted by the original's objectness probability ``w``; boxes: squared error of the sigmoid
    offsets and of the log sizes, weighted by ``w``. (A mean of squared logit errors over all cells was
    tried first: it rates "no object anywhere" as good, and its models lost most of the mAP.)
    """
    total = 0.0
    for h, r in zip(raw_hat, raw_ref):
        b, c, height, width = r.shape
        h = h.view(b, anchors, c // anchors, height, width)
        r = r.view(b, anchors, c // anchors, height, width)
        w = torch.sigmoid(r[:, :, 4:5])
        xy = (torch.sigmoid(h[:, :, :2]) - torch.sigmoid(r[:, :, :2])) ** 2
        wh = (h[:, :, 2:4] - r[:, :, 2:4]) ** 2
        terms = (_bernoulli_kl(h[:, :, 4:5], r[:, :, 4:5]), w * _bernoulli_kl(h[:, :, 5:], r[:, :, 5:]),
                 w * (xy.sum(2, keepdim=True) + wh.sum(2, keepdim=True)))
        if per_picture:
            total = total + sum(t.flatten(1).sum(1) for t in terms)
        else:
            total = total + sum(t.sum() for t in terms) / b
    return total

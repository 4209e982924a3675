"""The task network's view of a decoded picture, as a differentiable map for encoder-side searches.

A tool that codes a picture at a coded size other than the original's hands the task network a picture that has
gone through two resizes the coded picture never sees: the decoder's resize back to the original size (the
suite's bicubic, ``common/resample.py``) and the task network's own input resize (its ``resize_input``,
``common/tasknet``). Fine detail that a search adds for the network at the coded size is partly filtered out on
that way. :class:`TaskView` is that path for float pictures: the decoder's resize as the linear maps of its
filter taps (Pillow's bicubic, the same taps, without the 8-bit rounding between and after the passes), then
the network's resize, so that a search can
lower the task distortion the network will actually have. An identity where the sizes agree.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..common.resample import PRECISION_BITS, filter_taps


class TaskView:
    """``x_hat`` (``N x 3 x coded_h x coded_w``) -> the task network's input, after the decoder's resize to
    ``original = (width, height)`` with ``filter`` and the network's ``resize_input``."""

    def __init__(self, coded: tuple[int, int], original: tuple[int, int],
                 resize_input: Callable[[torch.Tensor], torch.Tensor], filter: str = "bicubic",
                 device: str | torch.device = "cpu"):
        (coded_w, coded_h), (width, height) = coded, original
        self.resize_input = resize_input
        self.across = self._taps(coded_w, width, filter, device)   # coded_w x width, or None
        self.down = self._taps(coded_h, height, filter, device)    # coded_h x height, or None

    @staticmethod
    def _taps(in_size: int, out_size: int, filter: str, device) -> torch.Tensor | None:
        if in_size == out_size:
            return None
        taps = filter_taps(in_size, out_size, filter)
        return torch.from_numpy(taps).to(device=device, dtype=torch.float32) / (1 << PRECISION_BITS)

    def __call__(self, x_hat: torch.Tensor) -> torch.Tensor:
        picture = x_hat
        if self.across is not None:  # horizontal pass first, as the decoder's resize
            picture = picture @ self.across
        if self.down is not None:
            picture = (picture.transpose(-1, -2) @ self.down).transpose(-1, -2)
        return self.resize_input(picture)

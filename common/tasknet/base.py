"""The task-network interface used by the codec for split inference.

A task network is cut in two: ``part1`` (image -> intermediate feature tensors, run before the
encoder) and ``part2`` (decoded feature tensors -> detections, run after the decoder). The codec
only relies on this interface and on :meth:`TaskNetwork.feature_specs`, so other networks
(e.g. Faster/Mask R-CNN with FPN levels P2..P5) plug in by subclassing :class:`TaskNetwork` and
registering themselves in :mod:`.registry`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError


@dataclass(frozen=True)
class FeatureSpec:
    """Shape of one split tensor (batch 1): ``channels x height x width`` at ``stride`` pixels of
    the network input per feature sample."""

    name: str
    channels: int
    height: int
    width: int
    stride: int

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (1, self.channels, self.height, self.width)


@dataclass
class Detections:
    """Detections of one image, best first.

    ``boxes``: ``N x 4`` float32 ``x, y, w, h`` (top-left corner, size) in pixels of the ORIGINAL
    image; ``scores``: ``N`` float32; ``category_ids``: ``N`` int64 COCO category ids;
    ``labels``: ``N`` int64 class indices of the network.
    """

    boxes: np.ndarray
    scores: np.ndarray
    category_ids: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    def to_coco_results(self, image_id: int) -> list[dict]:
        """COCO results-format entries (``image_id``, ``category_id``, ``bbox``, ``score``)."""
        return [{"image_id": int(image_id), "category_id": int(category),
                 "bbox": [round(float(v), 3) for v in box], "score": round(float(score), 6)}
                for box, score, category in zip(self.boxes, self.scores, self.category_ids)]


def check_rgb_image(rgb: np.ndarray) -> None:
    """Raise InputError unless ``rgb`` is an ``H x W x 3`` uint8 array."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        described = (f"{rgb.dtype} array of shape {rgb.shape}" if isinstance(rgb, np.ndarray)
                     else type(rgb).__name__)
        raise InputError(f"expected an H x W x 3 uint8 RGB image, got {described}")
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise InputError(f"empty image of shape {rgb.shape}")


class TaskNetwork(ABC):
    """A detector split into part 1 (before the codec) and part 2 (after the codec).

    Subclasses set ``name``, ``network_id``, ``input_size`` (W, H) and ``device`` and implement
    the abstract methods. All tensors are batch 1; features are float tensors.
    """

    name: str
    network_id: int
    input_size: tuple[int, int]
    device: torch.device

    # -- split description ------------------------------------------------------------------------

    @abstractmethod
    def feature_specs(self, image_size: tuple[int, int] | None = None) -> list[FeatureSpec]:
        """Shapes of the split tensors, in the order ``part1`` returns them.

        Networks with a fixed input size (YOLO) ignore ``image_size``; networks whose input size
        follows the image (R-CNN style, aspect-preserving resize) need it as ``(width, height)``.
        """

    # -- inference --------------------------------------------------------------------------------

    @abstractmethod
    def preprocess(self, rgb: np.ndarray) -> torch.Tensor:
        """``H x W x 3`` uint8 RGB image -> network input ``1 x 3 x h x w`` on ``device``."""

    @abstractmethod
    def resize_input(self, x: torch.Tensor) -> torch.Tensor:
        """The resize of :meth:`preprocess` on float pictures ``N x 3 x H x W`` in [0, 1] (differentiable, on
        ``x``'s device): what an encoder-side search puts its decoded picture through."""

    @abstractmethod
    def part1(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Network input -> the split tensors (see :meth:`feature_specs`)."""

    @abstractmethod
    def part2_raw(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """Split tensors (a batch of pictures: N x C x H x W each) -> the raw head outputs (before decoding / NMS)."""

    @abstractmethod
    def forward_unsplit(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The whole network in one pass, without the split: must equal ``part2_raw(part1(x))``."""

    @abstractmethod
    def postprocess(self, raw_outputs: list[torch.Tensor], image_size: tuple[int, int]) -> Detections:
        """Raw head outputs -> detections in the coordinates of the ``(width, height)`` image."""

    def part2(self, features: list[torch.Tensor], image_size: tuple[int, int]) -> Detections:
        """Split tensors (e.g. decoded by the codec) -> detections for an image of ``image_size``."""
        return self.postprocess(self.part2_raw(features), image_size)

    def detect(self, rgb: np.ndarray) -> Detections:
        """Unsplit convenience path: image -> detections (same result as part 1 then part 2)."""
        check_rgb_image(rgb)
        image_size = (rgb.shape[1], rgb.shape[0])
        with torch.no_grad():
            return self.part2(self.part1(self.preprocess(rgb)), image_size)

    def check_features(self, features: list[torch.Tensor], image_size: tuple[int, int] | None = None,
                       batch: bool = False) -> None:
        """Raise ValueError unless ``features`` match :meth:`feature_specs` in number and shape (with ``batch``,
        any number of pictures, the same in every tensor)."""
        specs = self.feature_specs(image_size)
        if len(features) != len(specs):
            raise ValueError(f"{self.name}: expected {len(specs)} feature tensors, got {len(features)}")
        pictures = features[0].shape[0] if batch and features[0].dim() else 1
        for spec, tensor in zip(specs, features):
            if tuple(tensor.shape) != (pictures, *spec.shape[1:]):
                raise ValueError(f"{self.name}: feature '{spec.name}' must have shape {spec.shape}, "
                                 f"got {tuple(tensor.shape)}")

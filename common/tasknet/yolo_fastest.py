"""Yolo-Fastest 1.1 (darknet) as a split task network.

Split point (see docs/tasknet.md): part 1 is the whole backbone, up to and including the last
stride-32 shortcut (darknet layer 108 in both cfgs); part 2 is SPP + the two-level feature
pyramid + the two YOLO heads. The split tensors are the backbone outputs that part 2 reads:

=========  ==============  ====================  =====================================
name       darknet layer   XL at 320x320         role
=========  ==============  ====================  =====================================
``s16``    80 (shortcut)   48 x 20 x 20, /16     lateral input of the stride-16 head
``s32``    108 (shortcut)  96 x 10 x 10, /32     input of SPP / the stride-32 head
=========  ==============  ====================  =====================================

The split layer is found from the cfg (the layer before the first ``[route]`` or stride-1
``[maxpool]``, i.e. where SPP starts) and the split tensors are exactly the outputs of part-1
layers that part-2 layers read, so ``part2_raw(part1(x))`` is the full network bit for bit.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import paths
from ..errors import ConfigError, ResourceError
from .base import Detections, FeatureSpec, TaskNetwork, check_rgb_image
from .darknet import DarknetNet, MaxPoolLayer, RouteLayer, YoloLayer, load_darknet
from .registry import TaskNetworkEntry, register_task_network
from .yolo_decode import PostprocessConfig, YoloHead, postprocess_yolo

CATEGORY_MAP_FILE = ("data", "yolo80_to_coco91_ids.json")


def load_category_ids(path: str | Path | None = None) -> list[int]:
    """COCO category id of each class index 0..79 (from ``yolo80_to_coco91_ids.json``)."""
    path = Path(path) if path is not None else paths.shared_path(*CATEGORY_MAP_FILE)
    try:
        mapping = json.loads(Path(path).read_text())
        return [int(mapping[str(index)]) for index in range(len(mapping))]
    except (OSError, ValueError, KeyError) as exc:
        raise ResourceError(f"bad class -> COCO category map {path}: {exc}") from None


def resize_rgb(rgb: np.ndarray, size: tuple[int, int], device: torch.device) -> torch.Tensor:
    """uint8 ``H x W x 3`` -> float ``1 x 3 x h x w`` in [0, 1] at ``size = (w, h)``.

    Plain bilinear resize with half-pixel centres and no antialiasing, as OpenCV's INTER_LINEAR
    used by darknet (no letterbox, aspect ratio not kept).
    """
    x = torch.from_numpy(np.array(rgb, dtype=np.uint8, copy=True)).to(device).permute(2, 0, 1)[None].float() / 255.0
    return resize_tensor(x, size)


def resize_tensor(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The resize of :func:`resize_rgb` on float pictures ``N x 3 x H x W`` (differentiable)."""
    width, height = size
    if x.shape[-2:] == (height, width):
        return x
    return F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False, antialias=False)


def find_backbone_end(net: DarknetNet) -> int:
    """Index of the last backbone layer: the one before the first ``[route]`` or stride-1
    ``[maxpool]`` (the start of SPP / the feature pyramid)."""
    for layer in net.layers:
        if isinstance(layer, RouteLayer) or (isinstance(layer, MaxPoolLayer) and layer.stride == 1):
            return layer.index - 1
    raise ResourceError(f"{net.source}: cannot find where the backbone ends (no [route] / SPP)")


class YoloFastest(TaskNetwork):
    """A darknet YOLO detector split after its backbone."""

    def __init__(self, name: str, network_id: int, cfg_path: str | Path, weights_path: str | Path,
                 category_ids: list[int], input_size: tuple[int, int], device: torch.device | str = "cpu",
                 conf_threshold: float | None = None, nms_iou: float | None = None,
                 max_detections: int | None = None):
        self.name = name
        self.network_id = network_id
        self.device = torch.device(device)
        self.net = load_darknet(cfg_path, weights_path).to(self.device).requires_grad_(False)
        self.heads = [YoloHead(tuple(layer.anchors), layer.classes, layer.scale_x_y, layer.new_coords)
                      for layer in self.net.layers if isinstance(layer, YoloLayer)]
        if any(head.classes != len(category_ids) for head in self.heads):
            raise ResourceError(f"{name}: heads predict {self.heads[0].classes} classes, the category map "
                                f"has {len(category_ids)}")
        self.category_ids = np.asarray(category_ids, dtype=np.int64)
        defaults = PostprocessConfig()
        self.postprocess_config = PostprocessConfig(
            conf_threshold=defaults.conf_threshold if conf_threshold is None else float(conf_threshold),
            nms_iou=defaults.nms_iou if nms_iou is None else float(nms_iou),
            max_detections=defaults.max_detections if max_detections is None else int(max_detections))
        self.split_after = find_backbone_end(self.net)
        self.split_layers = self.net.crossing_outputs(self.split_after)
        self.total_stride = self._total_stride()
        width, height = (int(v) for v in input_size)
        if width < 1 or height < 1 or width % self.total_stride or height % self.total_stride:
            raise ConfigError(f"{name}: input size {width}x{height} must be positive multiples of "
                              f"{self.total_stride}")
        self.input_size = (width, height)

    def _total_stride(self) -> int:
        """Largest downsampling factor inside the network (input sizes must be its multiples)."""
        shapes = self.net.output_shapes(self.net.width, self.net.height)
        return max(self.net.height // h for _, h, _ in shapes)

    # -- split description ------------------------------------------------------------------------

    def feature_specs(self, image_size: tuple[int, int] | None = None) -> list[FeatureSpec]:
        width, height = self.input_size
        shapes = self.net.output_shapes(width, height)
        specs = []
        for index in self.split_layers:
            channels, feat_h, feat_w = shapes[index]
            stride = height // feat_h
            specs.append(FeatureSpec(f"s{stride}", channels, feat_h, feat_w, stride))
        return specs

    # -- inference --------------------------------------------------------------------------------

    def preprocess(self, rgb: np.ndarray) -> torch.Tensor:
        check_rgb_image(rgb)
        return resize_rgb(rgb, self.input_size, self.device)

    def resize_input(self, x: torch.Tensor) -> torch.Tensor:
        return resize_tensor(x, self.input_size)

    def part1(self, x: torch.Tensor) -> list[torch.Tensor]:
        width, height = self.input_size
        if tuple(x.shape) != (1, self.net.channels, height, width):
            raise ValueError(f"{self.name}: input must be 1 x {self.net.channels} x {height} x {width}, "
                             f"got {tuple(x.shape)}")
        cache = self.net.run({-1: x.to(self.device)}, 0, self.split_after + 1, keep=set(self.split_layers))
        return [cache[index] for index in self.split_layers]

    def part2_raw(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """The raw head outputs of split tensors; a batch of pictures (N x C x H x W each) gives N rows."""
        self.check_features(features, batch=True)
        cache = {index: tensor.to(self.device, torch.float32) for index, tensor in zip(self.split_layers, features)}
        cache = self.net.run(cache, self.split_after + 1, len(self.net.layers), keep=set(self.net.output_indices))
        return [cache[index] for index in self.net.output_indices]

    def forward_unsplit(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.net(x.to(self.device))

    def postprocess(self, raw_outputs: list[torch.Tensor], image_size: tuple[int, int]) -> Detections:
        boxes, scores, labels = postprocess_yolo(raw_outputs, self.heads, self.input_size, image_size,
                                                 self.postprocess_config)
        labels = labels.numpy().astype(np.int64)
        return Detections(boxes=boxes.numpy().astype(np.float32), scores=scores.numpy().astype(np.float32),
                          category_ids=self.category_ids[labels], labels=labels)


def _yolo_fastest_factory(network_id: int, name: str):
    def build(input_size: tuple[int, int], device: torch.device, **options) -> YoloFastest:
        cfg_path, weights_path = paths.detector_files(name)
        return YoloFastest(name, network_id, cfg_path, weights_path, load_category_ids(),
                           input_size=input_size, device=device, **options)
    return build


# Default input sizes: chosen by mAP@[.5:.95] on coco-val-dev, see docs/tasknet.md.
for _id, _name, _size, _text in [
        (1, "yolo-fastest-1.1-xl", (320, 320), "Yolo-Fastest 1.1 XL, darknet, 0.92 M params, COCO 80 classes"),
        (2, "yolo-fastest-1.1", (320, 320), "Yolo-Fastest 1.1, darknet, 0.35 M params, COCO 80 classes")]:
    register_task_network(TaskNetworkEntry(_id, _name, _size, _yolo_fastest_factory(_id, _name), _text))

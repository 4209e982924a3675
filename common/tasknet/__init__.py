"""Task networks for split inference (part 1 before the codec, part 2 after it).

>>> from icm.common.tasknet import load_task_network
>>> net = load_task_network("yolo-fastest-1.1-xl")          # or load_task_network(1)
>>> features = net.part1(net.preprocess(rgb))               # tensors described by net.feature_specs()
>>> detections = net.part2(features, (rgb.shape[1], rgb.shape[0]))

See docs/tasknet.md.
"""
from .base import Detections, FeatureSpec, TaskNetwork, check_rgb_image
from .registry import (TaskNetworkEntry, load_task_network, register_task_network, registered_task_networks,
                       resolve_task_network)
from . import yolo_fastest  # noqa: F401  (registers the Yolo-Fastest networks)
from .yolo_fastest import YoloFastest

__all__ = ["Detections", "FeatureSpec", "TaskNetwork", "TaskNetworkEntry", "YoloFastest", "check_rgb_image",
           "load_task_network", "register_task_network", "registered_task_networks", "resolve_task_network"]

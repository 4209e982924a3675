"""Which engine resources a work item asks for (``icm-ctc run --backend dask``).

With ``device: cpu`` every item is one task that any worker runs. With ``device: cuda`` every item runs a
network on the GPU (the task network on the decoded output at least), so its last stage asks for one unit of
the worker resource ``GPU``; a GPU worker is started with ``--resources GPU=1``. The encode of a coded picture
is the long part of a VVC-only item (VVC intra, ~19 s a photo with VTM) and needs no GPU: when the point's
encoder runs no network, the item is two tasks, the encode (``items.encode_stage``: any worker, CPU workers
included) and then decode + task network + record (``items.finish_item``: a GPU worker), so GPU workers are
not held by VVC encodes. Items whose encoder runs networks (learned tools, NN part 1 of split inference) are
one task on a GPU worker.
"""
from __future__ import annotations

from dataclasses import replace

from .config import CtcConfig

GPU = "GPU"  # the worker resource label of one GPU


def encoder_runs_networks(config: CtcConfig, codec_name: str) -> bool:
    """Whether the encoder of codec ``codec_name`` runs neural networks (then its encode wants the GPU).

    The tool registry's ``uses_networks`` when its entries have one; else a learned tool (one with models) does;
    else it is measured: the point's encoder (and its own decoding for the hash) on a small grey picture on
    the CPU under torch's MAC counter (``complexity.count_macs``): any multiply-accumulate means a network.
    Nothing here names a tool."""
    from ...common.registry import default_registry

    codec = config.codec(codec_name)
    entry = default_registry().get(codec.tool)
    declared = getattr(entry, "uses_networks", None)
    if declared is not None:
        return bool(declared)
    if getattr(entry, "models", None) is not None:
        return True
    return _measured_macs(replace(config.encoder_config(codec, codec.values[0]), device="cpu")) > 0


def _measured_macs(encoder_config) -> int:
    import numpy as np

    from ...encoder.pipeline import encode_picture
    from .complexity import count_macs

    _, macs = count_macs(encode_picture, np.full((64, 64, 3), 128, np.uint8), encoder_config)
    return macs


class Placement:
    """The stages of each item and the resources each stage asks for."""

    def __init__(self, config: CtcConfig):
        self.config = config
        self.cuda = config.device.startswith("cuda")
        self._encoder_networks: dict[str, bool] = {}

    def needs_gpu(self, items: list[dict]) -> bool:
        return self.cuda and bool(items)

    def split(self, spec: dict) -> bool:
        """Whether the item runs as two tasks: the encode anywhere, the rest on a GPU worker."""
        if not self.cuda or spec["kind"] != "image" or spec["tool"] == "uncompressed":
            return False
        codec = spec["codec"]
        if codec not in self._encoder_networks:
            self._encoder_networks[codec] = encoder_runs_networks(self.config, codec)
        return not self._encoder_networks[codec]

    def resources(self) -> dict | None:
        """What the item's last (or only) stage asks for: one GPU with ``device: cuda``, else nothing."""
        return {GPU: 1} if self.cuda else None

"""Encoder of ``ci-icm``: the channel-importance learned image codec for machines (see ``docs/ci-icm.md``).

The picture is resized to the task network's input size (the model's, 320 x 320; bicubic, the same
resampling as ``vvc-image --resample task``) and coded by the model at the quality's group gains. The stream:
the parameter set (model id and hash, picture size, task network and its input size, ``ps_resampling_flag``
1 with the coded size, ``ps_model_layout_flag`` 1: the latent's channel-group header is the model's, group
sizes and the quality's per-group gains, no offsets, channels in importance order by training; see
:func:`~icm.common.models.ci_icm.model_layout`) and one payload unit of tensor 0 with ``G + 1`` entropy-coded
substreams: the hyper latent first, then groups 0..G-1. No feature header: the latent's size follows from the
coded size. With ``refine_steps`` > 0 the latent is first refined for the picture (``ci_icm_refine.py``).
"""
from __future__ import annotations

import numpy as np
import torch

from ..common.bitstream import SIDE_INFORMATION, Bitstream, new_parameter_set
from ..common.config import EncoderConfig
from ..common.errors import ConfigError
from ..common.models.zoo import LoadedModel, ModelCache
from ..common.registry.entry import ToolEntry
from ..common.resample import resize_rgb
from ..common.syntax import structures as S
from ..common.tasknet.registry import load_task_network
from ..common.tools import ToolEncoder, ToolEncoding
from .ci_icm_refine import CI_ICM_REFINEMENT, REVISION as REFINE_REVISION, CiIcmRefiner
from .task_view import TaskView
from .latent_search import RefineSettings

TASK_NETWORK_IDS = {name: idx for idx, name in S.TASK_NETWORKS.items()}
ENTROPY_PAYLOAD = 0
LATENT_TENSOR_ID = 0


class CiIcmEncoder(ToolEncoder):
    """The encoder; it keeps the task network and the refiner of the last model it refined with for the next
    picture. ``refinement``: the refinement's optimiser and step (the steps come from the configuration)."""

    name = "ci-icm"

    def __init__(self, entry: ToolEntry | None = None, models: ModelCache | None = None,
                 refinement: RefineSettings = CI_ICM_REFINEMENT):
        super().__init__(entry, models)
        self.refinement = refinement
        self._refiner: tuple[tuple, tuple] | None = None

    def resolved_settings(self, config: EncoderConfig) -> dict:
        settings = super().resolved_settings(config)
        if self.entry.resolve(config)["refine_steps"]:
            settings["refine_revision"] = REFINE_REVISION
        return settings

    def refiner(self, model: LoadedModel, task_network: str, device: str):
        """The refiner of ``model`` for ``task_network`` and that network (its input resize gives the search's
        reference), kept for the next picture."""
        key = (model.path, model.hash, task_network, str(device))
        if self._refiner is None or self._refiner[0] != key:
            size = model.runtime.config.input_size
            network = load_task_network(task_network, input_size=size, device=device)
            self._refiner = (key, (CiIcmRefiner(model.runtime, network.net, self.refinement), network))
        return self._refiner[1]

    def encode(self, rgb: np.ndarray, config: EncoderConfig) -> ToolEncoding:
        self.entry.check(config)
        settings = self.entry.resolve(config)
        quality = settings["quality"]
        model = self.models.load(self.entry.models, settings["model"], quality, config.device)
        runtime = model.runtime
        mconfig = runtime.config
        if quality > mconfig.qualities:
            raise ConfigError(f"ci-icm model {model.path.name} has qualities 1..{mconfig.qualities}, not {quality}")
        size = mconfig.input_size
        if config.task_input_size != size:
            raise ConfigError(f"ci-icm model {model.path.name} codes pictures at {size}x{size}, "
                              f"not {config.task_input_size}")
        if config.task_network not in TASK_NETWORK_IDS or config.task_network == "none":
            raise ConfigError(f"ci-icm: unknown task network '{config.task_network}'")
        height, width = rgb.shape[:2]
        picture = resize_rgb(rgb, size, size, filter="bicubic")
        x = torch.from_numpy(np.ascontiguousarray(picture)).permute(2, 0, 1)[None].float() / 255.0
        y, z_bytes, hyper = runtime.analyse(x, quality - 1)
        info = {}
        steps = settings["refine_steps"]
        if steps:  # the search for the network the stream is configured for (its parameter set names it)
            refiner, network = self.refiner(model, config.task_network, config.device)
            # the task distortion as the network will see the output: resized to the original size by the
            # decoder (bicubic, the stream's filter), then to the network's input size by the network
            view = TaskView((size, size), (width, height), network.resize_input, "bicubic", runtime.device)
            reference = network.preprocess(rgb).to(runtime.device)
            y, cost = refiner.refine(y, hyper, quality - 1, x.to(runtime.device), steps, view, reference)
            info["refine_costs"] = [cost]
        streams = runtime.code_latent(y, hyper, quality - 1)
        ps = new_parameter_set(self.tool_id, width, height, ps_model_id=model.model_id,
                               ps_model_hash=model.stream_hash, ps_model_layout_flag=1,
                               ps_task_network_id=TASK_NETWORK_IDS[config.task_network],
                               ps_task_input_width=size, ps_task_input_height=size,
                               ps_resampling_flag=1, ps_coded_width=size, ps_coded_height=size,
                               ps_resampling_filter_idc=0)
        bitstream = Bitstream(ps)  # the channel-group header is the model's (model_layout)
        bitstream.add_payload(z_bytes, ENTROPY_PAYLOAD, LATENT_TENSOR_ID, SIDE_INFORMATION)
        for group, data in enumerate(streams):
            bitstream.add_payload(data, ENTROPY_PAYLOAD, LATENT_TENSOR_ID, group)
        return ToolEncoding(bitstream, {"group_bytes": [len(s) for s in streams], "hyper_bytes": len(z_bytes), **info})

"""Encoder of ``mfc``: the learned multi-scale feature codec (split inference).

NN part 1 -> the split tensors ``s16`` (tensor 0) and ``s32`` (tensor 1). The basic scale ``s32`` is coded
by the model's basic-scale codec (BFC; its analysis also sees ``s16``); ``s16`` is predicted from the
decoded ``s32`` (``fh_coding_mode`` 1, ``fh_reference_id`` 1), or predicted and its residual coded by a
second BFC (``fh_coding_mode`` 2, the higher rate points), or, in the ``noxs`` ablation, coded by its own BFC.
The feature header and the channel-group headers (group sizes, gains, no explicit order: the latent's channels
are in importance order by training) are the model's (``ps_model_layout_flag`` 1,
:func:`~icm.common.models.mfc.model_layout`), so the stream carries neither. Per coded tensor one payload unit
holds ``G + 1`` entropy-coded substreams: the hyper latent (side information) first, then groups 0..G-1.
See ``docs/mfc.md``.
"""
from __future__ import annotations

import functools
import os

import numpy as np
import torch

from ..common.bitstream import SIDE_INFORMATION, Bitstream, new_parameter_set
from ..common.config import EncoderConfig
from ..common.errors import ConfigError
from ..common.layers.exact import from_fixed
from ..common.models.zoo import LoadedModel, ModelCache
from ..common.registry import ToolEntry
from ..common.syntax import structures as S
from ..common.tasknet.registry import load_task_network
from ..common.tools import ToolEncoder, ToolEncoding
from .latent_search import RefineSettings
from .mfc_refine import MFC_REFINEMENT, REVISION as REFINE_REVISION, LatentRefiner, refinement_for

TASK_NETWORK_IDS = {name: idx for idx, name in S.TASK_NETWORKS.items()}
ENTROPY_PAYLOAD = 0


class MfcEncoder(ToolEncoder):
    """The encoder; it keeps the task networks and the refiner of the last model it used for the next
    picture. ``refinement``: the refinement's optimiser and step (the steps come from the configuration)."""

    name = "mfc"

    def __init__(self, entry: ToolEntry | None = None, models: ModelCache | None = None,
                 refinement: RefineSettings | None = None):
        super().__init__(entry, models)
        self.refinement = refinement  # None: each model's own (refinement_for its variant)
        self._networks: dict = {}
        self._refiner: tuple[tuple, LatentRefiner] | None = None

    def resolved_settings(self, config: EncoderConfig) -> dict:
        settings = super().resolved_settings(config)
        if self.entry.resolve(config)["refine_steps"]:
            settings["refine_revision"] = REFINE_REVISION
            step = self.search_settings(config).learning_rate
            if step != MFC_REFINEMENT.learning_rate:  # (the points of the other models keep their keys)
                settings["refine_step_size"] = step
        return settings

    def search_settings(self, config: EncoderConfig) -> RefineSettings:
        """The search's settings for the model ``config`` names: the encoder's, or the model's own."""
        if self.refinement is not None:
            return self.refinement
        return refinement_for(model_variant(self.entry.models.find_file(*self.entry.model_choice(config))))

    def task_network(self, name: str, size: int, device: str):
        key = (name, size, str(device))
        if key not in self._networks:
            self._networks[key] = load_task_network(name, input_size=size, device=device)
        return self._networks[key]

    def encode(self, rgb: np.ndarray, config: EncoderConfig) -> ToolEncoding:
        self.entry.check(config)
        settings = self.entry.resolve(config)
        model = self.models.load(self.entry.models, settings["model"], settings["quality"], config.device)
        runtime = model.runtime
        mconfig = runtime.config
        if config.task_network != mconfig.task_network or config.task_input_size != mconfig.input_size:
            raise ConfigError(f"mfc model {model.path.name} codes {mconfig.task_network} features at "
                              f"{mconfig.input_size}x{mconfig.input_size}, not {config.task_network} at "
                              f"{config.task_input_size}")
        network = self.task_network(mconfig.task_network, mconfig.input_size, config.device)
        with torch.no_grad():
            tensors = network.part1(network.preprocess(rgb))
        specs = network.feature_specs()
        if [tuple(s.shape[1:]) for s in specs] != [tuple(s) for s in mconfig.tensor_shapes]:
            raise ConfigError(f"mfc model {model.path.name} does not fit the split tensors of {network.name}")
        height, width = rgb.shape[:2]
        ps = new_parameter_set(self.tool_id, width, height, ps_model_id=model.model_id,
                               ps_model_hash=model.stream_hash, ps_model_layout_flag=1,
                               ps_task_network_id=TASK_NETWORK_IDS[mconfig.task_network],
                               ps_task_input_width=mconfig.input_size, ps_task_input_height=mconfig.input_size)
        bitstream = Bitstream(ps)  # the feature and channel-group headers are the model's (model_layout)
        residual_sources = {runtime.prediction.source} if any(
            c.config.residual for c in runtime.codecs.values()) else set()
        steps = settings["refine_steps"]
        refiner = self.refiner(model, network, config.device) if steps else None
        decoded, costs = {}, []
        for tensor_id in runtime.order:
            codec = runtime.codecs[tensor_id]
            base = None
            if codec.config.residual:  # code the tensor minus its prediction from the decoded source
                base = from_fixed(runtime.predict(decoded[runtime.prediction.source])).to(tensors[tensor_id].device)
                x, side = tensors[tensor_id] - base, None
            else:
                x = tensors[tensor_id]
                side = tensors[codec.config.side_tensor] if codec.config.side_channels else None
            y = codec.analyse(x, side)
            z_bytes, hyper = codec.code_hyper(y)
            if refiner is not None:
                known = {i: from_fixed(v) for i, v in decoded.items() if not runtime.codecs[i].config.residual}
                y, cost = refiner.refine(tensor_id, y, hyper, tensors, known, base, steps)
                costs.append(cost)
            synthesise = tensor_id in residual_sources or (refiner is not None and tensor_id != runtime.order[-1])
            streams, decoded[tensor_id] = codec.code_latent(y, hyper, synthesise)
            groups = codec.config.groups
            bitstream.add_payload(z_bytes, ENTROPY_PAYLOAD, tensor_id, SIDE_INFORMATION)
            for group, data in enumerate(streams):
                bitstream.add_payload(data, ENTROPY_PAYLOAD, tensor_id, group)
        return ToolEncoding(bitstream, {"refine_costs": costs} if refiner is not None else {})

    def refiner(self, model: LoadedModel, network, device: str) -> LatentRefiner:
        """The refiner of ``model``, kept for the next picture (its float graphs are built once per model)."""
        key = (model.path, model.hash, str(device))
        if self._refiner is None or self._refiner[0] != key:
            settings = self.refinement or refinement_for(model.runtime.config.variant)
            self._refiner = (key, LatentRefiner(model.runtime, network, settings))
        return self._refiner[1]


@functools.lru_cache(maxsize=64)
def _variant(path: str, size: int, mtime_ns: int) -> str:
    from ..common.models.mfc import load_weights_file

    try:
        return str(load_weights_file(path)["config"].get("variant", "mfc"))
    except Exception:  # noqa: BLE001 - torch.load of a damaged file raises many kinds; the model load reports it
        return ""  # not a readable weights file: loading the model says so (exit status 7)


def model_variant(path) -> str:
    """``config/variant`` of an mfc weights file (read once per file version; "" when it cannot be read)."""
    stat = os.stat(path)
    return _variant(str(path), stat.st_size, stat.st_mtime_ns)

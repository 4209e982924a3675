"""The learned multi-scale feature codec ``mfc``: networks for training and their exact runtime form.

Structure (see ``docs/mfc.md``):

* **BFC** (:class:`LatentCodec`): a transform coder for one split tensor. Analysis ``g_a`` (encoder only)
  -> latent ``y`` (``latent_channels`` x H/down x W/down); hyper analysis ``h_a`` -> ``z`` coded with a
  factorized prior; hyper synthesis ``h_s`` -> hyper features; the latent's channels, ordered by
  importance, are cut into non-uniform **groups**; group ``g`` is multiplied by its gain (``cg_scale``),
  rounded around its mean and coded with a Gaussian whose mean and scale come from the entropy-parameter
  network ``e_g`` (hyper features + all groups already decoded: the channel-importance context);
  synthesis ``g_s`` -> the reconstructed tensor.
* **MFC** prediction: the other scale is predicted from the decoded basic scale. The shipped models code
  ``s32`` (tensor 1, the scale the detector depends on most) and predict ``s16`` (tensor 0) from the
  decoded ``s32`` with a learned upsampling network; the opposite direction (``s16`` coded, ``s32``
  predicted by the task network's own layers 81..108) is kept as the ``s16base`` variant.
* **Exactness**: ``h_s``, every ``e_g``, ``g_s`` and the predictor run as :class:`ExactGraph` at the
  encoder and the decoder, so the entropy parameters and the decoded tensors are the same integers on
  every machine. Gains are multiples of ``2**-16``; a group's values enter ``g_s`` as
  ``round(v * 2**16 / G)`` in integer arithmetic.

Training uses :class:`MfcModel` (float); :func:`export_runtime` freezes it into the dict that is
saved as the committed weights file, and :class:`MfcRuntime` runs that file.
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..entropy.factorized import FactorizedPrior
from ..entropy.gaussian import GaussianConditional, indexes_from_quantized_scales
from ..entropy.torch_ops import add_uniform_noise
from ..layers.exact import (ACT_FRAC_BITS, ACT_LIMIT, ExactGraph, FloatGraph, GraphSpec, fake_fixed, from_fixed,
                            to_fixed)

GAIN_FRAC_BITS = 16
GAIN_SCALE = 1 << GAIN_FRAC_BITS
FORMAT = "icm-mfc-1"
INITIAL_GAIN = 10.0  # latent gains start here: the analysis output is small at initialisation
NOMINAL_PIXELS = 640 * 480  # training rates are bits per nominal 640x480 picture


# -- configuration ---------------------------------------------------------------------------------------


@dataclass
class CodecConfig:
    """One basic-scale codec (BFC) for a tensor of ``in_channels`` channels."""

    tensor_id: int = 1
    in_channels: int = 96
    latent_channels: int = 64
    groups: tuple[int, ...] = (4, 8, 16, 36)
    hyper_channels: int = 32
    width: int = 64
    hyper_width: int = 64
    param_width: int = 64
    down: int = 1
    side_tensor: int = -1  # encoder-side input: another split tensor the analysis also sees (-1 = none)
    side_channels: int = 0
    side_stride: int = 1  # the side tensor's resolution over the latent's (1 or 2)
    residual: bool = False  # codes its tensor minus the tensor's prediction (fh_coding_mode 2)
    linear_skip: bool = False  # down 1: a 1x1 conv from the input added to g_a's and g_s's outputs

    def __post_init__(self):
        self.groups = tuple(int(g) for g in self.groups)
        if sum(self.groups) != self.latent_channels or min(self.groups) < 1:
            raise ValueError(f"group sizes {self.groups} must add up to {self.latent_channels}")
        if self.down not in (1, 2) or self.side_stride not in (1, 2):
            raise ValueError("down and side_stride must be 1 or 2")
        if self.residual and self.side_channels:
            raise ValueError("a residual codec takes no side input")
        if self.linear_skip and self.down != 1:
            raise ValueError("a linear skip needs down 1 (the latent at the tensor's resolution)")

    def bounds(self) -> list[tuple[int, int]]:
        edges = np.cumsum((0,) + self.groups)
        return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


@dataclass
class PredictionConfig:
    """``target`` is predicted from the decoded ``source``: a learned graph (``kind`` "learned": 1x1 conv,
    depthwise-separable blocks, x2 pixel-shuffle upsampling when the target is twice the size) or the task
    network's own layers (``kind`` "darknet", ``layers`` [start, stop))."""

    source: int = 1
    target: int = 0
    kind: str = "learned"
    width: int = 64
    layers: tuple[int, int] = (81, 109)

    def __post_init__(self):
        self.layers = tuple(self.layers)
        if self.kind not in ("learned", "darknet"):
            raise ValueError(f"unknown prediction kind {self.kind}")


@dataclass
class MfcConfig:
    """A whole model: codecs for the coded tensors, and the prediction of the other one (if any)."""

    variant: str = "mfc"
    task_network: str = "yolo-fastest-1.1-xl"
    input_size: int = 320
    tensor_shapes: tuple = ((48, 20, 20), (96, 10, 10))
    codecs: list = field(default_factory=lambda: [CodecConfig()])
    prediction: PredictionConfig | None = field(default_factory=PredictionConfig)

    def __post_init__(self):
        self.codecs = [c if isinstance(c, CodecConfig) else CodecConfig(**c) for c in self.codecs]
        if isinstance(self.prediction, dict):
            self.prediction = PredictionConfig(**self.prediction)
        self.tensor_shapes = tuple(tuple(int(v) for v in s) for s in self.tensor_shapes)
        coded = [c.tensor_id for c in self.codecs]
        residual = {c.tensor_id for c in self.codecs if c.residual}
        predicted = {self.prediction.target} if self.prediction else set()
        if len(set(coded)) != len(coded):
            raise ValueError("one codec per tensor")
        if residual != set(coded) & predicted or set(coded) | predicted != set(range(len(self.tensor_shapes))):
            raise ValueError("every tensor must be coded, predicted, or predicted with a coded residual")
        if self.prediction and self.prediction.source not in set(coded) - residual:
            raise ValueError("a tensor is predicted from a tensor coded without prediction")
        if residual and not all(c.residual for c in self.codecs[len(self.codecs) - len(residual):]):
            raise ValueError("residual codecs come after the codec of the tensor they are predicted from")

    def to_dict(self) -> dict:
        return asdict(self)

    def coding_mode(self, tensor_id: int) -> int:
        """``fh_coding_mode`` of a tensor: 0 coded, 1 predicted, 2 predicted + coded residual."""
        codec = self.codec_for(tensor_id)
        if codec is None:
            return 1
        return 2 if codec.residual else 0

    def codec_for(self, tensor_id: int) -> CodecConfig | None:
        for codec in self.codecs:
            if codec.tensor_id == tensor_id:
                return codec
        return None


# -- graphs ------------------------------------------------------------------------------------------------


def _ds_block(g: GraphSpec, src: int, width: int) -> int:
    """Depthwise-separable residual block: 1x1 (2w) -> dw 3x3 -> 1x1 (w) + skip."""
    n = g.conv(src, width, 2 * width, 1, act="leaky")
    n = g.conv(n, 2 * width, 2 * width, 3, groups=2 * width, act="leaky")
    n = g.conv(n, 2 * width, width, 1)
    return g.add(src, n)


def analysis_spec(c: CodecConfig) -> GraphSpec:
    """Input 0: the tensor; input 1 (with ``side_channels``): a side input at the latent resolution (the
    encoder knows every split tensor: s16's codec also sees s32)."""
    g = GraphSpec()
    n = g.conv(-1, c.in_channels, c.width, 3, act="leaky")
    n = _ds_block(g, n, c.width)
    n = g.conv(n, c.width, c.width, 3, stride=c.down, act="leaky")
    if c.side_channels:
        side = g.conv(-2, c.side_channels, c.width, 3, stride=c.side_stride, act="leaky")
        n = g.conv(g.cat(n, side), 2 * c.width, c.width, 1, act="leaky")
    n = _ds_block(g, n, c.width)
    n = g.conv(n, c.width, c.latent_channels, 3)
    if c.linear_skip:
        g.add(n, g.conv(-1, c.in_channels, c.latent_channels, 1))
    return g


def hyper_analysis_spec(c: CodecConfig) -> GraphSpec:
    g = GraphSpec()
    n = g.conv(-1, c.latent_channels, c.hyper_width, 1, act="leaky")
    n = g.conv(n, c.hyper_width, c.hyper_width, 3, stride=2, act="leaky")
    g.conv(n, c.hyper_width, c.hyper_channels, 1)
    return g


def hyper_synthesis_spec(c: CodecConfig) -> GraphSpec:
    g = GraphSpec()
    n = g.conv(-1, c.hyper_channels, c.hyper_width, 1, act="leaky")
    n = g.conv(n, c.hyper_width, 4 * c.hyper_width, 1)
    n = g.act(g.shuffle(n, 2), "leaky")
    g.conv(n, c.hyper_width, c.hyper_width, 3, act="leaky")
    return g


def param_spec(c: CodecConfig, group: int) -> GraphSpec:
    """Entropy parameters of group ``group``: inputs hyper features (input 0) and, after the first group,
    the groups decoded so far (input 1); output ``2 * size``: means then scales (fixed point)."""
    lo, hi = c.bounds()[group]
    g = GraphSpec()
    src = g.cat(-1, -2) if group else -1
    n = g.conv(src, c.hyper_width + lo, c.param_width, 1, act="leaky")
    n = g.conv(n, c.param_width, c.param_width, 3, groups=c.param_width, act="leaky")
    n = g.conv(n, c.param_width, c.param_width, 1, act="leaky")
    g.conv(n, c.param_width, 2 * (hi - lo), 1)
    return g


def synthesis_spec(c: CodecConfig) -> GraphSpec:
    g = GraphSpec()
    n = g.conv(-1, c.latent_channels, c.width, 3, act="leaky")
    n = _ds_block(g, n, c.width)
    if c.down == 2:
        n = g.conv(n, c.width, 4 * c.width, 1)
        n = g.act(g.shuffle(n, 2), "leaky")
    n = _ds_block(g, n, c.width)
    n = g.conv(n, c.width, c.in_channels, 3)
    if c.linear_skip:
        g.add(n, g.conv(-1, c.latent_channels, c.in_channels, 1))
    return g


def prediction_spec(p: PredictionConfig, source_shape, target_shape) -> GraphSpec:
    """The learned prediction network: decoded source tensor -> target tensor."""
    (cs, hs, ws), (ct, ht, wt) = source_shape, target_shape
    up = ht // hs
    if (ht, wt) != (hs * up, ws * up) or up not in (1, 2):
        raise ValueError("the predicted tensor must be as large as its source or twice as large")
    g = GraphSpec()
    n = g.conv(-1, cs, p.width, 3, act="leaky")
    n = _ds_block(g, n, p.width)
    if up == 2:
        n = g.act(g.shuffle(g.conv(n, p.width, 4 * p.width, 1), 2), "leaky")
    n = _ds_block(g, n, p.width)
    n = _ds_block(g, n, p.width)
    g.conv(n, p.width, ct, 3)
    return g


def build_predictor(config: MfcConfig, network=None) -> FloatGraph | None:
    p = config.prediction
    if p is None:
        return None
    if p.kind == "darknet":
        if network is None:
            raise ValueError("a darknet prediction needs the task network")
        return darknet_predictor(network, *p.layers)
    return FloatGraph(prediction_spec(p, config.tensor_shapes[p.source], config.tensor_shapes[p.target]))


def darknet_predictor(network, start: int, stop: int) -> FloatGraph:
    """A float graph equal to darknet layers ``start .. stop-1`` (batch norms folded), reading the output
    of layer ``start - 1``; leaky ReLUs use the exact slope."""
    from ..tasknet.darknet import ConvLayer, DropoutLayer, ShortcutLayer

    spec = GraphSpec()
    node_of = {start - 1: -1}
    convs = []
    for index in range(start, stop):
        layer = network.net.layers[index]
        if isinstance(layer, ConvLayer):
            conv = layer.conv
            if layer.activation_name not in ("leaky", "linear"):
                raise ValueError(f"layer {index}: activation {layer.activation_name} not supported")
            node_of[index] = spec.conv(node_of[index - 1], conv.in_channels, conv.out_channels,
                                       conv.kernel_size[0], conv.stride[0], conv.groups,
                                       act="leaky" if layer.activation_name == "leaky" else "none")
            if conv.padding[0] != conv.kernel_size[0] // 2:
                raise ValueError(f"layer {index}: padding {conv.padding} not supported")
            convs.append(conv)
        elif isinstance(layer, DropoutLayer):
            node_of[index] = node_of[index - 1]
        elif isinstance(layer, ShortcutLayer):
            if layer.activation_name != "linear":
                raise ValueError(f"layer {index}: shortcut activation not supported")
            node_of[index] = spec.add(*[node_of[s] for s in layer.sources])
        else:
            raise ValueError(f"layer {index}: {type(layer).__name__} not supported in the predictor")
    spec.outputs = (node_of[stop - 1],)
    graph = FloatGraph(spec)
    with torch.no_grad():
        for target, conv in zip(graph.convs, convs):
            target.weight.copy_(conv.weight.detach().cpu())
            target.bias.copy_(conv.bias.detach().cpu())
    return graph


# -- training model --------------------------------------------------------------------------------------


def ste_round(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.round(x) - x).detach()


def code_groups(y: torch.Tensor, gains, hyper: torch.Tensor, param_nets, bounds, gaussian: GaussianConditional,
                noise: bool) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
    """The groups of the latent ``y`` coded in order, in float (training, refinement).

    Group ``g`` (channels ``bounds[g]``) is scaled by ``gains[g]``; its entropy parameters come from
    ``param_nets[g]`` on the hyper features and the groups before it. Returns the decoded groups
    (rounded around the mean, straight-through, on the fixed-point grid), the means, and the bits per
    picture and group (N x G): of the rounded values, or with ``noise`` of the values plus uniform noise
    (the training proxy)."""
    v_hats, means, bits = [], [], []
    for group, (lo, hi) in enumerate(bounds):
        out = param_nets[group](hyper, torch.cat(v_hats, 1)) if group else param_nets[group](hyper)
        mean, scale = out[:, :hi - lo], out[:, hi - lo:]
        v = y[:, lo:hi] * gains[group]
        v_hat = ste_round(v - mean) + mean
        likelihood = gaussian.likelihood(add_uniform_noise(v) if noise else v_hat, scale, mean)
        bits.append(-torch.log2(likelihood).sum(dim=(1, 2, 3)))
        v_hats.append(fake_fixed(v_hat))
        means.append(mean)
    return v_hats, means, torch.stack(bits, 1)


class LatentCodec(nn.Module):
    """BFC in float, for training."""

    def __init__(self, config: CodecConfig):
        super().__init__()
        self.config = config
        self.g_a = FloatGraph(analysis_spec(config))
        self.h_a = FloatGraph(hyper_analysis_spec(config))
        self.h_s = FloatGraph(hyper_synthesis_spec(config))
        self.e = nn.ModuleList(FloatGraph(param_spec(config, g)) for g in range(len(config.groups)))
        self.g_s = FloatGraph(synthesis_spec(config))
        self.prior = FactorizedPrior(config.hyper_channels)
        self.gaussian = GaussianConditional()
        self.log_gain = nn.Parameter(torch.full((len(config.groups),), math.log(INITIAL_GAIN)))

    def gains(self) -> torch.Tensor:
        return torch.exp(self.log_gain)

    def _params(self, group: int, hyper: torch.Tensor, prev: list[torch.Tensor]):
        size = self.config.groups[group]
        out = self.e[group](hyper, torch.cat(prev, 1)) if group else self.e[group](hyper)
        return out[:, :size], out[:, size:]

    def forward(self, x: torch.Tensor, truncate: int | None = None, noise: bool = True,
                side: torch.Tensor | None = None) -> dict:
        """Training pass. ``truncate=k``: also decode as if only the first k groups were received."""
        y = self.g_a(x, side) if self.config.side_channels else self.g_a(x)
        z = self.h_a(y)
        _, z_likelihood = self.prior(z, training=noise)
        medians = self.prior.medians().view(1, -1, 1, 1)
        z_hat = ste_round(z - medians) + medians
        hyper = fake_fixed(self.h_s(fake_fixed(z_hat)))
        gains = self.gains()
        v_hats, means, bits_y = code_groups(y, gains, hyper, self.e, self.config.bounds(), self.gaussian, noise)
        y_hat = torch.cat([v / gains[g] for g, v in enumerate(v_hats)], 1)
        out = {"x_hat": self.g_s(fake_fixed(y_hat)), "y": y, "y_hat": y_hat, "means": means,
               "bits_y": bits_y, "bits_z": -torch.log2(z_likelihood).sum(dim=(1, 2, 3))}
        if truncate is not None and truncate < len(self.config.groups):
            kept = v_hats[:truncate]
            for group in range(truncate, len(self.config.groups)):
                mean, _ = self._params(group, hyper, kept)
                kept.append(fake_fixed(mean))
            y_trunc = torch.cat([v / gains[g] for g, v in enumerate(kept)], 1)
            out["x_trunc"] = self.g_s(fake_fixed(y_trunc))
        return out


class MfcModel(nn.Module):
    """The whole float model: codecs for the coded tensors and the prediction network."""

    def __init__(self, config: MfcConfig, predictor: FloatGraph | None = None):
        super().__init__()
        self.config = config
        self.codecs = nn.ModuleList(LatentCodec(c) for c in config.codecs)
        self.predictor = predictor
        if (config.prediction is None) != (predictor is None):
            raise ValueError("a predicting model needs its predictor graph (and only such a model)")

    def forward(self, tensors: list[torch.Tensor], truncate: int | None = None, noise: bool = True,
                predict_truncated: bool = True, run_predictor: bool = True) -> dict:
        """``tensors``: the split tensors (batch). Returns ``hats`` (decoded tensors by id; a predicted one
        is None without ``run_predictor``), ``trunc`` (the same for a decode of the first ``truncate``
        groups), ``bits`` (per sample) and the codecs' outputs."""
        outs, hats, trunc = {}, {}, {}
        p = self.config.prediction
        for codec in self.codecs:
            c = codec.config
            if c.residual:  # the tensor minus its prediction from the decoded source
                pred = fake_fixed(self.predictor(hats[p.source]))
                o = codec(tensors[c.tensor_id] - pred.detach(), truncate, noise)
                base = pred
            else:
                side = tensors[c.side_tensor] if c.side_channels else None
                o = codec(tensors[c.tensor_id], truncate, noise, side=side)
                base = 0.0
            outs[c.tensor_id] = o
            hats[c.tensor_id] = fake_fixed(base + o["x_hat"])
            if "x_trunc" in o:
                trunc[c.tensor_id] = fake_fixed(base + o["x_trunc"])
        if p is not None and p.target not in outs:
            hats[p.target] = fake_fixed(self.predictor(hats[p.source])) if run_predictor else None
            if trunc and predict_truncated:
                trunc[p.target] = fake_fixed(self.predictor(trunc[p.source]))
        bits = sum(o["bits_y"].sum(1) + o["bits_z"] for o in outs.values())
        return {"codec": outs, "hats": hats, "trunc": trunc, "bits": bits}


# -- export to the runtime form -------------------------------------------------------------------------


def _half_state(module: nn.Module) -> dict:
    return {k: v.detach().cpu().to(torch.float16) if v.is_floating_point() else v.detach().cpu()
            for k, v in module.state_dict().items()}


def darknet_exact_predictor(task_network: str, input_size: int, layers) -> ExactGraph:
    """The exact predictor derived from the task network's own layers (the float graph of
    :func:`darknet_predictor` frozen)."""
    from ..tasknet.registry import load_task_network

    network = load_task_network(task_network, input_size=input_size, device="cpu")
    return ExactGraph.freeze(darknet_predictor(network, *layers))


@torch.no_grad()
def export_runtime(model: MfcModel, extra: dict | None = None) -> dict:
    """The weights-file dict of a trained model: encoder-only graphs in float16, decoder-side graphs
    exact (int16 weights), frozen integer tables of the hyper priors, gains as integers (2**-16).

    The predictor is stored like the other decoder graphs, whether learned or made of the task network's own
    layers (``kind`` "darknet"): the file alone defines the decoder (decoding.md D.6), and loading it does not
    rebuild the task network."""
    codecs = []
    for codec in model.codecs:
        codec = copy.deepcopy(codec).cpu().float().eval()
        codec.prior.update(force=True)
        gains = torch.round(codec.gains().double() * GAIN_SCALE).clamp(1, (1 << 24) - 1).to(torch.int64)
        prior_state = {k: v for k, v in codec.prior.state_dict().items() if k.startswith("_")}
        codecs.append({
            "config": asdict(codec.config),
            "g_a": _half_state(codec.g_a), "h_a": _half_state(codec.h_a),
            "h_s": ExactGraph.freeze(codec.h_s).state_dict(),
            "e": [ExactGraph.freeze(e).state_dict() for e in codec.e],
            "g_s": ExactGraph.freeze(codec.g_s).state_dict(),
            "prior": prior_state, "gains_q16": gains,
        })
    weights = {"format": FORMAT, "config": model.config.to_dict(), "codecs": codecs}
    p = model.config.prediction
    if p is not None:
        exact = ExactGraph.freeze(copy.deepcopy(model.predictor).cpu().float())
        weights["predictor"] = {"spec": model.predictor.spec.to_dict(), "exact": exact.state_dict()}
    weights["info"] = dict(extra or {})
    return weights


# -- runtime (encoder and decoder) ----------------------------------------------------------------------


def _round_div(num: torch.Tensor, den: int) -> torch.Tensor:
    """round(num / den) (half up) for integer tensors, in int64 (exact on every device)."""
    return torch.div(2 * num + den, 2 * den, rounding_mode="floor")


class RuntimeCodec:
    """One BFC in its frozen form."""

    def __init__(self, values: dict, device: torch.device):
        self.config = CodecConfig(**values["config"])
        self.device = device
        self.g_a = FloatGraph(analysis_spec(self.config))
        self.h_a = FloatGraph(hyper_analysis_spec(self.config))
        for graph, key in ((self.g_a, "g_a"), (self.h_a, "h_a")):
            graph.load_state_dict({k: v.float() for k, v in values[key].items()})
            graph.to(device).eval().requires_grad_(False)
        self.h_s = self._exact(hyper_synthesis_spec(self.config), values["h_s"])
        self.e = [self._exact(param_spec(self.config, g), s) for g, s in enumerate(values["e"])]
        self.g_s = self._exact(synthesis_spec(self.config), values["g_s"])
        self.prior = FactorizedPrior(self.config.hyper_channels)
        self.prior.load_state_dict(values["prior"], strict=False)
        self.prior.check_tables()  # refused at load (not at the first decode) when a decoder cannot use them
        self.gaussian = GaussianConditional()
        self.gains_q16 = [int(g) for g in values["gains_q16"]]
        if len(self.e) != len(self.config.groups) or len(self.gains_q16) != len(self.config.groups):
            raise ValueError("weights do not match the group configuration")

    def _exact(self, spec: GraphSpec, state: dict) -> ExactGraph:
        graph = ExactGraph(spec)
        graph.load_state_dict(state)
        graph.check_bounds()
        return graph.to(self.device)

    def latent_shape(self, height: int, width: int) -> tuple[int, int]:
        d = self.config.down
        return -(-height // d), -(-width // d)

    def hyper_shape(self, height: int, width: int) -> tuple[int, int]:
        h, w = self.latent_shape(height, width)
        return -(-h // 2), -(-w // 2)

    # -- shared by encoder and decoder
    def _hyper(self, z_hat: torch.Tensor) -> torch.Tensor:
        return self.h_s(to_fixed(z_hat.to(self.device)))

    def _group_params(self, group: int, hyper: torch.Tensor, prev: list[torch.Tensor]):
        size = self.config.groups[group]
        out = self.e[group](hyper, torch.cat(prev, 1)) if group else self.e[group](hyper)
        return out[:, :size], out[:, size:]

    def _indexes(self, scale_fixed: torch.Tensor) -> np.ndarray:
        q = scale_fixed.clamp_min(0).cpu().numpy().astype(np.int64)
        return self.gaussian.indexes_from_quantized_scales(q, ACT_FRAC_BITS)

    def _synthesise(self, v_fixed: list[torch.Tensor], gains_q16: list[int], offsets_fixed: list[int]):
        parts = []
        for v, gain, offset in zip(v_fixed, gains_q16, offsets_fixed):
            y = _round_div(v.to(torch.int64) * GAIN_SCALE, gain) + offset
            parts.append(y.to(torch.float64).clamp_(-ACT_LIMIT, ACT_LIMIT))
        return self.g_s(torch.cat(parts, 1))

    # -- encoder
    @torch.no_grad()
    def analyse(self, x: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (1 x C x H x W float) -> the latent ``y`` (float). ``side``: the side input."""
        x = x.to(self.device).float()
        return self.g_a(x, side.to(self.device).float()) if self.config.side_channels else self.g_a(x)

    @torch.no_grad()
    def code_hyper(self, y: torch.Tensor) -> tuple[bytes, torch.Tensor]:
        """The hyper latent of ``y``: (its substream, the hyper features in fixed point)."""
        z = self.h_a(y)
        z_bytes = self.prior.compress(z.cpu())
        z_hat = self.prior.decompress(z_bytes, tuple(z.shape))
        return z_bytes, self._hyper(z_hat)

    @torch.no_grad()
    def hyper_features(self, y: torch.Tensor) -> torch.Tensor:
        """The hyper features (fixed point) that :meth:`code_hyper` gives for ``y``, for a batch of latents and
        without coding (the hyper latent rounded around the prior's medians; training of the encoder side)."""
        return self._hyper(self.prior.round_trip(self.h_a(y)))

    @torch.no_grad()
    def code_latent(self, y: torch.Tensor, hyper: torch.Tensor,
                    synthesise: bool = False) -> tuple[list[bytes], torch.Tensor | None]:
        """The group substreams of the latent ``y`` given the hyper features, and the decoded tensor in fixed
        point if ``synthesise`` (the encoder pipeline decodes its stream anyway)."""
        v_fixed, streams = [], []
        for group, (lo, hi) in enumerate(self.config.bounds()):
            mean, scale = self._group_params(group, hyper, v_fixed)
            v = y[:, lo:hi].to(self.device).double() * (self.gains_q16[group] / GAIN_SCALE)
            symbols = torch.round(v - mean / (1 << ACT_FRAC_BITS)).clamp_(-(1 << 20), 1 << 20)
            symbols_np = symbols.cpu().numpy().astype(np.int32)
            streams.append(self.gaussian.compress(symbols_np, self._indexes(scale)))
            v_fixed.append((symbols * (1 << ACT_FRAC_BITS) + mean).clamp_(-ACT_LIMIT, ACT_LIMIT))
        x_hat = self._synthesise(v_fixed, self.gains_q16, [0] * len(v_fixed)) if synthesise else None
        return streams, x_hat

    # -- decoder
    @torch.no_grad()
    def decode(self, z_bytes: bytes, streams: list[bytes | None], height: int, width: int,
               gains_q16: list[int], offsets_fixed: list[int]) -> torch.Tensor:
        """Substreams -> the decoded tensor (fixed point). A group whose stream is None is not decoded:
        its values are their predicted means (partial decoding)."""
        lh, lw = self.latent_shape(height, width)
        hh, hw = self.hyper_shape(height, width)
        z_hat = self.prior.decompress(z_bytes, (1, self.config.hyper_channels, hh, hw))
        hyper = self._hyper(z_hat)
        if tuple(hyper.shape[-2:]) != (lh, lw):
            raise ValueError("hyper synthesis does not match the latent size")
        v_fixed = []
        for group, stream in enumerate(streams):
            mean, scale = self._group_params(group, hyper, v_fixed)
            if stream is None:
                v_fixed.append(mean)
                continue
            symbols = self.gaussian.decompress(stream, self._indexes(scale))
            symbols = torch.from_numpy(symbols.astype(np.float64)).to(self.device)
            v_fixed.append((symbols * (1 << ACT_FRAC_BITS) + mean).clamp_(-ACT_LIMIT, ACT_LIMIT))
        return self._synthesise(v_fixed, gains_q16, offsets_fixed)


class MfcRuntime:
    """A loaded weights file: encode/decode the split tensors, exactly."""

    def __init__(self, weights: dict, device: torch.device | str = "cpu"):
        if weights.get("format") != FORMAT:
            raise ValueError(f"not an {FORMAT} weights file")
        self.device = torch.device(device)
        self.config = MfcConfig(**weights["config"])
        codecs = [RuntimeCodec(v, self.device) for v in weights["codecs"]]
        self.codecs = {c.config.tensor_id: c for c in codecs}
        self.order = [c.config.tensor_id for c in codecs]  # coding order: residual codecs last
        self.predictor = None
        self.prediction = self.config.prediction
        if self.prediction is not None:
            values = weights["predictor"]
            self.predictor = ExactGraph(GraphSpec.from_dict(values["spec"]))
            self.predictor.load_state_dict(values["exact"])
            self.predictor.check_bounds()
            self.predictor.to(self.device)
        self.info = weights.get("info", {})

    def predict(self, source_fixed: torch.Tensor) -> torch.Tensor:
        """The predicted tensor from the decoded source tensor (fixed point)."""
        with torch.no_grad():
            return self.predictor(source_fixed)

    def add_residual(self, prediction_fixed: torch.Tensor, residual_fixed: torch.Tensor) -> torch.Tensor:
        """A tensor coded with ``fh_coding_mode`` 2: prediction + decoded residual (fixed point, saturated)."""
        return (prediction_fixed + residual_fixed).clamp_(-ACT_LIMIT, ACT_LIMIT)


def load_weights_file(path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def load_runtime(path, device: torch.device | str = "cpu") -> MfcRuntime:
    """The model zoo's loader of ``mfc`` weights files (``.pt``, read with ``weights_only=True``)."""
    return MfcRuntime(load_weights_file(path), device)


def fixed_to_numpy(a: torch.Tensor) -> np.ndarray:
    return from_fixed(a)[0].cpu().numpy()


__all__ = ["CodecConfig", "PredictionConfig", "MfcConfig", "LatentCodec", "MfcModel", "MfcRuntime", "RuntimeCodec",
           "export_runtime", "build_predictor", "darknet_predictor", "load_weights_file", "load_runtime",
           "fixed_to_numpy", "NOMINAL_PIXELS", "F"]


def model_layout(runtime: MfcRuntime) -> tuple[dict, list[dict]]:
    """The feature header and channel-group headers that an ``mfc`` model implies (``ps_model_layout_flag`` 1):
    its split tensors in id order (shape, stride from the model's input size, coding mode, reference), none
    range-normalised or packed; per coded tensor, in coding order, the model's group sizes and gains, no
    offsets, channels in index order. ``docs/mfc.md`` gives the same rule for decoder implementers."""
    config = runtime.config
    tensors = []
    for tensor_id, (channels, height, width) in enumerate(config.tensor_shapes):
        tensor = dict(fh_tensor_id=tensor_id, fh_channels=channels, fh_height=height, fh_width=width,
                      fh_stride_log2=(config.input_size // height).bit_length() - 1,
                      fh_coding_mode=config.coding_mode(tensor_id), fh_range_flag=0, fh_packing_idc=0)
        if tensor["fh_coding_mode"]:
            tensor["fh_reference_id"] = runtime.prediction.source
        tensors.append(tensor)
    groups = []
    for tensor_id in runtime.order:
        codec = runtime.codecs[tensor_id]
        groups.append({"cg_tensor_id": tensor_id, "cg_num_channels": codec.config.latent_channels,
                       "cg_num_groups": len(codec.config.groups),
                       "groups": [{"cg_group_size": size, "cg_scale": gain / GAIN_SCALE}
                                  for size, gain in zip(codec.config.groups, codec.gains_q16)],
                       "cg_offset_flag": 0, "cg_channel_order_flag": 0})
    return {"fh_num_tensors": len(tensors), "tensors": tensors}, groups

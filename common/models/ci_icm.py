"""``ci-icm``: the channel-importance learned image codec for machines (float model for training).

The codec codes the picture resized to the task network's input size (320 x 320) and decodes a picture
that a task network or a person can use. Structure (``../shared/docs/techniques.md`` section 1):

* **Transforms.** Analysis ``g_a`` (encoder only): four stride-2 convolutions (5x5 to ``a0``, 3x3 to
  ``a1``, ``a2``, then the latent) with a depthwise-separable residual block at 1/4 and 1/8: the latent ``y``,
  ``latent_channels`` x 20 x 20. Synthesis ``g_s``: 3x3 conv, then three x2 upsamplings (1x1 conv to 4x the
  width + pixel shuffle) each followed by a depthwise-separable residual block, ending in the **feature map**
  ``f`` (``s3`` x 160 x 160); the plain RGB head (3x3 conv to 12 channels + pixel shuffle) gives the picture.
* **Linear paths** (``linear_skip``, the default): ``g_a`` adds a 17x17 stride-16 convolution of the picture to
  its output and ``g_s`` adds the pixel shuffle (x16) of a 1x1 convolution of the latent to the picture: a learned
  overlapped block transform that the nonlinear layers refine. Without them the transforms had not learned to
  pass the picture through after thousands of steps (the PSNR flat across the qualities; docs/ci-icm.md), as
  ``mfc``'s ``s16`` codec (``CodecConfig.linear_skip``).
* **Hyperprior.** ``h_a``: 3x3 conv, two stride-2 3x3 convs -> ``z`` (``hyper_channels`` x 5 x 5), coded
  with a factorized prior; ``h_s`` -> hyper features (``hyper_width`` x 20 x 20).
* **FCGS.** The latent's channels, in importance order, are cut into non-uniform groups (default 8, 8, 16,
  32, 64: few channels in the first, most important groups, so a decode of one or two groups is cheap and
  the channel-wise context is fine-grained where it matters; many in the last, which carry little for the
  machine task and are quantised coarsely). Each group has its own learned gain per quality.
* **Variable rate (gain units).** One model serves ``qualities`` rate points: quality ``q`` multiplies
  group ``g`` by ``G[q, g]`` before rounding and divides by it after; the entropy-parameter networks predict
  the mean and scale of the unit-gain latent, which are multiplied by ``G[q, g]``. The hyper latent has a
  gain per quality too (``H[q]``) and one factorized prior per quality. Gains are multiples of ``2**-16``
  (straight-through in training), as the stream header carries them.
* **CI-CTX.** Group ``g``'s entropy parameters come from ``e_g`` fed the hyper features and the unit-gain
  decoded groups before it (``common/models/channel_groups.py``); ``context=False`` feeds the hyper
  features only (ablation).
* **Partial decoding.** A decode of the first ``k`` groups gives the others their predicted means.
* **TSCA.** One adapter per task network: 1x1 conv, depthwise 3x3, 1x1 conv to 12 channels + pixel shuffle
  on the feature map ``f``: an RGB correction added to the plain picture. The last conv starts at zero, so
  an untrained adapter is the identity. Decoding without the adapter is the plain picture (TSCA ablation).
* **Exactness.** Every decoder-side network (``h_s``, every ``e_g``, ``g_s``, adapters) is a
  :class:`GraphSpec` of the ops of ``common/layers/exact.py`` (conv, add, cat, pixel shuffle, leaky ReLU)
  fed values on the fixed-point grid (``fake_fixed``), so the frozen integer form computes what training
  computed. Encoder-side graphs (``g_a``, ``h_a``) are GraphSpecs too (float at run time).

Rates are bits per nominal 640 x 480 picture (``NOMINAL_PIXELS``), roughly the CTC's bpp of a COCO photo.

Runtime weights file
--------------------
:func:`export_runtime` freezes a trained model into a dict of numpy arrays, saved with ``np.savez`` and
read with ``np.load(path, allow_pickle=False)`` (no pickle anywhere); :class:`CiIcmRuntime` runs it. Keys
(``Q`` qualities, ``G`` groups, ``C`` hyper channels, graph ``X``'s conv ``k``):

=================================  ======================  ==================================================
key                                dtype, shape            what
=================================  ======================  ==================================================
``format``                         str (0-d)               ``FORMAT``
``config``                         str (0-d)               :class:`CiIcmConfig` as JSON
``specs``                          str (0-d)               JSON ``{graph name: GraphSpec.to_dict()}`` of every
                                                           graph below (the runtime builds them from here)
``info``                           str (0-d)               JSON: training figures (steps, lambdas, ...)
``g_a.w{k}``, ``h_a.w{k}``         float16 (O, I/g, K, K)  encoder-only graphs' weights (run in float32)
``g_a.b{k}``, ``h_a.b{k}``         float16 (O,)            their biases
``X.w{k}``                         int16 (O, I/g, K, K)    exact decoder-side graph ``X`` (``h_s``, ``e0`` ..
                                                           ``e{G-1}``, ``g_s``, ``adapter.<key>`` per task
                                                           network, ``adapter_key``): integer weights
``X.b{k}``                         int64 (O,)              biases in units of ``2**-(10 + shift)``
``X.s{k}``                         int8 (O,)               per-output-channel fraction bits ``shift``
``gains_q16``                      int64 (Q, G)            group gains per quality, units of ``2**-16``
``hyper_gains_q16``                int64 (Q,)              hyper-latent gain per quality, units of ``2**-16``
``prior{q}.quantized_cdf``         int32 (C, L_q)          quality ``q``'s factorized-prior CDF tables
``prior{q}.cdf_length``            int32 (C,)              their lengths
``prior{q}.offset``                int32 (C,)              their first symbol
``prior{q}.medians``               float32 (C,)            the channel medians
``gaussian.scale_table_q16``       int64 (S,)              the Gaussian scale table (units of ``2**-16``)
=================================  ======================  ==================================================

Decoding, all in integers (fixed point: units of ``2**-10``): ``z_hat`` of quality ``q`` from its prior;
``h_s(round(to_fixed(z_hat) * 2**16 / H[q]))`` = hyper features; for each group: ``e_g`` -> unit-gain
mean and scale, multiplied by the gain (``round(a * G / 2**16)``); the scale picks the Gaussian table by
integer comparison; ``v = symbol * 2**10 + mean``; the unit-gain value ``round(v * 2**16 / G)`` is the
context of the next groups and the synthesis input (a group not decoded takes its mean). ``g_s`` -> (feature
map, plain picture); an adapter -> the picture for its task network.
"""
from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from ..entropy.factorized import FactorizedPrior
from ..entropy.gaussian import DEFAULT_SCALE_TABLE_Q16, GaussianConditional
from ..layers.exact import ACT_FRAC_BITS, ACT_LIMIT, ExactGraph, FloatGraph, GraphSpec, fake_fixed, to_fixed
from .channel_groups import GAIN_SCALE, GroupCoding, code_groups, gain_grid, group_bounds, ste_round

FORMAT = "icm-ci-icm-1"
NOMINAL_PIXELS = 640 * 480
TASK_NETWORKS = ("yolo-fastest-1.1-xl", "yolo-fastest-1.1")


# -- configuration ---------------------------------------------------------------------------------------


@dataclass
class CiIcmConfig:
    """A whole ci-icm model. ``group_gains=False``: one gain per quality for all groups (ablation);
    ``context=False``: entropy parameters from the hyper features only (ablation)."""

    variant: str = "ci-icm"
    input_size: int = 320
    latent_channels: int = 128
    groups: tuple = (8, 8, 16, 32, 64)
    hyper_channels: int = 64
    analysis_widths: tuple = (96, 128, 160)
    synthesis_widths: tuple = (192, 160, 128, 64)
    hyper_width: int = 96
    param_width: int = 64
    adapter_width: int = 32
    qualities: int = 6
    group_gains: bool = True
    context: bool = True
    task_networks: tuple = TASK_NETWORKS
    initial_gains: tuple = field(default_factory=lambda: (2.0, 1.6))  # quality 1's gain, ratio per quality
    linear_skip: bool = True  # linear paths picture -> latent (g_a) and latent -> picture (g_s), see below

    def __post_init__(self):
        self.groups = tuple(int(g) for g in self.groups)
        self.analysis_widths = tuple(int(w) for w in self.analysis_widths)
        self.synthesis_widths = tuple(int(w) for w in self.synthesis_widths)
        self.task_networks = tuple(self.task_networks)
        self.initial_gains = tuple(float(g) for g in self.initial_gains)
        if sum(self.groups) != self.latent_channels or min(self.groups) < 1:
            raise ValueError(f"group sizes {self.groups} must add up to {self.latent_channels}")
        if len(self.analysis_widths) != 3 or len(self.synthesis_widths) != 4 or self.qualities < 1:
            raise ValueError("three analysis widths, four synthesis widths, at least one quality")

    def bounds(self) -> list[tuple[int, int]]:
        return group_bounds(self.groups)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "CiIcmConfig":
        return cls(**values)


def adapter_key(task_network: str) -> str:
    """A module-dict key for a task network's name (no dots or dashes)."""
    return task_network.replace(".", "_").replace("-", "_")


# -- graphs ------------------------------------------------------------------------------------------------


def _ds_block(g: GraphSpec, src: int, width: int) -> int:
    """Depthwise-separable residual block: 1x1 (2w) -> depthwise 3x3 -> 1x1 (w) + skip."""
    n = g.conv(src, width, 2 * width, 1, act="leaky")
    n = g.conv(n, 2 * width, 2 * width, 3, groups=2 * width, act="leaky")
    n = g.conv(n, 2 * width, width, 1)
    return g.add(src, n)


def _upsample(g: GraphSpec, src: int, cin: int, cout: int) -> int:
    """x2 upsampling: 1x1 conv to 4 * cout, pixel shuffle, leaky ReLU."""
    return g.act(g.shuffle(g.conv(src, cin, 4 * cout, 1), 2), "leaky")


def analysis_spec(c: CiIcmConfig) -> GraphSpec:
    a0, a1, a2 = c.analysis_widths
    g = GraphSpec()
    n = g.conv(-1, 3, a0, 5, stride=2, act="leaky")
    n = g.conv(n, a0, a1, 3, stride=2, act="leaky")
    n = _ds_block(g, n, a1)
    n = g.conv(n, a1, a2, 3, stride=2, act="leaky")
    n = _ds_block(g, n, a2)
    n = g.conv(n, a2, c.latent_channels, 3, stride=2)
    if c.linear_skip:  # a linear map of each 17x17 window on the stride-16 grid (an overlapped block transform)
        g.add(n, g.conv(-1, 3, c.latent_channels, 17, stride=16))
    return g


def hyper_analysis_spec(c: CiIcmConfig) -> GraphSpec:
    g = GraphSpec()
    n = g.conv(-1, c.latent_channels, c.hyper_width, 3, act="leaky")
    n = g.conv(n, c.hyper_width, c.hyper_width, 3, stride=2, act="leaky")
    g.conv(n, c.hyper_width, c.hyper_channels, 3, stride=2)
    return g


def hyper_synthesis_spec(c: CiIcmConfig) -> GraphSpec:
    g = GraphSpec()
    n = g.conv(-1, c.hyper_channels, c.hyper_width, 3, act="leaky")
    n = _upsample(g, n, c.hyper_width, c.hyper_width)
    n = _upsample(g, n, c.hyper_width, c.hyper_width)
    g.conv(n, c.hyper_width, c.hyper_width, 3, act="leaky")
    return g


def param_spec(c: CiIcmConfig, group: int) -> GraphSpec:
    """Entropy parameters of group ``group`` (unit gain): input 0 the hyper features, input 1 (with context,
    after the first group) the unit-gain groups decoded so far; output ``2 * size``: means then scales."""
    lo, hi = c.bounds()[group]
    with_context = c.context and group > 0
    g = GraphSpec()
    src = g.cat(-1, -2) if with_context else -1
    n = g.conv(src, c.hyper_width + (lo if with_context else 0), c.param_width, 1, act="leaky")
    n = g.conv(n, c.param_width, c.param_width, 3, groups=c.param_width, act="leaky")
    n = g.conv(n, c.param_width, c.param_width, 1, act="leaky")
    g.conv(n, c.param_width, 2 * (hi - lo), 1)
    return g


def synthesis_spec(c: CiIcmConfig) -> GraphSpec:
    """Input: the unit-gain latent. Outputs: (feature map ``f`` at 1/2, plain RGB picture)."""
    s0, s1, s2, s3 = c.synthesis_widths
    g = GraphSpec()
    n = g.conv(-1, c.latent_channels, s0, 3, act="leaky")
    n = _ds_block(g, n, s0)
    n = _upsample(g, n, s0, s1)
    n = _ds_block(g, n, s1)
    n = _upsample(g, n, s1, s2)
    n = _ds_block(g, n, s2)
    n = _upsample(g, n, s2, s3)
    f = _ds_block(g, n, s3)
    rgb = g.shuffle(g.conv(f, s3, 12, 3), 2)
    if c.linear_skip:  # each latent position's linear 16x16 block of the picture, added
        rgb = g.add(rgb, g.shuffle(g.conv(-1, c.latent_channels, 3 * 256, 1), 16))
    g.outputs = (f, rgb)
    return g


def adapter_spec(c: CiIcmConfig) -> GraphSpec:
    """TSCA adapter: inputs (feature map ``f``, plain picture); output the adapted picture = plain + an RGB
    correction from 1x1 conv, depthwise 3x3, 1x1 conv to 12 channels and a pixel shuffle."""
    s3, w = c.synthesis_widths[3], c.adapter_width
    g = GraphSpec()
    n = g.conv(-1, s3, w, 1, act="leaky")
    n = g.conv(n, w, w, 3, groups=w, act="leaky")
    n = g.shuffle(g.conv(n, w, 12, 1), 2)
    g.add(-2, n)
    return g


def graph_macs(spec: GraphSpec, input_shapes: list[tuple[int, int, int]]) -> int:
    """Multiply-accumulates of one pass of a graph for inputs of the given (C, H, W) shapes."""
    shapes = spec.node_shapes(input_shapes)
    macs = 0
    for node, (_, h, w) in zip(spec.nodes, shapes):
        if node.op == "conv":
            conv = spec.convs[node.arg]
            macs += conv.out_channels * (conv.in_channels // conv.groups) * conv.kernel ** 2 * h * w
    return macs


def complexity(c: CiIcmConfig) -> dict:
    """kMAC per pixel of the coded picture (input_size^2) of the encoder's and the decoder's networks.
    The encoder runs g_a, h_a, h_s and every e_g (it needs the entropy parameters); the decoder h_s, e_g,
    g_s and (optionally) one adapter."""
    s = c.input_size
    lat, hyp = (c.latent_channels, s // 16, s // 16), (c.hyper_channels, s // 64, s // 64)
    hw = (c.hyper_width, s // 16, s // 16)
    parts = {"g_a": graph_macs(analysis_spec(c), [(3, s, s)]), "h_a": graph_macs(hyper_analysis_spec(c), [lat]),
             "h_s": graph_macs(hyper_synthesis_spec(c), [hyp]),
             "e": sum(graph_macs(param_spec(c, g), [hw, (lo, s // 16, s // 16)])
                      for g, (lo, _) in enumerate(c.bounds())),
             "g_s": graph_macs(synthesis_spec(c), [lat]),
             "adapter": graph_macs(adapter_spec(c), [(c.synthesis_widths[3], s // 2, s // 2), (3, s, s)])}
    per_px = {k: v / (s * s) / 1000 for k, v in parts.items()}
    per_px["encoder"] = per_px["g_a"] + per_px["h_a"] + per_px["h_s"] + per_px["e"]
    per_px["decoder"] = per_px["h_s"] + per_px["e"] + per_px["g_s"]
    per_px["decoder_adapter"] = per_px["decoder"] + per_px["adapter"]
    return {k: round(v, 3) for k, v in per_px.items()}


# -- training model --------------------------------------------------------------------------------------


def _zero_last_conv(graph: FloatGraph) -> None:
    with torch.no_grad():
        graph.convs[-1].weight.zero_()
        graph.convs[-1].bias.zero_()


class CiIcmModel(nn.Module):
    """The float model. ``forward(x, quality)`` codes a batch of pictures (N x 3 x H x W in [0, 1], H and W
    multiples of 64), sample ``i`` at quality index ``quality[i]`` (0-based)."""

    def __init__(self, config: CiIcmConfig):
        super().__init__()
        self.config = c = config
        self.g_a = FloatGraph(analysis_spec(c))
        self.h_a = FloatGraph(hyper_analysis_spec(c))
        self.h_s = FloatGraph(hyper_synthesis_spec(c))
        self.e = nn.ModuleList(FloatGraph(param_spec(c, g)) for g in range(len(c.groups)))
        self.g_s = FloatGraph(synthesis_spec(c))
        self.adapters = nn.ModuleDict({adapter_key(t): FloatGraph(adapter_spec(c)) for t in c.task_networks})
        for adapter in self.adapters.values():
            _zero_last_conv(adapter)
        self.priors = nn.ModuleList(FactorizedPrior(c.hyper_channels) for _ in range(c.qualities))
        self.gaussian = GaussianConditional()
        first, ratio = c.initial_gains
        ladder = torch.tensor([math.log(first) + q * math.log(ratio) for q in range(c.qualities)])
        columns = len(c.groups) if c.group_gains else 1
        self.log_gain = nn.Parameter(ladder.view(-1, 1).repeat(1, columns))
        self.log_hyper_gain = nn.Parameter(torch.zeros(c.qualities))

    # -- gains
    def gains(self) -> torch.Tensor:
        """Q x G gains on the 2**-16 grid (straight-through)."""
        gains = torch.exp(self.log_gain)
        if gains.shape[1] == 1:
            gains = gains.expand(-1, len(self.config.groups))
        return gain_grid(gains)

    def hyper_gains(self) -> torch.Tensor:
        return gain_grid(torch.exp(self.log_hyper_gain))

    # -- the parts
    def hyper(self, y: torch.Tensor, quality: torch.Tensor, noise: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """The hyper features (fixed-point grid) and the bits of ``z`` per picture."""
        z = self.h_a(y)
        hg = self.hyper_gains()[quality].view(-1, 1, 1, 1)
        zs = z * hg
        bits = torch.zeros(len(z), device=z.device, dtype=z.dtype)
        for q in torch.unique(quality).tolist():
            index = torch.nonzero(quality == q).flatten()
            _, likelihood = self.priors[q](zs[index], training=noise)
            bits = bits.index_copy(0, index, -torch.log2(likelihood).sum(dim=(1, 2, 3)))
        medians = torch.stack([p.medians() for p in self.priors])[quality].view(len(z), -1, 1, 1)
        z_hat = ste_round(zs - medians) + medians
        return fake_fixed(self.h_s(fake_fixed(z_hat / hg))), bits

    def synthesise(self, y_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(feature map, plain picture), both on the fixed-point grid."""
        f, rgb = self.g_s(fake_fixed(y_hat))
        return fake_fixed(f), fake_fixed(rgb)

    def adapt(self, f: torch.Tensor, rgb: torch.Tensor, task_network: str) -> torch.Tensor:
        """The picture for ``task_network``: plain picture + its adapter's correction."""
        return fake_fixed(self.adapters[adapter_key(task_network)](f, rgb))

    def forward(self, x: torch.Tensor, quality: torch.Tensor, noise: bool = True,
                truncate: int | None = None) -> dict:
        """Training pass. Returns ``x_hat`` (plain picture), ``f`` (feature map), ``y``, ``y_hat``,
        ``coding`` (:class:`GroupCoding`), ``bits_y`` (N x G), ``bits_z`` (N), ``bits`` (N) and with
        ``truncate=k`` ``x_trunc``: the plain picture of a decode of the first ``k`` groups."""
        y = self.g_a(x)
        hyper, bits_z = self.hyper(y, quality, noise)
        gains = self.gains()[quality]
        coding: GroupCoding = code_groups(y, gains, hyper, self.e, self.config.bounds(), self.gaussian, noise,
                                          context=self.config.context, unit_params=True, truncate=truncate)
        f, x_hat = self.synthesise(coding.y_hat)
        out = {"x_hat": x_hat, "f": f, "y": y, "y_hat": coding.y_hat, "coding": coding, "bits_y": coding.bits,
               "bits_z": bits_z, "bits": coding.bits.sum(1) + bits_z}
        if coding.y_trunc is not None:
            out["x_trunc"] = self.synthesise(coding.y_trunc)[1]
        return out


# -- export to the runtime form -------------------------------------------------------------------------

PRIOR_BUFFERS = ("quantized_cdf", "cdf_length", "offset", "medians")


def decoder_graph_names(config: CiIcmConfig) -> list[str]:
    return ["h_s"] + [f"e{g}" for g in range(len(config.groups))] + ["g_s"] + [
        f"adapter.{adapter_key(t)}" for t in config.task_networks]


def _graphs(model: CiIcmModel) -> dict[str, FloatGraph]:
    graphs = {"g_a": model.g_a, "h_a": model.h_a, "h_s": model.h_s, "g_s": model.g_s}
    graphs.update({f"e{g}": e for g, e in enumerate(model.e)})
    graphs.update({f"adapter.{key}": a for key, a in model.adapters.items()})
    return graphs


def _to_q16(values: torch.Tensor) -> np.ndarray:
    return torch.round(values.detach().double() * GAIN_SCALE).clamp(1, (1 << 24) - 1).to(torch.int64).numpy()


@torch.no_grad()
def export_runtime(model: CiIcmModel, extra: dict | None = None) -> dict[str, np.ndarray]:
    """The runtime weights of a trained model (keys: the module docstring), for ``np.savez``."""
    model = copy.deepcopy(model).cpu().float().eval()
    config = model.config
    graphs = _graphs(model)
    weights: dict[str, np.ndarray] = {
        "format": np.array(FORMAT), "config": np.array(json.dumps(config.to_dict())),
        "specs": np.array(json.dumps({name: g.spec.to_dict() for name, g in graphs.items()})),
        "info": np.array(json.dumps(dict(extra or {}))),
        "gains_q16": _to_q16(model.gains()), "hyper_gains_q16": _to_q16(model.hyper_gains()),
        "gaussian.scale_table_q16": model.gaussian.scale_table_q16.cpu().numpy().astype(np.int64)}
    for name in ("g_a", "h_a"):
        for k, conv in enumerate(graphs[name].convs):
            weights[f"{name}.w{k}"] = conv.weight.numpy().astype(np.float16)
            weights[f"{name}.b{k}"] = conv.bias.numpy().astype(np.float16)
    for name in decoder_graph_names(config):
        for key, value in ExactGraph.freeze(graphs[name]).state_dict().items():
            weights[f"{name}.{key}"] = value.numpy()
    for q, prior in enumerate(model.priors):
        prior.update(force=True)
        for key in PRIOR_BUFFERS:
            weights[f"prior{q}.{key}"] = getattr(prior, f"_{key}").cpu().numpy()
    return weights


# -- runtime ------------------------------------------------------------------------------------------------


def _round_div(num: torch.Tensor, den: int) -> torch.Tensor:
    """round(num / den) (half up) of integer tensors, in int64: exact on every device."""
    return torch.div(2 * num + den, 2 * den, rounding_mode="floor")


def _scale_fixed(a: torch.Tensor, gain_q16: int) -> torch.Tensor:
    """Fixed-point ``a`` (float64 integers) times ``gain / 2**16``, rounded, saturated (float64 integers)."""
    return _round_div(a.to(torch.int64) * gain_q16, GAIN_SCALE).to(torch.float64).clamp_(-ACT_LIMIT, ACT_LIMIT)


def _unscale_fixed(a: torch.Tensor, gain_q16: int) -> torch.Tensor:
    """Fixed-point ``a`` divided by ``gain / 2**16``, rounded, saturated."""
    return _round_div(a.to(torch.int64) * GAIN_SCALE, gain_q16).to(torch.float64).clamp_(-ACT_LIMIT, ACT_LIMIT)


PRIOR_DTYPES = (np.int32, np.int32, np.int32, np.float32)  # of PRIOR_BUFFERS, as the file holds them
CONFIG_INTEGERS = ("input_size", "latent_channels", "hyper_channels", "hyper_width", "qualities")


def _check_config_values(values) -> None:
    """The decoder-relevant values of a file's ``config`` JSON, with their JSON types (docs/decoding.md D.12)."""
    if not isinstance(values, dict):
        raise ValueError("config must be a JSON object")
    for key in CONFIG_INTEGERS:
        if isinstance(values.get(key), bool) or not isinstance(values.get(key), int) or values[key] < 1:
            raise ValueError(f"config.{key} must be a positive integer")
    groups = values.get("groups")
    if not isinstance(groups, list) or not groups or any(isinstance(g, bool) or not isinstance(g, int) or g < 1
                                                           for g in groups):
        raise ValueError("config.groups must be a list of positive integers")
    if not isinstance(values.get("context"), bool):
        raise ValueError("config.context must be true or false")
    networks = values.get("task_networks")
    if not isinstance(networks, list) or any(not isinstance(t, str) for t in networks):
        raise ValueError("config.task_networks must be a list of names")
    if values["input_size"] % 64 or not 1 <= values["qualities"] <= 6:
        raise ValueError("config.input_size must be a multiple of 64 and config.qualities 1..6")


def _check_gains(values, shape: tuple, key: str) -> None:
    values = np.asarray(values)
    if values.dtype != np.int64 or values.shape != shape or values.min() < 1 or values.max() >= 1 << 24:
        raise ValueError(f"{key} must be int64 {shape} in [1, 2**24)")


def _check_graphs(c: CiIcmConfig, specs: dict) -> None:
    """The file's graphs are the ones a decoder runs (docs/decoding.md D.12): their names, and the shapes they
    map between at the model's input size."""
    s, lat = c.input_size, c.input_size // 16
    names = {"g_a", "h_a"} | set(decoder_graph_names(c))
    if set(specs) != names:
        raise ValueError(f"specs must hold the graphs {sorted(names)}")
    expect = {"g_a": ([(3, s, s)], [(c.latent_channels, lat, lat)]),
              "h_a": ([(c.latent_channels, lat, lat)], [(c.hyper_channels, s // 64, s // 64)]),
              "h_s": ([(c.hyper_channels, s // 64, s // 64)], [(c.hyper_width, lat, lat)])}
    for g, (lo, hi) in enumerate(c.bounds()):
        inputs = [(c.hyper_width, lat, lat)] + ([(lo, lat, lat)] if c.context and g else [])
        expect[f"e{g}"] = (inputs, [(2 * (hi - lo), lat, lat)])
    for name, (inputs, outputs) in expect.items():
        if specs[name].output_shapes(inputs) != outputs:
            raise ValueError(f"graph {name} does not map {inputs} to {outputs}")
    shapes = specs["g_s"].output_shapes([(c.latent_channels, lat, lat)])
    if len(shapes) != 2 or shapes[1] != (3, s, s):
        raise ValueError(f"graph g_s must give a feature map and a 3 x {s} x {s} picture")
    for t in c.task_networks:
        name = f"adapter.{adapter_key(t)}"
        if specs[name].output_shapes([shapes[0], shapes[1]]) != [(3, s, s)]:
            raise ValueError(f"graph {name} must map the feature map and the picture to a picture")


class CiIcmRuntime:
    """A loaded runtime weights file (the dict of :func:`export_runtime`, e.g. ``dict(np.load(path,
    allow_pickle=False))``): the encoder's float analysis, the exact hyper synthesis, entropy parameters,
    synthesis and adapters, and the entropy coding of the hyper latent and the groups."""

    def __init__(self, weights, device: torch.device | str = "cpu"):
        if str(weights["format"]) != FORMAT:
            raise ValueError(f"not an {FORMAT} weights file")
        self.device = torch.device(device)
        config_values = json.loads(str(weights["config"]))
        _check_config_values(config_values)
        self.config = CiIcmConfig.from_dict(config_values)
        self.info = json.loads(str(weights["info"]))
        specs = {name: GraphSpec.from_dict(v) for name, v in json.loads(str(weights["specs"])).items()}
        _check_graphs(self.config, specs)
        self.encoder_graphs = {}
        for name in ("g_a", "h_a"):
            graph = FloatGraph(specs[name])
            state = {}
            for k in range(len(specs[name].convs)):
                for key, kind in ((f"{name}.w{k}", "weight"), (f"{name}.b{k}", "bias")):
                    if weights[key].dtype != np.float16:
                        raise ValueError(f"{key} must be float16")
                    state[f"convs.{k}.{kind}"] = torch.from_numpy(weights[key].astype(np.float32))
            graph.load_state_dict(state)
            self.encoder_graphs[name] = graph.to(self.device).eval().requires_grad_(False)
        self.graphs: dict[str, ExactGraph] = {}
        for name in decoder_graph_names(self.config):
            graph = ExactGraph(specs[name])
            graph.load_state_dict({key: torch.from_numpy(np.asarray(weights[f"{name}.{key}"]))
                                   for key in graph.state_dict()})
            graph.check_bounds()
            self.graphs[name] = graph.to(self.device)
        groups, qualities = len(self.config.groups), self.config.qualities
        _check_gains(weights["gains_q16"], (qualities, groups), "gains_q16")
        _check_gains(weights["hyper_gains_q16"], (qualities,), "hyper_gains_q16")
        self.gains_q16 = [[int(v) for v in row] for row in weights["gains_q16"]]
        self.hyper_gains_q16 = [int(v) for v in weights["hyper_gains_q16"]]
        self.priors = []
        for q in range(self.config.qualities):
            prior = FactorizedPrior(self.config.hyper_channels)
            state = {}
            for key, dtype in zip(PRIOR_BUFFERS, PRIOR_DTYPES):
                value = np.asarray(weights[f"prior{q}.{key}"])
                if value.dtype != dtype:
                    raise ValueError(f"prior{q}.{key} must be {np.dtype(dtype).name}")
                state[f"_{key}"] = torch.from_numpy(value)
            prior.load_state_dict(state, strict=False)
            prior.check_tables()
            self.priors.append(prior)
        table = np.asarray(weights["gaussian.scale_table_q16"])
        if table.dtype != np.int64 or tuple(int(v) for v in table.reshape(-1)) != DEFAULT_SCALE_TABLE_Q16 \
                or table.shape != (len(DEFAULT_SCALE_TABLE_Q16),):
            raise ValueError("gaussian.scale_table_q16 must be the 64 scales of docs/entropy.md E.5.1")
        self.gaussian = GaussianConditional(DEFAULT_SCALE_TABLE_Q16)

    # -- shapes
    def latent_shape(self, height: int, width: int) -> tuple[int, int]:
        return -(-height // 16), -(-width // 16)

    def hyper_shape(self, height: int, width: int) -> tuple[int, int]:
        return -(-height // 64), -(-width // 64)

    # -- exact parts (decoder and encoder)
    def hyper_features(self, z_hat: torch.Tensor, quality: int) -> torch.Tensor:
        """Hyper features (fixed point) from the decoded hyper latent of quality index ``quality``."""
        z_unit = _unscale_fixed(to_fixed(z_hat.to(self.device)), self.hyper_gains_q16[quality])
        return self.graphs["h_s"](z_unit)

    def group_params(self, group: int, hyper: torch.Tensor, prev_unit: list[torch.Tensor],
                     quality: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, scale) of group ``group`` at quality ``quality``, gained, fixed point."""
        size = self.config.groups[group]
        net = self.graphs[f"e{group}"]
        out = net(hyper, torch.cat(prev_unit, 1)) if (group and self.config.context) else net(hyper)
        gain = self.gains_q16[quality][group]
        return _scale_fixed(out[:, :size], gain), _scale_fixed(out[:, size:], gain)

    def indexes(self, scale_fixed: torch.Tensor) -> np.ndarray:
        q = scale_fixed.clamp_min(0).cpu().numpy().astype(np.int64)
        return self.gaussian.indexes_from_quantized_scales(q, ACT_FRAC_BITS)

    def synthesise(self, y_unit: torch.Tensor, task_network: str | None = None) -> torch.Tensor:
        """The decoded picture (fixed point, N x 3 x H x W): plain, or adapted for ``task_network``."""
        f, rgb = self.graphs["g_s"](y_unit)
        if task_network is None:
            return rgb
        return self.graphs[f"adapter.{adapter_key(task_network)}"](f, rgb)

    # -- encoder
    @torch.no_grad()
    def encode(self, x: torch.Tensor, quality: int) -> tuple[bytes, list[bytes]]:
        """``x`` (1 x 3 x H x W in [0, 1], H and W multiples of 64) -> (hyper substream, group substreams)."""
        y, z_bytes, hyper = self.analyse(x, quality)
        return z_bytes, self.code_latent(y, hyper, quality)

    @torch.no_grad()
    def analyse(self, x: torch.Tensor, quality: int) -> tuple[torch.Tensor, bytes, torch.Tensor]:
        """The analysis of ``x`` (N = 1): the latent ``y`` (float), the coded hyper latent (its substream) and
        the hyper features the decoder will compute from it (fixed point)."""
        y = self.encoder_graphs["g_a"](x.to(self.device).float())
        z = self.encoder_graphs["h_a"](y) * (self.hyper_gains_q16[quality] / GAIN_SCALE)
        prior = self.priors[quality]
        z_bytes = prior.compress(z.cpu())
        return y, z_bytes, self.hyper_features(prior.decompress(z_bytes, tuple(z.shape)), quality)

    @torch.no_grad()
    def code_latent(self, y: torch.Tensor, hyper: torch.Tensor, quality: int) -> list[bytes]:
        """The group substreams of the latent ``y`` (float, N = 1) given the hyper features (fixed point)."""
        prev, streams = [], []
        for group, (lo, hi) in enumerate(self.config.bounds()):
            gain = self.gains_q16[quality][group]
            mean, scale = self.group_params(group, hyper, prev, quality)
            v = y[:, lo:hi].double() * (gain / GAIN_SCALE)
            symbols = torch.round(v - mean / (1 << ACT_FRAC_BITS)).clamp_(-(1 << 20), 1 << 20)
            streams.append(self.gaussian.compress(symbols.cpu().numpy().astype(np.int32), self.indexes(scale)))
            v_fixed = (symbols * (1 << ACT_FRAC_BITS) + mean).clamp_(-ACT_LIMIT, ACT_LIMIT)
            prev.append(_unscale_fixed(v_fixed, gain))
        return streams

    # -- decoder
    @torch.no_grad()
    def decode_latent(self, z_bytes: bytes, streams: list, quality: int, height: int, width: int) -> torch.Tensor:
        """The unit-gain latent (fixed point). A group whose stream is None (or missing at the end) takes its
        predicted mean (partial decoding)."""
        hh, hw = self.hyper_shape(height, width)
        z_hat = self.priors[quality].decompress(z_bytes, (1, self.config.hyper_channels, hh, hw))
        hyper = self.hyper_features(z_hat, quality)
        prev = []
        for group in range(len(self.config.groups)):
            gain = self.gains_q16[quality][group]
            mean, scale = self.group_params(group, hyper, prev, quality)
            stream = streams[group] if group < len(streams) else None
            if stream is None:
                v_fixed = mean
            else:
                symbols = self.gaussian.decompress(stream, self.indexes(scale))
                symbols = torch.from_numpy(symbols.astype(np.float64)).to(self.device)
                v_fixed = (symbols * (1 << ACT_FRAC_BITS) + mean).clamp_(-ACT_LIMIT, ACT_LIMIT)
            prev.append(_unscale_fixed(v_fixed, gain))
        return torch.cat(prev, 1)

    @torch.no_grad()
    def decode(self, z_bytes: bytes, streams: list, quality: int, height: int, width: int,
               task_network: str | None = None) -> torch.Tensor:
        """Substreams -> the decoded picture in fixed point (``from_fixed`` gives floats in about [0, 1])."""
        return self.synthesise(self.decode_latent(z_bytes, streams, quality, height, width), task_network)


def load_runtime(path, device: torch.device | str = "cpu") -> CiIcmRuntime:
    """The model zoo's loader of ``ci-icm`` weights files (``.npz``, read with ``allow_pickle=False``)."""
    from .zoo import read_npz

    return CiIcmRuntime(read_npz(path), device)


__all__ = ["CiIcmConfig", "CiIcmModel", "NOMINAL_PIXELS", "TASK_NETWORKS", "adapter_key", "analysis_spec",
           "hyper_analysis_spec", "hyper_synthesis_spec", "param_spec", "synthesis_spec", "adapter_spec",
           "graph_macs", "complexity", "export_runtime", "CiIcmRuntime", "FORMAT", "decoder_graph_names",
           "load_runtime"]


def model_layout(runtime: "CiIcmRuntime", quality: int) -> list[dict]:
    """The channel-group header that a ``ci-icm`` model implies at ``quality`` (1-based;
    ``ps_model_layout_flag`` 1): the latent (``cg_tensor_id`` 0), the model's group sizes, the quality's gains,
    no offsets, channels in index order (their importance order by training). ``docs/ci-icm.md`` gives the
    same rule for decoder implementers."""
    config = runtime.config
    gains = runtime.gains_q16[quality - 1]
    return [{"cg_tensor_id": 0, "cg_num_channels": config.latent_channels, "cg_num_groups": len(config.groups),
             "groups": [{"cg_group_size": size, "cg_scale": gain / GAIN_SCALE}
                        for size, gain in zip(config.groups, gains)],
             "cg_offset_flag": 0, "cg_channel_order_flag": 0}]

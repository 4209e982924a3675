"""Darknet ``.cfg`` parser, ``.weights`` loader and a plain PyTorch re-implementation of the network.

Only the inference path is implemented; training options in the cfg are ignored. Supported sections:

- ``[net]`` (``width``, ``height``, ``channels``),
- ``[convolutional]`` (``filters``, ``size``, ``stride``, ``pad``/``padding``, ``groups``, ``dilation``,
  ``batch_normalize``, ``activation``),
- ``[shortcut]`` (``from``, one or several layers, ``activation``; no weighted shortcuts),
- ``[route]`` (``layers``, ``groups``, ``group_id``),
- ``[maxpool]`` (``size``, ``stride``, ``padding``; stride 1 gives darknet's "same" SPP pooling),
- ``[upsample]`` (``stride``, ``scale``), ``[dropout]`` (identity at inference),
- ``[yolo]`` (``mask``, ``anchors``, ``classes``, ``num``, ``scale_x_y``, ``new_coords``).

Layer indices are darknet's: the first section after ``[net]`` is layer 0. Each layer reads the
outputs of earlier layers listed in its ``sources``; :meth:`DarknetNet.run` executes any range of
layers from a cache of outputs, which is what the split (part 1 / part 2) uses.

Any problem with the cfg or the weights raises :class:`~icm.common.errors.ResourceError` with the
file name and, for the cfg, the line number.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ResourceError

BN_EPS = 1e-5  # darknet normalizes with sqrt(variance + .00001f)
LEAKY_SLOPE = 0.1  # darknet's "leaky" activation

# ----------------------------------------------------------------------------------------------
# cfg parsing
# ----------------------------------------------------------------------------------------------


@dataclass
class CfgSection:
    """One ``[kind]`` block of a cfg file with its raw ``key=value`` options."""

    kind: str
    line: int
    source: str
    options: dict[str, str] = field(default_factory=dict)
    option_lines: dict[str, int] = field(default_factory=dict)

    def where(self, key: str | None = None) -> str:
        line = self.option_lines.get(key, self.line) if key else self.line
        return f"{self.source}:{line}"

    def error(self, message: str, key: str | None = None) -> ResourceError:
        return ResourceError(f"bad darknet cfg {self.where(key)} [{self.kind}]: {message}")

    def get_int(self, key: str, default: int | None = None) -> int:
        if key not in self.options:
            if default is None:
                raise self.error(f"missing option '{key}'")
            return default
        try:
            return int(self.options[key])
        except ValueError:
            raise self.error(f"option '{key}' must be an integer, got '{self.options[key]}'", key) from None

    def get_float(self, key: str, default: float) -> float:
        if key not in self.options:
            return default
        try:
            return float(self.options[key])
        except ValueError:
            raise self.error(f"option '{key}' must be a number, got '{self.options[key]}'", key) from None

    def get_ints(self, key: str, default: list[int] | None = None) -> list[int]:
        if key not in self.options:
            if default is None:
                raise self.error(f"missing option '{key}'")
            return list(default)
        items = [item.strip() for item in self.options[key].split(",") if item.strip()]
        try:
            values = [int(item) for item in items]
        except ValueError:
            raise self.error(f"option '{key}' must be a list of integers, got '{self.options[key]}'",
                             key) from None
        if not values:
            raise self.error(f"option '{key}' is empty", key)
        return values

    def get_str(self, key: str, default: str) -> str:
        return self.options.get(key, default).strip()


def parse_cfg(path: str | Path) -> list[CfgSection]:
    """Parse a darknet cfg file into its sections (the first one must be ``[net]``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ResourceError(f"cannot read darknet cfg {path}: {exc.strerror}") from None
    return parse_cfg_text(text, source=path.name)


def parse_cfg_text(text: str, source: str = "<cfg>") -> list[CfgSection]:
    """Parse cfg text; ``source`` names the file in error messages."""
    sections: list[CfgSection] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]") or len(line) < 3:
                raise ResourceError(f"bad darknet cfg {source}:{number}: malformed section header '{raw.strip()}'")
            sections.append(CfgSection(kind=line[1:-1].strip().lower(), line=number, source=source))
            continue
        if "=" not in line:
            raise ResourceError(f"bad darknet cfg {source}:{number}: expected 'key=value' or '[section]', "
                                f"got '{raw.strip()}'")
        if not sections:
            raise ResourceError(f"bad darknet cfg {source}:{number}: option before the first [section]")
        key, value = (part.strip() for part in line.split("=", 1))
        if not key or not value:
            raise ResourceError(f"bad darknet cfg {source}:{number}: empty key or value in '{raw.strip()}'")
        sections[-1].options[key] = value
        sections[-1].option_lines[key] = number
    if not sections or sections[0].kind not in ("net", "network"):
        raise ResourceError(f"bad darknet cfg {source}: the first section must be [net]")
    if len(sections) == 1:
        raise ResourceError(f"bad darknet cfg {source}: no layers after [net]")
    return sections


# ----------------------------------------------------------------------------------------------
# layers
# ----------------------------------------------------------------------------------------------

Shape = tuple[int, int, int]  # (channels, height, width) of one layer output, batch excluded


def _mish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.tanh(F.softplus(x))


ACTIVATIONS = {
    "linear": lambda x: x,
    "leaky": lambda x: F.leaky_relu(x, LEAKY_SLOPE),
    "relu": F.relu,
    "relu6": F.relu6,
    "logistic": torch.sigmoid,
    "tanh": torch.tanh,
    "mish": _mish,
    "swish": lambda x: x * torch.sigmoid(x),
    "hard_mish": lambda x: x * torch.clamp(x + 2.0, 0.0, 2.0) / 2.0,  # darknet's hard_mish
}


def _activation(section: CfgSection):
    name = section.get_str("activation", "linear").lower()
    if name not in ACTIVATIONS:
        raise section.error(f"unsupported activation '{name}' (supported: {', '.join(ACTIVATIONS)})",
                            "activation")
    return name, ACTIVATIONS[name]


def _reject(section: CfgSection, keys_with_defaults: dict[str, str]) -> None:
    """Refuse options that change inference but are not implemented here."""
    for key, default in keys_with_defaults.items():
        if key in section.options and section.options[key].strip() != default:
            raise section.error(f"option '{key}={section.options[key]}' is not supported", key)


class DarknetLayer(nn.Module):
    """A layer reading the outputs of the layers in ``sources`` (absolute darknet indices)."""

    kind = "layer"

    def __init__(self, index: int, sources: list[int], line: int):
        super().__init__()
        self.index = index
        self.sources = sources
        self.line = line

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        return input_shapes[0]

    def num_weights(self) -> int:
        return 0

    def load_weights(self, params: np.ndarray, cursor: int) -> int:
        return cursor

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class ConvLayer(DarknetLayer):
    """``[convolutional]``: conv (grouped/depthwise allowed) [+ batch norm] + activation."""

    kind = "convolutional"

    def __init__(self, index: int, section: CfgSection, in_channels: int):
        super().__init__(index, [index - 1], section.line)
        _reject(section, {"xnor": "0", "binary": "0", "antialiasing": "0", "deform": "0",
                          "share_index": "", "stride_x": section.options.get("stride", "1"),
                          "stride_y": section.options.get("stride", "1"), "flipped": "0",
                          "coordconv": "0"})
        filters = section.get_int("filters")
        size = section.get_int("size", 1)
        stride = section.get_int("stride", 1)
        groups = section.get_int("groups", 1)
        dilation = section.get_int("dilation", 1)
        if section.get_int("pad", 0):
            padding = size // 2
        else:
            padding = section.get_int("padding", 0)
        self.batch_normalize = bool(section.get_int("batch_normalize", 0))
        if min(filters, size, stride, groups, dilation) < 1 or padding < 0:
            raise section.error("filters, size, stride, groups and dilation must be positive")
        if in_channels % groups or filters % groups:
            raise section.error(f"groups={groups} must divide the input channels ({in_channels}) "
                                f"and filters ({filters})", "groups")
        self.activation_name, self.activation = _activation(section)
        self.conv = nn.Conv2d(in_channels, filters, size, stride, padding, dilation, groups,
                              bias=not self.batch_normalize)
        self.bn = nn.BatchNorm2d(filters, eps=BN_EPS) if self.batch_normalize else None

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        _, height, width = input_shapes[0]
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (self.conv.kernel_size, self.conv.stride,
                                                  self.conv.padding, self.conv.dilation)
        return (self.conv.out_channels, (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1,
                (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1)

    def num_weights(self) -> int:
        filters = self.conv.out_channels
        return (4 * filters if self.batch_normalize else filters) + self.conv.weight.numel()

    def load_weights(self, params: np.ndarray, cursor: int) -> int:
        """Copy this layer's parameters from ``params[cursor:]``; return the new cursor."""

        def take(count: int) -> torch.Tensor:
            nonlocal cursor
            chunk = torch.from_numpy(params[cursor:cursor + count].copy())
            cursor += count
            return chunk

        filters = self.conv.out_channels
        if self.batch_normalize and self.bn is None:
            raise RuntimeError("load weights before fusing the batch norm")
        with torch.no_grad():
            if self.bn is not None:  # darknet order: bias, scale, mean, variance
                self.bn.bias.copy_(take(filters))
                self.bn.weight.copy_(take(filters))
                self.bn.running_mean.copy_(take(filters))
                self.bn.running_var.copy_(take(filters))
            else:
                self.conv.bias.copy_(take(filters))
            self.conv.weight.copy_(take(self.conv.weight.numel()).view_as(self.conv.weight))
        return cursor

    def fuse_batchnorm(self) -> None:
        """Fold the batch norm into the conv weights and bias (as darknet does for inference)."""
        if self.bn is None:
            return
        bn, conv = self.bn, self.conv
        with torch.no_grad():
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                              conv.dilation, conv.groups, bias=True).to(conv.weight.device)
            fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
            fused.bias.copy_(bn.bias - bn.running_mean * scale)
        self.conv, self.bn = fused.requires_grad_(conv.weight.requires_grad), None

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        x = self.conv(inputs[0])
        if self.bn is not None:
            x = self.bn(x)
        if self.activation_name == "leaky":  # in place: x is this layer's own fresh tensor
            return F.leaky_relu_(x, LEAKY_SLOPE) if not x.requires_grad else F.leaky_relu(x, LEAKY_SLOPE)
        return self.activation(x)


class ShortcutLayer(DarknetLayer):
    """``[shortcut]``: sum of the previous layer and the ``from`` layers, then activation."""

    kind = "shortcut"

    def __init__(self, index: int, section: CfgSection, resolve):
        _reject(section, {"weights_type": "none", "weights_normalization": "none"})
        froms = [resolve(value, "from") for value in section.get_ints("from")]
        super().__init__(index, [index - 1] + froms, section.line)
        self.section = section
        self.activation_name, self.activation = _activation(section)

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        if any(shape != input_shapes[0] for shape in input_shapes):
            raise self.section.error(f"shortcut inputs differ in shape: {input_shapes} "
                                     f"(layers {self.sources})", "from")
        return input_shapes[0]

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        total = inputs[0]
        for other in inputs[1:]:
            total = total + other
        return self.activation(total)


class RouteLayer(DarknetLayer):
    """``[route]``: concatenation (on channels) of the listed layers, or a channel group of them."""

    kind = "route"

    def __init__(self, index: int, section: CfgSection, resolve):
        super().__init__(index, [resolve(value, "layers") for value in section.get_ints("layers")],
                         section.line)
        self.section = section
        self.groups = section.get_int("groups", 1)
        self.group_id = section.get_int("group_id", 0)
        if self.groups < 1 or not 0 <= self.group_id < self.groups:
            raise section.error(f"need groups >= 1 and 0 <= group_id < groups, got groups={self.groups} "
                                f"group_id={self.group_id}")

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        _, height, width = input_shapes[0]
        channels = 0
        for shape in input_shapes:
            if shape[1:] != (height, width):
                raise self.section.error(f"route inputs differ in size: {input_shapes} "
                                         f"(layers {self.sources})", "layers")
            if shape[0] % self.groups:
                raise self.section.error(f"groups={self.groups} does not divide {shape[0]} channels")
            channels += shape[0] // self.groups
        return channels, height, width

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        if self.groups > 1:
            inputs = [x.chunk(self.groups, dim=1)[self.group_id] for x in inputs]
        return inputs[0] if len(inputs) == 1 else torch.cat(inputs, dim=1)


class MaxPoolLayer(DarknetLayer):
    """``[maxpool]`` with darknet's padding rule (total ``padding`` = size-1 by default, left half
    ``padding // 2``, out-of-image samples never win); stride 1 keeps the size (SPP)."""

    kind = "maxpool"

    def __init__(self, index: int, section: CfgSection):
        super().__init__(index, [index - 1], section.line)
        _reject(section, {"maxpool_depth": "0", "antialiasing": "0",
                          "stride_x": section.options.get("stride", "1"),
                          "stride_y": section.options.get("stride", "1")})
        self.stride = section.get_int("stride", 1)
        self.size = section.get_int("size", self.stride)
        self.padding = section.get_int("padding", self.size - 1)
        if self.stride < 1 or self.size < 1 or self.padding < 0:
            raise section.error("size and stride must be positive, padding non-negative")

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        channels, height, width = input_shapes[0]
        return (channels, (height + self.padding - self.size) // self.stride + 1,
                (width + self.padding - self.size) // self.stride + 1)

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        before = self.padding // 2
        after = self.padding - before
        x = F.pad(inputs[0], (before, after, before, after), value=float("-inf"))
        return F.max_pool2d(x, self.size, self.stride)


class UpsampleLayer(DarknetLayer):
    """``[upsample]``: nearest-neighbour upsampling by an integer ``stride`` (times ``scale``)."""

    kind = "upsample"

    def __init__(self, index: int, section: CfgSection):
        super().__init__(index, [index - 1], section.line)
        self.stride = section.get_int("stride", 2)
        self.scale = section.get_float("scale", 1.0)
        if self.stride < 1:
            raise section.error("only positive upsample strides are supported", "stride")

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        channels, height, width = input_shapes[0]
        return channels, height * self.stride, width * self.stride

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        x = F.interpolate(inputs[0], scale_factor=self.stride, mode="nearest")
        return x * self.scale if self.scale != 1.0 else x


class DropoutLayer(DarknetLayer):
    """``[dropout]``: the identity at inference."""

    kind = "dropout"

    def __init__(self, index: int, section: CfgSection):
        super().__init__(index, [index - 1], section.line)

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return inputs[0]


class YoloLayer(DarknetLayer):
    """``[yolo]``: passes the raw head tensor through; it keeps the decoding parameters
    (anchors of its mask, classes, ``scale_x_y``, ``new_coords``) for :mod:`.yolo_decode`."""

    kind = "yolo"

    def __init__(self, index: int, section: CfgSection):
        super().__init__(index, [index - 1], section.line)
        self.section = section
        self.classes = section.get_int("classes", 20)
        anchors = section.get_ints("anchors")
        if len(anchors) % 2:
            raise section.error("anchors must come in (width, height) pairs", "anchors")
        num = section.get_int("num", len(anchors) // 2)
        if num != len(anchors) // 2:
            raise section.error(f"num={num} but {len(anchors) // 2} anchors given", "num")
        mask = section.get_ints("mask", list(range(num)))
        if any(not 0 <= m < num for m in mask):
            raise section.error(f"mask {mask} indexes outside the {num} anchors", "mask")
        self.anchors = [(float(anchors[2 * m]), float(anchors[2 * m + 1])) for m in mask]
        self.scale_x_y = section.get_float("scale_x_y", 1.0)
        self.new_coords = bool(section.get_int("new_coords", 0))

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        expected = len(self.anchors) * (self.classes + 5)
        if input_shapes[0][0] != expected:
            raise self.section.error(f"the previous layer has {input_shapes[0][0]} channels, "
                                     f"[yolo] needs {len(self.anchors)} x ({self.classes} + 5) = {expected}")
        return input_shapes[0]

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return inputs[0]


# ----------------------------------------------------------------------------------------------
# network
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightsHeader:
    major: int
    minor: int
    revision: int
    seen: int


class DarknetNet(nn.Module):
    """A darknet network as a list of layers; ``run`` executes any range of them."""

    def __init__(self, sections: list[CfgSection]):
        super().__init__()
        net = sections[0]
        self.source = net.source
        self.width = net.get_int("width", 416)
        self.height = net.get_int("height", 416)
        self.channels = net.get_int("channels", 3)
        layers: list[DarknetLayer] = []
        shapes: list[Shape] = []
        for index, section in enumerate(sections[1:]):
            layer = self._build_layer(index, section, shapes)
            layers.append(layer)
            shapes.append(layer.output_shape(self._input_shapes(layer, shapes,
                                                                (self.channels, self.height, self.width))))
        self.layers = nn.ModuleList(layers)
        self.output_indices = [layer.index for layer in layers if isinstance(layer, YoloLayer)]
        if not self.output_indices:
            raise ResourceError(f"bad darknet cfg {self.source}: no [yolo] output layer")
        self._last_use = self._compute_last_use()

    # -- construction ---------------------------------------------------------------------------

    def _build_layer(self, index: int, section: CfgSection, shapes: list[Shape]) -> DarknetLayer:
        def resolve(value: int, key: str) -> int:
            absolute = index + value if value < 0 else value
            if not 0 <= absolute < index:
                raise section.error(f"layer reference {value} resolves to {absolute}, "
                                    f"outside the earlier layers 0..{index - 1}", key)
            return absolute

        kind = section.kind
        if kind in ("convolutional", "conv"):
            in_channels = shapes[-1][0] if shapes else self.channels
            return ConvLayer(index, section, in_channels)
        if kind == "shortcut":
            return ShortcutLayer(index, section, resolve)
        if kind == "route":
            return RouteLayer(index, section, resolve)
        if kind in ("maxpool", "max"):
            return MaxPoolLayer(index, section)
        if kind == "upsample":
            return UpsampleLayer(index, section)
        if kind == "dropout":
            return DropoutLayer(index, section)
        if kind == "yolo":
            return YoloLayer(index, section)
        raise section.error("unsupported section type")

    @staticmethod
    def _input_shapes(layer: DarknetLayer, shapes: list[Shape], net_shape: Shape) -> list[Shape]:
        return [shapes[s] if s >= 0 else net_shape for s in layer.sources]

    def _compute_last_use(self) -> list[int]:
        last_use = list(range(len(self.layers)))
        for layer in self.layers:
            for source in layer.sources:
                if source >= 0:
                    last_use[source] = max(last_use[source], layer.index)
        return last_use

    # -- shapes and weights -----------------------------------------------------------------------

    def output_shapes(self, width: int, height: int) -> list[Shape]:
        """(C, H, W) of every layer's output for a ``width`` x ``height`` input."""
        shapes: list[Shape] = []
        for layer in self.layers:
            shapes.append(layer.output_shape(self._input_shapes(layer, shapes, (self.channels, height, width))))
        return shapes

    def num_weights(self) -> int:
        """Number of float32 parameters the weights file must hold after its header."""
        return sum(layer.num_weights() for layer in self.layers)

    def load_weights(self, path: str | Path) -> WeightsHeader:
        """Load a darknet ``.weights`` file, which must hold exactly this network's parameters."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ResourceError(f"cannot read darknet weights {path}: {exc.strerror}") from None
        if len(data) < 16:
            raise ResourceError(f"weights do not match cfg: {path.name} is too short for a header")
        major, minor, revision = struct.unpack_from("<3i", data, 0)
        if major * 10 + minor >= 2 and major < 1000 and minor < 1000:  # 64-bit "seen" counter
            (seen,), offset = struct.unpack_from("<q", data, 12), 20
        else:
            (seen,), offset = struct.unpack_from("<i", data, 12), 16
        payload = len(data) - offset
        needed = self.num_weights()
        if payload != 4 * needed:
            raise ResourceError(f"weights do not match cfg: {path.name} holds {payload} bytes after its "
                                f"{offset}-byte header, {self.source} needs {needed} float32 = {4 * needed} bytes")
        params = np.frombuffer(data, dtype="<f4", offset=offset)
        cursor = 0
        for layer in self.layers:
            cursor = layer.load_weights(params, cursor)
        assert cursor == needed
        return WeightsHeader(major, minor, revision, seen)

    def fuse_batchnorm(self) -> "DarknetNet":
        """Fold every conv's batch norm into its weights (inference only; do it after loading)."""
        for layer in self.layers:
            if isinstance(layer, ConvLayer):
                layer.fuse_batchnorm()
        return self

    # -- execution --------------------------------------------------------------------------------

    def crossing_outputs(self, split_after: int) -> list[int]:
        """Indices of layers ``<= split_after`` whose outputs layers ``> split_after`` read."""
        crossing = {source for layer in self.layers[split_after + 1:] for source in layer.sources
                    if 0 <= source <= split_after}
        return sorted(crossing)

    def run(self, cache: dict[int, torch.Tensor], start: int, stop: int,
            keep: set[int] | frozenset[int] = frozenset()) -> dict[int, torch.Tensor]:
        """Run layers ``start`` .. ``stop - 1``; ``cache`` maps layer index -> output and holds at
        least what these layers read (the network input under index -1). Outputs nobody reads
        any more are dropped unless listed in ``keep``; the updated cache is returned."""
        for index in range(start, stop):
            layer = self.layers[index]
            cache[index] = layer([cache[source] for source in layer.sources])
            for source in set(layer.sources):
                if source >= 0 and self._last_use[source] <= index and source not in keep:
                    cache.pop(source, None)
        return cache

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Full unsplit forward: the raw outputs of the ``[yolo]`` layers."""
        cache = self.run({-1: x}, 0, len(self.layers), keep=set(self.output_indices))
        return [cache[index] for index in self.output_indices]


def load_darknet(cfg_path: str | Path, weights_path: str | Path, fuse_batchnorm: bool = True) -> DarknetNet:
    """Build the network of ``cfg_path``, load ``weights_path`` into it, switch it to eval mode
    and (by default) fold the batch norms into the convolutions."""
    net = DarknetNet(parse_cfg(cfg_path))
    net.load_weights(weights_path)
    if fuse_batchnorm:
        net.fuse_batchnorm()
    return net.eval()

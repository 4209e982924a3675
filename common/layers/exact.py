"""Networks that compute exactly the same integers on every machine, thread count and device.

A learned decoder must give bit-identical entropy parameters at the encoder and at the decoder, and
(for the decoded-output hash) bit-identical output tensors. Float convolutions do not: their sums run in
an order that depends on the library, the number of threads and the device. Here every value is an
integer carried in float64:

* **activations** are integers in units of ``2**-ACT_FRAC_BITS`` (``2**-10``), saturated to
  ``|a| <= ACT_LIMIT`` (``2**21 - 1``, i.e. +-2048.0);
* **weights** of convolution ``k`` are integers in units of ``2**-shift[c]`` per output channel ``c``,
  ``|w| < 2**15`` (``shift`` is chosen per channel from the largest weight when a float network is
  frozen); **biases** are integers in units of ``2**-(ACT_FRAC_BITS + shift[c])``;
* a convolution is computed in float64: every product is an integer below ``2**36`` and every partial sum
  below ``2**52`` (checked when a layer is built, from the L1 norm of its weights), so the sum is exact
  whatever the summation order; then ``floor((acc + 2**(shift-1)) * 2**-shift)`` (round half up), also exact;
* leaky ReLU is ``a`` for ``a >= 0`` and ``floor(a * 205 / 2048)`` otherwise (slope ~0.1001); sums,
  pixel shuffles and concatenations are exact by nature.

The same graph (``GraphSpec``) has a float form (``FloatGraph``, trained with PyTorch as usual, with
the same leaky slope) and an exact form (``ExactGraph``, integer buffers only, built by ``freeze``).
On CUDA the exact convolution runs with cuDNN disabled (no FFT / Winograd algorithms); float64 has no
TF32 path. Only the operations listed in ``OPS`` exist, so nothing inexact can slip into a graph.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

ACT_FRAC_BITS = 10
ACT_SCALE = float(1 << ACT_FRAC_BITS)
ACT_LIMIT = (1 << 21) - 1
WEIGHT_LIMIT = (1 << 15) - 1
MAX_SHIFT = 30
EXACT_SUM_LIMIT = 1 << 52
LEAKY_NUM, LEAKY_SHIFT = 205, 11
LEAKY_SLOPE = LEAKY_NUM / (1 << LEAKY_SHIFT)

OPS = ("conv", "add", "cat", "shuffle", "act")
ACTIVATIONS = ("none", "leaky", "relu")


# -- fixed point ---------------------------------------------------------------------------------------


def to_fixed(x: torch.Tensor) -> torch.Tensor:
    """Float values -> saturated fixed-point integers (float64) in units of ``2**-ACT_FRAC_BITS``.

    ``x * 2**10`` is exact (a power of two) and ``round`` is exact, so equal inputs give equal integers."""
    return torch.round(x.to(torch.float64) * ACT_SCALE).clamp_(-ACT_LIMIT, ACT_LIMIT)


def from_fixed(a: torch.Tensor) -> torch.Tensor:
    """Fixed-point integers -> float32 (exact: ``|a| < 2**21`` fits float32's 24-bit significand)."""
    return (a * (1.0 / ACT_SCALE)).to(torch.float32)


def fake_fixed(x: torch.Tensor) -> torch.Tensor:
    """Training helper: ``x`` rounded to the fixed-point grid with a straight-through gradient."""
    return x + (torch.round(x * ACT_SCALE) / ACT_SCALE - x).detach()


def _activate_exact(a: torch.Tensor, act: str) -> torch.Tensor:
    if act == "leaky":
        return torch.where(a >= 0, a, torch.floor(a * (LEAKY_NUM / (1 << LEAKY_SHIFT))))
    if act == "relu":
        return a.clamp_min(0)
    return a


def _activate_float(x: torch.Tensor, act: str, slope: float) -> torch.Tensor:
    if act == "leaky":
        return F.leaky_relu(x, slope)
    if act == "relu":
        return F.relu(x)
    return x


@contextlib.contextmanager
def _exact_backend(device: torch.device):
    if device.type == "cuda":
        with torch.backends.cudnn.flags(enabled=False):
            yield
    else:
        yield


# -- graph description ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvSpec:
    in_channels: int
    out_channels: int
    kernel: int = 3
    stride: int = 1
    groups: int = 1

    @property
    def padding(self) -> int:
        return self.kernel // 2


@dataclass(frozen=True)
class Node:
    """One operation. ``srcs``: earlier node indices, or ``-1 - i`` for graph input ``i``."""

    op: str
    srcs: tuple[int, ...]
    arg: int = 0  # conv: index into GraphSpec.convs; shuffle: upscale factor
    act: str = "none"

    def __post_init__(self):
        if self.op not in OPS or self.act not in ACTIVATIONS:
            raise ValueError(f"unknown op {self.op} / activation {self.act}")


@dataclass
class GraphSpec:
    """A small feed-forward graph: ``convs`` and ``nodes`` in execution order; ``outputs`` are node
    indices (default: the last node)."""

    convs: list[ConvSpec] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    outputs: tuple[int, ...] | None = None

    # builder helpers: each returns the new node's index
    def conv(self, src: int, cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1,
             act: str = "none") -> int:
        self.convs.append(ConvSpec(cin, cout, kernel, stride, groups))
        self.nodes.append(Node("conv", (src,), len(self.convs) - 1, act))
        return len(self.nodes) - 1

    def add(self, *srcs: int, act: str = "none") -> int:
        self.nodes.append(Node("add", tuple(srcs), 0, act))
        return len(self.nodes) - 1

    def cat(self, *srcs: int) -> int:
        self.nodes.append(Node("cat", tuple(srcs)))
        return len(self.nodes) - 1

    def shuffle(self, src: int, factor: int) -> int:
        self.nodes.append(Node("shuffle", (src,), factor))
        return len(self.nodes) - 1

    def act(self, src: int, act: str) -> int:
        self.nodes.append(Node("act", (src,), 0, act))
        return len(self.nodes) - 1

    @property
    def last(self) -> int:
        return len(self.nodes) - 1

    def output_indices(self) -> tuple[int, ...]:
        return self.outputs if self.outputs is not None else (len(self.nodes) - 1,)

    def to_dict(self) -> dict:
        return {"convs": [[c.in_channels, c.out_channels, c.kernel, c.stride, c.groups] for c in self.convs],
                "nodes": [[n.op, list(n.srcs), n.arg, n.act] for n in self.nodes],
                "outputs": None if self.outputs is None else list(self.outputs)}

    @classmethod
    def from_dict(cls, values: dict) -> "GraphSpec":
        return cls([ConvSpec(*c) for c in values["convs"]],
                   [Node(op, tuple(srcs), arg, act) for op, srcs, arg, act in values["nodes"]],
                   None if values.get("outputs") is None else tuple(values["outputs"]))

    def output_shapes(self, input_shapes: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        """The (C, H, W) shapes of the graph's outputs for inputs of ``input_shapes``: :meth:`node_shapes`, and
        outputs that are nodes."""
        shapes = self.node_shapes(input_shapes)
        outputs = self.output_indices()
        if not outputs or any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(shapes)
                              for i in outputs):
            raise ValueError(f"outputs {list(outputs)} are not nodes of the graph")
        return [shapes[i] for i in outputs]

    def node_shapes(self, input_shapes: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        """The (C, H, W) shape of every node for inputs of ``input_shapes``, checking that the graph
        holds together (docs/decoding.md D.6.2, D.6.3): every source an earlier node or an input the graph has,
        the channels a convolution expects, equal shapes for ``add``, equal sizes for ``cat``, channels a
        shuffle can divide. ValueError (one line) otherwise."""
        for k, c in enumerate(self.convs):
            values = (c.in_channels, c.out_channels, c.kernel, c.stride, c.groups)
            if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values) \
                    or c.in_channels % c.groups or c.out_channels % c.groups:
                raise ValueError(f"convolution {k}: bad sizes {list(values)}")
        shapes: list[tuple[int, int, int]] = []

        def get(index, n: int) -> tuple[int, int, int]:
            if isinstance(index, bool) or not isinstance(index, int) or not -len(input_shapes) <= index < n:
                raise ValueError(f"node {n}: source {index!r} is neither an earlier node nor an input")
            return input_shapes[-1 - index] if index < 0 else shapes[index]

        for n, node in enumerate(self.nodes):
            sources = [get(i, n) for i in node.srcs]
            single = node.op in ("conv", "shuffle", "act")
            if (single and len(sources) != 1) or not sources:
                raise ValueError(f"node {n}: {node.op} with {len(sources)} sources")
            if node.op == "conv":
                if isinstance(node.arg, bool) or not isinstance(node.arg, int) or not 0 <= node.arg < len(self.convs):
                    raise ValueError(f"node {n}: no convolution {node.arg!r}")
                c = self.convs[node.arg]
                ch, h, w = sources[0]
                if ch != c.in_channels:
                    raise ValueError(f"node {n}: convolution {node.arg} takes {c.in_channels} channels, not {ch}")
                p = c.kernel // 2
                h, w = (h + 2 * p - c.kernel) // c.stride + 1, (w + 2 * p - c.kernel) // c.stride + 1
                if h < 1 or w < 1:
                    raise ValueError(f"node {n}: convolution {node.arg} gives an empty output")
                shapes.append((c.out_channels, h, w))
            elif node.op == "add":
                if any(s != sources[0] for s in sources):
                    raise ValueError(f"node {n}: add of different shapes {sources}")
                shapes.append(sources[0])
            elif node.op == "cat":
                if any(s[1:] != sources[0][1:] for s in sources):
                    raise ValueError(f"node {n}: cat of different sizes {sources}")
                shapes.append((sum(s[0] for s in sources), *sources[0][1:]))
            elif node.op == "shuffle":
                r = node.arg
                ch, h, w = sources[0]
                if isinstance(r, bool) or not isinstance(r, int) or r < 1 or ch % (r * r):
                    raise ValueError(f"node {n}: shuffle by {r!r} of {ch} channels")
                shapes.append((ch // (r * r), h * r, w * r))
            else:
                shapes.append(sources[0])
        return shapes


def _run(spec: GraphSpec, inputs, conv_fn, add_fn, act_fn):
    values: list[torch.Tensor] = []

    def get(index: int) -> torch.Tensor:
        return inputs[-1 - index] if index < 0 else values[index]

    for node in spec.nodes:
        if node.op == "conv":
            out = act_fn(conv_fn(node.arg, get(node.srcs[0])), node.act)
        elif node.op == "add":
            out = get(node.srcs[0])
            for src in node.srcs[1:]:
                out = out + get(src)
            out = act_fn(add_fn(out), node.act)
        elif node.op == "cat":
            out = torch.cat([get(s) for s in node.srcs], dim=1)
        elif node.op == "shuffle":
            out = F.pixel_shuffle(get(node.srcs[0]), node.arg)
        else:  # act
            out = act_fn(get(node.srcs[0]), node.act)
        values.append(out)
    outs = [values[i] for i in spec.output_indices()]
    return outs[0] if len(outs) == 1 else outs


# -- float and exact forms --------------------------------------------------------------------------------


class FloatGraph(nn.Module):
    """The trainable float form of a graph. ``slope``: leaky-ReLU slope (the exact slope by default)."""

    def __init__(self, spec: GraphSpec, slope: float = LEAKY_SLOPE):
        super().__init__()
        self.spec = spec
        self.slope = slope
        self.convs = nn.ModuleList(nn.Conv2d(c.in_channels, c.out_channels, c.kernel, c.stride, c.padding,
                                             groups=c.groups) for c in spec.convs)

    def forward(self, *inputs: torch.Tensor):
        return _run(self.spec, inputs, lambda k, x: self.convs[k](x), lambda x: x,
                    lambda x, act: _activate_float(x, act, self.slope))


def _weight_shift(max_abs: float) -> int:
    """Fraction bits for a channel whose largest weight is ``max_abs``: the most that keep |w| < 2**15.

    Exact on every machine: ``frexp`` and products by powers of two are exact in binary floating point."""
    if max_abs == 0.0:
        return MAX_SHIFT
    exponent = math.frexp(max_abs)[1]  # max_abs = m * 2**exponent, 0.5 <= m < 1
    shift = 15 - exponent
    while shift > 0 and round(max_abs * 2.0 ** shift) > WEIGHT_LIMIT:
        shift -= 1
    return max(0, min(MAX_SHIFT, shift))


def state_digest(module: nn.Module) -> str:
    """SHA-256 of a module's buffers (names, dtypes, shapes, bytes), e.g. to pin an exact graph."""
    import hashlib

    digest = hashlib.sha256()
    for name, value in sorted(module.state_dict().items()):
        value = value.detach().cpu().contiguous()
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)}".encode())
        digest.update(value.numpy().tobytes())
    return digest.hexdigest()


class ExactGraph(nn.Module):
    """The exact integer form of a graph: weights ``w{k}`` (int16), biases ``b{k}`` (int64, in units of
    ``2**-(ACT_FRAC_BITS + shift)``), shifts ``s{k}`` (int8, per output channel). Inputs and outputs are
    fixed-point integers (see ``to_fixed``/``from_fixed``)."""

    def __init__(self, spec: GraphSpec):
        super().__init__()
        self.spec = spec
        for k, c in enumerate(spec.convs):
            self.register_buffer(f"w{k}", torch.zeros(c.out_channels, c.in_channels // c.groups, c.kernel,
                                                      c.kernel, dtype=torch.int16))
            self.register_buffer(f"b{k}", torch.zeros(c.out_channels, dtype=torch.int64))
            self.register_buffer(f"s{k}", torch.zeros(c.out_channels, dtype=torch.int8))
        self._cache: dict = {}

    @classmethod
    def freeze(cls, graph: FloatGraph) -> "ExactGraph":
        """Quantise a trained float graph (per-channel weight fraction bits, rounded biases)."""
        exact = cls(graph.spec)
        with torch.no_grad():
            for k, conv in enumerate(graph.convs):
                w = conv.weight.detach().to("cpu", torch.float64)
                b = conv.bias.detach().to("cpu", torch.float64)
                shifts = [_weight_shift(float(w[c].abs().max())) for c in range(w.shape[0])]
                scale = torch.tensor([2.0 ** s for s in shifts], dtype=torch.float64)
                getattr(exact, f"w{k}").copy_(torch.round(w * scale.view(-1, 1, 1, 1)).to(torch.int16))
                getattr(exact, f"b{k}").copy_(torch.round(b * scale * ACT_SCALE).to(torch.int64))
                getattr(exact, f"s{k}").copy_(torch.tensor(shifts, dtype=torch.int8))
        exact.check_bounds()
        return exact

    def check_bounds(self) -> None:
        """Refuse weights for which a partial sum could reach 2**52 (then float64 would round)."""
        for k, c in enumerate(self.spec.convs):
            w = getattr(self, f"w{k}").to(torch.int64)
            b = getattr(self, f"b{k}")
            shifts = getattr(self, f"s{k}").to(torch.int64)
            if w.abs().max() > WEIGHT_LIMIT or shifts.min() < 0 or shifts.max() > MAX_SHIFT:
                raise ValueError(f"conv {k}: weights or shifts out of range")
            worst = w.abs().flatten(1).sum(1) * ACT_LIMIT + b.abs() + (1 << MAX_SHIFT)
            if int(worst.max()) >= EXACT_SUM_LIMIT:
                raise ValueError(f"conv {k}: a partial sum could reach 2**52; not exact")

    def to_float(self, slope: float = LEAKY_SLOPE) -> FloatGraph:
        """A float graph with this graph's weights and biases as real numbers (the same function up to the
        rounding of activations; for gradients through a decoder-side network, e.g. at the encoder)."""
        graph = FloatGraph(self.spec, slope)
        with torch.no_grad():
            for k, conv in enumerate(graph.convs):
                inv = torch.pow(2.0, -getattr(self, f"s{k}").double())
                conv.weight.copy_((getattr(self, f"w{k}").double() * inv.view(-1, 1, 1, 1)).float())
                conv.bias.copy_((getattr(self, f"b{k}").double() * inv / ACT_SCALE).float())
        return graph

    def _params(self, k: int, device: torch.device):
        key = (k, str(device))
        if key not in self._cache:
            w = getattr(self, f"w{k}").to(device=device, dtype=torch.float64)
            shifts = getattr(self, f"s{k}").to(torch.int64)
            b = getattr(self, f"b{k}").to(torch.float64)
            half = torch.where(shifts > 0, torch.pow(2.0, (shifts - 1).clamp_min(0).double()), 0.0)
            inv = torch.pow(2.0, -shifts.double())
            self._cache[key] = (w, (b + half).to(device).view(1, -1, 1, 1), inv.to(device).view(1, -1, 1, 1))
        return self._cache[key]

    def _load_from_state_dict(self, *args, **kwargs):
        self._cache = {}
        super()._load_from_state_dict(*args, **kwargs)

    def _conv(self, k: int, a: torch.Tensor) -> torch.Tensor:
        c = self.spec.convs[k]
        w, bias_half, inv = self._params(k, a.device)
        with _exact_backend(a.device):
            acc = F.conv2d(a, w, None, c.stride, c.padding, 1, c.groups)
        return torch.floor((acc + bias_half) * inv).clamp_(-ACT_LIMIT, ACT_LIMIT)

    def forward(self, *inputs: torch.Tensor):
        for x in inputs:
            if x.dtype != torch.float64:
                raise TypeError("ExactGraph takes fixed-point integers in float64 (see to_fixed)")
        return _run(self.spec, inputs, self._conv, lambda a: a.clamp(-ACT_LIMIT, ACT_LIMIT), _activate_exact)


def fake_quant_graph(graph: FloatGraph) -> FloatGraph:
    """A float copy of ``graph`` whose weights and biases are the exact form's values (for measuring the
    cost of quantisation with float arithmetic)."""
    return ExactGraph.freeze(graph).to_float(graph.slope)

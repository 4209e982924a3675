"""The neural preprocessor (NPP) of ``npp-vvc``: a picture-to-picture network run in the encoder before VVC, so
that any standard VVC decoder decodes the result (Lu et al., "Preprocessing enhanced image compression for
machine vision"; shared/docs/techniques.md section 2).

    npp = NppModel(NppConfig())
    x_pre = npp(x, qp)                       # x: N x 3 x H x W in [0, 1] (any H, W), qp: int or N tensor

Design
    ``output = clamp(branch1(x) + branch2(x), 0, 1)``.

    * Branch 1, pixel-wise: 1x1 conv 3->3, ReLU, 1x1 conv 3->3, ReLU (initialised to the identity, so an
      untrained NPP passes the picture through).
    * Branch 2, a U-Net: per down stage ``i`` two 3x3 convs (width ``widths[i]``) with ReLU, whose output is
      the stage's skip, then a stride-2 3x3 conv; per up stage, mirrored, a stride-2 transposed conv to
      ``widths[i]``, concatenation with the skip and (except at full resolution) two 3x3 convs; the head
      3x3 ``2*widths[0] -> widths[0]``, 3x3 ``widths[0] -> widths[0]`` (ReLU), 1x1 ``widths[0] -> 3`` (no
      activation: the branch adds or removes detail; initialised to zero). The published widths are
      32/64/128/256; the default here is 16/32/64/128 (the CPU budget). A picture whose sides are not
      multiples of ``2**len(widths)`` is padded (edge replication) and the output cropped back, so the NPP
      runs at every picture size (the full picture, or the 320x320 task size).
    * Batch normalisation: not used. At inference a BN layer is a per-channel affine map that folds into
      the preceding conv, so convs with biases are the same inference-time network class; training without
      batch statistics does not depend on the batch size (batches here are 2..8 pictures), and the encoder's
      output is a deterministic function of the picture, the QP and the weights.
    * Quantisation adaptivity: :class:`QpMultipliers`, a tiny MLP (Linear 1->``qp_hidden``, ReLU, Linear),
      maps the normalised QP ``(qp - 34.5) / 12.5`` (22..47 -> -1..1) to a positive multiplier
      ``2 * sigmoid(.)`` for every channel after each ReLU of both branches (initialised to 1), so one model
      serves every QP. ``qp_adaptive=False`` (the ablation) removes the MLP: every multiplier is 1.

Weights file (``save_npz`` / ``load_npz``; no pickle): a NumPy ``.npz`` with

    ``config``         0-d unicode array: JSON of :class:`NppConfig` (``{"widths": [...], "qp_hidden": ...,
                       "qp_adaptive": ..., "format": "npp-vvc/1"}``) plus ``extra`` (training facts)
    ``<parameter>``    float32 array for every entry of ``NppModel.state_dict()``, same name and shape, e.g.
                       ``branch1.0.weight`` 3x3x1x1, ``down.0.conv1.weight`` W0x3x3x3, ``qp_mlp.out.weight``
                       Mx``qp_hidden`` (M = all modulated channels)

Read it with ``numpy.load(path, allow_pickle=False)``.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FORMAT = "npp-vvc/1"
QP_CENTRE, QP_HALF_RANGE = 34.5, 12.5


def normalised_qp(qp, batch: int, device: torch.device) -> torch.Tensor:
    """``N x 1`` float: ``(qp - 34.5) / 12.5`` for an int, a sequence or a tensor of QPs."""
    qp = torch.as_tensor(qp, dtype=torch.float32, device=device).reshape(-1, 1)
    if qp.shape[0] == 1 and batch > 1:
        qp = qp.expand(batch, 1)
    return (qp - QP_CENTRE) / QP_HALF_RANGE


class QpMultipliers(nn.Module):
    """Normalised QP (``N x 1``) -> ``N x sum(sizes)`` positive multipliers, split into one ``N x c x 1 x 1``
    tensor per modulated layer; exactly 1 at initialisation."""

    def __init__(self, sizes: list[int], hidden: int):
        super().__init__()
        self.sizes = list(sizes)
        self.hidden = nn.Linear(1, hidden)
        self.out = nn.Linear(hidden, sum(self.sizes))
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, q: torch.Tensor) -> list[torch.Tensor]:
        values = 2 * torch.sigmoid(self.out(F.relu(self.hidden(q))))
        return [m[:, :, None, None] for m in torch.split(values, self.sizes, dim=1)]


def conv3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


class DoubleConv(nn.Module):
    """Two 3x3 convs with ReLU; the output is multiplied per channel by the QP multiplier."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1, self.conv2 = conv3(cin, cout), conv3(cout, cout)
        self.channels = cout

    def forward(self, x: torch.Tensor, multiplier: torch.Tensor | None) -> torch.Tensor:
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        return x if multiplier is None else x * multiplier


@dataclass
class NppConfig:
    widths: list[int] = field(default_factory=lambda: [16, 32, 64, 128])
    qp_hidden: int = 32
    qp_adaptive: bool = True

    def to_dict(self) -> dict:
        return dict(asdict(self), format=FORMAT)

    @classmethod
    def from_dict(cls, values: dict) -> "NppConfig":
        if values.get("format") != FORMAT:
            raise ValueError(f"not an {FORMAT} configuration: {values.get('format')!r}")
        return cls(widths=list(values["widths"]), qp_hidden=int(values["qp_hidden"]),
                   qp_adaptive=bool(values["qp_adaptive"]))


class NppModel(nn.Module):
    """The preprocessor: ``forward(x, qp)`` -> the picture to code, same shape, in [0, 1]."""

    def __init__(self, config: NppConfig | None = None):
        super().__init__()
        self.config = config = config or NppConfig()
        w = list(config.widths)
        self.multiple = 2 ** len(w)
        self.branch1 = nn.Sequential(nn.Conv2d(3, 3, 1), nn.ReLU(), nn.Conv2d(3, 3, 1), nn.ReLU())
        for conv in (self.branch1[0], self.branch1[2]):
            nn.init.eye_(conv.weight[:, :, 0, 0])
            nn.init.zeros_(conv.bias)
        self.down = nn.ModuleList(DoubleConv(cin, cout) for cin, cout in zip([3] + w[:-1], w))
        self.pool = nn.ModuleList(conv3(c, c, stride=2) for c in w)
        self.up = nn.ModuleList(nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)
                                for cin, cout in zip(w[1:] + [w[-1]], w))
        self.merge = nn.ModuleList(DoubleConv(2 * c, c) for c in w[1:])
        self.head1, self.head2, self.head_out = conv3(2 * w[0], w[0]), conv3(w[0], w[0]), nn.Conv2d(w[0], 3, 1)
        nn.init.zeros_(self.head_out.weight)
        nn.init.zeros_(self.head_out.bias)
        sizes = [3, 3] + w + w[1:] + [w[0], w[0]]
        self.qp_mlp = QpMultipliers(sizes, config.qp_hidden) if config.qp_adaptive else None
        self.modulated_sizes = sizes

    def multipliers(self, qp, batch: int, device: torch.device) -> list[torch.Tensor | None]:
        if self.qp_mlp is None:
            return [None] * len(self.modulated_sizes)
        return self.qp_mlp(normalised_qp(qp, batch, device))

    def forward(self, x: torch.Tensor, qp) -> torch.Tensor:
        height, width = x.shape[-2:]
        pad_h, pad_w = -height % self.multiple, -width % self.multiple
        padded = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x
        m = iter(self.multipliers(qp, x.shape[0], x.device))
        stages = len(self.down)
        b1 = _scaled(F.relu(self.branch1[0](padded)), next(m))
        b1 = _scaled(F.relu(self.branch1[2](b1)), next(m))
        skips, y = [], padded
        for i in range(stages):
            y = self.down[i](y, next(m))
            skips.append(y)
            y = self.pool[i](y)
        merge_multipliers = [next(m) for _ in self.merge]
        for i in reversed(range(stages)):
            y = torch.cat([self.up[i](y), skips[i]], dim=1)
            if i > 0:
                y = self.merge[i - 1](y, merge_multipliers[i - 1])
        y = _scaled(F.relu(self.head1(y)), next(m))
        y = _scaled(F.relu(self.head2(y)), next(m))
        out = (b1 + self.head_out(y)).clamp(0.0, 1.0)
        return out[..., :height, :width]


def _scaled(x: torch.Tensor, multiplier: torch.Tensor | None) -> torch.Tensor:
    return x if multiplier is None else x * multiplier


# -- size ----------------------------------------------------------------------------------------------------


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def macs_per_pixel(model: NppModel, size: int = 128) -> float:
    """Multiply-accumulates per input pixel of the convolutions (and the QP MLP, once per picture)."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            total += output.numel() * module.in_channels * module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, nn.ConvTranspose2d):
            total += inputs[0].numel() * module.out_channels * module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features

    hooks = [m.register_forward_hook(count) for m in model.modules()
             if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size), 37)
    for hook in hooks:
        hook.remove()
    return total / size ** 2


# -- weights file --------------------------------------------------------------------------------------------


def save_npz(model: NppModel, path: str | Path, extra: dict | None = None) -> None:
    """Write the weights file (see the module docstring), atomically."""
    path = Path(path)
    arrays = {name: t.detach().cpu().numpy().astype(np.float32) for name, t in model.state_dict().items()}
    config = dict(model.config.to_dict(), extra=extra or {})
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, config=np.array(json.dumps(config)), **arrays)
    tmp.replace(path)


def load_npz(path: str | Path) -> NppModel:
    """The model of a weights file written by :func:`save_npz`, in eval mode."""
    with np.load(path, allow_pickle=False) as data:
        config = NppConfig.from_dict(json.loads(str(data["config"])))
        model = NppModel(config)
        state = {name: torch.from_numpy(data[name]) for name in model.state_dict()}
    model.load_state_dict(state)
    return model.eval()

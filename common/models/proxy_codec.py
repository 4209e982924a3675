"""The proxy of the VVC image codec used to train the ``npp-vvc`` preprocessor: a small differentiable learned
codec, conditioned on the QP, trained to imitate VVenC (the ``vvc-image`` path) in both the bits it spends
and the picture it decodes. It never codes anything: it only supplies gradients in the backward pass
(``x_hat = proxy(x') + stop_gradient(vvc(x') - proxy(x'))``, the same for the rate).

    proxy = ProxyCodec(ProxyConfig())
    out = proxy(x, qp)          # x: N x 3 x H x W in [0, 1] (padded to multiples of 32), qp: int or N tensor
    out.x_hat                   # N x 3 x H x W: the imitation of VVC's decoded picture
    out.bits                    # N: the imitation of the VVC payload bits (latent bits + header model)

Design: a mean-scale hyperprior codec (Minnen et al. 2018, without the autoregressive context: the real
codec's rate is the target, not a low rate) built like VVC, so that it starts close to it:

* analysis: a learned 8x8 block transform (``pixel_unshuffle`` by 8, then a 1x1 conv ``192 -> M``, M = 192 by
  default), initialised orthonormal (an opponent colour transform times the 2-D DCT-II), plus a learned
  nonlinear branch (5x5 stride-2 convs ``3 -> N -> N -> M``, ReLU, last layer zero at initialisation); the
  latent is at 1/8 of the picture side;
* QP conditioning, two ways: (1) gains: the latent is multiplied by ``1023 / 2**((qp - 4) / 6) * exp(g(q))``
  per channel before rounding and divided by it after, i.e. quantised with VVC's step ``2**((qp - 4) / 6)``
  (10-bit sample units, orthonormal transform) times a learned correction ``exp(-g(q))``, ``g`` a small MLP of
  the normalised QP ``q``, -1.5 at initialisation (see ``INITIAL_LOG_GAIN_CORRECTION``); (2) per-channel multipliers after every hidden ReLU of the nonlinear branches
  (:class:`~icm.common.models.npp.QpMultipliers`), so the synthesis can learn VVC's QP-dependent artefacts
  and in-loop filtering;
* hyperprior: ``z = h_a(y)`` (3x3 conv, two 5x5 stride-2 convs, ``M -> N -> N -> Nz``), a factorized prior
  on ``z`` (:class:`~icm.common.entropy.factorized.FactorizedPrior`), ``h_s`` (two 5x5 stride-2 transposed
  convs and a 3x3 conv) gives each latent value's mean and scale for a Gaussian conditional
  (:class:`~icm.common.entropy.gaussian.GaussianConditional`);
* quantisation: the reconstruction uses the latent rounded around its mean (straight-through gradient); the
  rate's value is always that of the rounded latents (what a coder spends), and with ``noise`` (training) its
  gradient is that of the latents plus uniform noise (smoother): ``bits = b_noisy + sg(b_rounded - b_noisy)``.
  A run that matched the noisy rate itself spent, evaluated on the rounded latent, 1.3..5.5x fewer bits than
  it was trained to at QP 32..47 (the noisy rate of near-zero latents is far above their rounded rate);
* rate: ``bits = -log2 p(y_hat) - log2 p(z_hat) + header_bits + header_bits_per_pixel * H * W``; the header
  constants model the VVC parameter sets and slice header, measured on flat grey pictures with VVenC
  ``faster`` (32x32: 608..624 bits, 128x128: 656..680, 320x320: 824..856 over QPs 22..47);
* synthesis: the inverse block transform (1x1 conv ``M -> 192``, initialised to the transpose, then
  ``pixel_shuffle``) plus a nonlinear branch (5x5 stride-2 transposed convs ``M -> N -> N -> 3``, last layer
  zero at initialisation), plus 0.5, clamped to [0, 1] (the gradient passes the clamp).

At initialisation the proxy is a block-DCT codec at VVC's quantisation step. A first design without the block
transform (four 5x5 stride-2 convs, latent at 1/16, then at 1/8) stayed near 20 dB against VVC's picture after
1,000..2,000 steps, even when trained on the picture alone without a rate term.

The training loss (``ctc_scripts/training/train_npp_proxy.py``) matches VVC's bits in the log domain and
VVC's decoded picture in MSE, normalised by VVC's own coding error at that QP.

Weights file (``save_npz`` / ``load_npz``; no pickle): a NumPy ``.npz`` with

    ``config``         0-d unicode array: JSON of :class:`ProxyConfig` (``channels``, ``latent_channels``,
                       ``hyper_channels``, ``qp_hidden``, ``header_bits``, ``header_bits_per_pixel``,
                       ``format: "npp-proxy/2"``) plus ``extra`` (training facts, e.g. the fidelity)
    ``<parameter>``    every entry of ``ProxyCodec.state_dict()``, same name, shape and dtype (float32
                       weights, e.g. ``transform.weight`` M x 192 x 1 x 1; the entropy models' int32/int64
                       buffers, e.g. ``gaussian.scale_table_q16``)
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..entropy.factorized import FactorizedPrior
from ..entropy.gaussian import GaussianConditional
from .npp import QpMultipliers, normalised_qp

FORMAT = "npp-proxy/2"
BLOCK = 8            # the block transform's size: the latent is at 1/8 of the picture side
MULTIPLE = 4 * BLOCK  # picture sides are padded to it (two more halvings for the hyper-latent)
SAMPLE_SCALE = 1023  # [0, 1] -> 10-bit sample units, in which VVC's quantisation step is 2**((qp - 4) / 6)
# VVC's rate-distortion optimised quantisation and its 4:2:0 chroma lose much more than a uniform quantiser at the
# nominal step (on the held-out pairs the latter is 9..16 dB better than VVC): the learned correction of the step
# starts 4.5x coarser
INITIAL_LOG_GAIN_CORRECTION = -1.5


@dataclass
class ProxyConfig:
    channels: int = 64
    latent_channels: int = 192
    hyper_channels: int = 64
    qp_hidden: int = 32
    header_bits: float = 600.0
    header_bits_per_pixel: float = 0.0022

    def to_dict(self) -> dict:
        return dict(asdict(self), format=FORMAT)

    @classmethod
    def from_dict(cls, values: dict) -> "ProxyConfig":
        if values.get("format") != FORMAT:
            raise ValueError(f"not an {FORMAT} configuration: {values.get('format')!r}")
        return cls(**{k: values[k] for k in asdict(cls())})


class ProxyOutput(NamedTuple):
    x_hat: torch.Tensor
    bits: torch.Tensor
    y_bits: torch.Tensor
    z_bits: torch.Tensor


def ste_round(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.round(x) - x).detach()


def bits_of(likelihoods: torch.Tensor) -> torch.Tensor:
    return -torch.log2(likelihoods).sum(dim=(1, 2, 3))


def surrogate(differentiable: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """``value`` forward, the gradient of ``differentiable`` backward."""
    return differentiable + (value - differentiable).detach()


def clamp_ste(x: torch.Tensor) -> torch.Tensor:
    """``clamp(x, 0, 1)`` whose gradient passes everywhere (no dead outputs while training)."""
    return x + (x.clamp(0.0, 1.0) - x).detach()


def down(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 5, stride=2, padding=2)


def up(cin: int, cout: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, 5, stride=2, padding=2, output_padding=1)


def block_transform_basis(block: int = 8) -> torch.Tensor:
    """``3*block*block`` orthonormal rows: an opponent colour transform times the 2-D DCT-II, in the channel
    order of ``pixel_unshuffle`` (colour-major, then row, then column)."""
    n = torch.arange(block, dtype=torch.float64)
    dct = torch.cos(np.pi * (2 * n[None, :] + 1) * n[:, None] / (2 * block)) * np.sqrt(2 / block)
    dct[0] /= np.sqrt(2)
    colour = torch.tensor([[1, 1, 1], [1, 0, -1], [1, -2, 1]], dtype=torch.float64)
    colour = colour / colour.norm(dim=1, keepdim=True)
    return torch.kron(colour, torch.kron(dct, dct)).float()


class ProxyCodec(nn.Module):
    def __init__(self, config: ProxyConfig | None = None):
        super().__init__()
        self.config = c = config or ProxyConfig()
        n, m, nz = c.channels, c.latent_channels, c.hyper_channels
        coefficients = 3 * BLOCK * BLOCK
        basis = block_transform_basis(BLOCK)
        if m > coefficients:
            raise ValueError(f"latent_channels {m} > {coefficients} (an 8x8 block of 3 colours)")
        self.transform = nn.Conv2d(coefficients, m, 1, bias=False)
        self.inverse_transform = nn.Conv2d(m, coefficients, 1, bias=False)
        with torch.no_grad():
            self.transform.weight.copy_(basis[:m, :, None, None])
            self.inverse_transform.weight.copy_(basis[:m].t()[:, :, None, None])
        self.analysis = nn.ModuleList([down(3, n), down(n, n), down(n, m)])
        self.synthesis = nn.ModuleList([up(m, n), up(n, n), up(n, 3)])
        for last in (self.analysis[-1], self.synthesis[-1]):
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        self.hyper_analysis = nn.Sequential(nn.Conv2d(m, n, 3, padding=1), nn.ReLU(), down(n, n), nn.ReLU(),
                                            down(n, nz))
        self.hyper_synthesis = nn.Sequential(up(nz, n), nn.ReLU(), up(n, n), nn.ReLU(),
                                             nn.Conv2d(n, 2 * m, 3, padding=1))
        self.multipliers = QpMultipliers([n] * 4, c.qp_hidden)
        self.gain_mlp = nn.Sequential(nn.Linear(1, c.qp_hidden), nn.ReLU(), nn.Linear(c.qp_hidden, m))
        nn.init.zeros_(self.gain_mlp[2].weight)
        nn.init.constant_(self.gain_mlp[2].bias, INITIAL_LOG_GAIN_CORRECTION)
        self.z_prior = FactorizedPrior(nz)
        self.gaussian = GaussianConditional(scale_bound=0.11)

    def gains(self, qp, batch: int, device: torch.device) -> torch.Tensor:
        """``N x M x 1 x 1`` latent gains: one over VVC's quantisation step, times a learned correction."""
        q = normalised_qp(qp, batch, device)
        qp_value = torch.as_tensor(qp, dtype=torch.float32, device=device).reshape(-1, 1).expand(batch, 1)
        log_gain = np.log(SAMPLE_SCALE) - (qp_value - 4) / 6 * np.log(2) + self.gain_mlp(q)
        return torch.exp(log_gain)[:, :, None, None]

    def analyse(self, x: torch.Tensor, scales: list[torch.Tensor]) -> torch.Tensor:
        y = self.transform(F.pixel_unshuffle(x - 0.5, BLOCK))
        branch = x
        for i, conv in enumerate(self.analysis):
            branch = conv(branch)
            if i < len(self.analysis) - 1:
                branch = F.relu(branch) * scales[i]
        return y + branch

    def synthesise(self, y: torch.Tensor, scales: list[torch.Tensor]) -> torch.Tensor:
        r = F.pixel_shuffle(self.inverse_transform(y), BLOCK)
        branch = y
        for i, conv in enumerate(self.synthesis):
            branch = conv(branch)
            if i < len(self.synthesis) - 1:
                branch = F.relu(branch) * scales[2 + i]
        return clamp_ste(r + branch + 0.5)

    def forward(self, x: torch.Tensor, qp, noise: bool | None = None) -> ProxyOutput:
        """The imitation of VVC at ``qp`` (``noise``: rate of the noisy latent; default ``self.training``)."""
        noise = self.training if noise is None else noise
        batch, _, height, width = x.shape
        pad_h, pad_w = -height % MULTIPLE, -width % MULTIPLE
        padded = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x
        scales = self.multipliers(normalised_qp(qp, batch, x.device))
        gains = self.gains(qp, batch, x.device)
        y = self.analyse(padded, scales) * gains
        z = self.hyper_analysis(y)
        z_rounded, z_likelihoods = self.z_prior(z, training=False)
        z_bits = bits_of(z_likelihoods)
        if noise:
            z_noisy, z_noisy_likelihoods = self.z_prior(z, training=True)
            z_bits = surrogate(bits_of(z_noisy_likelihoods), z_bits)
        means, scale = self.hyper_synthesis(z_noisy if noise else z_rounded).chunk(2, dim=1)
        scale = F.softplus(scale)
        y_rounded = ste_round(y - means) + means
        y_bits = bits_of(self.gaussian.likelihood(y_rounded, scale, means))
        if noise:
            y_noisy = y + torch.empty_like(y).uniform_(-0.5, 0.5)
            y_bits = surrogate(bits_of(self.gaussian.likelihood(y_noisy, scale, means)), y_bits)
        x_hat = self.synthesise(y_rounded / gains, scales)[..., :height, :width]
        header = self.config.header_bits + self.config.header_bits_per_pixel * height * width
        return ProxyOutput(x_hat, y_bits + z_bits + header, y_bits, z_bits)


def save_npz(model: ProxyCodec, path: str | Path, extra: dict | None = None) -> None:
    """Write the weights file (see the module docstring), atomically."""
    path = Path(path)
    arrays = {name: t.detach().cpu().numpy() for name, t in model.state_dict().items()}
    config = dict(model.config.to_dict(), extra=extra or {})
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, config=np.array(json.dumps(config)), **arrays)
    tmp.replace(path)


def load_npz(path: str | Path) -> ProxyCodec:
    """The proxy of a weights file written by :func:`save_npz`, in eval mode."""
    with np.load(path, allow_pickle=False) as data:
        model = ProxyCodec(ProxyConfig.from_dict(json.loads(str(data["config"]))))
        state = {name: torch.from_numpy(np.array(data[name])) for name in model.state_dict()}
    model.load_state_dict(state)
    return model.eval()

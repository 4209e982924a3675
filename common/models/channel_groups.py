"""A generic grouped-latent coder in float (training, encoder-side search): channel groups coded in order.

The latent ``y`` (N x C x H x W) has its channels cut into consecutive groups (``bounds``). Group ``g`` is
multiplied by a **gain** (a dynamic-range scale: fine quantisation for a large gain, coarse for a small one),
rounded around its predicted mean and coded with a Gaussian whose mean and scale come from the group's
**entropy-parameter network** ``param_nets[g]``, fed the hyper features and, with ``context``, the groups
decoded before it (a channel-wise autoregression across groups: the more important groups, coded first,
inform the parameters of the later ones). Nothing here names a tool; a codec passes its own networks.

Two conventions cover the codecs of the suite:

* ``unit_params=False`` (fixed-rate codecs): the nets predict the mean and scale of the *gained* values
  ``v = y * gain`` and the context is the gained decoded values ``v_hat``.
* ``unit_params=True`` (variable-rate codecs, gain-unit style): the nets predict the mean and scale of the
  *unit-gain* latent; they are multiplied by the group's gain, so one set of networks serves every gain
  (quality); the context is the unit-gain decoded values ``v_hat / gain``, the same for every quality.

Gains are a tensor: shape ``(G,)`` (one per group) or ``(N, G)`` (per sample: e.g. each sample of a batch at
its own quality). Every value that a decoder would compute from integers is put on the fixed-point grid
(``fake_fixed``), so the exact integer form of the networks reproduces training.

**Partial decoding / truncation**: a decode that receives only the first ``k`` groups gives the others their
predicted means (unit-gain: the mean itself, i.e. the gained mean over the gain). ``truncate=k`` returns that
decode's latent besides the full one; training a distortion on it (nested truncation) makes every prefix of
groups a usable decode.

**Channel importance** (:class:`ChannelImportance`): importance_c = sensitivity_c * E|y_hat_c - mu_c|, with
sensitivity_c a running mean of |dLoss/dy_hat_c| (normalised to mean 1): a first-order estimate of how much
the loss grows when channel ``c`` is not decoded and takes its prediction ``mu_c``. The order loss
``sum_c relu(imp_{c+1} - imp_c) / sum_c imp_c`` pushes importance to decrease along the channel index, so
channel index = importance rank and the first groups carry what matters most.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..entropy.gaussian import GaussianConditional
from ..entropy.torch_ops import add_uniform_noise
from ..layers.exact import fake_fixed

GAIN_FRAC_BITS = 16
GAIN_SCALE = 1 << GAIN_FRAC_BITS


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """``round(x)`` with a straight-through gradient."""
    return x + (torch.round(x) - x).detach()


def gain_grid(gains: torch.Tensor) -> torch.Tensor:
    """Gains rounded to multiples of ``2**-16`` (how a stream header carries them), straight-through."""
    return gains + (torch.round(gains * GAIN_SCALE) / GAIN_SCALE - gains).detach()


def group_bounds(sizes) -> list[tuple[int, int]]:
    """``[(lo, hi), ...]`` channel ranges of consecutive groups of the given sizes."""
    bounds, lo = [], 0
    for size in sizes:
        bounds.append((lo, lo + int(size)))
        lo += int(size)
    return bounds


def _group_gain(gains: torch.Tensor, group: int) -> torch.Tensor:
    """Gain of ``group`` shaped to broadcast over ``N x C x H x W``: scalar, or ``N x 1 x 1 x 1``."""
    if gains.dim() == 1:
        return gains[group]
    return gains[:, group].view(-1, 1, 1, 1)


@dataclass
class GroupCoding:
    """What :func:`code_groups` returns.

    ``y_hat``: the decoded latent in unit gain (N x C x H x W, fixed-point grid); ``v_hats``: decoded groups
    as coded (gained); ``means``: each group's mean in unit gain (what a missing group takes); ``coded_means``:
    the same gained (the Gaussians' means, fixed-point grid); ``bits``:
    N x G bits per picture and group; ``y_trunc``: the latent of a decode of the first ``truncate`` groups
    (None without truncation)."""

    y_hat: torch.Tensor
    v_hats: list
    means: list
    bits: torch.Tensor
    coded_means: list | None = None
    y_trunc: torch.Tensor | None = None

    def mean_latent(self) -> torch.Tensor:
        """The predicted means of every channel, unit gain (N x C x H x W)."""
        return torch.cat(self.means, 1)


def code_groups(y: torch.Tensor, gains: torch.Tensor, hyper: torch.Tensor, param_nets, bounds,
                gaussian: GaussianConditional, noise: bool, context: bool = True, unit_params: bool = True,
                truncate: int | None = None) -> GroupCoding:
    """Code the groups of ``y`` in order (float). See the module docstring for the conventions.

    ``param_nets[g](hyper[, prev])`` returns ``2 * size_g`` channels: means then scales. With ``noise`` the
    bits are those of the values plus uniform noise (the training proxy), else of the rounded values; the
    decoded values are rounded around the mean either way (straight-through)."""
    v_hats, contexts, means_unit, coded_means, bits = [], [], [], [], []
    for group, (lo, hi) in enumerate(bounds):
        gain = _group_gain(gains, group)
        net = param_nets[group]
        out = net(hyper, torch.cat(contexts, 1)) if (group and context) else net(hyper)
        mean, scale = out[:, :hi - lo], out[:, hi - lo:]
        if unit_params:
            mean_u = mean
            mean, scale = fake_fixed(mean * gain), fake_fixed(scale * gain)
        else:
            mean_u = mean / gain
        v = y[:, lo:hi] * gain
        v_hat = fake_fixed(ste_round(v - mean) + mean)
        likelihood = gaussian.likelihood(add_uniform_noise(v) if noise else v_hat, scale, mean)
        bits.append(-torch.log2(likelihood).sum(dim=(1, 2, 3)))
        v_hats.append(v_hat)
        means_unit.append(mean_u)
        coded_means.append(mean)
        contexts.append(fake_fixed(v_hat / gain) if unit_params else v_hat)
    y_hat = torch.cat([fake_fixed(v / _group_gain(gains, g)) for g, v in enumerate(v_hats)], 1)
    coding = GroupCoding(y_hat, v_hats, means_unit, torch.stack(bits, 1), coded_means)
    if truncate is not None and 0 <= truncate < len(bounds):
        coding.y_trunc = truncated_latent(coding, gains, hyper, param_nets, bounds, truncate, context, unit_params)
    return coding


def truncated_latent(coding: GroupCoding, gains: torch.Tensor, hyper: torch.Tensor, param_nets, bounds,
                     keep: int, context: bool = True, unit_params: bool = True) -> torch.Tensor:
    """The unit-gain latent of a decode of the first ``keep`` groups: the others take their predicted means,
    which (with context) depend on the groups before them, missing ones included at their means."""
    parts = [fake_fixed(v / _group_gain(gains, g)) for g, v in enumerate(coding.v_hats[:keep])]
    contexts = list(parts) if unit_params else list(coding.v_hats[:keep])
    for group in range(keep, len(bounds)):
        lo, hi = bounds[group]
        gain = _group_gain(gains, group)
        if context and group:  # the mean depends on the decode of the groups before it
            mean = param_nets[group](hyper, torch.cat(contexts, 1))[:, :hi - lo]
            mean_v = fake_fixed(mean * gain) if unit_params else mean
        else:  # the same mean as in the full decode
            mean_v = coding.coded_means[group]
        part = fake_fixed(mean_v / gain)
        parts.append(part)
        contexts.append(part if unit_params else mean_v)
    return torch.cat(parts, 1)


class ChannelImportance:
    """The running channel-importance estimate (CIG) and the channel-order loss.

    ``update(grad)`` folds ``|dLoss/dy_hat|`` (averaged over batch and space, normalised to mean 1) into the
    running sensitivity with ``momentum``; ``importance(y_hat, mu)`` multiplies it by ``E|y_hat - mu|`` per
    channel; ``order_loss`` penalises every channel more important than the one before it."""

    def __init__(self, channels: int, momentum: float = 0.95, device: torch.device | str = "cpu"):
        self.momentum = float(momentum)
        self.sensitivity = torch.ones(channels, device=device)

    def update(self, grad: torch.Tensor | None) -> None:
        if grad is None:
            return
        value = grad.detach().abs().mean(dim=(0, 2, 3))
        value = value / (value.mean() + 1e-12)
        self.sensitivity = self.momentum * self.sensitivity.to(value.device) + (1 - self.momentum) * value

    def importance(self, y_hat: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
        """Per-channel importance (C), differentiable in ``y_hat`` and ``mu``."""
        deviation = (y_hat - mu).abs().mean(dim=(0, 2, 3))
        return self.sensitivity.to(deviation.device) * deviation

    @staticmethod
    def order_loss(importance: torch.Tensor) -> torch.Tensor:
        return F.relu(importance[1:] - importance[:-1]).sum() / (importance.sum() + 1e-9)

    def state(self) -> dict:
        return {"sensitivity": self.sensitivity.detach().cpu()}

    def load_state(self, state: dict) -> None:
        if "sensitivity" in state and state["sensitivity"].shape == self.sensitivity.shape:
            self.sensitivity = state["sensitivity"].to(self.sensitivity.device)

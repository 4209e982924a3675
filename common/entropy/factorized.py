"""Non-parametric factorized prior (CompressAI ``EntropyBottleneck`` style) with frozen integer tables.

Each channel has a learned monotone cumulative density, built from small matrices (kept positive
by softplus), biases and ``tanh`` factors (Balle et al. 2018, appendix 6.1). Quantiles at the
tail masses and the median are learned by ``loss()`` (the auxiliary loss).

``update()`` freezes, once, per-channel integer CDF tables computed in float64 on the CPU and
stores them as integer buffers in the state_dict (``_quantized_cdf``, ``_cdf_length``,
``_offset``) together with the medians (``_medians``). ``compress``/``decompress`` only use these
buffers, so a decoder never recomputes a table from float weights: call ``update()`` once before
saving a model, never in a decoder.

Symbols follow CompressAI: ``symbols = round(y - median)`` per channel, ``y_hat = symbols +
median``. Channel ``c``'s table covers ``offset[c] .. offset[c] + cdf_length[c] - 3`` (at most 1023
values, the coder's limit, +-511 around the median at most); other values use the escape code.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from icm.common.entropy.cdf import pmf_to_quantized_cdf
from icm.common.entropy.indexed_coder import TableSet, decode_indexed, encode_indexed, ideal_code_length_bits
from icm.common.entropy.torch_ops import add_uniform_noise, lower_bound, round_with_offset, to_int32_symbols

MAX_HALF_RANGE = 511
"""A channel table covers at most 511 values on each side of the median (1023 bins + escape)."""

_FROZEN_BUFFERS = ("_quantized_cdf", "_cdf_length", "_offset", "_medians")


class FactorizedPrior(nn.Module):
    """Factorized entropy model for ``channels`` channels (tensors shaped ``(N, C, *spatial)``).

    ``guard_bits``: fixed bits at the end of each substream against undetected truncation
    (``range_coder_io``); a bitstream-syntax choice, so encoder and decoder must agree.
    """

    def __init__(self, channels: int, filters=(3, 3, 3), init_scale: float = 10.0,
                 tail_mass: float = 1e-9, likelihood_bound: float = 1e-9, guard_bits: int = 0):
        super().__init__()
        self.guard_bits = int(guard_bits)
        self.channels = int(channels)
        self.filters = tuple(int(f) for f in filters)
        self.init_scale = float(init_scale)
        self.tail_mass = float(tail_mass)
        self.likelihood_bound = float(likelihood_bound)

        dims = (1,) + self.filters + (1,)
        scale = self.init_scale ** (1.0 / (len(self.filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(dims) - 1):
            init = math.log(math.expm1(1.0 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.empty(channels, dims[i + 1], 1).uniform_(-0.5, 0.5)))
            if i < len(dims) - 2:
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))

        self.quantiles = nn.Parameter(
            torch.tensor([-self.init_scale, 0.0, self.init_scale]).repeat(channels, 1, 1))
        target = math.log(2.0 / self.tail_mass - 1.0)
        self.register_buffer("target", torch.tensor([-target, 0.0, target]))

        self.register_buffer("_quantized_cdf", torch.zeros(0, dtype=torch.int32))
        self.register_buffer("_cdf_length", torch.zeros(0, dtype=torch.int32))
        self.register_buffer("_offset", torch.zeros(0, dtype=torch.int32))
        self.register_buffer("_medians", torch.zeros(0, dtype=torch.float32))
        self._table_cache: TableSet | None = None

    # ----------------------------------------------------------- the density
    def _logits_cumulative(self, inputs: torch.Tensor, stop_gradient: bool) -> torch.Tensor:
        """Logits of the cumulative density at ``inputs`` shaped ``(C, 1, M)``."""
        logits = inputs
        for i, (matrix, bias) in enumerate(zip(self.matrices, self.biases)):
            matrix, bias = F.softplus(matrix.to(inputs.dtype)), bias.to(inputs.dtype)
            if stop_gradient:
                matrix, bias = matrix.detach(), bias.detach()
            logits = torch.matmul(matrix, logits) + bias
            if i < len(self.factors):
                factor = self.factors[i].to(inputs.dtype)
                if stop_gradient:
                    factor = factor.detach()
                logits = logits + torch.tanh(factor) * torch.tanh(logits)
        return logits

    def _likelihood_cm(self, values: torch.Tensor) -> torch.Tensor:
        """Probability of the unit bin around ``values`` (``(C, 1, M)``), computed stably."""
        lower = self._logits_cumulative(values - 0.5, stop_gradient=False)
        upper = self._logits_cumulative(values + 0.5, stop_gradient=False)
        sign = _flip_sign(lower + upper).detach()
        return torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))

    def medians(self) -> torch.Tensor:
        """Current (trainable) medians, shape ``(C,)``."""
        return self.quantiles[:, 0, 1].detach()

    def loss(self) -> torch.Tensor:
        """Auxiliary loss that fits the quantiles (tails and median) of each channel's density."""
        logits = self._logits_cumulative(self.quantiles, stop_gradient=True)
        return torch.abs(logits - self.target).sum()

    def forward(self, y: torch.Tensor, training: bool | None = None):
        """``(y_hat, likelihoods)`` for ``y`` shaped ``(N, C, *spatial)``.

        Training (default: ``self.training``): ``y + U(-1/2, 1/2)``; else ``round(y - m) + m``.
        """
        if training is None:
            training = self.training
        self._check_channels(y)
        perm = [1, 0] + list(range(2, y.dim()))
        values = y.permute(*perm).reshape(self.channels, 1, -1)
        if training:
            outputs = add_uniform_noise(values)
        else:
            outputs = round_with_offset(values, self.medians().view(-1, 1, 1).to(values.dtype))
        likelihood = lower_bound(self._likelihood_cm(outputs), self.likelihood_bound)
        inverse = [1, 0] + list(range(2, y.dim()))
        shape = (y.shape[1], y.shape[0]) + tuple(y.shape[2:])
        y_hat = outputs.reshape(shape).permute(*inverse).contiguous()
        likelihoods = likelihood.reshape(shape).permute(*inverse).contiguous()
        return y_hat, likelihoods

    # -------------------------------------------------------- frozen tables
    @torch.no_grad()
    def update(self, force: bool = False) -> bool:
        """Freeze the integer tables (float64, on the CPU). Returns False if already frozen."""
        if self._cdf_length.numel() and not force:
            return False
        model64 = _float64_copy(self)
        medians = model64.quantiles[:, 0, 1]
        minima = torch.ceil(medians - model64.quantiles[:, 0, 0]).clamp(0, MAX_HALF_RANGE)
        maxima = torch.ceil(model64.quantiles[:, 0, 2] - medians).clamp(0, MAX_HALF_RANGE)
        pmf_start = medians - minima
        pmf_length = (maxima + minima + 1).to(torch.int64)
        max_length = int(pmf_length.max())
        samples = torch.arange(max_length, dtype=torch.float64)[None, :] + pmf_start[:, None]
        samples = samples[:, None, :]
        lower = model64._logits_cumulative(samples - 0.5, stop_gradient=True)
        upper = model64._logits_cumulative(samples + 0.5, stop_gradient=True)
        sign = _flip_sign(lower + upper)
        pmf = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))[:, 0, :]
        # Mass outside each channel's range (both tails) goes to its escape symbol.
        upper_edge = (pmf_start + pmf_length.to(torch.float64) - 0.5).view(-1, 1, 1)
        tail_lower = torch.sigmoid(lower[:, 0, 0])
        tail_upper = torch.sigmoid(-model64._logits_cumulative(upper_edge, stop_gradient=True)[:, 0, 0])
        escape_mass = (tail_lower + tail_upper).numpy()

        table = torch.zeros(self.channels, max_length + 2, dtype=torch.int32)
        lengths = torch.zeros(self.channels, dtype=torch.int32)
        pmf = pmf.numpy()
        for c in range(self.channels):
            n = int(pmf_length[c])
            cdf = pmf_to_quantized_cdf(np.append(pmf[c, :n], escape_mass[c]))
            table[c, : cdf.size] = torch.from_numpy(cdf.astype(np.int32))
            lengths[c] = cdf.size
        self._quantized_cdf = table.to(self._quantized_cdf.device)
        self._cdf_length = lengths.to(self._cdf_length.device)
        self._offset = (-minima).to(torch.int32).to(self._offset.device)
        self._medians = medians.to(torch.float32).to(self._medians.device)
        self._table_cache = None
        return True

    def _tables(self) -> TableSet:
        if not self._cdf_length.numel():
            raise RuntimeError("call update() before compress/decompress")
        if self._table_cache is None:
            cdf = self._quantized_cdf.cpu().numpy().astype(np.int64)
            lengths = self._cdf_length.cpu().numpy()
            cdfs = [cdf[c, : int(lengths[c])] for c in range(self.channels)]
            self._table_cache = TableSet.build(cdfs, self._offset.cpu().numpy())
        return self._table_cache

    def check_tables(self) -> None:
        """Build and check the frozen tables now (not at the first decode): every channel's length within its
        row and the coder's limits, every CDF 16-bit and strictly increasing (TableSet), finite medians.
        ValueError (one line) for tables a decoder cannot use (docs/entropy.md E.8)."""
        cdf, lengths = self._quantized_cdf, self._cdf_length
        if cdf.dim() != 2 or cdf.shape[0] != self.channels or tuple(lengths.shape) != (self.channels,) \
                or tuple(self._offset.shape) != (self.channels,) or tuple(self._medians.shape) != (self.channels,):
            raise ValueError(f"factorized-prior tables must have {self.channels} channels")
        if lengths.numel() and (int(lengths.min()) < 2 or int(lengths.max()) > cdf.shape[1]):
            raise ValueError("a factorized-prior table length lies outside its row")
        if not torch.isfinite(self._medians).all():
            raise ValueError("factorized-prior medians must be finite")
        self._table_cache = None
        self._tables()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Frozen tables have data-dependent sizes: adopt the incoming shapes before copying.
        for name in _FROZEN_BUFFERS:
            key = prefix + name
            if key in state_dict:
                current = getattr(self, name)
                setattr(self, name, torch.empty_like(state_dict[key], device=current.device, dtype=current.dtype))
        self._table_cache = None
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ---------------------------------------------------------------- coding
    def _medians_like(self, y: torch.Tensor) -> torch.Tensor:
        """The frozen medians shaped to broadcast over ``y`` (``(N, C, *spatial)``), on its device and dtype."""
        self._check_channels(y)
        return self._medians.to(y.device, y.dtype).view(1, -1, *([1] * (y.dim() - 2)))

    def _symbols_and_indexes(self, y: torch.Tensor):
        symbols = to_int32_symbols(y - self._medians_like(y)).cpu().numpy()
        indexes = np.broadcast_to(np.arange(self.channels, dtype=np.int64).reshape(1, -1, *([1] * (y.dim() - 2))),
                                  symbols.shape)
        return symbols, indexes

    def round_trip(self, y: torch.Tensor) -> torch.Tensor:
        """``decompress(compress(y))`` without coding: ``y`` rounded around the frozen medians (float32)."""
        medians = self._medians_like(y.float())
        return to_int32_symbols(y.float() - medians).to(medians) + medians

    def compress(self, y: torch.Tensor) -> bytes:
        """Encode ``y`` (``(N, C, *spatial)``) with the frozen tables into one substream."""
        symbols, indexes = self._symbols_and_indexes(y)
        return encode_indexed(symbols, indexes, self._tables(), guard_bits=self.guard_bits)

    def decompress(self, data: bytes, shape) -> torch.Tensor:
        """Decode ``y_hat`` of ``shape`` (``(N, C, *spatial)``; the caller bounds its size)."""
        shape = tuple(int(s) for s in shape)
        if len(shape) < 2 or shape[1] != self.channels or min(shape) < 0:
            raise ValueError(f"shape must be (N, {self.channels}, ...), got {shape}")
        indexes = np.broadcast_to(np.arange(self.channels, dtype=np.int64).reshape(1, -1, *([1] * (len(shape) - 2))),
                                  shape)
        symbols = decode_indexed(data, indexes, self._tables(), guard_bits=self.guard_bits)
        medians = self._medians.view(1, -1, *([1] * (len(shape) - 2)))
        return torch.from_numpy(symbols).to(medians.device, torch.float32) + medians

    def ideal_bits(self, y: torch.Tensor) -> float:
        """Information content (bits) of ``y``'s symbols under the frozen integer tables."""
        symbols, indexes = self._symbols_and_indexes(y)
        return ideal_code_length_bits(symbols, indexes, self._tables())

    def _check_channels(self, y: torch.Tensor) -> None:
        if y.dim() < 2 or y.shape[1] != self.channels:
            raise ValueError(f"expected a tensor shaped (N, {self.channels}, ...), got {tuple(y.shape)}")


def _float64_copy(model: FactorizedPrior) -> FactorizedPrior:
    """A float64 CPU copy of the model (the tables are computed from it)."""
    return copy.deepcopy(model).to("cpu", torch.float64)


def _flip_sign(x: torch.Tensor) -> torch.Tensor:
    """-1 where ``x > 0`` else +1: evaluates sigmoids on the side where they are accurate."""
    return torch.where(x > 0, -torch.ones_like(x), torch.ones_like(x))
